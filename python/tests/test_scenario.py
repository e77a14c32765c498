"""Scenarios built in code, and the errors of bad ones (no services needed)."""

from pathlib import Path

import pytest

from atlas_drive import Actor, Lane, Point, Scenario, ScenarioError

REPO = Path(__file__).resolve().parents[2]


def blocked() -> Scenario:
    return Scenario(
        name="py_blocked",
        map="Town01",
        timeout_s=40,
        ego_start=Lane("12", -1, 10.0),
        route=[Lane("12", -1, 200.0)],
        actors=[Actor("stopped_car", Lane("12", -1, 90.0))],
    )


def test_round_trip_through_toml() -> None:
    sc = blocked().with_actor(Actor("walker", Point(1.0, 2.0, 0.5), kind="pedestrian", behavior="lane_follow", speed=1.2))
    back = Scenario.from_toml(sc.to_toml(), file="x.toml")
    assert back.actors == sc.actors
    assert back.route == sc.route and back.ego_start == sc.ego_start
    assert back.timeout_s == 40


def test_shipped_scenarios_load() -> None:
    for f in sorted((REPO / "scenarios").glob("*.toml")):
        sc = Scenario.load(f)
        assert sc.route, f


def test_bad_speed_names_the_element() -> None:
    sc = blocked().with_actor(Actor("fast", Lane("12", -1, 50.0), behavior="lane_follow", speed=99.0))
    with pytest.raises(ScenarioError, match=r"py_blocked.toml: `actors\[1\].speed`: speed 99.0 is not within"):
        sc.to_toml()


def test_bad_file_names_file_and_element(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text('map = "Town01"\n[ego]\nstart = { road = "12", lane = -1, s = -5.0 }\n[route]\nwaypoints = []\n')
    with pytest.raises(ScenarioError, match=r"bad.toml: `ego.start`: s = -5.0 must be finite and >= 0"):
        Scenario.load(f)
    f.write_text("map = [")
    with pytest.raises(ScenarioError, match=r"bad.toml: "):
        Scenario.load(f)


def test_missing_map_file_is_named(tmp_path: Path) -> None:
    sc = Scenario(name="m", map="gone.xodr", ego_start=Lane("1", -1, 0.0), route=[Lane("1", -1, 9.0)], base_dir=tmp_path)
    with pytest.raises(ScenarioError, match=r"m.toml: `map`: cannot read .*gone.xodr"):
        sc.read_map()
