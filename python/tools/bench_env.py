"""Env steps/s of atlas/Drive-v0 on a bridge, with and without the camera.

    python python/tools/bench_env.py --bridge 127.0.0.1:50052 [--steps 1000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from atlas_drive.gym_env import DriveEnv


def rate(bridge: str, steps: int, **kw: Any) -> float:
    env = DriveEnv(bridge=bridge, max_steps=10**9, **kw)
    try:
        env.reset(seed=1)
        a = np.array([0.0, 0.3, 0.0], dtype=np.float32)
        t0 = time.perf_counter()
        for _ in range(steps):
            env.step(a)
        return steps / (time.perf_counter() - t0)
    finally:
        env.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--steps", type=int, default=1000)
    args = ap.parse_args()
    runs: list[tuple[str, dict[str, Any]]] = [
        ("no camera", {"camera": False}),
        ("camera 96x64", {"camera": True, "width": 96, "height": 64}),
        ("camera 320x180", {"camera": True, "width": 320, "height": 180}),
    ]
    for label, kw in runs:
        print(f"{label:16} {rate(args.bridge, args.steps, **kw):7.0f} env steps/s", flush=True)


if __name__ == "__main__":
    main()
