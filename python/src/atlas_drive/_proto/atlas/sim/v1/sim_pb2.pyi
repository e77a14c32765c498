# Generated from proto/ by python/tools/gen_proto.py (grpcio-tools 1.85.4). DO NOT EDIT.
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ActorKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACTOR_KIND_UNSPECIFIED: _ClassVar[ActorKind]
    ACTOR_KIND_VEHICLE: _ClassVar[ActorKind]
    ACTOR_KIND_PEDESTRIAN: _ClassVar[ActorKind]
    ACTOR_KIND_STATIC: _ClassVar[ActorKind]

class ImageEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_ENCODING_UNSPECIFIED: _ClassVar[ImageEncoding]
    IMAGE_ENCODING_JPEG: _ClassVar[ImageEncoding]
    IMAGE_ENCODING_PNG: _ClassVar[ImageEncoding]
    IMAGE_ENCODING_RGB8: _ClassVar[ImageEncoding]

class SignalKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIGNAL_KIND_UNSPECIFIED: _ClassVar[SignalKind]
    SIGNAL_KIND_TRAFFIC_LIGHT: _ClassVar[SignalKind]
    SIGNAL_KIND_STOP: _ClassVar[SignalKind]
    SIGNAL_KIND_YIELD: _ClassVar[SignalKind]

class LightState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIGHT_STATE_UNSPECIFIED: _ClassVar[LightState]
    LIGHT_STATE_RED: _ClassVar[LightState]
    LIGHT_STATE_YELLOW: _ClassVar[LightState]
    LIGHT_STATE_GREEN: _ClassVar[LightState]
    LIGHT_STATE_OFF: _ClassVar[LightState]
ACTOR_KIND_UNSPECIFIED: ActorKind
ACTOR_KIND_VEHICLE: ActorKind
ACTOR_KIND_PEDESTRIAN: ActorKind
ACTOR_KIND_STATIC: ActorKind
IMAGE_ENCODING_UNSPECIFIED: ImageEncoding
IMAGE_ENCODING_JPEG: ImageEncoding
IMAGE_ENCODING_PNG: ImageEncoding
IMAGE_ENCODING_RGB8: ImageEncoding
SIGNAL_KIND_UNSPECIFIED: SignalKind
SIGNAL_KIND_TRAFFIC_LIGHT: SignalKind
SIGNAL_KIND_STOP: SignalKind
SIGNAL_KIND_YIELD: SignalKind
LIGHT_STATE_UNSPECIFIED: LightState
LIGHT_STATE_RED: LightState
LIGHT_STATE_YELLOW: LightState
LIGHT_STATE_GREEN: LightState
LIGHT_STATE_OFF: LightState

class Vec3(_message.Message):
    __slots__ = ("x", "y", "z")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    z: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ..., z: _Optional[float] = ...) -> None: ...

class Pose(_message.Message):
    __slots__ = ("position", "yaw", "pitch", "roll")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    YAW_FIELD_NUMBER: _ClassVar[int]
    PITCH_FIELD_NUMBER: _ClassVar[int]
    ROLL_FIELD_NUMBER: _ClassVar[int]
    position: Vec3
    yaw: float
    pitch: float
    roll: float
    def __init__(self, position: _Optional[_Union[Vec3, _Mapping]] = ..., yaw: _Optional[float] = ..., pitch: _Optional[float] = ..., roll: _Optional[float] = ...) -> None: ...

class LanePosition(_message.Message):
    __slots__ = ("road_id", "lane_id", "s", "offset")
    ROAD_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_ID_FIELD_NUMBER: _ClassVar[int]
    S_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    road_id: str
    lane_id: int
    s: float
    offset: float
    def __init__(self, road_id: _Optional[str] = ..., lane_id: _Optional[int] = ..., s: _Optional[float] = ..., offset: _Optional[float] = ...) -> None: ...

class CreateWorldRequest(_message.Message):
    __slots__ = ("map_name", "opendrive_xml", "fixed_delta_s", "seed", "label")
    MAP_NAME_FIELD_NUMBER: _ClassVar[int]
    OPENDRIVE_XML_FIELD_NUMBER: _ClassVar[int]
    FIXED_DELTA_S_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    map_name: str
    opendrive_xml: str
    fixed_delta_s: float
    seed: int
    label: str
    def __init__(self, map_name: _Optional[str] = ..., opendrive_xml: _Optional[str] = ..., fixed_delta_s: _Optional[float] = ..., seed: _Optional[int] = ..., label: _Optional[str] = ...) -> None: ...

class MapInfo(_message.Message):
    __slots__ = ("name", "road_count", "junction_count", "min", "max", "total_road_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROAD_COUNT_FIELD_NUMBER: _ClassVar[int]
    JUNCTION_COUNT_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROAD_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    road_count: int
    junction_count: int
    min: Vec3
    max: Vec3
    total_road_length: float
    def __init__(self, name: _Optional[str] = ..., road_count: _Optional[int] = ..., junction_count: _Optional[int] = ..., min: _Optional[_Union[Vec3, _Mapping]] = ..., max: _Optional[_Union[Vec3, _Mapping]] = ..., total_road_length: _Optional[float] = ...) -> None: ...

class CreateWorldResponse(_message.Message):
    __slots__ = ("world_id", "map", "fixed_delta_s")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    FIXED_DELTA_S_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    map: MapInfo
    fixed_delta_s: float
    def __init__(self, world_id: _Optional[str] = ..., map: _Optional[_Union[MapInfo, _Mapping]] = ..., fixed_delta_s: _Optional[float] = ...) -> None: ...

class DestroyWorldRequest(_message.Message):
    __slots__ = ("world_id",)
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    def __init__(self, world_id: _Optional[str] = ...) -> None: ...

class DestroyWorldResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMapsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListMapsResponse(_message.Message):
    __slots__ = ("names",)
    NAMES_FIELD_NUMBER: _ClassVar[int]
    names: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, names: _Optional[_Iterable[str]] = ...) -> None: ...

class Dimensions(_message.Message):
    __slots__ = ("length", "width", "height", "wheelbase", "rear_overhang")
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WHEELBASE_FIELD_NUMBER: _ClassVar[int]
    REAR_OVERHANG_FIELD_NUMBER: _ClassVar[int]
    length: float
    width: float
    height: float
    wheelbase: float
    rear_overhang: float
    def __init__(self, length: _Optional[float] = ..., width: _Optional[float] = ..., height: _Optional[float] = ..., wheelbase: _Optional[float] = ..., rear_overhang: _Optional[float] = ...) -> None: ...

class Behavior(_message.Message):
    __slots__ = ("external", "lane_follow", "stopped", "scripted")
    class External(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class LaneFollow(_message.Message):
        __slots__ = ("target_speed",)
        TARGET_SPEED_FIELD_NUMBER: _ClassVar[int]
        target_speed: float
        def __init__(self, target_speed: _Optional[float] = ...) -> None: ...
    class Stopped(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class Scripted(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    LANE_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    SCRIPTED_FIELD_NUMBER: _ClassVar[int]
    external: Behavior.External
    lane_follow: Behavior.LaneFollow
    stopped: Behavior.Stopped
    scripted: Behavior.Scripted
    def __init__(self, external: _Optional[_Union[Behavior.External, _Mapping]] = ..., lane_follow: _Optional[_Union[Behavior.LaneFollow, _Mapping]] = ..., stopped: _Optional[_Union[Behavior.Stopped, _Mapping]] = ..., scripted: _Optional[_Union[Behavior.Scripted, _Mapping]] = ...) -> None: ...

class SpawnActorRequest(_message.Message):
    __slots__ = ("world_id", "kind", "role", "name", "pose", "lane_position", "speed", "dimensions", "behavior")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    LANE_POSITION_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    kind: ActorKind
    role: str
    name: str
    pose: Pose
    lane_position: LanePosition
    speed: float
    dimensions: Dimensions
    behavior: Behavior
    def __init__(self, world_id: _Optional[str] = ..., kind: _Optional[_Union[ActorKind, str]] = ..., role: _Optional[str] = ..., name: _Optional[str] = ..., pose: _Optional[_Union[Pose, _Mapping]] = ..., lane_position: _Optional[_Union[LanePosition, _Mapping]] = ..., speed: _Optional[float] = ..., dimensions: _Optional[_Union[Dimensions, _Mapping]] = ..., behavior: _Optional[_Union[Behavior, _Mapping]] = ...) -> None: ...

class SpawnActorResponse(_message.Message):
    __slots__ = ("actor_id", "pose")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    pose: Pose
    def __init__(self, actor_id: _Optional[int] = ..., pose: _Optional[_Union[Pose, _Mapping]] = ...) -> None: ...

class CameraSpec(_message.Message):
    __slots__ = ("width", "height", "fov_deg", "fx", "fy", "cx", "cy", "mount", "encoding", "jpeg_quality")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FOV_DEG_FIELD_NUMBER: _ClassVar[int]
    FX_FIELD_NUMBER: _ClassVar[int]
    FY_FIELD_NUMBER: _ClassVar[int]
    CX_FIELD_NUMBER: _ClassVar[int]
    CY_FIELD_NUMBER: _ClassVar[int]
    MOUNT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    JPEG_QUALITY_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    fov_deg: float
    fx: float
    fy: float
    cx: float
    cy: float
    mount: Pose
    encoding: ImageEncoding
    jpeg_quality: int
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., fov_deg: _Optional[float] = ..., fx: _Optional[float] = ..., fy: _Optional[float] = ..., cx: _Optional[float] = ..., cy: _Optional[float] = ..., mount: _Optional[_Union[Pose, _Mapping]] = ..., encoding: _Optional[_Union[ImageEncoding, str]] = ..., jpeg_quality: _Optional[int] = ...) -> None: ...

class BirdsEyeSpec(_message.Message):
    __slots__ = ("width", "height", "metres_per_pixel", "encoding")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    METRES_PER_PIXEL_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    metres_per_pixel: float
    encoding: ImageEncoding
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., metres_per_pixel: _Optional[float] = ..., encoding: _Optional[_Union[ImageEncoding, str]] = ...) -> None: ...

class AttachSensorRequest(_message.Message):
    __slots__ = ("world_id", "actor_id", "name", "camera", "birds_eye")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAMERA_FIELD_NUMBER: _ClassVar[int]
    BIRDS_EYE_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    actor_id: int
    name: str
    camera: CameraSpec
    birds_eye: BirdsEyeSpec
    def __init__(self, world_id: _Optional[str] = ..., actor_id: _Optional[int] = ..., name: _Optional[str] = ..., camera: _Optional[_Union[CameraSpec, _Mapping]] = ..., birds_eye: _Optional[_Union[BirdsEyeSpec, _Mapping]] = ...) -> None: ...

class AttachSensorResponse(_message.Message):
    __slots__ = ("sensor_id",)
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    sensor_id: int
    def __init__(self, sensor_id: _Optional[int] = ...) -> None: ...

class VehicleControl(_message.Message):
    __slots__ = ("throttle", "brake", "steer")
    THROTTLE_FIELD_NUMBER: _ClassVar[int]
    BRAKE_FIELD_NUMBER: _ClassVar[int]
    STEER_FIELD_NUMBER: _ClassVar[int]
    throttle: float
    brake: float
    steer: float
    def __init__(self, throttle: _Optional[float] = ..., brake: _Optional[float] = ..., steer: _Optional[float] = ...) -> None: ...

class ScriptedState(_message.Message):
    __slots__ = ("pose", "speed", "acceleration")
    POSE_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    ACCELERATION_FIELD_NUMBER: _ClassVar[int]
    pose: Pose
    speed: float
    acceleration: float
    def __init__(self, pose: _Optional[_Union[Pose, _Mapping]] = ..., speed: _Optional[float] = ..., acceleration: _Optional[float] = ...) -> None: ...

class ActorCommand(_message.Message):
    __slots__ = ("actor_id", "control", "state")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    CONTROL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    control: VehicleControl
    state: ScriptedState
    def __init__(self, actor_id: _Optional[int] = ..., control: _Optional[_Union[VehicleControl, _Mapping]] = ..., state: _Optional[_Union[ScriptedState, _Mapping]] = ...) -> None: ...

class StepRequest(_message.Message):
    __slots__ = ("world_id", "steps", "commands", "render")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    RENDER_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    steps: int
    commands: _containers.RepeatedCompositeFieldContainer[ActorCommand]
    render: bool
    def __init__(self, world_id: _Optional[str] = ..., steps: _Optional[int] = ..., commands: _Optional[_Iterable[_Union[ActorCommand, _Mapping]]] = ..., render: _Optional[bool] = ...) -> None: ...

class LaneState(_message.Message):
    __slots__ = ("on_road", "road_id", "lane_id", "s", "offset", "lane_type")
    ON_ROAD_FIELD_NUMBER: _ClassVar[int]
    ROAD_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_ID_FIELD_NUMBER: _ClassVar[int]
    S_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LANE_TYPE_FIELD_NUMBER: _ClassVar[int]
    on_road: bool
    road_id: str
    lane_id: int
    s: float
    offset: float
    lane_type: str
    def __init__(self, on_road: _Optional[bool] = ..., road_id: _Optional[str] = ..., lane_id: _Optional[int] = ..., s: _Optional[float] = ..., offset: _Optional[float] = ..., lane_type: _Optional[str] = ...) -> None: ...

class ActorState(_message.Message):
    __slots__ = ("actor_id", "kind", "role", "name", "pose", "velocity", "acceleration", "yaw_rate", "speed", "dimensions", "lane")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSE_FIELD_NUMBER: _ClassVar[int]
    VELOCITY_FIELD_NUMBER: _ClassVar[int]
    ACCELERATION_FIELD_NUMBER: _ClassVar[int]
    YAW_RATE_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    LANE_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    kind: ActorKind
    role: str
    name: str
    pose: Pose
    velocity: Vec3
    acceleration: Vec3
    yaw_rate: float
    speed: float
    dimensions: Dimensions
    lane: LaneState
    def __init__(self, actor_id: _Optional[int] = ..., kind: _Optional[_Union[ActorKind, str]] = ..., role: _Optional[str] = ..., name: _Optional[str] = ..., pose: _Optional[_Union[Pose, _Mapping]] = ..., velocity: _Optional[_Union[Vec3, _Mapping]] = ..., acceleration: _Optional[_Union[Vec3, _Mapping]] = ..., yaw_rate: _Optional[float] = ..., speed: _Optional[float] = ..., dimensions: _Optional[_Union[Dimensions, _Mapping]] = ..., lane: _Optional[_Union[LaneState, _Mapping]] = ...) -> None: ...

class CollisionEvent(_message.Message):
    __slots__ = ("actor_id", "other_actor_id", "other_kind", "relative_speed")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_KIND_FIELD_NUMBER: _ClassVar[int]
    RELATIVE_SPEED_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    other_actor_id: int
    other_kind: ActorKind
    relative_speed: float
    def __init__(self, actor_id: _Optional[int] = ..., other_actor_id: _Optional[int] = ..., other_kind: _Optional[_Union[ActorKind, str]] = ..., relative_speed: _Optional[float] = ...) -> None: ...

class LaneInvasionEvent(_message.Message):
    __slots__ = ("actor_id", "road_id", "from_lane_id", "to_lane_id")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    ROAD_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_LANE_ID_FIELD_NUMBER: _ClassVar[int]
    TO_LANE_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    road_id: str
    from_lane_id: int
    to_lane_id: int
    def __init__(self, actor_id: _Optional[int] = ..., road_id: _Optional[str] = ..., from_lane_id: _Optional[int] = ..., to_lane_id: _Optional[int] = ...) -> None: ...

class OffRoadEvent(_message.Message):
    __slots__ = ("actor_id",)
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    def __init__(self, actor_id: _Optional[int] = ...) -> None: ...

class SignalViolationEvent(_message.Message):
    __slots__ = ("actor_id", "signal_id", "signal_kind")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_KIND_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    signal_id: str
    signal_kind: SignalKind
    def __init__(self, actor_id: _Optional[int] = ..., signal_id: _Optional[str] = ..., signal_kind: _Optional[_Union[SignalKind, str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("frame", "sim_time_s", "collision", "lane_invasion", "off_road", "signal_violation")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    COLLISION_FIELD_NUMBER: _ClassVar[int]
    LANE_INVASION_FIELD_NUMBER: _ClassVar[int]
    OFF_ROAD_FIELD_NUMBER: _ClassVar[int]
    SIGNAL_VIOLATION_FIELD_NUMBER: _ClassVar[int]
    frame: int
    sim_time_s: float
    collision: CollisionEvent
    lane_invasion: LaneInvasionEvent
    off_road: OffRoadEvent
    signal_violation: SignalViolationEvent
    def __init__(self, frame: _Optional[int] = ..., sim_time_s: _Optional[float] = ..., collision: _Optional[_Union[CollisionEvent, _Mapping]] = ..., lane_invasion: _Optional[_Union[LaneInvasionEvent, _Mapping]] = ..., off_road: _Optional[_Union[OffRoadEvent, _Mapping]] = ..., signal_violation: _Optional[_Union[SignalViolationEvent, _Mapping]] = ...) -> None: ...

class StopLine(_message.Message):
    __slots__ = ("road_id", "lane_id", "s", "position", "heading", "width")
    ROAD_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_ID_FIELD_NUMBER: _ClassVar[int]
    S_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    HEADING_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    road_id: str
    lane_id: int
    s: float
    position: Vec3
    heading: float
    width: float
    def __init__(self, road_id: _Optional[str] = ..., lane_id: _Optional[int] = ..., s: _Optional[float] = ..., position: _Optional[_Union[Vec3, _Mapping]] = ..., heading: _Optional[float] = ..., width: _Optional[float] = ...) -> None: ...

class TrafficLightState(_message.Message):
    __slots__ = ("id", "kind", "state", "position", "facing", "road_id", "junction_id", "stop_lines")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    FACING_FIELD_NUMBER: _ClassVar[int]
    ROAD_ID_FIELD_NUMBER: _ClassVar[int]
    JUNCTION_ID_FIELD_NUMBER: _ClassVar[int]
    STOP_LINES_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: SignalKind
    state: LightState
    position: Vec3
    facing: float
    road_id: str
    junction_id: str
    stop_lines: _containers.RepeatedCompositeFieldContainer[StopLine]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[SignalKind, str]] = ..., state: _Optional[_Union[LightState, str]] = ..., position: _Optional[_Union[Vec3, _Mapping]] = ..., facing: _Optional[float] = ..., road_id: _Optional[str] = ..., junction_id: _Optional[str] = ..., stop_lines: _Optional[_Iterable[_Union[StopLine, _Mapping]]] = ...) -> None: ...

class SensorFrame(_message.Message):
    __slots__ = ("sensor_id", "name", "actor_id", "frame", "sim_time_s", "width", "height", "encoding", "data")
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    sensor_id: int
    name: str
    actor_id: int
    frame: int
    sim_time_s: float
    width: int
    height: int
    encoding: ImageEncoding
    data: bytes
    def __init__(self, sensor_id: _Optional[int] = ..., name: _Optional[str] = ..., actor_id: _Optional[int] = ..., frame: _Optional[int] = ..., sim_time_s: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., encoding: _Optional[_Union[ImageEncoding, str]] = ..., data: _Optional[bytes] = ...) -> None: ...

class Snapshot(_message.Message):
    __slots__ = ("world_id", "frame", "sim_time_s", "actors", "events", "frames", "traffic_lights")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    ACTORS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_LIGHTS_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    frame: int
    sim_time_s: float
    actors: _containers.RepeatedCompositeFieldContainer[ActorState]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    frames: _containers.RepeatedCompositeFieldContainer[SensorFrame]
    traffic_lights: _containers.RepeatedCompositeFieldContainer[TrafficLightState]
    def __init__(self, world_id: _Optional[str] = ..., frame: _Optional[int] = ..., sim_time_s: _Optional[float] = ..., actors: _Optional[_Iterable[_Union[ActorState, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., frames: _Optional[_Iterable[_Union[SensorFrame, _Mapping]]] = ..., traffic_lights: _Optional[_Iterable[_Union[TrafficLightState, _Mapping]]] = ...) -> None: ...

class StepResponse(_message.Message):
    __slots__ = ("snapshot",)
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    snapshot: Snapshot
    def __init__(self, snapshot: _Optional[_Union[Snapshot, _Mapping]] = ...) -> None: ...

class PlanRouteRequest(_message.Message):
    __slots__ = ("world_id", "waypoints", "spacing")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    WAYPOINTS_FIELD_NUMBER: _ClassVar[int]
    SPACING_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    waypoints: _containers.RepeatedCompositeFieldContainer[Vec3]
    spacing: float
    def __init__(self, world_id: _Optional[str] = ..., waypoints: _Optional[_Iterable[_Union[Vec3, _Mapping]]] = ..., spacing: _Optional[float] = ...) -> None: ...

class PlanRouteResponse(_message.Message):
    __slots__ = ("points", "length")
    POINTS_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[Vec3]
    length: float
    def __init__(self, points: _Optional[_Iterable[_Union[Vec3, _Mapping]]] = ..., length: _Optional[float] = ...) -> None: ...

class LanePoseRequest(_message.Message):
    __slots__ = ("world_id", "lane_position")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    LANE_POSITION_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    lane_position: LanePosition
    def __init__(self, world_id: _Optional[str] = ..., lane_position: _Optional[_Union[LanePosition, _Mapping]] = ...) -> None: ...

class LanePoseResponse(_message.Message):
    __slots__ = ("pose",)
    POSE_FIELD_NUMBER: _ClassVar[int]
    pose: Pose
    def __init__(self, pose: _Optional[_Union[Pose, _Mapping]] = ...) -> None: ...

class SpawnTrafficRequest(_message.Message):
    __slots__ = ("world_id", "vehicles", "pedestrians", "seed")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    PEDESTRIANS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    vehicles: int
    pedestrians: int
    seed: int
    def __init__(self, world_id: _Optional[str] = ..., vehicles: _Optional[int] = ..., pedestrians: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class SpawnTrafficResponse(_message.Message):
    __slots__ = ("actor_ids", "vehicles_placed", "pedestrians_placed")
    ACTOR_IDS_FIELD_NUMBER: _ClassVar[int]
    VEHICLES_PLACED_FIELD_NUMBER: _ClassVar[int]
    PEDESTRIANS_PLACED_FIELD_NUMBER: _ClassVar[int]
    actor_ids: _containers.RepeatedScalarFieldContainer[int]
    vehicles_placed: int
    pedestrians_placed: int
    def __init__(self, actor_ids: _Optional[_Iterable[int]] = ..., vehicles_placed: _Optional[int] = ..., pedestrians_placed: _Optional[int] = ...) -> None: ...

class SnapshotWorldRequest(_message.Message):
    __slots__ = ("world_id",)
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    def __init__(self, world_id: _Optional[str] = ...) -> None: ...

class SnapshotWorldResponse(_message.Message):
    __slots__ = ("snapshot_id", "frame", "sim_time_s")
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    snapshot_id: str
    frame: int
    sim_time_s: float
    def __init__(self, snapshot_id: _Optional[str] = ..., frame: _Optional[int] = ..., sim_time_s: _Optional[float] = ...) -> None: ...

class RestoreWorldRequest(_message.Message):
    __slots__ = ("world_id", "snapshot_id")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    snapshot_id: str
    def __init__(self, world_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ...) -> None: ...

class RestoreWorldResponse(_message.Message):
    __slots__ = ("frame", "sim_time_s")
    FRAME_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    frame: int
    sim_time_s: float
    def __init__(self, frame: _Optional[int] = ..., sim_time_s: _Optional[float] = ...) -> None: ...

class ForkWorldRequest(_message.Message):
    __slots__ = ("world_id", "snapshot_id", "label")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    snapshot_id: str
    label: str
    def __init__(self, world_id: _Optional[str] = ..., snapshot_id: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class ForkWorldResponse(_message.Message):
    __slots__ = ("world_id", "frame", "sim_time_s")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    frame: int
    sim_time_s: float
    def __init__(self, world_id: _Optional[str] = ..., frame: _Optional[int] = ..., sim_time_s: _Optional[float] = ...) -> None: ...

class DestroyActorRequest(_message.Message):
    __slots__ = ("world_id", "actor_id")
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    world_id: str
    actor_id: int
    def __init__(self, world_id: _Optional[str] = ..., actor_id: _Optional[int] = ...) -> None: ...

class DestroyActorResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
