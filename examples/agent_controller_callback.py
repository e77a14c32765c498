#!/usr/bin/env python3
"""Put your own controller in the loop: a Python callback drives the ego.

The callback is served as an egodriver policy (the AlpaSim driver contract);
the scenario runtime (ATLAS_SCENARIO_ADDR, in the scenario container its own
runtime on 127.0.0.1:50053) runs the shipped scenarios with it and scores them
the way the CARLA Leaderboard 2.0 does.

    docker exec -it $(docker ps -qf "name=atlas_scenario") bash -c \
        "cd /app && python examples/agent_controller_callback.py"
    python examples/agent_controller_callback.py [scenario.toml ...]   # anywhere else
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import atlas_drive
from atlas_drive import Command, Observation

CRUISE = 8.0      # m/s
LOOKAHEAD = 6.0   # m
WHEELBASE = 2.875  # m


def controller(obs: Observation) -> Command:
    """Pure pursuit on the route ahead (rig frame: x forward, y left), slower
    in curves. It sees no other road users: the blocked scenario shows what
    that costs in the score."""
    route = obs.route
    if len(route) == 0:
        return Command(speed=0.0)
    ahead = [(x, y) for x, y in route if x > 0 and math.hypot(x, y) >= LOOKAHEAD]
    tx, ty = ahead[0] if ahead else route[-1]
    curvature = 2.0 * ty / max(tx * tx + ty * ty, 1e-6)
    steer = math.atan(curvature * WHEELBASE)
    speed = min(CRUISE, math.sqrt(2.5 / max(abs(curvature), 1e-3)))
    return Command(speed=speed, steer=steer)


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent.parent
    files = [Path(a) for a in argv] or sorted((here / "scenarios").glob("*.toml"))
    if not files:
        print("no scenarios given and none in", here / "scenarios", file=sys.stderr)
        return 2
    print(f"scenario runtime {atlas_drive.default_scenario_addr()}")
    failed = 0
    with atlas_drive.serve_policy(controller) as policy, atlas_drive.Runtime() as runtime:
        print(f"controller callback served as an egodriver policy on {policy.address}")
        print(f"{'scenario':32} {'status':28} {'driving':>8} {'route %':>8} {'penalty':>8} infractions")
        for f in files:
            try:
                r = runtime.run(f, driver=policy)
            except atlas_drive.AtlasError as e:
                print(f"{f.name:32} error: {e}")
                failed += 1
                continue
            cats = ", ".join(i.category for i in r.infractions) or "-"
            print(
                f"{f.stem:32} {r.status:28} {r.driving_score:8.2f} {r.route_completion:8.2f} "
                f"{r.infraction_penalty:8.3f} {cats}",
                flush=True,
            )
        print(f"{policy.drives} drive calls answered by the callback")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
