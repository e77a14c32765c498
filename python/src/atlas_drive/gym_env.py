"""A Gymnasium environment on the built-in simulator (``atlas/Drive-v0``).

>>> import gymnasium as gym, atlas_drive                       # doctest: +SKIP
>>> env = gym.make("atlas/Drive-v0", bridge="127.0.0.1:50052")  # doctest: +SKIP
>>> obs, info = env.reset(seed=1)                              # doctest: +SKIP

One world per environment on a bridge (``atlas.sim.v1``; default
``ATLAS_BRIDGE_ADDR``). The ego drives a route planned over the map's lane
graph among seeded background traffic.

- observation (``Dict``): ``image`` the ego camera, H×W×3 uint8 (only with
  ``camera=True``); ``ego`` [speed m/s, yaw rate rad/s, lateral offset from
  the route m, heading error rad]; ``route`` the next 20 route points every
  4 m in the rig frame (x forward, y left), N×2 float32.
- action (``Box``, continuous), ``action="controls"`` (default): [steer in
  [-1, 1], throttle in [0, 1], brake in [0, 1]], held for ``substeps`` world
  steps (default 2: 10 Hz control); ``action="trajectory"``: 5 rig-frame
  points (x, y), one every 0.5 s, followed with pure pursuit and a speed
  P controller, as the runtime follows a policy's plan.
- reward: route progress in metres, minus Leaderboard-style penalties on
  the events of the step (collision with a vehicle or pedestrian
  ``collision_penalty``, with anything else half of it; lane invasion and
  off road ``lane_penalty``; red light ``signal_penalty``).
- terminated: route completed, or a collision (``terminate_on_collision``);
  truncated: ``max_steps`` control steps, or ``blocked_steps`` without progress.
- ``reset(seed=s)`` creates the world with simulator seed ``s`` (traffic drawn
  from it) and keeps a snapshot; ``reset()`` without a seed restores that
  snapshot, so episodes replay bit for bit.
"""

from __future__ import annotations

import math
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from gymnasium import spaces

from .world import Control, Pose, Sim, Snapshot, World

ROUTE_POINTS = 20
TRAJ_POINTS = 5
TRAJ_DT = 0.5
WHEELBASE = 2.875
MAX_STEER = math.radians(35.0)  # front-wheel angle at steer = 1, as the runtime's controller
ROUTE_SPACING = 4.0
ENV_ID = "atlas/Drive-v0"


class DriveEnv(gym.Env[dict[str, npt.NDArray[Any]], npt.NDArray[np.float32]]):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self,
        *,
        bridge: str | None = None,
        map: str = "Town01",
        start: tuple[str, int, float] = ("12", -1, 10.0),
        goal: tuple[str, int, float] = ("12", -1, 200.0),
        camera: bool = True,
        width: int = 96,
        height: int = 64,
        traffic: int = 0,
        substeps: int = 2,
        max_steps: int = 400,
        blocked_steps: int = 100,
        collision_penalty: float = 50.0,
        lane_penalty: float = 1.0,
        signal_penalty: float = 20.0,
        terminate_on_collision: bool = True,
        action: str = "controls",
        render_mode: str | None = None,
    ) -> None:
        if action not in ("controls", "trajectory"):
            raise ValueError(f"action must be 'controls' or 'trajectory', not {action!r}")
        self.action_kind = action
        self.sim = Sim(bridge)
        self.map_name = map
        self.start, self.goal = start, goal
        self.camera, self.width, self.height = camera, width, height
        self.traffic = traffic
        self.substeps, self.max_steps, self.blocked_steps = substeps, max_steps, blocked_steps
        self.collision_penalty, self.lane_penalty, self.signal_penalty = collision_penalty, lane_penalty, signal_penalty
        self.terminate_on_collision = terminate_on_collision
        self.render_mode = render_mode
        obs: dict[str, spaces.Space[Any]] = {
            "ego": spaces.Box(-1e3, 1e3, shape=(4,), dtype=np.float32),
            "route": spaces.Box(-1e3, 1e3, shape=(ROUTE_POINTS, 2), dtype=np.float32),
        }
        if camera:
            obs["image"] = spaces.Box(0, 255, shape=(height, width, 3), dtype=np.uint8)
        self.observation_space = spaces.Dict(obs)  # type: ignore[assignment]
        if action == "controls":
            self._box = spaces.Box(
                np.array([-1.0, 0.0, 0.0], dtype=np.float32), np.array([1.0, 1.0, 1.0], dtype=np.float32), dtype=np.float32
            )
        else:
            low = np.tile(np.array([-5.0, -20.0], dtype=np.float32), (TRAJ_POINTS, 1))
            high = np.tile(np.array([60.0, 20.0], dtype=np.float32), (TRAJ_POINTS, 1))
            self._box = spaces.Box(low, high, dtype=np.float32)
        self.action_space = self._box
        self.world: World | None = None
        self._seed: int | None = None
        self._snapshot = ""
        self.ego = 0
        self.cam_name = ""
        self.route = np.zeros((0, 2))
        self._cum = np.zeros(0)
        self._progress = 0.0
        self._index = 0
        self._steps = 0
        self._still = 0
        self._last: Snapshot | None = None

    # ------------------------------------------------------------ episode

    def _build(self, seed: int) -> None:
        if self.world is not None:
            self.world.destroy()
        w = self.world = self.sim.create_world(self.map_name, seed=seed, label="gymnasium")
        self.ego = w.spawn("vehicle", lane=self.start, role="ego", name="hero")
        if self.camera:
            self.cam_name = w.attach_camera(self.ego, width=self.width, height=self.height).name
        if self.traffic:
            w.spawn_traffic(vehicles=self.traffic, seed=seed)
        a, b = w.lane_pose(*self.start), w.lane_pose(*self.goal)
        self.route = w.plan_route([(a.x, a.y), (b.x, b.y)], spacing=1.0)
        seg = np.hypot(*np.diff(self.route, axis=0).T) if len(self.route) > 1 else np.zeros(0)
        self._cum = np.concatenate([[0.0], np.cumsum(seg)])
        self._snapshot = w.snapshot()
        self._seed = seed

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None or self.world is None:
            self._build(seed if seed is not None else int(self.np_random.integers(0, 2**31)))
        else:
            assert self.world is not None
            self.world.restore(self._snapshot)
        assert self.world is not None
        self._steps = self._still = self._index = 0
        self._progress = 0.0
        snap = self.world.step(1, controls={self.ego: Control(brake=1.0)}, render=self.camera)
        self._last = snap
        self._update_progress(snap.actors[self.ego].pose)
        return self._obs(snap), self._info(snap)

    def step(
        self, action: npt.NDArray[np.float32]
    ) -> tuple[dict[str, npt.NDArray[Any]], SupportsFloat, bool, bool, dict[str, Any]]:
        assert self.world is not None, "call reset() first"
        a = np.clip(np.asarray(action, dtype=np.float64), self._box.low, self._box.high)
        if self.action_kind == "trajectory":
            assert self._last is not None
            ctl = follow(a, self._last.actors[self.ego].speed)
        else:
            ctl = Control(steer=float(a[0]), throttle=float(a[1]), brake=float(a[2]))
        snap = self.world.step(self.substeps, controls={self.ego: ctl}, render=self.camera)
        self._last = snap
        self._steps += 1
        before = self._progress
        self._update_progress(snap.actors[self.ego].pose)
        gained = self._progress - before
        reward = gained
        collided = False
        for e in snap.events:
            if e.actor_id != self.ego and e.other_actor_id != self.ego:
                continue
            if e.kind == "collision":
                other = e.other_actor_id if e.actor_id == self.ego else e.actor_id
                kind = snap.actors[other].kind if other in snap.actors else "static"
                reward -= self.collision_penalty * (1.0 if kind in ("vehicle", "pedestrian") else 0.5)
                collided = True
            elif e.kind in ("lane_invasion", "off_road"):
                reward -= self.lane_penalty
            elif e.kind == "signal_violation":
                reward -= self.signal_penalty
        self._still = 0 if gained > 0.05 else self._still + 1
        done = bool(len(self._cum) and self._progress >= self._cum[-1] - 2.0)
        terminated = done or (collided and self.terminate_on_collision)
        truncated = not terminated and (self._steps >= self.max_steps or self._still >= self.blocked_steps)
        return self._obs(snap), float(reward), terminated, truncated, self._info(snap)

    def render(self) -> npt.NDArray[np.uint8] | None:
        if self._last is None or not self.camera:
            return None
        return self._last.frames.get(self.cam_name)

    def close(self) -> None:
        if self.world is not None:
            try:
                self.world.destroy()
            finally:
                self.world = None
        self.sim.close()

    # ------------------------------------------------------------ helpers

    def _update_progress(self, pose: Pose) -> None:
        if len(self.route) == 0:
            return
        lo, hi = self._index, min(len(self.route), self._index + 40)
        d = np.hypot(self.route[lo:hi, 0] - pose.x, self.route[lo:hi, 1] - pose.y)
        i = lo + int(np.argmin(d))
        if d[i - lo] < 5.0:
            self._index = i
            self._progress = float(self._cum[i])

    def _obs(self, snap: Snapshot) -> dict[str, npt.NDArray[Any]]:
        me = snap.actors[self.ego]
        p = me.pose
        c, s = math.cos(p.yaw), math.sin(p.yaw)
        idx = np.clip(self._index + (np.arange(1, ROUTE_POINTS + 1) * ROUTE_SPACING).astype(int), 0, len(self.route) - 1)
        pts = self.route[idx] - np.array([p.x, p.y])
        rig = np.column_stack([c * pts[:, 0] + s * pts[:, 1], -s * pts[:, 0] + c * pts[:, 1]])
        j = min(self._index + 1, len(self.route) - 1)
        k = max(j - 1, 0)
        tangent = math.atan2(self.route[j, 1] - self.route[k, 1], self.route[j, 0] - self.route[k, 0]) if j != k else p.yaw
        dx, dy = p.x - self.route[self._index, 0], p.y - self.route[self._index, 1]
        lateral = -math.sin(tangent) * dx + math.cos(tangent) * dy
        heading = (p.yaw - tangent + math.pi) % (2 * math.pi) - math.pi
        obs: dict[str, npt.NDArray[Any]] = {
            "ego": np.clip(np.array([me.speed, me.yaw_rate, lateral, heading], dtype=np.float32), -1e3, 1e3),
            "route": np.clip(rig, -1e3, 1e3).astype(np.float32),
        }
        if self.camera:
            frame = snap.frames.get(self.cam_name)
            obs["image"] = frame.copy() if frame is not None else np.zeros((self.height, self.width, 3), np.uint8)
        return obs

    def _info(self, snap: Snapshot) -> dict[str, Any]:
        total = float(self._cum[-1]) if len(self._cum) else 0.0
        return {
            "route_completion": 100.0 * self._progress / total if total else 0.0,
            "sim_time_s": snap.sim_time_s,
            "events": [e.kind for e in snap.events],
            "seed": self._seed,
        }


def follow(points: npt.NDArray[np.float64], speed: float) -> Control:
    """Controls that follow rig-frame ``points`` (one every TRAJ_DT seconds):
    pure pursuit on the first point at least 4 m ahead, and a P controller
    on the speed the first segment implies."""
    target_v = float(np.hypot(*points[0])) / TRAJ_DT
    d = np.hypot(points[:, 0], points[:, 1])
    i = int(np.argmax(d >= 4.0)) if (d >= 4.0).any() else len(points) - 1
    x, y = points[i]
    ld2 = float(x * x + y * y)
    steer = 0.0 if ld2 < 1e-6 else math.atan(2.0 * y * WHEELBASE / ld2) / MAX_STEER
    err = target_v - speed
    throttle = float(np.clip(0.3 * err, 0.0, 1.0))
    brake = float(np.clip(-0.5 * err, 0.0, 1.0)) if err < -0.5 or target_v < 0.1 else 0.0
    return Control(throttle=throttle, brake=brake, steer=float(np.clip(steer, -1.0, 1.0)))


def register() -> None:
    """Registers ``atlas/Drive-v0`` with Gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(id=ENV_ID, entry_point="atlas_drive.gym_env:DriveEnv")


register()
