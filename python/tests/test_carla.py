"""The CARLA-style facade: three CARLA scripts run with only the import line changed."""

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from atlas_drive import carla

from .conftest import REPO, Stack

SCRIPTS = REPO / "examples" / "carla"


def script(stack: Stack, name: str, *args: str, cwd: Path = REPO) -> str:
    env = {**os.environ, "ATLAS_BRIDGE_ADDR": stack.bridge}
    r = subprocess.run([sys.executable, str(SCRIPTS / name), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_scripts_differ_from_carla_only_in_the_import() -> None:
    for f in SCRIPTS.glob("*.py"):
        text = f.read_text()
        assert "from atlas_drive import carla  # with CARLA: import carla" in text, f
        assert "atlas_drive" not in text.replace("from atlas_drive import carla", ""), f


def test_camera_frames_saved(stack: Stack, tmp_path: Path) -> None:
    out = script(stack, "spawn_camera_save_frames.py", "--frames", "5", "--out", str(tmp_path))
    pngs = sorted(tmp_path.glob("*.png"))
    assert len(pngs) == 5, out
    assert pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "320x180, 230400 bytes BGRA" in out


def test_sync_apply_control_logs_transform(stack: Stack) -> None:
    out = script(stack, "drive_sync_apply_control.py", "--ticks", "80")
    moved = float(re.search(r"moved ([\d.]+) m", out).group(1))  # type: ignore[union-attr]
    assert moved > 5, out
    assert len(re.findall(r"^frame \d+", out, re.M)) == 8


def test_autopilot_traffic_for_a_minute(stack: Stack) -> None:
    out = script(stack, "autopilot_traffic.py", "-n", "10", "--seconds", "60")
    n = int(re.search(r"spawned (\d+) vehicles", out).group(1))  # type: ignore[union-attr]
    assert n >= 8, out
    m = re.search(r"simulated ([\d.]+) s .* drove (\d+) m", out)
    assert m and float(m.group(1)) == pytest.approx(60.0, abs=0.2) and int(m.group(2)) > 100 * n, out


def test_frames_and_steering_convention(stack: Stack) -> None:
    client = carla.Client("127.0.0.1", int(stack.bridge.rsplit(":", 1)[1]))
    try:
        world = client.get_world()
        sp = world.get_map().get_spawn_points()
        assert len(sp) > 20
        bp = world.get_blueprint_library().find("vehicle.audi.a2")
        car = world.spawn_actor(bp, sp[0])
        assert isinstance(car, carla.Vehicle)
        t0 = car.get_transform()
        assert t0.location.distance(sp[0].location) < 0.5
        assert abs(t0.rotation.yaw - sp[0].rotation.yaw) < 1.0
        for _ in range(30):
            car.apply_control(carla.VehicleControl(throttle=0.7, steer=0.5))  # right, as in CARLA
            world.tick()
        yaw1 = car.get_transform().rotation.yaw
        turn = (yaw1 - t0.rotation.yaw + 180) % 360 - 180
        assert turn > 5, (t0, yaw1)  # clockwise seen from above: CARLA's yaw grows
        wp = world.get_map().get_waypoint(sp[1].location)
        assert wp is not None and wp.transform.location.distance(sp[1].location) < 2.0
        nxt = wp.next(10.0)[0]
        assert 8.0 < nxt.transform.location.distance(wp.transform.location) < 12.0
        far = wp.next(300.0)[0]
        assert far.transform.location.distance(wp.transform.location) > 50
        back = nxt.previous(10.0)[0]
        assert back.transform.location.distance(wp.transform.location) < 0.5
        left = wp.get_left_lane()
        assert left is not None and left.lane_id == -wp.lane_id  # across the centre line
        assert 2.0 < left.transform.location.distance(wp.transform.location) < 6.0
        spectator = world.get_spectator()
        spectator.set_transform(carla.Transform(carla.Location(z=30.0)))
        assert spectator.get_transform().location.z == 30.0
        with pytest.raises(NotImplementedError, match="carla.World.get_weather"):
            world.get_weather()
        assert world.try_spawn_actor(bp, sp[0]) is None  # occupied
        assert car.destroy() and not car.destroy()
    finally:
        client.close()


def test_transform_conversion_round_trip() -> None:
    t = carla.Transform(carla.Location(1.0, 2.0, 0.5), carla.Rotation(pitch=-10.0, yaw=30.0, roll=0.0))
    p = carla.to_pose(t)
    assert p.y == -2.0 and math.degrees(p.yaw) == pytest.approx(-30.0)
    back = carla.from_pose(p)
    assert back.location == t.location and back.rotation.yaw == pytest.approx(30.0)
    img = carla.Image(1, 0.05, np.zeros((2, 3, 3), np.uint8), 90.0, t)
    assert len(img.raw_data) == 2 * 3 * 4
