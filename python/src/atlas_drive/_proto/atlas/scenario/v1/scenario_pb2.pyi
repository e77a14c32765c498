# Generated from proto/ by python/tools/gen_proto.py (grpcio-tools 1.85.4). DO NOT EDIT.
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScenarioSource(_message.Message):
    __slots__ = ("file_name", "content", "opendrive_xml", "files", "first_line")
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    OPENDRIVE_XML_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    FIRST_LINE_FIELD_NUMBER: _ClassVar[int]
    file_name: str
    content: str
    opendrive_xml: str
    files: _containers.ScalarMap[str, str]
    first_line: int
    def __init__(self, file_name: _Optional[str] = ..., content: _Optional[str] = ..., opendrive_xml: _Optional[str] = ..., files: _Optional[_Mapping[str, str]] = ..., first_line: _Optional[int] = ...) -> None: ...

class RunOptions(_message.Message):
    __slots__ = ("sim_hz", "control_hz", "timeout_s", "seed", "progress_every", "driver_addr", "ego", "lenient", "strict", "record_trace", "traffic", "route_id")
    SIM_HZ_FIELD_NUMBER: _ClassVar[int]
    CONTROL_HZ_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_EVERY_FIELD_NUMBER: _ClassVar[int]
    DRIVER_ADDR_FIELD_NUMBER: _ClassVar[int]
    EGO_FIELD_NUMBER: _ClassVar[int]
    LENIENT_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    RECORD_TRACE_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_FIELD_NUMBER: _ClassVar[int]
    ROUTE_ID_FIELD_NUMBER: _ClassVar[int]
    sim_hz: float
    control_hz: float
    timeout_s: float
    seed: int
    progress_every: int
    driver_addr: str
    ego: str
    lenient: bool
    strict: bool
    record_trace: bool
    traffic: TrafficOptions
    route_id: str
    def __init__(self, sim_hz: _Optional[float] = ..., control_hz: _Optional[float] = ..., timeout_s: _Optional[float] = ..., seed: _Optional[int] = ..., progress_every: _Optional[int] = ..., driver_addr: _Optional[str] = ..., ego: _Optional[str] = ..., lenient: _Optional[bool] = ..., strict: _Optional[bool] = ..., record_trace: _Optional[bool] = ..., traffic: _Optional[_Union[TrafficOptions, _Mapping]] = ..., route_id: _Optional[str] = ...) -> None: ...

class TrafficOptions(_message.Message):
    __slots__ = ("vehicles", "pedestrians")
    VEHICLES_FIELD_NUMBER: _ClassVar[int]
    PEDESTRIANS_FIELD_NUMBER: _ClassVar[int]
    vehicles: int
    pedestrians: int
    def __init__(self, vehicles: _Optional[int] = ..., pedestrians: _Optional[int] = ...) -> None: ...

class RunScenarioRequest(_message.Message):
    __slots__ = ("path", "source", "options", "index")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    path: str
    source: ScenarioSource
    options: RunOptions
    index: int
    def __init__(self, path: _Optional[str] = ..., source: _Optional[_Union[ScenarioSource, _Mapping]] = ..., options: _Optional[_Union[RunOptions, _Mapping]] = ..., index: _Optional[int] = ...) -> None: ...

class Started(_message.Message):
    __slots__ = ("run_id", "scenario", "map", "route_length", "world_id", "session_uuid")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    SCENARIO_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    ROUTE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    WORLD_ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_UUID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    scenario: str
    map: str
    route_length: float
    world_id: str
    session_uuid: str
    def __init__(self, run_id: _Optional[str] = ..., scenario: _Optional[str] = ..., map: _Optional[str] = ..., route_length: _Optional[float] = ..., world_id: _Optional[str] = ..., session_uuid: _Optional[str] = ...) -> None: ...

class Progress(_message.Message):
    __slots__ = ("step", "sim_time_s", "route_completion", "speed", "x", "y", "yaw")
    STEP_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    ROUTE_COMPLETION_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    YAW_FIELD_NUMBER: _ClassVar[int]
    step: int
    sim_time_s: float
    route_completion: float
    speed: float
    x: float
    y: float
    yaw: float
    def __init__(self, step: _Optional[int] = ..., sim_time_s: _Optional[float] = ..., route_completion: _Optional[float] = ..., speed: _Optional[float] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., yaw: _Optional[float] = ...) -> None: ...

class Infraction(_message.Message):
    __slots__ = ("category", "message", "sim_time_s", "x", "y")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    category: str
    message: str
    sim_time_s: float
    x: float
    y: float
    def __init__(self, category: _Optional[str] = ..., message: _Optional[str] = ..., sim_time_s: _Optional[float] = ..., x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Scores(_message.Message):
    __slots__ = ("score_route", "score_penalty", "score_composed")
    SCORE_ROUTE_FIELD_NUMBER: _ClassVar[int]
    SCORE_PENALTY_FIELD_NUMBER: _ClassVar[int]
    SCORE_COMPOSED_FIELD_NUMBER: _ClassVar[int]
    score_route: float
    score_penalty: float
    score_composed: float
    def __init__(self, score_route: _Optional[float] = ..., score_penalty: _Optional[float] = ..., score_composed: _Optional[float] = ...) -> None: ...

class Meta(_message.Message):
    __slots__ = ("route_length", "duration_game", "duration_system", "warnings", "route_scenarios", "traffic_vehicles", "traffic_pedestrians", "pass_criteria")
    ROUTE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    DURATION_GAME_FIELD_NUMBER: _ClassVar[int]
    DURATION_SYSTEM_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_SCENARIOS_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_VEHICLES_FIELD_NUMBER: _ClassVar[int]
    TRAFFIC_PEDESTRIANS_FIELD_NUMBER: _ClassVar[int]
    PASS_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    route_length: float
    duration_game: float
    duration_system: float
    warnings: _containers.RepeatedScalarFieldContainer[str]
    route_scenarios: _containers.RepeatedCompositeFieldContainer[RouteScenario]
    traffic_vehicles: int
    traffic_pedestrians: int
    pass_criteria: _containers.RepeatedCompositeFieldContainer[PassCriterion]
    def __init__(self, route_length: _Optional[float] = ..., duration_game: _Optional[float] = ..., duration_system: _Optional[float] = ..., warnings: _Optional[_Iterable[str]] = ..., route_scenarios: _Optional[_Iterable[_Union[RouteScenario, _Mapping]]] = ..., traffic_vehicles: _Optional[int] = ..., traffic_pedestrians: _Optional[int] = ..., pass_criteria: _Optional[_Iterable[_Union[PassCriterion, _Mapping]]] = ...) -> None: ...

class PassCriterion(_message.Message):
    __slots__ = ("name", "result", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    result: str
    detail: str
    def __init__(self, name: _Optional[str] = ..., result: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class RouteScenario(_message.Message):
    __slots__ = ("name", "type", "x", "y", "yaw", "status")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    YAW_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    x: float
    y: float
    yaw: float
    status: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., yaw: _Optional[float] = ..., status: _Optional[str] = ...) -> None: ...

class Timing(_message.Message):
    __slots__ = ("control_steps", "step_p50_ms", "step_p99_ms", "step_mean_ms")
    CONTROL_STEPS_FIELD_NUMBER: _ClassVar[int]
    STEP_P50_MS_FIELD_NUMBER: _ClassVar[int]
    STEP_P99_MS_FIELD_NUMBER: _ClassVar[int]
    STEP_MEAN_MS_FIELD_NUMBER: _ClassVar[int]
    control_steps: int
    step_p50_ms: float
    step_p99_ms: float
    step_mean_ms: float
    def __init__(self, control_steps: _Optional[int] = ..., step_p50_ms: _Optional[float] = ..., step_p99_ms: _Optional[float] = ..., step_mean_ms: _Optional[float] = ...) -> None: ...

class RouteRecord(_message.Message):
    __slots__ = ("index", "route_id", "status", "num_infractions", "infractions", "scores", "meta", "timing", "seed", "map")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ROUTE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    NUM_INFRACTIONS_FIELD_NUMBER: _ClassVar[int]
    INFRACTIONS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    META_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    index: int
    route_id: str
    status: str
    num_infractions: int
    infractions: _containers.RepeatedCompositeFieldContainer[Infraction]
    scores: Scores
    meta: Meta
    timing: Timing
    seed: int
    map: str
    def __init__(self, index: _Optional[int] = ..., route_id: _Optional[str] = ..., status: _Optional[str] = ..., num_infractions: _Optional[int] = ..., infractions: _Optional[_Iterable[_Union[Infraction, _Mapping]]] = ..., scores: _Optional[_Union[Scores, _Mapping]] = ..., meta: _Optional[_Union[Meta, _Mapping]] = ..., timing: _Optional[_Union[Timing, _Mapping]] = ..., seed: _Optional[int] = ..., map: _Optional[str] = ...) -> None: ...

class Finished(_message.Message):
    __slots__ = ("record", "trace")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    TRACE_FIELD_NUMBER: _ClassVar[int]
    record: RouteRecord
    trace: Trace
    def __init__(self, record: _Optional[_Union[RouteRecord, _Mapping]] = ..., trace: _Optional[_Union[Trace, _Mapping]] = ...) -> None: ...

class ActorTrack(_message.Message):
    __slots__ = ("actor_id", "kind", "role", "name", "steps", "x", "y", "z", "heading", "speed")
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    HEADING_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    actor_id: int
    kind: str
    role: str
    name: str
    steps: _containers.RepeatedScalarFieldContainer[int]
    x: _containers.RepeatedScalarFieldContainer[float]
    y: _containers.RepeatedScalarFieldContainer[float]
    z: _containers.RepeatedScalarFieldContainer[float]
    heading: _containers.RepeatedScalarFieldContainer[float]
    speed: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, actor_id: _Optional[int] = ..., kind: _Optional[str] = ..., role: _Optional[str] = ..., name: _Optional[str] = ..., steps: _Optional[_Iterable[int]] = ..., x: _Optional[_Iterable[float]] = ..., y: _Optional[_Iterable[float]] = ..., z: _Optional[_Iterable[float]] = ..., heading: _Optional[_Iterable[float]] = ..., speed: _Optional[_Iterable[float]] = ...) -> None: ...

class TraceEvent(_message.Message):
    __slots__ = ("sim_time_s", "kind", "message", "actor_id", "other_actor_id", "x", "y", "infraction")
    SIM_TIME_S_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    INFRACTION_FIELD_NUMBER: _ClassVar[int]
    sim_time_s: float
    kind: str
    message: str
    actor_id: int
    other_actor_id: int
    x: float
    y: float
    infraction: bool
    def __init__(self, sim_time_s: _Optional[float] = ..., kind: _Optional[str] = ..., message: _Optional[str] = ..., actor_id: _Optional[int] = ..., other_actor_id: _Optional[int] = ..., x: _Optional[float] = ..., y: _Optional[float] = ..., infraction: _Optional[bool] = ...) -> None: ...

class Trace(_message.Message):
    __slots__ = ("map", "ego_actor_id", "times", "tracks", "events", "route_x", "route_y", "truncated")
    MAP_FIELD_NUMBER: _ClassVar[int]
    EGO_ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    TIMES_FIELD_NUMBER: _ClassVar[int]
    TRACKS_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ROUTE_X_FIELD_NUMBER: _ClassVar[int]
    ROUTE_Y_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    map: str
    ego_actor_id: int
    times: _containers.RepeatedScalarFieldContainer[float]
    tracks: _containers.RepeatedCompositeFieldContainer[ActorTrack]
    events: _containers.RepeatedCompositeFieldContainer[TraceEvent]
    route_x: _containers.RepeatedScalarFieldContainer[float]
    route_y: _containers.RepeatedScalarFieldContainer[float]
    truncated: bool
    def __init__(self, map: _Optional[str] = ..., ego_actor_id: _Optional[int] = ..., times: _Optional[_Iterable[float]] = ..., tracks: _Optional[_Iterable[_Union[ActorTrack, _Mapping]]] = ..., events: _Optional[_Iterable[_Union[TraceEvent, _Mapping]]] = ..., route_x: _Optional[_Iterable[float]] = ..., route_y: _Optional[_Iterable[float]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class RunEvent(_message.Message):
    __slots__ = ("started", "progress", "infraction", "finished")
    STARTED_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    INFRACTION_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    started: Started
    progress: Progress
    infraction: Infraction
    finished: Finished
    def __init__(self, started: _Optional[_Union[Started, _Mapping]] = ..., progress: _Optional[_Union[Progress, _Mapping]] = ..., infraction: _Optional[_Union[Infraction, _Mapping]] = ..., finished: _Optional[_Union[Finished, _Mapping]] = ...) -> None: ...

class ListScenariosRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ScenarioEntry(_message.Message):
    __slots__ = ("name", "path", "map")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    MAP_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    map: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., map: _Optional[str] = ...) -> None: ...

class ListScenariosResponse(_message.Message):
    __slots__ = ("scenarios",)
    SCENARIOS_FIELD_NUMBER: _ClassVar[int]
    scenarios: _containers.RepeatedCompositeFieldContainer[ScenarioEntry]
    def __init__(self, scenarios: _Optional[_Iterable[_Union[ScenarioEntry, _Mapping]]] = ...) -> None: ...
