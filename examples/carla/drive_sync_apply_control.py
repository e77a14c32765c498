#!/usr/bin/env python3
"""Drive a vehicle with apply_control in synchronous mode and log its
transform (CARLA-style). Only the import line differs from a CARLA script."""

import argparse
import math

from atlas_drive import carla  # with CARLA: import carla


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2000)
    ap.add_argument("--ticks", type=int, default=100)
    args = ap.parse_args()

    client = carla.Client(args.host, args.port)
    client.set_timeout(10.0)
    world = client.get_world()
    settings = world.get_settings()
    settings.synchronous_mode = True
    settings.fixed_delta_seconds = 0.05
    world.apply_settings(settings)

    bp = world.get_blueprint_library().filter("vehicle.*")[0]
    start = world.get_map().get_spawn_points()[0]
    vehicle = world.spawn_actor(bp, start)
    try:
        for i in range(args.ticks):
            # accelerate, then a gentle right turn (CARLA: positive steer is right)
            control = carla.VehicleControl(throttle=0.6, steer=0.0 if i < 40 else 0.15)
            vehicle.apply_control(control)
            frame = world.tick()
            if i % 10 == 0:
                t = vehicle.get_transform()
                v = vehicle.get_velocity()
                speed = math.sqrt(v.x ** 2 + v.y ** 2 + v.z ** 2)
                print("frame %d  x %.2f y %.2f yaw %.1f  speed %.2f m/s" % (frame, t.location.x, t.location.y, t.rotation.yaw, speed))
        moved = vehicle.get_location().distance(start.location)
        print("moved %.1f m from the spawn point" % moved)
    finally:
        vehicle.destroy()


if __name__ == "__main__":
    main()
