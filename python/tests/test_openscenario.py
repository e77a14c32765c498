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
