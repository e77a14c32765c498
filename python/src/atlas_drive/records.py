"""Run records with the CARLA Leaderboard 2.0 fields, and run events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ._proto.atlas.scenario.v1 import scenario_pb2 as pb


@dataclass(frozen=True)
class Infraction:
    """A Leaderboard infraction, e.g. category ``collisions_vehicle``."""

    category: str
    message: str
    sim_time_s: float
    x: float
    y: float

    @staticmethod
    def from_pb(m: pb.Infraction) -> Infraction:
        return Infraction(m.category, m.message, m.sim_time_s, m.x, m.y)


@dataclass(frozen=True)
class Started:
    run_id: str
    scenario: str
    map: str
    route_length: float
    world_id: str
    session_uuid: str


@dataclass(frozen=True)
class Progress:
    step: int
    sim_time_s: float
    route_completion: float
    """Percent."""
    speed: float
    x: float
    y: float
    yaw: float


RunEvent = Started | Progress | Infraction


def event_from_pb(m: pb.RunEvent) -> RunEvent | None:
    kind = m.WhichOneof("kind")
    if kind == "started":
        s = m.started
        return Started(s.run_id, s.scenario, s.map, s.route_length, s.world_id, s.session_uuid)
    if kind == "progress":
        p = m.progress
        return Progress(p.step, p.sim_time_s, p.route_completion, p.speed, p.x, p.y, p.yaw)
    if kind == "infraction":
        return Infraction.from_pb(m.infraction)
    return None


@dataclass(frozen=True)
class Timing:
    control_steps: int
    step_p50_ms: float
    step_p99_ms: float
    step_mean_ms: float


@dataclass(frozen=True)
class PassCriterion:
    name: str
    result: str
    detail: str


@dataclass(frozen=True)
class Meta:
    route_length: float
    duration_game: float
    duration_system: float
    warnings: list[str] = field(default_factory=list)
    traffic_vehicles: int = 0
    traffic_pedestrians: int = 0
    pass_criteria: list[PassCriterion] = field(default_factory=list)


@dataclass(frozen=True)
class Record:
    """One run's result, shaped like a CARLA Leaderboard 2.0 route record.

    ``driving_score`` = ``route_completion`` × ``infraction_penalty``
    (Leaderboard ``score_composed``, ``score_route``, ``score_penalty``)."""

    index: int
    route_id: str
    status: str
    """"Perfect", "Completed" or "Failed - <reason>"."""
    driving_score: float
    route_completion: float
    infraction_penalty: float
    infractions: list[Infraction]
    num_infractions: int
    seed: int
    map: str
    meta: Meta
    timing: Timing
    trace: dict[str, Any] | None = None
    """The run's trace (actors, events, route) when asked for with ``artifacts``."""

    @property
    def completed(self) -> bool:
        return not self.status.startswith("Failed")

    @staticmethod
    def from_pb(m: pb.RouteRecord, trace: dict[str, Any] | None = None) -> Record:
        meta = Meta(
            route_length=m.meta.route_length,
            duration_game=m.meta.duration_game,
            duration_system=m.meta.duration_system,
            warnings=list(m.meta.warnings),
            traffic_vehicles=m.meta.traffic_vehicles,
            traffic_pedestrians=m.meta.traffic_pedestrians,
            pass_criteria=[PassCriterion(c.name, c.result, c.detail) for c in m.meta.pass_criteria],
        )
        timing = Timing(
            m.timing.control_steps, m.timing.step_p50_ms, m.timing.step_p99_ms, m.timing.step_mean_ms
        )
        return Record(
            index=m.index,
            route_id=m.route_id,
            status=m.status,
            driving_score=m.scores.score_composed,
            route_completion=m.scores.score_route,
            infraction_penalty=m.scores.score_penalty,
            infractions=[Infraction.from_pb(i) for i in m.infractions],
            num_infractions=m.num_infractions,
            seed=m.seed,
            map=m.map,
            meta=meta,
            timing=timing,
            trace=trace,
        )

    def leaderboard(self) -> dict[str, Any]:
        """The record as one entry of a Leaderboard 2.0 ``records`` list."""
        by_cat: dict[str, list[str]] = {}
        for i in self.infractions:
            by_cat.setdefault(i.category, []).append(i.message)
        return {
            "index": self.index,
            "route_id": self.route_id,
            "status": self.status,
            "num_infractions": self.num_infractions,
            "infractions": by_cat,
            "scores": {
                "score_route": self.route_completion,
                "score_penalty": self.infraction_penalty,
                "score_composed": self.driving_score,
            },
            "meta": {
                "route_length": self.meta.route_length,
                "duration_game": self.meta.duration_game,
                "duration_system": self.meta.duration_system,
            },
            "atlas": {"map": self.map, "seed": self.seed, **asdict(self.timing)},
        }

    def __str__(self) -> str:
        return (
            f"{self.route_id}: {self.status}  driving score {self.driving_score:.1f}  "
            f"route completion {self.route_completion:.1f}%  "
            f"infraction penalty {self.infraction_penalty:.3f}  infractions {self.num_infractions}"
        )
