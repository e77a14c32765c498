"""Fixtures: the real ATLAS services, started from the release binary.

The binary is ``$ATLAS_BIN``, else ``$CARGO_TARGET_DIR/release/atlas`` (the
target dir defaulting to /var/tmp/atlas-target, as scripts/test.sh does).
``atlas up`` serves the bridge, the baseline policy and the scenario runtime
in one process, each on its own free loopback port, with real gRPC between
them.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

REPO = Path(__file__).resolve().parents[2]


def atlas_bin() -> Path:
    env = os.environ.get("ATLAS_BIN")
    if env:
        return Path(env)
    target = Path(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/atlas-target"))
    return target / "release" / "atlas"


def wait_serving(addr: str, service: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Polls grpc.health.v1 until ``service`` is SERVING."""
    deadline = time.monotonic() + timeout
    req = b"\x0a" + bytes([len(service)]) + service.encode()
    with grpc.insecure_channel(addr) as ch:
        check: grpc.UnaryUnaryMultiCallable[bytes, bytes] = ch.unary_unary("/grpc.health.v1.Health/Check")
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"atlas exited with {proc.returncode} before {service} served")
            try:
                if check(req, timeout=1.0) == b"\x08\x01":
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
    raise TimeoutError(f"{service} at {addr} not serving after {timeout} s")


@dataclass(frozen=True)
class Stack:
    bridge: str
    vla: str
    scenario: str


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    exe = atlas_bin()
    if not exe.is_file():
        pytest.fail(f"no atlas binary at {exe}: build it (cargo build --release --bin atlas) or set ATLAS_BIN")
    log = tmp_path_factory.mktemp("atlas") / "atlas-up.log"
    any_port = "127.0.0.1:0"
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [
                str(exe),
                "up",
                "--bridge-listen", any_port,
                "--vla-listen", any_port,
                "--scenario-listen", any_port,
                "--maps-dir", str(REPO / "maps"),
                "--scenarios-dir", str(REPO / "scenarios"),
            ],
            stdout=subprocess.PIPE,
            stderr=err,
            cwd=REPO,
        )
    try:
        assert proc.stdout is not None
        # "serving: policy (egodriver) A  bridge (atlas.sim.v1) B  scenario (atlas.scenario.v1) C"
        line = proc.stdout.readline().decode()
        m = re.search(r"policy \(egodriver\) (\S+)\s+bridge \(atlas.sim.v1\) (\S+)\s+scenario \(atlas.scenario.v1\) (\S+)", line)
        if m is None:
            raise RuntimeError(f"atlas up did not report its addresses: {line!r}; log {log}:\n{log.read_text()[-2000:]}")
        s = Stack(bridge=m.group(2), vla=m.group(1), scenario=m.group(3))
        wait_serving(s.scenario, "atlas.scenario.v1.ScenarioRunner", proc)
        yield s
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
