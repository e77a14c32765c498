"""A Python function served as an egodriver policy (the AlpaSim driver
contract), so the scenario runtime evaluates it like any other driver.

>>> from atlas_drive import serve_policy, run, Command     # doctest: +SKIP
>>> def controller(obs):                                     # doctest: +SKIP
...     return Command(speed=8.0, steer=0.0)
>>> with serve_policy(controller) as server:                 # doctest: +SKIP
...     print(run("scenarios/town01_straight_clear.toml", driver=server))

The callback gets an :class:`Observation` at every ``drive`` (10 Hz by
default) and returns either

- a :class:`Command` (or a ``(speed, steer)`` tuple): a target speed (m/s) and
  a front-wheel steering angle (rad, positive left), turned into a 4 s
  trajectory by integrating a kinematic bicycle, or
- a :class:`Trajectory`: poses in the rig frame at the time of the
  observation (x forward, y left), one every ``dt`` seconds from ``dt`` on.

The runtime follows the trajectory with its pure pursuit and speed PID.
"""

from __future__ import annotations

import math
import socket
import threading
import traceback
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
import numpy.typing as npt

from ._proto.alpasim_grpc.v0 import common_pb2 as common
from ._proto.alpasim_grpc.v0 import egodriver_pb2 as ed

SERVICE = "egodriver.EgodriverService"
HEALTH = "grpc.health.v1.Health"
WHEELBASE = 2.875
HORIZON_S = 4.0
API_VERSION = (0, 55, 0)


@dataclass(frozen=True)
class Command:
    """Target speed (m/s, >= 0) and front-wheel angle (rad, positive left)."""

    speed: float
    steer: float = 0.0


@dataclass(frozen=True)
class Trajectory:
    """Planned rig-frame positions ``(x, y)`` or poses ``(x, y, yaw)``, one
    every ``dt`` seconds starting ``dt`` after the observation."""

    points: Sequence[Sequence[float]] | npt.NDArray[np.float64]
    dt: float = 0.1


@dataclass
class Observation:
    """What the policy knows at one ``drive``: the ego in the runtime's local
    (world) frame, its velocity in the rig frame, the route ahead in the rig
    frame (x forward, y left; NaN padding removed), the latest camera JPEG."""

    session_uuid: str
    time_us: int
    x: float
    y: float
    z: float
    yaw: float
    speed: float
    """Forward speed, m/s."""
    lateral_speed: float
    yaw_rate: float
    acceleration: float
    route: npt.NDArray[np.float64]
    """N×2, rig frame, metres; the next ~80 m of the route."""
    image_jpeg: bytes | None
    camera: str
    step: int
    seed: int


Reply = Command | Trajectory | tuple[float, float]
Callback = Callable[[Observation], Reply]


def _yaw(q: common.Quat) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _pose(x: float, y: float, z: float, yaw: float, t_us: int) -> common.PoseAtTime:
    return common.PoseAtTime(
        pose=common.Pose(
            vec=common.Vec3(x=x, y=y, z=z),
            quat=common.Quat(w=math.cos(yaw / 2), x=0.0, y=0.0, z=math.sin(yaw / 2)),
        ),
        timestamp_us=t_us,
    )


def command_to_rig(cmd: Command, dt: float = 0.1, horizon_s: float = HORIZON_S) -> npt.NDArray[np.float64]:
    """Rig-frame poses (x, y, yaw) at dt, 2dt, … of a kinematic bicycle holding
    ``cmd`` (curvature tan(steer)/wheelbase at constant speed)."""
    if not (math.isfinite(cmd.speed) and math.isfinite(cmd.steer)):
        raise ValueError(f"command {cmd} is not finite")
    v = max(0.0, cmd.speed)
    k = math.tan(max(-1.2, min(1.2, cmd.steer))) / WHEELBASE
    n = max(1, round(horizon_s / dt))
    out = np.zeros((n, 3))
    for i in range(n):
        s = v * dt * (i + 1)
        if abs(k) < 1e-9:
            out[i] = (s, 0.0, 0.0)
        else:
            th = k * s
            out[i] = (math.sin(th) / k, (1 - math.cos(th)) / k, th)
    return out


@dataclass
class _Session:
    uuid: str
    seed: int
    camera: str = ""
    poses: list[common.PoseAtTime] = field(default_factory=list)
    dyn: common.DynamicState | None = None
    route: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros((0, 2)))
    image: bytes | None = None
    image_id: str = ""
    steps: int = 0


class PolicyServer:
    """A running egodriver server around a callback (see :func:`serve_policy`)."""

    def __init__(self, callback: Callback, *, host: str = "127.0.0.1", port: int = 0, workers: int = 8) -> None:
        self.callback = callback
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        self.drives = 0
        self.sessions_started = 0
        self.errors: list[str] = []
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        handlers = {
            "start_session": self._h(self._start, ed.DriveSessionRequest),
            "close_session": self._h(self._close, ed.DriveSessionCloseRequest),
            "submit_image_observation": self._h(self._image, ed.RolloutCameraImage),
            "submit_egomotion_observation": self._h(self._ego, ed.RolloutEgoTrajectory),
            "submit_route": self._h(self._route, ed.RouteRequest),
            "submit_recording_ground_truth": self._h(self._gt, ed.GroundTruthRequest),
            "drive": self._h(self._drive, ed.DriveRequest),
            "get_version": self._h(self._version, common.Empty),
        }
        health = {
            "Check": grpc.unary_unary_rpc_method_handler(
                self._health, request_deserializer=lambda b: b, response_serializer=lambda b: b
            )
        }
        self._server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(SERVICE, handlers),
                grpc.method_handlers_generic_handler(HEALTH, health),
            )
        )
        self.port = self._server.add_insecure_port(f"{host}:{port}")
        if self.port == 0:
            raise OSError(f"cannot listen on {host}:{port}")
        self.host = host
        self._server.start()

    @property
    def address(self) -> str:
        """``host:port`` for ``run(..., driver=...)``. A server on all
        interfaces (``host="0.0.0.0"``, for a runtime on another machine or
        container) gives this machine's address by its host name."""
        host = self.host
        if host in ("0.0.0.0", "::", "[::]", ""):
            try:
                host = socket.gethostbyname(socket.gethostname())
            except OSError:
                host = "127.0.0.1"
        return f"{host}:{self.port}"

    def __enter__(self) -> PolicyServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, grace: float = 1.0) -> None:
        self._server.stop(grace).wait()

    def wait(self) -> None:
        """Blocks until the server stops (serve forever)."""
        self._server.wait_for_termination()

    # ------------------------------------------------------------ handlers

    @staticmethod
    def _h(fn: Callable[[Any, grpc.ServicerContext], Any], req: type[Any]) -> grpc.RpcMethodHandler[Any, Any]:
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=req.FromString, response_serializer=lambda m: m.SerializeToString()
        )

    def _health(self, _req: bytes, _ctx: grpc.ServicerContext) -> bytes:
        return b"\x08\x01"  # HealthCheckResponse{status: SERVING}

    def _session(self, uuid: str, ctx: grpc.ServicerContext) -> _Session:
        with self._lock:
            s = self._sessions.get(uuid)
        if s is None:
            ctx.abort(grpc.StatusCode.NOT_FOUND, f"unknown session {uuid!r} (start_session first)")
        return s

    def _start(self, r: ed.DriveSessionRequest, ctx: grpc.ServicerContext) -> common.SessionRequestStatus:
        if not r.session_uuid:
            ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "start_session: empty session_uuid")
        cams = r.rollout_spec.vehicle.available_cameras
        s = _Session(r.session_uuid, r.random_seed, camera=cams[0].logical_id if len(cams) else "")
        with self._lock:
            if r.session_uuid in self._sessions:
                ctx.abort(grpc.StatusCode.ALREADY_EXISTS, f"session {r.session_uuid!r} exists")
            self._sessions[r.session_uuid] = s
            self.sessions_started += 1
        return common.SessionRequestStatus()

    def _close(self, r: ed.DriveSessionCloseRequest, ctx: grpc.ServicerContext) -> common.Empty:
        with self._lock:
            self._sessions.pop(r.session_uuid, None)
        return common.Empty()

    def _image(self, r: ed.RolloutCameraImage, ctx: grpc.ServicerContext) -> common.Empty:
        s = self._session(r.session_uuid, ctx)
        s.image = bytes(r.camera_image.image_bytes)
        s.image_id = r.camera_image.logical_id
        return common.Empty()

    def _ego(self, r: ed.RolloutEgoTrajectory, ctx: grpc.ServicerContext) -> common.Empty:
        s = self._session(r.session_uuid, ctx)
        if len(r.trajectory.poses):
            s.poses = list(r.trajectory.poses)[-1:]
        if len(r.dynamic_states):
            s.dyn = r.dynamic_states[-1]
        return common.Empty()

    def _route(self, r: ed.RouteRequest, ctx: grpc.ServicerContext) -> common.Empty:
        s = self._session(r.session_uuid, ctx)
        pts = np.array([[w.x, w.y] for w in r.route.waypoints], dtype=np.float64).reshape(-1, 2)
        s.route = pts[np.isfinite(pts).all(axis=1)]
        return common.Empty()

    def _gt(self, r: ed.GroundTruthRequest, ctx: grpc.ServicerContext) -> common.Empty:
        self._session(r.session_uuid, ctx)
        return common.Empty()

    def _version(self, r: common.Empty, ctx: grpc.ServicerContext) -> common.VersionId:
        v = common.VersionId(version_id="atlas-drive-python-policy", git_hash="")
        v.grpc_api_version.major, v.grpc_api_version.minor, v.grpc_api_version.patch = API_VERSION
        return v

    def _drive(self, r: ed.DriveRequest, ctx: grpc.ServicerContext) -> ed.DriveResponse:
        s = self._session(r.session_uuid, ctx)
        if not s.poses:
            return ed.DriveResponse()  # no egomotion yet: no plan
        last = s.poses[-1]
        p = last.pose
        yaw = _yaw(p.quat)
        d = s.dyn
        obs = Observation(
            session_uuid=s.uuid,
            time_us=r.time_now_us or last.timestamp_us,
            x=p.vec.x,
            y=p.vec.y,
            z=p.vec.z,
            yaw=yaw,
            speed=d.linear_velocity.x if d else 0.0,
            lateral_speed=d.linear_velocity.y if d else 0.0,
            yaw_rate=d.angular_velocity.z if d else 0.0,
            acceleration=d.linear_acceleration.x if d else 0.0,
            route=s.route.copy(),
            image_jpeg=s.image,
            camera=s.image_id or s.camera,
            step=s.steps,
            seed=s.seed,
        )
        s.steps += 1
        try:
            reply = self.callback(obs)
            rig, dt = _rig_poses(reply)
        except Exception as e:  # the callback's fault: tell the runtime and keep serving
            msg = f"policy callback failed at step {obs.step}: {type(e).__name__}: {e}"
            self.errors.append(msg + "\n" + traceback.format_exc())
            ctx.abort(grpc.StatusCode.INTERNAL, msg)
        with self._lock:
            self.drives += 1
        t0 = obs.time_us
        traj = common.Trajectory()
        traj.poses.append(_pose(p.vec.x, p.vec.y, p.vec.z, yaw, t0))
        c, sn = math.cos(yaw), math.sin(yaw)
        for i, (rx, ry, ryaw) in enumerate(rig):
            traj.poses.append(
                _pose(p.vec.x + c * rx - sn * ry, p.vec.y + sn * rx + c * ry, p.vec.z, yaw + ryaw, t0 + round((i + 1) * dt * 1e6))
            )
        return ed.DriveResponse(trajectory=traj)


def _rig_poses(reply: Reply) -> tuple[npt.NDArray[np.float64], float]:
    if isinstance(reply, tuple):
        reply = Command(float(reply[0]), float(reply[1]))
    if isinstance(reply, Command):
        return command_to_rig(reply), 0.1
    if isinstance(reply, Trajectory):
        pts = np.asarray(reply.points, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[0] < 1 or pts.shape[1] not in (2, 3):
            raise ValueError(f"Trajectory.points must be N×2 or N×3 with N >= 1, got shape {pts.shape}")
        if not np.isfinite(pts).all():
            raise ValueError("Trajectory.points must be finite")
        if not (reply.dt > 0 and math.isfinite(reply.dt)):
            raise ValueError(f"Trajectory.dt must be > 0, got {reply.dt}")
        if pts.shape[1] == 2:
            d = np.diff(np.vstack([np.zeros((1, 2)), pts]), axis=0)
            yaw = np.arctan2(d[:, 1], d[:, 0])
            yaw[np.hypot(d[:, 0], d[:, 1]) < 1e-6] = 0.0
            pts = np.column_stack([pts, yaw])
        return pts, reply.dt
    raise TypeError(f"policy callback returned {type(reply).__name__}; expected Command, (speed, steer) or Trajectory")


def serve_policy(callback: Callback, *, port: int = 0, host: str = "127.0.0.1", workers: int = 8) -> PolicyServer:
    """Serves ``callback`` as an egodriver policy on ``host:port`` (port 0: a
    free port; see :attr:`PolicyServer.address`). Pass the server (or its
    address) as ``driver=`` to :func:`atlas_drive.run`. The default host,
    127.0.0.1, serves a runtime on the same machine or in the same container
    (the scenario container's own); use ``host="0.0.0.0"`` for one elsewhere."""
    return PolicyServer(callback, host=host, port=port, workers=workers)


def follow_route(obs: Observation, *, speed: float = 8.0, lookahead: float = 6.0) -> Command:
    """A simple route follower: pure pursuit on the route ahead at ``speed``
    (slower in curves). A starting point for your own controller."""
    pts = obs.route
    if len(pts) == 0:
        return Command(0.0, 0.0)
    dist = np.hypot(pts[:, 0], pts[:, 1])
    ahead = np.nonzero((dist >= lookahead) & (pts[:, 0] > 0))[0]
    if len(ahead):
        tx, ty = pts[ahead[0]]
    elif len(pts) >= 2 and np.hypot(*(pts[-1] - pts[-2])) > 1e-6:
        # Near the route's end: aim past it along its last segment.
        d = (pts[-1] - pts[-2]) / np.hypot(*(pts[-1] - pts[-2]))
        tx, ty = pts[-1] + d * lookahead
    else:
        tx, ty = pts[-1] + np.array([lookahead, 0.0])
    ld2 = tx * tx + ty * ty
    if ld2 < 1e-6:
        return Command(0.0, 0.0)
    curvature = 2.0 * ty / ld2
    steer = math.atan(curvature * WHEELBASE)
    v = min(speed, math.sqrt(2.5 / max(abs(curvature), 1e-3)))
    return Command(v, steer)
