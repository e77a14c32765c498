"""Running and scoring scenarios on a real scenario runtime (atlas up)."""

from dataclasses import replace
from pathlib import Path

import grpc
import pytest

import atlas_drive
from atlas_drive import Actor, Lane, Progress, Record, RpcError, Scenario, ScenarioError, Started
from atlas_drive.records import RunEvent

from .conftest import REPO, Stack


def test_run_a_shipped_file_with_progress(stack: Stack) -> None:
    events: list[RunEvent] = []
    rec = atlas_drive.run(
        REPO / "scenarios" / "town01_straight_clear.toml", addr=stack.scenario, seed=3, on_event=events.append
    )
    assert isinstance(rec, Record)
    assert rec.status in ("Perfect", "Completed"), rec
    assert rec.route_completion == pytest.approx(100.0)
    assert rec.driving_score == pytest.approx(rec.route_completion * rec.infraction_penalty)
    assert rec.seed == 3 and rec.map == "Town01"
    assert rec.timing.control_steps > 0 and rec.meta.route_length > 100
    assert isinstance(events[0], Started)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and progress[-1].route_completion > 50
    assert rec.leaderboard()["scores"]["score_composed"] == rec.driving_score


def test_env_var_gives_the_default_address(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATLAS_SCENARIO_ADDR", stack.scenario)
    assert atlas_drive.default_scenario_addr() == stack.scenario
    names = [s.name for s in atlas_drive.Runtime().list_scenarios()]
    assert "town01_blocked" in names


def test_run_by_name_blocked_fails_with_infraction_free_block(stack: Stack) -> None:
    rec = atlas_drive.run("town01_blocked", addr=stack.scenario)
    # The baseline policy stops behind the stopped car and never completes.
    assert rec.status.startswith("Failed"), rec
    assert rec.route_completion < 100


def test_scenario_built_in_code(stack: Stack, tmp_path: Path) -> None:
    sc = Scenario(
        name="py_short_blocked",
        map="Town01",
        timeout_s=15,
        ego_start=Lane("12", -1, 10.0),
        route=[Lane("12", -1, 120.0)],
        actors=[Actor("stopped_car", Lane("12", -1, 60.0))],
    )
    rec = atlas_drive.run(sc, addr=stack.scenario, artifacts=tmp_path)
    assert rec.route_completion < 60, rec
    clear = atlas_drive.run(replace(sc, name="py_short_clear", actors=[], timeout_s=40), addr=stack.scenario)
    assert clear.route_completion == pytest.approx(100.0), clear
    assert rec.trace is not None and rec.trace["tracks"]
    assert list(tmp_path.glob("*.record.json")) and list(tmp_path.glob("*.trace.json"))


def test_seed_makes_runs_repeatable(stack: Stack) -> None:
    f = REPO / "scenarios" / "town01_right_turn.toml"
    a = atlas_drive.run(f, addr=stack.scenario, seed=7, timeout_s=8)
    b = atlas_drive.run(f, addr=stack.scenario, seed=7, timeout_s=8)
    assert (a.route_completion, a.status, a.meta.duration_game) == (b.route_completion, b.status, b.meta.duration_game)


def test_bad_input_errors_name_file_element_and_status(stack: Stack, tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such scenario file"):
        atlas_drive.run(tmp_path / "gone.toml", addr=stack.scenario)
    bad = tmp_path / "bad_road.toml"
    bad.write_text(
        'name = "bad_road"\nmap = "Town01"\n[ego]\nstart = { road = "99999", lane = -1, s = 1.0 }\n'
        '[route]\nwaypoints = [{ road = "12", lane = -1, s = 50.0 }]\n'
    )
    with pytest.raises(RpcError) as e:
        atlas_drive.run(bad, addr=stack.scenario)
    assert e.value.code == grpc.StatusCode.INVALID_ARGUMENT, e.value
    assert "bad_road.toml" in str(e.value) and "99999" in str(e.value), e.value
    with pytest.raises(RpcError) as e2:
        atlas_drive.run("no_such_scenario", addr=stack.scenario)
    assert "no_such_scenario" in str(e2.value)


def test_unreachable_runtime_is_an_rpc_error() -> None:
    with pytest.raises(RpcError) as e:
        atlas_drive.Runtime("127.0.0.1:1").list_scenarios()
    assert e.value.code == grpc.StatusCode.UNAVAILABLE
