#!/usr/bin/env python3
"""A scenario written in Python: down Town01's road 12 behind a slower car,
past a parked one, then scored with the runtime's policy and with a Python
controller.

    docker cp scenarios/my_scenario.py ${CONTAINER_ID}:/app/scenarios/
    docker exec -it ${CONTAINER_ID} python /app/scenarios/my_scenario.py
"""

from __future__ import annotations

import sys

import atlas_drive
from atlas_drive import Actor, Lane, Scenario, follow_route

scenario = Scenario(
    name="my_scenario",
    map="Town01",
    timeout_s=60,
    seed=1,
    ego_start=Lane(road="12", lane=-1, s=10.0),
    route=[Lane(road="12", lane=-1, s=190.0)],
    actors=[
        Actor("slow_lead", Lane("12", -1, 45.0), behavior="lane_follow", speed=5.0),
        Actor("parked_far_side", Lane("12", 1, 120.0), behavior="stopped"),
    ],
)


def show(label: str, r: atlas_drive.Record) -> None:
    print(
        f"{label:24} {r.status:28} driving score {r.driving_score:6.2f}  "
        f"route completion {r.route_completion:6.2f}%  penalty {r.infraction_penalty:.3f}  "
        f"infractions {r.num_infractions}",
        flush=True,
    )


def main() -> int:
    print(f"scenario runtime {atlas_drive.default_scenario_addr()}", flush=True)
    with atlas_drive.Runtime() as runtime:
        show("runtime's policy", runtime.run(scenario, progress=True))
        with atlas_drive.serve_policy(lambda obs: follow_route(obs, speed=6.0)) as policy:
            show("python follow_route", runtime.run(scenario, driver=policy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
