"""A CARLA-style facade over ``atlas.sim.v1``: the slice of CARLA's Python API
that typical scripts use, on the built-in simulator. Change ``import carla``
to ``from atlas_drive import carla``.

Frames: like CARLA, :class:`Location` and :class:`Rotation` are in CARLA's
left-handed frame (x forward/east, y right/south, z up; degrees, yaw
clockwise seen from above, pitch positive nose up). They are converted to and
from the bridge's OpenDRIVE frame (y and yaw flipped, pitch negated).

``Client(host, port)``: CARLA's default port 2000 means the bridge at
``ATLAS_BRIDGE_ADDR`` (else 127.0.0.1:50052); any other port is the bridge's
own. The world advances only in :meth:`World.tick` (CARLA's synchronous
mode; in asynchronous mode ``wait_for_tick`` ticks too). What the facade does
not implement raises ``NotImplementedError`` naming the call.
"""

from __future__ import annotations

import atexit
import fnmatch
import math
import os
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import world as w
from .errors import RpcError

DEFAULT_MAP = "Town01"
FIXED_DELTA = 0.05


# ------------------------------------------------------------------ geometry


class Vector3D:
    def __init__(self, x: float = 0.0, y: float = 0.0, z: float = 0.0) -> None:
        self.x, self.y, self.z = float(x), float(y), float(z)

    def __add__(self, o: Vector3D) -> Vector3D:
        return type(self)(self.x + o.x, self.y + o.y, self.z + o.z)

    def __sub__(self, o: Vector3D) -> Vector3D:
        return type(self)(self.x - o.x, self.y - o.y, self.z - o.z)

    def __mul__(self, k: float) -> Vector3D:
        return type(self)(self.x * k, self.y * k, self.z * k)

    __rmul__ = __mul__

    def __eq__(self, o: object) -> bool:
        return isinstance(o, Vector3D) and (self.x, self.y, self.z) == (o.x, o.y, o.z)

    def __hash__(self) -> int:
        return hash((self.x, self.y, self.z))

    def length(self) -> float:
        return math.sqrt(self.x**2 + self.y**2 + self.z**2)

    def distance(self, o: Vector3D) -> float:
        return (self - o).length()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(x={self.x:.6f}, y={self.y:.6f}, z={self.z:.6f})"


class Location(Vector3D):
    pass


class Rotation:
    """Degrees, CARLA's convention."""

    def __init__(self, pitch: float = 0.0, yaw: float = 0.0, roll: float = 0.0) -> None:
        self.pitch, self.yaw, self.roll = float(pitch), float(yaw), float(roll)

    def get_forward_vector(self) -> Vector3D:
        cp, sp = math.cos(math.radians(self.pitch)), math.sin(math.radians(self.pitch))
        cy, sy = math.cos(math.radians(self.yaw)), math.sin(math.radians(self.yaw))
        return Vector3D(cp * cy, cp * sy, sp)

    def get_right_vector(self) -> Vector3D:
        cy, sy = math.cos(math.radians(self.yaw)), math.sin(math.radians(self.yaw))
        return Vector3D(-sy, cy, 0.0)

    def __eq__(self, o: object) -> bool:
        return isinstance(o, Rotation) and (self.pitch, self.yaw, self.roll) == (o.pitch, o.yaw, o.roll)

    def __hash__(self) -> int:
        return hash((self.pitch, self.yaw, self.roll))

    def __repr__(self) -> str:
        return f"Rotation(pitch={self.pitch:.6f}, yaw={self.yaw:.6f}, roll={self.roll:.6f})"


class Transform:
    def __init__(self, location: Location | None = None, rotation: Rotation | None = None) -> None:
        self.location = location if location is not None else Location()
        self.rotation = rotation if rotation is not None else Rotation()

    def get_forward_vector(self) -> Vector3D:
        return self.rotation.get_forward_vector()

    def get_right_vector(self) -> Vector3D:
        return self.rotation.get_right_vector()

    def transform(self, p: Vector3D) -> Location:
        """A point given in this transform's frame, in the parent frame."""
        f, r = self.get_forward_vector(), self.get_right_vector()
        return Location(
            self.location.x + f.x * p.x + r.x * p.y,
            self.location.y + f.y * p.x + r.y * p.y,
            self.location.z + f.z * p.x + p.z,
        )

    def __eq__(self, o: object) -> bool:
        return isinstance(o, Transform) and self.location == o.location and self.rotation == o.rotation

    def __hash__(self) -> int:
        return hash((self.location, self.rotation))

    def __repr__(self) -> str:
        return f"Transform({self.location!r}, {self.rotation!r})"


def to_pose(t: Transform) -> w.Pose:
    """CARLA transform -> OpenDRIVE-frame pose."""
    return w.Pose(
        t.location.x,
        -t.location.y,
        t.location.z,
        -math.radians(t.rotation.yaw),
        -math.radians(t.rotation.pitch),
        math.radians(t.rotation.roll),
    )


def from_pose(p: w.Pose) -> Transform:
    return Transform(
        Location(p.x, -p.y, p.z),
        Rotation(pitch=-math.degrees(p.pitch), yaw=-math.degrees(p.yaw), roll=math.degrees(p.roll)),
    )


# ------------------------------------------------------------------ controls & settings


@dataclass
class VehicleControl:
    """CARLA's controls: steer positive turns right (as in CARLA)."""

    throttle: float = 0.0
    steer: float = 0.0
    brake: float = 0.0
    hand_brake: bool = False
    reverse: bool = False
    manual_gear_shift: bool = False
    gear: int = 0

    def to_sim(self) -> w.Control:
        brake = 1.0 if self.hand_brake else self.brake
        if self.reverse:
            raise NotImplementedError("carla.VehicleControl(reverse=True)")
        return w.Control(
            throttle=min(max(self.throttle, 0.0), 1.0),
            brake=min(max(brake, 0.0), 1.0),
            steer=-min(max(self.steer, -1.0), 1.0),
        )


@dataclass
class WorldSettings:
    synchronous_mode: bool = False
    no_rendering_mode: bool = False
    fixed_delta_seconds: float | None = None
    substepping: bool = True
    max_substep_delta_time: float = 0.01
    max_substeps: int = 10


@dataclass(frozen=True)
class Timestamp:
    frame: int
    elapsed_seconds: float
    delta_seconds: float
    platform_timestamp: float = 0.0


class WorldSnapshot:
    def __init__(self, frame: int, ts: Timestamp) -> None:
        self.frame = frame
        self.timestamp = ts
        self.id = frame


# ------------------------------------------------------------------ blueprints


class ActorAttribute:
    def __init__(self, id: str, value: str) -> None:
        self.id = id
        self.value = value

    def as_int(self) -> int:
        return int(float(self.value))

    def as_float(self) -> float:
        return float(self.value)

    def as_str(self) -> str:
        return self.value

    def __str__(self) -> str:
        return self.value


class ActorBlueprint:
    def __init__(self, id: str, tags: list[str], attributes: dict[str, str]) -> None:
        self.id = id
        self.tags = tags
        self._attrs = dict(attributes)

    def has_tag(self, tag: str) -> bool:
        return tag in self.tags

    def match_tags(self, pattern: str) -> bool:
        return any(fnmatch.fnmatch(t, pattern) for t in self.tags)

    def has_attribute(self, id: str) -> bool:
        return id in self._attrs

    def get_attribute(self, id: str) -> ActorAttribute:
        if id not in self._attrs:
            raise IndexError(f"blueprint {self.id!r} has no attribute {id!r}")
        return ActorAttribute(id, self._attrs[id])

    def set_attribute(self, id: str, value: str) -> None:
        if id not in self._attrs:
            raise IndexError(f"blueprint {self.id!r} has no attribute {id!r}")
        self._attrs[id] = str(value)

    def __iter__(self) -> Iterator[ActorAttribute]:
        return (ActorAttribute(k, v) for k, v in self._attrs.items())

    def __repr__(self) -> str:
        return f"ActorBlueprint(id={self.id}, tags={self.tags})"


def _vehicle(id: str, length: float, width: float, height: float, wheels: int = 4) -> ActorBlueprint:
    return ActorBlueprint(
        id,
        id.split("."),
        {
            "role_name": "autopilot",
            "color": "0,0,0",
            "number_of_wheels": str(wheels),
            "length": str(length),
            "width": str(width),
            "height": str(height),
        },
    )


def _library() -> list[ActorBlueprint]:
    cam = {"image_size_x": "800", "image_size_y": "600", "fov": "90", "sensor_tick": "0.0", "role_name": "front"}
    return [
        _vehicle("vehicle.tesla.model3", 4.79, 2.16, 1.49),
        _vehicle("vehicle.lincoln.mkz_2020", 4.89, 2.23, 1.48),
        _vehicle("vehicle.audi.a2", 3.71, 1.79, 1.55),
        _vehicle("vehicle.toyota.prius", 4.51, 2.01, 1.52),
        _vehicle("vehicle.nissan.micra", 3.65, 1.85, 1.52),
        _vehicle("vehicle.carlamotors.carlacola", 5.2, 2.6, 2.5),
        ActorBlueprint("walker.pedestrian.0001", ["walker", "pedestrian", "0001"], {"role_name": "walker", "speed": "1.4"}),
        ActorBlueprint("static.prop.streetbarrier", ["static", "prop", "streetbarrier"], {"role_name": "prop"}),
        ActorBlueprint("sensor.camera.rgb", ["sensor", "camera", "rgb"], dict(cam)),
        ActorBlueprint("sensor.other.collision", ["sensor", "other", "collision"], {"role_name": "collision"}),
    ]


class BlueprintLibrary:
    def __init__(self, items: list[ActorBlueprint]) -> None:
        self._items = items

    def filter(self, wildcard_pattern: str) -> BlueprintLibrary:
        return BlueprintLibrary(
            [b for b in self._items if fnmatch.fnmatch(b.id, wildcard_pattern) or b.match_tags(wildcard_pattern)]
        )

    def find(self, id: str) -> ActorBlueprint:
        for b in self._items:
            if b.id == id:
                return ActorBlueprint(b.id, list(b.tags), dict(b._attrs))
        raise IndexError(f"blueprint {id!r} not found")

    def __iter__(self) -> Iterator[ActorBlueprint]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i: int) -> ActorBlueprint:
        return self._items[i]


# ------------------------------------------------------------------ images


class Image:
    """A camera frame: ``raw_data`` is BGRA, 8 bits a channel, as CARLA's."""

    def __init__(self, frame: int, timestamp: float, rgb: np.ndarray[Any, np.dtype[np.uint8]], fov: float, transform: Transform) -> None:
        self.frame = frame
        self.frame_number = frame
        self.timestamp = timestamp
        self.height, self.width = int(rgb.shape[0]), int(rgb.shape[1])
        self.fov = fov
        self.transform = transform
        bgra = np.empty((self.height, self.width, 4), np.uint8)
        bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = rgb[..., 2], rgb[..., 1], rgb[..., 0], 255
        self._rgb = rgb
        self.raw_data = bgra.tobytes()

    def save_to_disk(self, path: str, color_converter: object = None) -> None:
        """PNG; ``%d``/``%06d`` in the path take the frame number, as in CARLA."""
        if "%" in path:
            path = path % self.frame
        if not os.path.splitext(path)[1]:
            path += ".png"
        d = os.path.dirname(path)
        if d:
            os.makedirs(d, exist_ok=True)
        with open(path, "wb") as f:
            f.write(png(self._rgb))


def png(rgb: np.ndarray[Any, np.dtype[np.uint8]]) -> bytes:
    h, width = rgb.shape[0], rgb.shape[1]
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------ actors


class Actor:
    def __init__(self, world: World, sim_id: int, blueprint: ActorBlueprint, attributes: dict[str, str]) -> None:
        self._world = world
        self._sim_id = sim_id
        self.id = sim_id
        self.type_id = blueprint.id
        self.attributes = attributes
        self.parent: Actor | None = None
        self.is_alive = True

    def _state(self) -> w.ActorState:
        s = self._world._snapshot().actors.get(self._sim_id)
        if s is None:
            raise RuntimeError(f"actor {self.id} ({self.type_id}) is not in the world (destroyed?)")
        return s

    def get_transform(self) -> Transform:
        return from_pose(self._state().pose)

    def get_location(self) -> Location:
        return self.get_transform().location

    def get_velocity(self) -> Vector3D:
        v = self._state().velocity
        return Vector3D(v[0], -v[1], v[2])

    def get_acceleration(self) -> Vector3D:
        a = self._state().acceleration
        return Vector3D(a[0], -a[1], a[2])

    def get_angular_velocity(self) -> Vector3D:
        return Vector3D(0.0, 0.0, -math.degrees(self._state().yaw_rate))

    def get_world(self) -> World:
        return self._world

    def destroy(self) -> bool:
        if not self.is_alive:
            return False
        self._world._destroy(self)
        self.is_alive = False
        return True

    def set_transform(self, transform: Transform) -> None:
        raise NotImplementedError("carla.Actor.set_transform")

    def set_simulate_physics(self, enabled: bool = True) -> None:
        raise NotImplementedError("carla.Actor.set_simulate_physics")

    def __repr__(self) -> str:
        return f"Actor(id={self.id}, type={self.type_id})"


class Vehicle(Actor):
    def __init__(self, world: World, sim_id: int, blueprint: ActorBlueprint, attributes: dict[str, str]) -> None:
        super().__init__(world, sim_id, blueprint, attributes)
        self._control = VehicleControl()
        self.autopilot = False
        self._bp = blueprint

    def apply_control(self, control: VehicleControl) -> None:
        if self.autopilot:
            return  # CARLA ignores controls under autopilot too
        self._control = control

    def get_control(self) -> VehicleControl:
        return self._control

    def set_autopilot(self, enabled: bool = True, tm_port: int = 8000) -> None:
        """Autopilot: the simulator's lane follower (at the speed limit of
        the facade, 8 m/s) takes the vehicle from its current pose."""
        if enabled == self.autopilot:
            return
        self._world._respawn(self, autopilot=enabled)
        self.autopilot = enabled

    def get_speed_limit(self) -> float:
        return 30.0

    def get_physics_control(self) -> Any:
        raise NotImplementedError("carla.Vehicle.get_physics_control")

    def set_light_state(self, state: Any) -> None:
        raise NotImplementedError("carla.Vehicle.set_light_state")


class Walker(Actor):
    pass


class Spectator(Actor):
    def __init__(self, world: World) -> None:
        super().__init__(world, 0, ActorBlueprint("spectator", ["spectator"], {}), {})
        self.id = 0
        self._transform = Transform(Location(0.0, 0.0, 50.0), Rotation(pitch=-90.0))

    def get_transform(self) -> Transform:
        return self._transform

    def set_transform(self, transform: Transform) -> None:
        self._transform = transform

    def destroy(self) -> bool:
        return False


class Sensor(Actor):
    def __init__(self, world: World, parent: Actor, blueprint: ActorBlueprint, attributes: dict[str, str], mount: Transform) -> None:
        super().__init__(world, 0, blueprint, attributes)
        self.parent = parent
        self.mount = mount
        self.name = ""
        self.sensor_id = 0
        self._callback: Callable[[Any], None] | None = None
        self.id = world._next_sensor_id()

    @property
    def is_listening(self) -> bool:
        return self._callback is not None

    def listen(self, callback: Callable[[Any], None]) -> None:
        self._callback = callback

    def stop(self) -> None:
        self._callback = None

    def get_transform(self) -> Transform:
        assert self.parent is not None
        p = self.parent.get_transform()
        loc = p.transform(self.mount.location)
        r = Rotation(p.rotation.pitch + self.mount.rotation.pitch, p.rotation.yaw + self.mount.rotation.yaw, p.rotation.roll)
        return Transform(loc, r)

    def destroy(self) -> bool:
        if not self.is_alive:
            return False
        self._callback = None
        self._world._sensors.remove(self)
        self.is_alive = False
        return True


class Camera(Sensor):
    def _attach(self) -> None:
        assert self.parent is not None
        world = self._world._w()
        self.name = f"carla_camera_{self.id}_{self._world._next_sensor_id()}"
        m = to_pose(self.mount)
        cam = world.attach_camera(
            self.parent._sim_id,
            width=int(float(self.attributes["image_size_x"])),
            height=int(float(self.attributes["image_size_y"])),
            fov_deg=float(self.attributes["fov"]),
            mount=m,
            name=self.name,
        )
        self.sensor_id = cam.sensor_id


class CollisionSensor(Sensor):
    pass


@dataclass
class CollisionEvent:
    frame: int
    timestamp: float
    actor: Actor
    other_actor: Actor | None
    normal_impulse: Vector3D


class ActorList(list[Actor]):
    def filter(self, wildcard_pattern: str) -> ActorList:
        return ActorList(a for a in self if fnmatch.fnmatch(a.type_id, wildcard_pattern))

    def find(self, actor_id: int) -> Actor | None:
        return next((a for a in self if a.id == actor_id), None)


# ------------------------------------------------------------------ map


class Waypoint:
    def __init__(self, map: Map, road_id: str, lane_id: int, s: float, transform: Transform) -> None:
        self._map = map
        self.road_id = int(road_id) if road_id.isdigit() else road_id
        self._road = road_id
        self.lane_id = lane_id
        self.s = s
        self.transform = transform
        self.lane_width = 3.5
        self.is_junction = False
        self.id = hash((road_id, lane_id, round(s, 3)))

    def next(self, distance: float) -> list[Waypoint]:
        """The waypoint ``distance`` metres ahead along the lane (following
        the lane graph across junctions: the first successor)."""
        return [self._map._ahead(self, distance)]

    def previous(self, distance: float) -> list[Waypoint]:
        """The waypoint ``distance`` metres back along the lane, on this road
        only: predecessors are not followed."""
        direction = 1.0 if self.lane_id < 0 else -1.0
        try:
            return [self._map._waypoint(self._road, self.lane_id, self.s - direction * distance)]
        except RpcError:
            raise NotImplementedError(
                f"carla.Waypoint.previous({distance}) across the start of road {self._road}"
            ) from None

    def _beside(self, step: int) -> Waypoint | None:
        lane = self.lane_id + step
        if lane == 0:
            lane += step
        try:
            return self._map._waypoint(self._road, lane, self.s)
        except RpcError:
            return None

    def get_left_lane(self) -> Waypoint | None:
        """The lane to the left in the direction of travel (across the centre
        line: the opposite lane, as in CARLA); None if there is none."""
        return self._beside(1 if self.lane_id < 0 else -1)

    def get_right_lane(self) -> Waypoint | None:
        return self._beside(-1 if self.lane_id < 0 else 1)

    def __repr__(self) -> str:
        return f"Waypoint(road={self._road}, lane={self.lane_id}, s={self.s:.2f}, {self.transform!r})"


class Map:
    def __init__(self, world: World) -> None:
        self._world = world
        self.name = world._map_name
        self._spawn_points: list[Transform] | None = None

    def _scratch(self) -> w.World:
        return self._world._scratch()

    def get_spawn_points(self) -> list[Transform]:
        """Places on driving lanes, drawn once from the simulator's traffic
        placement (the same on every call)."""
        if self._spawn_points is None:
            s = self._scratch()
            ids = s.spawn_traffic(vehicles=60, seed=12345)
            snap = s.step(1)
            self._spawn_points = [from_pose(snap.actors[i].pose) for i in ids if i in snap.actors]
            for i in ids:
                s.destroy_actor(i)
        return list(self._spawn_points)

    def get_waypoint(self, location: Location, project_to_road: bool = True, lane_type: Any = None) -> Waypoint | None:
        """The lane-centre waypoint of the lane at ``location``."""
        s = self._scratch()
        probe = s.spawn("static", pose=to_pose(Transform(location)), behavior="stopped", name="waypoint_probe")
        try:
            lane = s.step(1).actors[probe].lane
        finally:
            s.destroy_actor(probe)
        if not lane.road_id or (not lane.on_road and not project_to_road):
            return None
        return self._waypoint(lane.road_id, lane.lane_id, lane.s)

    def _waypoint(self, road: str, lane: int, s: float) -> Waypoint:
        pose = self._scratch().lane_pose(road, lane, s)
        return Waypoint(self, road, lane, s, from_pose(pose))

    def _ahead(self, wp: Waypoint, distance: float) -> Waypoint:
        s = self._scratch()
        direction = 1.0 if wp.lane_id < 0 else -1.0
        try:
            return self._waypoint(wp._road, wp.lane_id, wp.s + direction * distance)
        except RpcError:
            pass  # past the road's end: let a lane follower find the successor
        car = s.spawn("vehicle", lane=(wp._road, wp.lane_id, wp.s), behavior="lane_follow", target_speed=10.0, speed=10.0, name="waypoint_probe")
        try:
            travelled, last = 0.0, s.step(1).actors[car]
            while travelled < distance:
                snap = s.step(1).actors[car]
                travelled += math.hypot(snap.pose.x - last.pose.x, snap.pose.y - last.pose.y)
                last = snap
                if travelled == 0.0:
                    break
        finally:
            s.destroy_actor(car)
        return self._waypoint(last.lane.road_id, last.lane.lane_id, last.lane.s)

    def generate_waypoints(self, distance: float) -> list[Waypoint]:
        raise NotImplementedError("carla.Map.generate_waypoints")

    def get_topology(self) -> list[tuple[Waypoint, Waypoint]]:
        raise NotImplementedError("carla.Map.get_topology")


# ------------------------------------------------------------------ world & client


class World:
    def __init__(self, client: Client, map_name: str) -> None:
        self._client = client
        self._map_name = map_name
        self._world: w.World | None = None
        self._scratch_world: w.World | None = None
        self._settings = WorldSettings()
        self._actors: dict[int, Actor] = {}
        self._sensors: list[Sensor] = []
        self._last: w.Snapshot | None = None
        self._sensor_ids = 100000
        self._spectator: Spectator | None = None
        self.id = 0

    def _w(self) -> w.World:
        if self._world is None:
            self._world = self._client._sim.create_world(self._map_name, fixed_delta_s=FIXED_DELTA, label="carla-facade")
        return self._world

    def _scratch(self) -> w.World:
        if self._scratch_world is None:
            self._scratch_world = self._client._sim.create_world(self._map_name, label="carla-facade-map")
        return self._scratch_world

    def _next_sensor_id(self) -> int:
        self._sensor_ids += 1
        return self._sensor_ids

    def _snapshot(self) -> w.Snapshot:
        """The world as of the last tick (reading never advances it); actors
        spawned since are in it at their spawn pose, at rest."""
        if self._last is None:
            self._w()
            self._last = w.Snapshot(world_id="", frame=0, sim_time_s=0.0, actors={}, events=[])
        return self._last

    def _placed(self, sid: int, pose: w.Pose, kind: str, role: str, name: str, dims: tuple[float, float, float], speed: float = 0.0) -> None:
        lane = w.LaneState(False, "", 0, 0.0, 0.0, "")
        c, s = math.cos(pose.yaw), math.sin(pose.yaw)
        self._snapshot().actors[sid] = w.ActorState(
            sid, kind, role, name, pose, (speed * c, speed * s, 0.0), (0.0, 0.0, 0.0), 0.0, speed, lane, *dims
        )

    def _close(self) -> None:
        for x in (self._world, self._scratch_world):
            if x is not None:
                try:
                    x.destroy()
                except RpcError:
                    pass
        self._world = self._scratch_world = None

    # -- CARLA API

    def get_map(self) -> Map:
        return Map(self)

    def get_blueprint_library(self) -> BlueprintLibrary:
        return BlueprintLibrary(_library())

    def get_settings(self) -> WorldSettings:
        return WorldSettings(**self._settings.__dict__)

    def apply_settings(self, settings: WorldSettings) -> int:
        if settings.fixed_delta_seconds not in (None, 0.0) and abs(settings.fixed_delta_seconds - FIXED_DELTA) > 1e-9:
            if self._world is not None:
                raise NotImplementedError("carla.World.apply_settings: changing fixed_delta_seconds after spawning")
        self._settings = WorldSettings(**settings.__dict__)
        return self._snapshot().frame

    def get_snapshot(self) -> WorldSnapshot:
        s = self._snapshot()
        return WorldSnapshot(s.frame, Timestamp(s.frame, s.sim_time_s, self._delta()))

    def _delta(self) -> float:
        return self._settings.fixed_delta_seconds or FIXED_DELTA

    def tick(self, seconds: float = 10.0) -> int:
        """Advances one step of ``fixed_delta_seconds`` (a multiple of the
        bridge's 0.05 s), applying every vehicle's last control; sensors
        with listeners get their frames."""
        steps = max(1, round(self._delta() / FIXED_DELTA))
        controls = {
            a._sim_id: a._control.to_sim() for a in self._actors.values() if isinstance(a, Vehicle) and not a.autopilot
        }
        cams = [c for c in self._sensors if isinstance(c, Camera) and c.is_listening]
        render = bool(cams) and not self._settings.no_rendering_mode
        snap = self._w().step(steps, controls=controls, render=render)
        self._last = snap
        for c in cams:
            frame = snap.frames.get(c.name)
            if frame is not None and c._callback is not None:
                c._callback(Image(snap.frame, snap.sim_time_s, frame, float(c.attributes["fov"]), c.get_transform()))
        by_sim = {a._sim_id: a for a in self._actors.values()}
        for cs in [c for c in self._sensors if isinstance(c, CollisionSensor) and c.is_listening]:
            assert cs.parent is not None
            for e in snap.events:
                if e.kind == "collision" and cs.parent._sim_id in (e.actor_id, e.other_actor_id) and cs._callback:
                    other = e.other_actor_id if e.actor_id == cs.parent._sim_id else e.actor_id
                    cs._callback(CollisionEvent(snap.frame, snap.sim_time_s, cs.parent, by_sim.get(other), Vector3D()))
        return snap.frame

    def wait_for_tick(self, seconds: float = 10.0) -> WorldSnapshot:
        self.tick()
        return self.get_snapshot()

    def on_tick(self, callback: Callable[[WorldSnapshot], None]) -> int:
        raise NotImplementedError("carla.World.on_tick")

    def get_actors(self, actor_ids: list[int] | None = None) -> ActorList:
        out = ActorList([*self._actors.values(), *self._sensors])
        if actor_ids is not None:
            out = ActorList(a for a in out if a.id in actor_ids)
        return out

    def get_actor(self, actor_id: int) -> Actor | None:
        return self.get_actors().find(actor_id)

    def get_spectator(self) -> Spectator:
        """The viewpoint CARLA's window shows. There is no window here: its
        transform is kept and returned, and moves nothing."""
        if self._spectator is None:
            self._spectator = Spectator(self)
        return self._spectator

    def get_weather(self) -> Any:
        raise NotImplementedError("carla.World.get_weather")

    def set_weather(self, weather: Any) -> None:
        raise NotImplementedError("carla.World.set_weather")

    def spawn_actor(self, blueprint: ActorBlueprint, transform: Transform, attach_to: Actor | None = None, attachment_type: Any = None) -> Actor:
        attrs = {a.id: a.value for a in blueprint}
        if blueprint.id.startswith("sensor."):
            if attach_to is None:
                raise NotImplementedError(f"carla.World.spawn_actor({blueprint.id}) without attach_to")
            sensor: Sensor
            if blueprint.id == "sensor.camera.rgb":
                sensor = Camera(self, attach_to, blueprint, attrs, transform)
                sensor._attach()
            elif blueprint.id == "sensor.other.collision":
                sensor = CollisionSensor(self, attach_to, blueprint, attrs, transform)
            else:
                raise NotImplementedError(f"carla.World.spawn_actor({blueprint.id})")
            self._sensors.append(sensor)
            return sensor
        if attach_to is not None:
            raise NotImplementedError(f"carla.World.spawn_actor({blueprint.id}, attach_to=...)")
        pose = to_pose(transform)
        role = attrs.get("role_name", "")
        if blueprint.id.startswith("vehicle."):
            dims = (float(attrs.get("length", 0.0)), float(attrs.get("width", 0.0)), float(attrs.get("height", 0.0)))
            sid, placed = self._w().spawn_placed(
                "vehicle", pose=pose, role=role, name=blueprint.id, behavior="external",
                length=dims[0], width=dims[1], height=dims[2],
            )
            actor: Actor = Vehicle(self, sid, blueprint, attrs)
            kind = "vehicle"
        elif blueprint.id.startswith("walker."):
            sid, placed = self._w().spawn_placed("pedestrian", pose=pose, role=role, name=blueprint.id, behavior="stopped")
            actor = Walker(self, sid, blueprint, attrs)
            kind, dims = "pedestrian", (0.5, 0.5, 1.8)
        elif blueprint.id.startswith("static."):
            sid, placed = self._w().spawn_placed("static", pose=pose, role=role, name=blueprint.id, behavior="stopped")
            actor = Actor(self, sid, blueprint, attrs)
            kind, dims = "static", (1.0, 1.0, 1.0)
        else:
            raise NotImplementedError(f"carla.World.spawn_actor({blueprint.id})")
        self._placed(sid, placed, kind, role, blueprint.id, dims)
        self._actors[actor.id] = actor
        return actor

    def try_spawn_actor(self, blueprint: ActorBlueprint, transform: Transform, attach_to: Actor | None = None, attachment_type: Any = None) -> Actor | None:
        """As spawn_actor, but None where CARLA would fail: the place overlaps
        another actor (within 4 m) or the bridge refuses it."""
        if attach_to is None and not blueprint.id.startswith("sensor."):
            here = to_pose(transform)
            for a in self._snapshot().actors.values():
                if math.hypot(a.pose.x - here.x, a.pose.y - here.y) < 4.0:
                    return None
        try:
            return self.spawn_actor(blueprint, transform, attach_to, attachment_type)
        except RpcError:
            return None

    def _destroy(self, actor: Actor) -> None:
        for s in [s for s in self._sensors if s.parent is actor]:
            s.destroy()
        self._w().destroy_actor(actor._sim_id)
        self._actors.pop(actor.id, None)
        self._snapshot().actors.pop(actor._sim_id, None)

    def _respawn(self, v: Vehicle, *, autopilot: bool) -> None:
        """Autopilot on/off: the vehicle comes back in the same place and
        speed under the other behaviour (its sensors re-attached)."""
        st = self._snapshot().actors[v._sim_id]
        world = self._w()
        world.destroy_actor(v._sim_id)
        sid, placed = world.spawn_placed(
            "vehicle",
            pose=st.pose,
            role=v.attributes.get("role_name", ""),
            name=v.type_id,
            speed=max(st.speed, 0.0),
            behavior="lane_follow" if autopilot else "external",
            target_speed=8.0,
            length=st.length,
            width=st.width,
            height=st.height,
        )
        v._sim_id = sid
        self._snapshot().actors.pop(st.actor_id, None)
        self._placed(sid, placed, "vehicle", st.role, st.name, (st.length, st.width, st.height), max(st.speed, 0.0))
        for s in self._sensors:
            if s.parent is v and isinstance(s, Camera):
                s._attach()


class Client:
    def __init__(self, host: str = "127.0.0.1", port: int = 2000, worker_threads: int = 0) -> None:
        addr = w.default_bridge_addr() if port == 2000 else f"{host}:{port}"
        self._sim = w.Sim(addr)
        self._timeout = 10.0
        self._world: World | None = None
        self._closed = False
        # CARLA scripts never close their client; the worlds it made would
        # stay on the bridge after the script ends, so they go at exit.
        atexit.register(self.close)

    def set_timeout(self, seconds: float) -> None:
        self._timeout = seconds

    def get_client_version(self) -> str:
        return "0.9.15-atlas"

    def get_server_version(self) -> str:
        return "0.9.15-atlas"

    def get_available_maps(self) -> list[str]:
        return [f"/Game/Carla/Maps/{m}" for m in self._sim.list_maps()]

    def get_world(self) -> World:
        if self._world is None:
            self._world = World(self, DEFAULT_MAP)
        return self._world

    def load_world(self, map_name: str, reset_settings: bool = True) -> World:
        name = map_name.rsplit("/", 1)[-1]
        if name not in self._sim.list_maps():
            raise RuntimeError(f"map not found: {map_name!r} (available: {', '.join(self._sim.list_maps())})")
        if self._world is not None:
            self._world._close()
        self._world = World(self, name)
        return self._world

    def reload_world(self, reset_settings: bool = True) -> World:
        return self.load_world(self.get_world()._map_name)

    def get_trafficmanager(self, port: int = 8000) -> Any:
        return TrafficManager()

    def apply_batch(self, commands: list[Any]) -> None:
        raise NotImplementedError("carla.Client.apply_batch")

    def apply_batch_sync(self, commands: list[Any], do_tick: bool = False) -> list[Any]:
        raise NotImplementedError("carla.Client.apply_batch_sync")

    def close(self) -> None:
        """Destroys the worlds this client made (not in CARLA: its worlds
        outlive the client; here they would linger on the bridge)."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        if self._world is not None:
            self._world._close()
        self._sim.close()


class TrafficManager:
    """Accepts the usual calls; the simulator's lane followers ignore them."""

    def set_synchronous_mode(self, mode: bool) -> None:
        pass

    def get_port(self) -> int:
        return 8000

    def set_global_distance_to_leading_vehicle(self, distance: float) -> None:
        pass

    def global_percentage_speed_difference(self, percentage: float) -> None:
        pass

    def set_random_device_seed(self, seed: int) -> None:
        pass
