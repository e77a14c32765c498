"""atlas_drive — the Python API of ATLAS.

- :func:`run` / :class:`Runtime`: run and score scenarios on a scenario
  runtime (``atlas.scenario.v1``); :class:`Record` has the CARLA Leaderboard
  2.0 fields.
- :mod:`atlas_drive.scenario`: native scenarios built in code.
- :mod:`atlas_drive.world`: worlds on a simulator bridge (``atlas.sim.v1``).
- :func:`serve_policy`: a Python function served as an egodriver policy.
"""

from .client import Runtime, ScenarioEntry, default_scenario_addr, route_ids, run, run_all
from .errors import AtlasError, RpcError, ScenarioError
from .records import Infraction, Meta, Progress, Record, RunEvent, Started, Timing
from . import gym_env as gym_env
from .openscenario import OpenScenario
from .routes import RouteFile
from .policy import Command, Observation, PolicyServer, Trajectory, follow_route, serve_policy
from .scenario import Actor, Lane, Point, Scenario
from .suite import RunResult, Suite, SuiteResult, run_suite
from .world import Control, Pose, Sim, Snapshot, World, drive

__all__ = [
    "RouteFile",
    "drive",
    "OpenScenario",
    "RunResult",
    "Suite",
    "SuiteResult",
    "run_suite",
    "Command",
    "Control",
    "Observation",
    "PolicyServer",
    "Pose",
    "Sim",
    "Snapshot",
    "Trajectory",
    "World",
    "follow_route",
    "serve_policy",
    "Actor",
    "AtlasError",
    "Infraction",
    "Lane",
    "Meta",
    "Point",
    "Progress",
    "Record",
    "RpcError",
    "RunEvent",
    "Runtime",
    "Scenario",
    "ScenarioEntry",
    "ScenarioError",
    "Started",
    "Timing",
    "default_scenario_addr",
    "route_ids",
    "run",
    "run_all",
]
__version__ = "0.1.0"
