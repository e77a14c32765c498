"""The checked-in protobuf modules are what proto/ generates today."""

import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def test_generated_modules_are_current() -> None:
    r = subprocess.run(
        [sys.executable, str(TOOLS / "gen_proto.py"), "--check"], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_generated_modules_load_under_the_package() -> None:
    from atlas_drive._proto.alpasim_grpc.v0 import egodriver_pb2
    from atlas_drive._proto.atlas.scenario.v1 import scenario_pb2
    from atlas_drive._proto.atlas.sim.v1 import sim_pb2

    assert egodriver_pb2.DESCRIPTOR.services_by_name["EgodriverService"].full_name == "egodriver.EgodriverService"
    assert scenario_pb2.DESCRIPTOR.package == "atlas.scenario.v1"
    assert sim_pb2.DESCRIPTOR.services_by_name["Simulator"].methods_by_name["Step"]
