"""Worlds on a simulator bridge (``atlas.sim.v1``), for scripting your own loop.

>>> from atlas_drive.world import Sim, Control          # doctest: +SKIP
>>> with Sim() as sim:                                   # doctest: +SKIP
...     world = sim.create_world("Town01", seed=1)
...     ego = world.spawn("vehicle", lane=("12", -1, 10.0), role="ego")
...     cam = world.attach_camera(ego, width=320, height=180)
...     snap = world.step(2, controls={ego: Control(throttle=0.5)}, render=True)
...     frame = snap.frames[cam.name]                    # numpy H×W×3 uint8
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from . import _rpc
from ._proto.atlas.sim.v1 import sim_pb2 as pb
from .errors import AtlasError

DEFAULT_BRIDGE_ADDR = "127.0.0.1:50052"
SERVICE = "/atlas.sim.v1.Simulator/"
Frame = npt.NDArray[np.uint8]
Kind = Literal["vehicle", "pedestrian", "static"]
_KINDS: dict[str, pb.ActorKind] = {
    "vehicle": pb.ACTOR_KIND_VEHICLE,
    "pedestrian": pb.ACTOR_KIND_PEDESTRIAN,
    "static": pb.ACTOR_KIND_STATIC,
}
_KIND_NAMES = {v: k for k, v in _KINDS.items()}


def default_bridge_addr() -> str:
    """``ATLAS_BRIDGE_ADDR`` (the runtime's own upstream), else 127.0.0.1:50052."""
    return os.environ.get("ATLAS_BRIDGE_ADDR", "").strip() or DEFAULT_BRIDGE_ADDR


@dataclass(frozen=True)
class Pose:
    """World frame (OpenDRIVE: x east, y north, z up, yaw counter-clockwise
    from +x), radians."""

    x: float
    y: float
    z: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0

    def to_pb(self) -> pb.Pose:
        return pb.Pose(
            position=pb.Vec3(x=self.x, y=self.y, z=self.z), yaw=self.yaw, pitch=self.pitch, roll=self.roll
        )

    @staticmethod
    def from_pb(m: pb.Pose) -> Pose:
        return Pose(m.position.x, m.position.y, m.position.z, m.yaw, m.pitch, m.roll)


@dataclass(frozen=True)
class Control:
    """CARLA-style normalised controls: throttle and brake in [0, 1], steer in
    [-1, 1] (positive turns left)."""

    throttle: float = 0.0
    brake: float = 0.0
    steer: float = 0.0


@dataclass(frozen=True)
class LaneState:
    on_road: bool
    road_id: str
    lane_id: int
    s: float
    offset: float
    lane_type: str


@dataclass(frozen=True)
class ActorState:
    actor_id: int
    kind: str
    role: str
    name: str
    pose: Pose
    velocity: tuple[float, float, float]
    acceleration: tuple[float, float, float]
    yaw_rate: float
    speed: float
    lane: LaneState
    length: float
    width: float
    height: float


@dataclass(frozen=True)
class Event:
    """A simulator event: kind "collision", "lane_invasion", "off_road" or
    "signal_violation", the actor it concerns, and the other actor (collisions)."""

    kind: str
    frame: int
    sim_time_s: float
    actor_id: int
    other_actor_id: int = 0
    detail: str = ""


@dataclass(frozen=True)
class TrafficLight:
    id: str
    kind: str
    state: str
    position: tuple[float, float, float]


@dataclass
class Snapshot:
    world_id: str
    frame: int
    sim_time_s: float
    actors: dict[int, ActorState]
    events: list[Event]
    frames: dict[str, Frame] = field(default_factory=dict)
    """Camera frames by sensor name, H×W×3 uint8 RGB (sensors in RGB8)."""
    encoded: dict[str, bytes] = field(default_factory=dict)
    """Frames of sensors in JPEG or PNG, as the bridge encoded them."""
    traffic_lights: list[TrafficLight] = field(default_factory=list)


def _vec(v: pb.Vec3) -> tuple[float, float, float]:
    return (v.x, v.y, v.z)


def _actor(a: pb.ActorState) -> ActorState:
    ln = a.lane
    return ActorState(
        actor_id=a.actor_id,
        kind=_KIND_NAMES.get(a.kind, "unspecified"),
        role=a.role,
        name=a.name,
        pose=Pose.from_pb(a.pose),
        velocity=_vec(a.velocity),
        acceleration=_vec(a.acceleration),
        yaw_rate=a.yaw_rate,
        speed=a.speed,
        lane=LaneState(ln.on_road, ln.road_id, ln.lane_id, ln.s, ln.offset, ln.lane_type),
        length=a.dimensions.length,
        width=a.dimensions.width,
        height=a.dimensions.height,
    )


def _event(e: pb.Event) -> Event:
    kind = e.WhichOneof("kind") or "unknown"
    if kind == "collision":
        c = e.collision
        return Event(kind, e.frame, e.sim_time_s, c.actor_id, c.other_actor_id, f"{c.relative_speed:.2f} m/s")
    if kind == "lane_invasion":
        li = e.lane_invasion
        return Event(kind, e.frame, e.sim_time_s, li.actor_id, 0, f"road {li.road_id}: lane {li.from_lane_id} -> {li.to_lane_id}")
    if kind == "off_road":
        return Event(kind, e.frame, e.sim_time_s, e.off_road.actor_id)
    if kind == "signal_violation":
        sv = e.signal_violation
        return Event(kind, e.frame, e.sim_time_s, sv.actor_id, 0, sv.signal_id)
    return Event(kind, e.frame, e.sim_time_s, 0)


def decode_frame(f: pb.SensorFrame) -> Frame:
    """An RGB8 sensor frame as an H×W×3 uint8 array."""
    if f.encoding != pb.IMAGE_ENCODING_RGB8:
        raise AtlasError(f"sensor {f.name!r}: frame is not RGB8 (encoding {f.encoding})")
    want = f.width * f.height * 3
    if len(f.data) != want:
        raise AtlasError(f"sensor {f.name!r}: {len(f.data)} bytes for {f.width}x{f.height} RGB8 ({want})")
    return np.frombuffer(f.data, dtype=np.uint8).reshape(f.height, f.width, 3)


def snapshot_from_pb(s: pb.Snapshot) -> Snapshot:
    frames: dict[str, Frame] = {}
    encoded: dict[str, bytes] = {}
    for f in s.frames:
        if f.encoding == pb.IMAGE_ENCODING_RGB8:
            frames[f.name] = decode_frame(f)
        else:
            encoded[f.name] = bytes(f.data)
    lights = [
        TrafficLight(
            t.id,
            pb.SignalKind.Name(t.kind).removeprefix("SIGNAL_KIND_").lower(),
            pb.LightState.Name(t.state).removeprefix("LIGHT_STATE_").lower(),
            _vec(t.position),
        )
        for t in s.traffic_lights
    ]
    return Snapshot(
        world_id=s.world_id,
        frame=s.frame,
        sim_time_s=s.sim_time_s,
        actors={a.actor_id: _actor(a) for a in s.actors},
        events=[_event(e) for e in s.events],
        frames=frames,
        encoded=encoded,
        traffic_lights=lights,
    )


@dataclass(frozen=True)
class Camera:
    sensor_id: int
    name: str
    actor_id: int
    width: int
    height: int


@dataclass(frozen=True)
class MapInfo:
    name: str
    road_count: int
    junction_count: int
    min: tuple[float, float, float]
    max: tuple[float, float, float]
    total_road_length: float


class Sim:
    """A client of a simulator bridge (default address :func:`default_bridge_addr`)."""

    def __init__(self, addr: str | None = None) -> None:
        self.addr = addr or default_bridge_addr()
        ch = self._channel = _rpc.channel(self.addr)

        def u(name: str, resp: type[_rpc.Resp]) -> _rpc.Unary[_rpc.Req, _rpc.Resp]:
            return _rpc.Unary(ch, SERVICE + name, resp)

        self.create_world_rpc: _rpc.Unary[pb.CreateWorldRequest, pb.CreateWorldResponse] = u(
            "CreateWorld", pb.CreateWorldResponse
        )
        self.destroy_world_rpc: _rpc.Unary[pb.DestroyWorldRequest, pb.DestroyWorldResponse] = u(
            "DestroyWorld", pb.DestroyWorldResponse
        )
        self.list_maps_rpc: _rpc.Unary[pb.ListMapsRequest, pb.ListMapsResponse] = u("ListMaps", pb.ListMapsResponse)
        self.spawn_rpc: _rpc.Unary[pb.SpawnActorRequest, pb.SpawnActorResponse] = u("SpawnActor", pb.SpawnActorResponse)
        self.attach_rpc: _rpc.Unary[pb.AttachSensorRequest, pb.AttachSensorResponse] = u(
            "AttachSensor", pb.AttachSensorResponse
        )
        self.step_rpc: _rpc.Unary[pb.StepRequest, pb.StepResponse] = u("Step", pb.StepResponse)
        self.plan_route_rpc: _rpc.Unary[pb.PlanRouteRequest, pb.PlanRouteResponse] = u(
            "PlanRoute", pb.PlanRouteResponse
        )
        self.lane_pose_rpc: _rpc.Unary[pb.LanePoseRequest, pb.LanePoseResponse] = u("LanePose", pb.LanePoseResponse)
        self.traffic_rpc: _rpc.Unary[pb.SpawnTrafficRequest, pb.SpawnTrafficResponse] = u(
            "SpawnTraffic", pb.SpawnTrafficResponse
        )
        self.snapshot_rpc: _rpc.Unary[pb.SnapshotWorldRequest, pb.SnapshotWorldResponse] = u(
            "SnapshotWorld", pb.SnapshotWorldResponse
        )
        self.restore_rpc: _rpc.Unary[pb.RestoreWorldRequest, pb.RestoreWorldResponse] = u(
            "RestoreWorld", pb.RestoreWorldResponse
        )
        self.fork_rpc: _rpc.Unary[pb.ForkWorldRequest, pb.ForkWorldResponse] = u("ForkWorld", pb.ForkWorldResponse)
        self.destroy_actor_rpc: _rpc.Unary[pb.DestroyActorRequest, pb.DestroyActorResponse] = u(
            "DestroyActor", pb.DestroyActorResponse
        )

    def __enter__(self) -> Sim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def list_maps(self) -> list[str]:
        return list(self.list_maps_rpc(pb.ListMapsRequest()).names)

    def create_world(
        self,
        map: str = "Town01",
        *,
        opendrive_xml: str | None = None,
        seed: int = 0,
        fixed_delta_s: float = 0.0,
        label: str = "python",
    ) -> World:
        """A new world on a map the bridge knows by name, or on an OpenDRIVE
        document (``opendrive_xml``)."""
        req = pb.CreateWorldRequest(seed=seed, fixed_delta_s=fixed_delta_s, label=label)
        if opendrive_xml is not None:
            req.opendrive_xml = opendrive_xml
        else:
            req.map_name = map
        r = self.create_world_rpc(req)
        m = r.map
        info = MapInfo(m.name, m.road_count, m.junction_count, _vec(m.min), _vec(m.max), m.total_road_length)
        return World(self, r.world_id, info, r.fixed_delta_s)


LanePlace = tuple[str, int, float] | tuple[str, int, float, float]


class World:
    """One world of a bridge. Use as a context manager to destroy it at the end."""

    def __init__(self, sim: Sim, world_id: str, map: MapInfo, fixed_delta_s: float) -> None:
        self.sim = sim
        self.id = world_id
        self.map = map
        self.fixed_delta_s = fixed_delta_s
        self._sensors = 0
        self.last: Snapshot | None = None

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

    def destroy(self) -> None:
        self.sim.destroy_world_rpc(pb.DestroyWorldRequest(world_id=self.id))

    def lane_pose(self, road: str, lane: int, s: float, offset: float = 0.0) -> Pose:
        lp = pb.LanePosition(road_id=road, lane_id=lane, s=s, offset=offset)
        return Pose.from_pb(self.sim.lane_pose_rpc(pb.LanePoseRequest(world_id=self.id, lane_position=lp)).pose)

    def spawn(
        self,
        kind: Kind = "vehicle",
        *,
        pose: Pose | None = None,
        lane: LanePlace | None = None,
        role: str = "",
        name: str = "",
        speed: float = 0.0,
        behavior: Literal["external", "lane_follow", "stopped", "scripted"] = "external",
        target_speed: float = 0.0,
        length: float = 0.0,
        width: float = 0.0,
        height: float = 0.0,
    ) -> int:
        """Places an actor at a world pose or a lane position ``(road, lane, s[, offset])``;
        returns its id. ``behavior`` "external" is driven by :meth:`step`'s controls."""
        return self.spawn_placed(
            kind, pose=pose, lane=lane, role=role, name=name, speed=speed, behavior=behavior,
            target_speed=target_speed, length=length, width=width, height=height,
        )[0]

    def spawn_placed(
        self,
        kind: Kind = "vehicle",
        *,
        pose: Pose | None = None,
        lane: LanePlace | None = None,
        role: str = "",
        name: str = "",
        speed: float = 0.0,
        behavior: Literal["external", "lane_follow", "stopped", "scripted"] = "external",
        target_speed: float = 0.0,
        length: float = 0.0,
        width: float = 0.0,
        height: float = 0.0,
    ) -> tuple[int, Pose]:
        """:meth:`spawn`, returning the id and the pose the actor was placed at."""
        req = pb.SpawnActorRequest(world_id=self.id, kind=_KINDS[kind], role=role, name=name, speed=speed)
        if (pose is None) == (lane is None):
            raise ValueError("spawn: give exactly one of pose= or lane=")
        if pose is not None:
            req.pose.CopyFrom(pose.to_pb())
        elif lane is not None:
            road, lane_id, s = lane[0], lane[1], lane[2]
            offset = lane[3] if len(lane) == 4 else 0.0
            req.lane_position.CopyFrom(pb.LanePosition(road_id=road, lane_id=lane_id, s=s, offset=offset))
        req.dimensions.CopyFrom(pb.Dimensions(length=length, width=width, height=height))
        if behavior == "external":
            req.behavior.external.SetInParent()
        elif behavior == "lane_follow":
            req.behavior.lane_follow.target_speed = target_speed
        elif behavior == "stopped":
            req.behavior.stopped.SetInParent()
        elif behavior == "scripted":
            req.behavior.scripted.SetInParent()
        else:
            raise ValueError(f"spawn: unknown behavior {behavior!r}")
        r = self.sim.spawn_rpc(req)
        return r.actor_id, Pose.from_pb(r.pose)

    def destroy_actor(self, actor_id: int) -> None:
        self.sim.destroy_actor_rpc(pb.DestroyActorRequest(world_id=self.id, actor_id=actor_id))

    def attach_camera(
        self,
        actor_id: int,
        *,
        width: int = 320,
        height: int = 180,
        fov_deg: float = 90.0,
        mount: Pose = Pose(1.5, 0.0, 1.6),
        name: str | None = None,
    ) -> Camera:
        """A forward RGB camera on an actor; its frames arrive in
        :attr:`Snapshot.frames` as H×W×3 uint8 arrays when stepping with render."""
        self._sensors += 1
        name = name or f"camera{self._sensors}"
        spec = pb.CameraSpec(
            width=width, height=height, fov_deg=fov_deg, mount=mount.to_pb(), encoding=pb.IMAGE_ENCODING_RGB8
        )
        r = self.sim.attach_rpc(pb.AttachSensorRequest(world_id=self.id, actor_id=actor_id, name=name, camera=spec))
        return Camera(r.sensor_id, name, actor_id, width, height)

    def attach_birds_eye(
        self, actor_id: int, *, width: int = 128, height: int = 128, metres_per_pixel: float = 0.5, name: str | None = None
    ) -> Camera:
        self._sensors += 1
        name = name or f"birds_eye{self._sensors}"
        spec = pb.BirdsEyeSpec(width=width, height=height, metres_per_pixel=metres_per_pixel, encoding=pb.IMAGE_ENCODING_RGB8)
        r = self.sim.attach_rpc(pb.AttachSensorRequest(world_id=self.id, actor_id=actor_id, name=name, birds_eye=spec))
        return Camera(r.sensor_id, name, actor_id, width, height)

    def step(
        self,
        steps: int = 1,
        *,
        controls: Mapping[int, Control] | None = None,
        render: bool = False,
    ) -> Snapshot:
        """Advances ``steps`` fixed steps holding ``controls`` for the external
        actors; returns the snapshot after the last (events of all steps)."""
        req = pb.StepRequest(world_id=self.id, steps=steps, render=render)
        for actor_id, c in (controls or {}).items():
            cmd = req.commands.add()
            cmd.actor_id = actor_id
            cmd.control.throttle, cmd.control.brake, cmd.control.steer = c.throttle, c.brake, c.steer
        snap = snapshot_from_pb(self.sim.step_rpc(req).snapshot)
        self.last = snap
        return snap

    def plan_route(self, waypoints: list[tuple[float, float]], spacing: float = 1.0) -> npt.NDArray[np.float64]:
        """A lane-centre polyline through world positions, N×2."""
        req = pb.PlanRouteRequest(world_id=self.id, spacing=spacing)
        for x, y in waypoints:
            req.waypoints.add(x=x, y=y)
        r = self.sim.plan_route_rpc(req)
        return np.array([[p.x, p.y] for p in r.points], dtype=np.float64).reshape(-1, 2)

    def spawn_traffic(self, vehicles: int = 0, pedestrians: int = 0, seed: int = 0) -> list[int]:
        r = self.sim.traffic_rpc(
            pb.SpawnTrafficRequest(world_id=self.id, vehicles=vehicles, pedestrians=pedestrians, seed=seed)
        )
        return list(r.actor_ids)

    def snapshot(self) -> str:
        """Keeps a copy of the world's state; returns the snapshot id."""
        return self.sim.snapshot_rpc(pb.SnapshotWorldRequest(world_id=self.id)).snapshot_id

    def restore(self, snapshot_id: str) -> None:
        """Puts the world back into a snapshot it took (bit-identical replay)."""
        self.sim.restore_rpc(pb.RestoreWorldRequest(world_id=self.id, snapshot_id=snapshot_id))

    def fork(self, snapshot_id: str, label: str = "") -> World:
        """A new world from a snapshot of this one."""
        r = self.sim.fork_rpc(pb.ForkWorldRequest(world_id=self.id, snapshot_id=snapshot_id, label=label))
        return World(self.sim, r.world_id, self.map, self.fixed_delta_s)


def drive(
    world: World,
    ego: int,
    controller: Callable[[Snapshot], Control | None],
    *,
    steps: int = 100,
    substeps: int = 2,
    render: bool = False,
) -> Snapshot:
    """The in-loop form of a controller callback: ``controller`` gets every
    snapshot and returns the ego's controls for the next ``substeps`` world
    steps, or None to stop. Returns the last snapshot."""
    snap = world.step(1, render=render)
    for _ in range(steps):
        ctl = controller(snap)
        if ctl is None:
            break
        snap = world.step(substeps, controls={ego: ctl}, render=render)
    return snap


def wrap_angle(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi
