#!/usr/bin/env python3
"""Spawn a vehicle with an RGB camera and save its frames (CARLA-style).

Written against CARLA's Python API; on ATLAS only the import line differs.
"""

import argparse
import os
import queue

from atlas_drive import carla  # with CARLA: import carla


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=2000)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--out", default="_out")
    args = ap.parse_args()

    client = carla.Client(args.host, args.port)
    client.set_timeout(10.0)
    world = client.get_world()
    original = world.get_settings()
    settings = world.get_settings()
    settings.synchronous_mode = True
    settings.fixed_delta_seconds = 0.05
    world.apply_settings(settings)

    actors = []
    try:
        bp_lib = world.get_blueprint_library()
        vehicle_bp = bp_lib.find("vehicle.tesla.model3")
        spawn_point = world.get_map().get_spawn_points()[0]
        vehicle = world.spawn_actor(vehicle_bp, spawn_point)
        actors.append(vehicle)

        camera_bp = bp_lib.find("sensor.camera.rgb")
        camera_bp.set_attribute("image_size_x", "320")
        camera_bp.set_attribute("image_size_y", "180")
        camera_bp.set_attribute("fov", "90")
        camera = world.spawn_actor(camera_bp, carla.Transform(carla.Location(x=1.5, z=2.4)), attach_to=vehicle)
        actors.append(camera)

        images = queue.Queue()
        camera.listen(images.put)
        vehicle.apply_control(carla.VehicleControl(throttle=0.5))
        for _ in range(args.frames):
            world.tick()
            image = images.get(timeout=2.0)
            image.save_to_disk(os.path.join(args.out, "%06d.png" % image.frame))
            print("saved frame %d (%dx%d, %d bytes BGRA)" % (image.frame, image.width, image.height, len(image.raw_data)))
        camera.stop()
    finally:
        world.apply_settings(original)
        for a in actors:
            a.destroy()


if __name__ == "__main__":
    main()
