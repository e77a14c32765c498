"""A Python callback served as the egodriver policy drives the runtime's ego."""

import grpc
import pytest

import atlas_drive
from atlas_drive import Command, Observation, RpcError, Trajectory, follow_route, serve_policy
from atlas_drive.policy import command_to_rig

from .conftest import REPO, Stack

STRAIGHT = REPO / "scenarios" / "town01_straight_clear.toml"


def test_route_follower_callback_completes_the_route(stack: Stack) -> None:
    seen: list[Observation] = []

    def controller(obs: Observation) -> Command:
        seen.append(obs)
        return follow_route(obs, speed=10.0)

    with serve_policy(controller) as server:
        rec = atlas_drive.run(STRAIGHT, addr=stack.scenario, driver=server)
    assert rec.route_completion == pytest.approx(100.0), rec
    assert server.drives > 50 and server.sessions_started == 1
    assert seen[10].image_jpeg is not None and seen[10].image_jpeg[:2] == b"\xff\xd8"
    assert len(seen[10].route) > 5 and seen[-1].speed >= 0


def test_a_policy_that_stands_still_scores_low(stack: Stack) -> None:
    with serve_policy(lambda obs: (0.0, 0.0)) as server:
        rec = atlas_drive.run(STRAIGHT, addr=stack.scenario, driver=server, timeout_s=6)
    assert rec.route_completion < 5 and rec.status.startswith("Failed"), rec


def test_trajectory_reply(stack: Stack) -> None:
    def straight_ahead(obs: Observation) -> Trajectory:
        return Trajectory([[3.0 * (i + 1) * 0.1 * 2, 0.0] for i in range(30)])

    with serve_policy(straight_ahead) as server:
        rec = atlas_drive.run(STRAIGHT, addr=stack.scenario, driver=server, timeout_s=8)
    assert 3 < rec.route_completion < 100, rec


def test_a_failing_callback_fails_the_run_with_its_message(stack: Stack) -> None:
    def broken(obs: Observation) -> Command:
        raise ZeroDivisionError("the controller divided by zero")

    with serve_policy(broken) as server:
        try:
            rec = atlas_drive.run(STRAIGHT, addr=stack.scenario, driver=server, timeout_s=5)
        except RpcError as e:
            assert "divided by zero" in str(e)
        else:
            assert rec.status.startswith("Failed") and "divided by zero" in rec.status + " ".join(rec.meta.warnings), rec
    assert server.errors and "ZeroDivisionError" in server.errors[0]


def test_command_integration() -> None:
    straight = command_to_rig(Command(10.0, 0.0))
    assert straight.shape == (40, 3) and straight[-1, 0] == pytest.approx(40.0)
    left = command_to_rig(Command(10.0, 0.2))
    assert left[-1, 1] > 1.0 and left[-1, 2] > 0
    with pytest.raises(ValueError):
        command_to_rig(Command(float("nan"), 0.0))


def test_policy_server_answers_health_and_version() -> None:
    with serve_policy(lambda o: (0.0, 0.0)) as server, grpc.insecure_channel(server.address) as ch:
        check: grpc.UnaryUnaryMultiCallable[bytes, bytes] = ch.unary_unary("/grpc.health.v1.Health/Check")
        assert check(b"") == b"\x08\x01"


def test_server_on_all_interfaces_advertises_a_reachable_address(stack: Stack) -> None:
    with serve_policy(lambda obs: follow_route(obs), host="0.0.0.0") as server:
        assert not server.address.startswith("0.0.0.0")
        rec = atlas_drive.run(STRAIGHT, addr=stack.scenario, driver=server.address, timeout_s=4)
    assert server.drives > 10 and rec.route_completion > 0
