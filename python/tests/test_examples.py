"""The guide's scripts run as the user runs them and print scores."""

import os
import re
import subprocess
import sys

from .conftest import REPO, Stack


def run_script(stack: Stack, *args: str) -> str:
    env = {**os.environ, "ATLAS_SCENARIO_ADDR": stack.scenario}
    r = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_agent_controller_callback(stack: Stack) -> None:
    out = run_script(stack, "examples/agent_controller_callback.py")
    rows = {m.group(1): float(m.group(2)) for m in re.finditer(r"^(town01_\w+)\s+\S.*?\s+([\d.]+)\s+[\d.]+\s+[\d.]+", out, re.M)}
    assert set(rows) == {"town01_blocked", "town01_right_turn", "town01_straight_clear"}, out
    assert rows["town01_straight_clear"] > 90, out
    assert re.search(r"^\d+ drive calls answered", out, re.M), out


def test_my_scenario(stack: Stack) -> None:
    out = run_script(stack, "scenarios/my_scenario.py")
    scores = re.findall(r"driving score\s+([\d.]+)", out)
    assert len(scores) == 2, out
