#!/usr/bin/env python3
"""Spawn traffic with autopilot and tick for a minute of simulated time
(CARLA-style). Only the import line differs from a CARLA script."""

import argparse
import random

from atlas_drive import carla  # with CARLA: import carla


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2000)
    ap.add_argument("-n", "--number-of-vehicles", type=int, default=15)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    random.seed(args.seed)

    client = carla.Client(args.host, args.port)
    client.set_timeout(10.0)
    world = client.get_world()
    tm = client.get_trafficmanager(8000)
    tm.set_synchronous_mode(True)
    settings = world.get_settings()
    settings.synchronous_mode = True
    settings.fixed_delta_seconds = 0.05
    world.apply_settings(settings)

    blueprints = world.get_blueprint_library().filter("vehicle.*")
    spawn_points = world.get_map().get_spawn_points()
    random.shuffle(spawn_points)
    vehicles = []
    for transform in spawn_points[: args.number_of_vehicles]:
        bp = random.choice(blueprints)
        if bp.has_attribute("color"):
            bp.set_attribute("color", "255,0,0")
        bp.set_attribute("role_name", "autopilot")
        v = world.try_spawn_actor(bp, transform)
        if v is not None:
            v.set_autopilot(True, tm.get_port())
            vehicles.append(v)
    print("spawned %d vehicles with autopilot" % len(vehicles))
    starts = {v.id: v.get_location() for v in vehicles}
    try:
        ticks = int(args.seconds / settings.fixed_delta_seconds)
        for i in range(ticks):
            world.tick()
        snap = world.get_snapshot()
        moved = sum(v.get_location().distance(starts[v.id]) for v in vehicles)
        print("simulated %.1f s in %d ticks; vehicles drove %.0f m in all" % (snap.timestamp.elapsed_seconds, ticks, moved))
    finally:
        for v in vehicles:
            v.destroy()


if __name__ == "__main__":
    main()
