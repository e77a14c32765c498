"""Native ATLAS scenarios built in Python (the TOML format of ``scenarios/*.toml``).

>>> from atlas_drive.scenario import Scenario, Lane, Actor
>>> sc = Scenario(
...     name="my_blocked", map="Town01", timeout_s=40,
...     ego_start=Lane("12", -1, 10.0), route=[Lane("12", -1, 200.0)],
...     actors=[Actor("stopped_car", Lane("12", -1, 90.0))],
... )
>>> print(sc.to_toml().splitlines()[0])
name = "my_blocked"
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from .errors import ScenarioError

ActorKind = Literal["vehicle", "pedestrian", "static"]
Behavior = Literal["stopped", "lane_follow"]
MAX_SPEED = 70.0


@dataclass(frozen=True)
class Lane:
    """A position along an OpenDRIVE lane: road id, lane id, s along the road's
    reference line and lateral offset from the lane centre (m, positive left)."""

    road: str
    lane: int
    s: float
    offset: float = 0.0

    def toml(self) -> str:
        off = f", offset = {_num(self.offset)}" if self.offset else ""
        return f"{{ road = {_str(self.road)}, lane = {self.lane}, s = {_num(self.s)}{off} }}"


@dataclass(frozen=True)
class Point:
    """A world position in the map's OpenDRIVE frame (m) and heading (rad)."""

    x: float
    y: float
    yaw: float = 0.0

    def toml(self) -> str:
        return f"{{ x = {_num(self.x)}, y = {_num(self.y)}, yaw = {_num(self.yaw)} }}"


Placement = Lane | Point


@dataclass(frozen=True)
class Actor:
    """Another road user: ``behavior`` "stopped" or "lane_follow" at ``speed`` m/s."""

    name: str
    start: Placement
    kind: ActorKind = "vehicle"
    behavior: Behavior = "stopped"
    speed: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A native scenario: a map (a name the bridge knows, or a path to an
    ``.xodr`` file), the ego's start and speed, the route's waypoints (planned
    over the lane graph), other actors, a timeout and a seed."""

    name: str
    map: str
    ego_start: Placement
    route: list[Placement]
    actors: list[Actor] = field(default_factory=list)
    ego_speed: float = 0.0
    timeout_s: float = 60.0
    blocked_s: float = 180.0
    seed: int = 0
    base_dir: Path | None = None
    """Where a relative ``.xodr`` map path is resolved (the file's directory
    for a loaded scenario; the working directory otherwise)."""

    @property
    def file_name(self) -> str:
        return f"{self.name}.toml"

    def with_actor(self, actor: Actor) -> Scenario:
        return replace(self, actors=[*self.actors, actor])

    def validate(self) -> None:
        """Raises :class:`ScenarioError` naming the element at fault."""
        f = self.file_name
        if not self.name.strip():
            raise ScenarioError(f"{f}: `name` must not be empty")
        if not self.map.strip():
            raise ScenarioError(f"{f}: `map` must name a map or an .xodr file")
        _check_place(f, "ego.start", self.ego_start)
        _check_speed(f, "ego.speed", self.ego_speed)
        if not self.route:
            raise ScenarioError(f"{f}: `route.waypoints`: the route needs at least one waypoint")
        for i, w in enumerate(self.route):
            _check_place(f, f"route.waypoints[{i}]", w)
        names: set[str] = set()
        for i, a in enumerate(self.actors):
            el = f"actors[{i}]"
            if not a.name.strip():
                raise ScenarioError(f"{f}: `{el}.name` must not be empty")
            if a.name in names:
                raise ScenarioError(f"{f}: `{el}.name`: duplicate actor name {a.name!r}")
            names.add(a.name)
            if a.kind not in ("vehicle", "pedestrian", "static"):
                raise ScenarioError(f"{f}: `{el}.kind`: unknown kind {a.kind!r}")
            if a.behavior not in ("stopped", "lane_follow"):
                raise ScenarioError(f"{f}: `{el}.behavior`: unknown behavior {a.behavior!r}")
            _check_place(f, f"{el}.start", a.start)
            _check_speed(f, f"{el}.speed", a.speed)
        for key, v in (("timeout_s", self.timeout_s), ("blocked_s", self.blocked_s)):
            if not (math.isfinite(v) and v > 0):
                raise ScenarioError(f"{f}: `{key}` = {v} must be finite and > 0")
        if not (0 <= self.seed < 2**64):
            raise ScenarioError(f"{f}: `seed` = {self.seed} must be within 0..2^64")

    def to_toml(self) -> str:
        """The scenario as a native TOML file."""
        self.validate()
        lines = [
            f"name = {_str(self.name)}",
            f"map = {_str(self.map)}",
            f"timeout_s = {_num(self.timeout_s)}",
            f"blocked_s = {_num(self.blocked_s)}",
            f"seed = {self.seed}",
            "",
            "[ego]",
            f"start = {self.ego_start.toml()}",
            f"speed = {_num(self.ego_speed)}",
            "",
            "[route]",
            "waypoints = [" + ", ".join(w.toml() for w in self.route) + "]",
        ]
        for a in self.actors:
            lines += [
                "",
                "[[actors]]",
                f"name = {_str(a.name)}",
                f"kind = {_str(a.kind)}",
                f"start = {a.start.toml()}",
                f"behavior = {_str(a.behavior)}",
                f"speed = {_num(a.speed)}",
            ]
        return "\n".join(lines) + "\n"

    def map_file(self) -> Path | None:
        """The OpenDRIVE file of a map given as a path; None for a map name."""
        if not self.map.lower().endswith(".xodr"):
            return None
        p = Path(self.map)
        if not p.is_absolute() and self.base_dir is not None:
            p = self.base_dir / p
        return p

    def read_map(self) -> str:
        """The OpenDRIVE text of a map given as a file ("" for a map name)."""
        p = self.map_file()
        if p is None:
            return ""
        try:
            return p.read_text()
        except OSError as e:
            raise ScenarioError(f"{self.file_name}: `map`: cannot read {p}: {e.strerror}") from None

    @staticmethod
    def load(path: str | Path) -> Scenario:
        """Reads a native TOML scenario file."""
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise ScenarioError(f"{p}: cannot read: {e.strerror}") from None
        return Scenario.from_toml(text, file=str(p), base_dir=p.parent)

    @staticmethod
    def from_toml(text: str, *, file: str = "scenario.toml", base_dir: Path | None = None) -> Scenario:
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ScenarioError(f"{file}: {e}") from None
        try:
            known = {"name", "map", "timeout_s", "blocked_s", "seed", "ego", "route", "actors"}
            extra = sorted(set(raw) - known)
            if extra:
                raise ScenarioError(f"{file}: `{extra[0]}`: unknown field")
            ego = raw["ego"]
            sc = Scenario(
                name=str(raw.get("name") or Path(file).stem),
                map=str(raw["map"]),
                ego_start=_place(file, "ego.start", ego["start"]),
                ego_speed=float(ego.get("speed", 0.0)),
                route=[
                    _place(file, f"route.waypoints[{i}]", w)
                    for i, w in enumerate(raw["route"]["waypoints"])
                ],
                actors=[
                    Actor(
                        name=str(a["name"]),
                        start=_place(file, f"actors[{i}].start", a["start"]),
                        kind=a.get("kind", "vehicle"),
                        behavior=a.get("behavior", "stopped"),
                        speed=float(a.get("speed", 0.0)),
                    )
                    for i, a in enumerate(raw.get("actors", []))
                ],
                timeout_s=float(raw.get("timeout_s", 60.0)),
                blocked_s=float(raw.get("blocked_s", 180.0)),
                seed=int(raw.get("seed", 0)),
                base_dir=base_dir,
            )
        except KeyError as e:
            raise ScenarioError(f"{file}: missing field `{e.args[0]}`") from None
        except (TypeError, ValueError) as e:
            if isinstance(e, ScenarioError):
                raise
            raise ScenarioError(f"{file}: {e}") from None
        sc = replace(sc, name=sc.name)
        try:
            sc.validate()
        except ScenarioError as e:
            raise ScenarioError(str(e).replace(sc.file_name, file, 1)) from None
        return sc


def _place(file: str, element: str, v: Any) -> Placement:
    if not isinstance(v, dict):
        raise ScenarioError(f"{file}: `{element}`: expected a table")
    if {"road", "lane", "s"} <= set(v):
        return Lane(str(v["road"]), int(v["lane"]), float(v["s"]), float(v.get("offset", 0.0)))
    if {"x", "y"} <= set(v):
        return Point(float(v["x"]), float(v["y"]), float(v.get("yaw", 0.0)))
    raise ScenarioError(f"{file}: `{element}`: expected road/lane/s or x/y")


def _check_place(file: str, element: str, p: Placement) -> None:
    if isinstance(p, Lane):
        if not (math.isfinite(p.s) and p.s >= 0):
            raise ScenarioError(f"{file}: `{element}`: s = {p.s} must be finite and >= 0")
        if not math.isfinite(p.offset):
            raise ScenarioError(f"{file}: `{element}`: offset = {p.offset} must be finite")
        if not p.road:
            raise ScenarioError(f"{file}: `{element}`: road must not be empty")
    elif isinstance(p, Point):
        if not all(math.isfinite(v) for v in (p.x, p.y, p.yaw)):
            raise ScenarioError(f"{file}: `{element}`: x, y and yaw must be finite")
    else:
        raise ScenarioError(f"{file}: `{element}`: expected a Lane or a Point, got {type(p).__name__}")


def _check_speed(file: str, element: str, v: float) -> None:
    if not (math.isfinite(v) and 0.0 <= v <= MAX_SPEED):
        raise ScenarioError(f"{file}: `{element}`: speed {v} is not within 0..={MAX_SPEED:g} m/s")


def _str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _num(v: float) -> str:
    if not math.isfinite(v):
        raise ScenarioError(f"non-finite number {v}")
    return repr(float(v))
