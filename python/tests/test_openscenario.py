"""OpenSCENARIO files and their parameters, run on the real runtime."""

import pytest

import atlas_drive
from atlas_drive import OpenScenario, ScenarioError

from .conftest import REPO, Stack

ALKS = REPO / "scenarios" / "alks" / "alks_scenario_4_2_1_fully_blocking_target_template.xosc"


def test_parameters_and_referenced_files() -> None:
    x = OpenScenario.load(ALKS)
    assert x.parameters["Ego_InitSpeed_Ve0_kph"] == "60.0"
    files = x.files()
    assert "road_networks/alks_road_straight.xodr" in files
    assert any(k.startswith("catalogs/vehicles/") for k in files)
    y = x.with_parameters(Ego_InitSpeed_Ve0_kph=30)
    assert y.parameters["Ego_InitSpeed_Ve0_kph"] == "30" and x.parameters["Ego_InitSpeed_Ve0_kph"] == "60.0"
    with pytest.raises(ScenarioError, match=r"alks_scenario_4_2_1.*'Speed': no such parameter"):
        x.with_parameters(Speed=1)


def test_run_a_file_and_a_changed_parameter(stack: Stack) -> None:
    a = atlas_drive.run(ALKS, addr=stack.scenario, timeout_s=10)
    b = atlas_drive.run(OpenScenario.load(ALKS).with_parameters(Ego_InitSpeed_Ve0_kph=20), addr=stack.scenario, timeout_s=10)
    assert a.meta.route_length > 0 and b.meta.route_length > 0
    assert (a.route_completion, a.status) != (b.route_completion, b.status), (a, b)


ROUTES = REPO / "scenarios" / "routes" / "leaderboard-1.0" / "routes_training.xml"


def test_route_file_pick_and_truncate(stack: Stack) -> None:
    from atlas_drive import RouteFile

    rf = RouteFile.load(ROUTES)
    assert rf.ids[:2] == ["0", "1"] and rf.town("0") == "Town01"
    full = len(rf.waypoints("0"))
    short = rf.only(["0"]).truncated("0", 3)
    assert short.ids == ["0"] and len(short.waypoints("0")) == 3 and len(rf.waypoints("0")) == full
    a = atlas_drive.run(short, addr=stack.scenario, route_id="0", timeout_s=5)
    b = atlas_drive.run(ROUTES, addr=stack.scenario, route_id="0", timeout_s=5)
    assert a.meta.route_length < b.meta.route_length, (a.meta, b.meta)
    with pytest.raises(ScenarioError, match="no <route id='nope'>"):
        rf.route("nope")
