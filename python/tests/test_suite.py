"""Suite files run from Python with the semantics of `atlas suite run`."""

from pathlib import Path

import pytest

from atlas_drive import Command, Observation, ScenarioError, Suite, follow_route, run_suite, serve_policy

from .conftest import REPO, Stack


def suite_file(tmp_path: Path, body: str) -> Path:
    f = tmp_path / "suite.toml"
    f.write_text(body)
    return f


def test_suite_expands_and_runs_every_combination(stack: Stack, tmp_path: Path) -> None:
    f = suite_file(
        tmp_path,
        f'name = "py"\nscenarios = ["{REPO}/scenarios/town01_straight_clear.toml", "{REPO}/scenarios/town01_right_turn.toml"]\n'
        f'routes = ["{REPO}/scenarios/routes/leaderboard-1.0/routes_training.xml"]\nroute_ids = ["0"]\n'
        "seeds = [1, 2]\ntimeout_s = 6\nconcurrency = 3\nmax_attempts = 2\n\n"
        '[policies]\nbaseline = "baseline"\nmine = "python"\n',
    )
    suite = Suite.load(f)
    assert len(suite.runs) == 3 * 2 * 2 and len({r.id for r in suite.runs}) == 12

    def mine(obs: Observation) -> Command:
        return follow_route(obs, speed=6.0)

    with serve_policy(mine) as server:
        result = run_suite(suite, addr=stack.scenario, drivers={"mine": server})
    assert not result.failed, [r.error for r in result.failed]
    assert len(result.records) == 12
    assert server.sessions_started == 6
    by = {(r.spec.file.name, r.spec.route_id, r.spec.policy, r.spec.seed): r.record for r in result.results}
    rec = by[("routes_training.xml", "0", "baseline", 1)]
    assert rec is not None and rec.route_id.endswith("0") and rec.seed == 1
    assert 0 <= result.mean_driving_score("mine") <= 100


def test_bad_suite_files_name_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"suite.toml: `policies`: name at least one policy"):
        Suite.load(suite_file(tmp_path, f'scenarios = ["{REPO}/scenarios/*.toml"]\n'))
    with pytest.raises(ScenarioError, match=r"suite.toml: `scenarios`: 'nothing/\*.toml' matches no file"):
        Suite.load(suite_file(tmp_path, 'scenarios = ["nothing/*.toml"]\n[policies]\nb = "baseline"\n'))
    with pytest.raises(ScenarioError, match=r"suite.toml: `colour`: unknown field"):
        Suite.load(suite_file(tmp_path, 'colour = 1\n[policies]\nb = "baseline"\n'))


def test_a_policy_without_an_address_is_an_error(stack: Stack, tmp_path: Path) -> None:
    f = suite_file(tmp_path, f'scenarios = ["{REPO}/scenarios/town01_blocked.toml"]\n[policies]\nm = "model"\n')
    with pytest.raises(ScenarioError, match="policy 'm' = 'model'"):
        run_suite(f, addr=stack.scenario)
