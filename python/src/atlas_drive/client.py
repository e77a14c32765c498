"""Running scenarios against a scenario runtime (``atlas.scenario.v1``).

The file (or the scenario built in code) is read here and sent whole, with
its map when a native scenario names an ``.xodr`` file, and with its catalogs
and road network when it is OpenSCENARIO, so the runtime need not see the
client's disk — as ``atlas run`` does. A string that names no file is run as
a scenario the runtime knows by name (``Runtime.list_scenarios``).
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from google.protobuf import json_format

from . import _rpc
from ._proto.atlas.scenario.v1 import scenario_pb2 as pb
from .errors import AtlasError, ScenarioError
from .records import Infraction, Progress, Record, RunEvent, Started, event_from_pb
from .openscenario import OpenScenario, parse, referenced_files
from .routes import RouteFile
from .scenario import Scenario

DEFAULT_SCENARIO_ADDR = "127.0.0.1:50053"
SERVICE = "/atlas.scenario.v1.ScenarioRunner/"


def default_scenario_addr() -> str:
    """``ATLAS_SCENARIO_ADDR`` (as ``atlas run`` reads it), else 127.0.0.1:50053
    — the runtime of the scenario container itself."""
    return os.environ.get("ATLAS_SCENARIO_ADDR", "").strip() or DEFAULT_SCENARIO_ADDR


class HasAddress(Protocol):
    @property
    def address(self) -> str: ...


DriverRef = str | HasAddress
ScenarioRef = str | os.PathLike[str] | Scenario | OpenScenario | RouteFile
EventCallback = Callable[[RunEvent], None]


@dataclass(frozen=True)
class ScenarioEntry:
    name: str
    path: str
    map: str


def source_of(path: str | os.PathLike[str], *, first_line: int = 0) -> pb.ScenarioSource:
    """A scenario file read for sending (native TOML, OpenSCENARIO, route XML)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise ScenarioError(f"{p}: cannot read: {e.strerror}") from None
    suffix = p.suffix.lower()
    src = pb.ScenarioSource(file_name=str(p), content=text, first_line=first_line)
    if suffix == ".toml" or suffix == "":
        sc = Scenario.from_toml(text, file=str(p), base_dir=p.parent)
        src.opendrive_xml = sc.read_map()
    elif suffix == ".xosc":
        for rel, body in referenced_files(p, parse(p, text)).items():
            src.files[rel] = body
    return src


def _source(scenario: ScenarioRef) -> pb.RunScenarioRequest:
    if isinstance(scenario, (OpenScenario, RouteFile)):
        return pb.RunScenarioRequest(source=scenario.source())
    if isinstance(scenario, Scenario):
        src = pb.ScenarioSource(
            file_name=scenario.file_name, content=scenario.to_toml(), opendrive_xml=scenario.read_map()
        )
        return pb.RunScenarioRequest(source=src)
    p = Path(scenario)
    if p.is_file():
        return pb.RunScenarioRequest(source=source_of(p))
    s = str(scenario)
    if os.sep in s or p.suffix.lower() in (".toml", ".xosc", ".xml"):
        raise ScenarioError(f"{s}: no such scenario file")
    return pb.RunScenarioRequest(path=s)


def _driver_addr(driver: DriverRef | None) -> str:
    if driver is None:
        return ""
    addr = driver if isinstance(driver, str) else driver.address
    return addr if "://" in addr else f"http://{addr}"


def print_progress(event: RunEvent) -> None:
    """A one-line progress display on stderr (``run(..., progress=True)``)."""
    if isinstance(event, Started):
        sys.stderr.write(f"{event.scenario}: map {event.map}, route {event.route_length:.0f} m\n")
    elif isinstance(event, Progress):
        line = f"  t {event.sim_time_s:6.1f} s  route {event.route_completion:5.1f}%  speed {event.speed:5.2f} m/s"
        # One line rewritten in place on a terminal; a line per event otherwise.
        sys.stderr.write(f"\r{line} " if sys.stderr.isatty() else line + "\n")
    elif isinstance(event, Infraction):
        lead = "\n" if sys.stderr.isatty() else ""
        sys.stderr.write(f"{lead}  infraction {event.category}: {event.message}\n")
    sys.stderr.flush()


class Runtime:
    """A client of a scenario runtime."""

    def __init__(self, addr: str | None = None) -> None:
        self.addr = addr or default_scenario_addr()
        self._channel = _rpc.channel(self.addr)
        self._run = _rpc.ServerStream[pb.RunScenarioRequest, pb.RunEvent](
            self._channel, SERVICE + "RunScenario", pb.RunEvent
        )
        self._list = _rpc.Unary[pb.ListScenariosRequest, pb.ListScenariosResponse](
            self._channel, SERVICE + "ListScenarios", pb.ListScenariosResponse
        )

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def list_scenarios(self) -> list[ScenarioEntry]:
        r = self._list(pb.ListScenariosRequest())
        return [ScenarioEntry(s.name, s.path, s.map) for s in r.scenarios]

    def run(
        self,
        scenario: ScenarioRef,
        *,
        driver: DriverRef | None = None,
        seed: int | None = None,
        timeout_s: float | None = None,
        route_id: str = "",
        ego: str = "",
        lenient: bool = False,
        traffic: tuple[int, int] | None = None,
        sim_hz: float = 0.0,
        control_hz: float = 0.0,
        progress_every: int = 0,
        artifacts: str | os.PathLike[str] | None = None,
        on_event: EventCallback | None = None,
        progress: bool = False,
        index: int = 0,
        deadline_s: float | None = None,
    ) -> Record:
        """Runs one scenario to its record. ``driver`` is an egodriver address
        (or a :class:`~atlas_drive.policy.PolicyServer`) replacing the runtime's
        policy; ``artifacts`` a directory for the record and the run's trace
        as JSON; ``on_event`` gets every Started/Progress/Infraction event,
        ``progress=True`` prints a progress line; ``deadline_s`` bounds the
        run's wall-clock time (DEADLINE_EXCEEDED past it)."""
        req = _source(scenario)
        req.index = index
        opts = req.options
        opts.sim_hz = sim_hz
        opts.control_hz = control_hz
        opts.progress_every = progress_every
        opts.driver_addr = _driver_addr(driver)
        opts.route_id = route_id
        opts.ego = ego
        opts.lenient = lenient
        opts.record_trace = artifacts is not None
        if timeout_s is not None:
            opts.timeout_s = timeout_s
        if seed is not None:
            opts.seed = seed
        if traffic is not None:
            opts.traffic.vehicles, opts.traffic.pedestrians = traffic
        callbacks: list[EventCallback] = [c for c in (on_event,) if c is not None]
        if progress:
            callbacks.append(print_progress)
        finished: pb.Finished | None = None
        for ev in self._run(req, timeout=deadline_s):
            if ev.WhichOneof("kind") == "finished":
                finished = ev.finished
                continue
            e = event_from_pb(ev)
            if e is not None:
                for c in callbacks:
                    c(e)
        if progress and sys.stderr.isatty():
            sys.stderr.write("\n")
        if finished is None:
            raise AtlasError(f"{self.addr}: the run's stream ended without a record")
        trace: dict[str, Any] | None = None
        if finished.HasField("trace"):
            trace = json_format.MessageToDict(finished.trace, preserving_proto_field_name=True)
        record = Record.from_pb(finished.record, trace)
        if artifacts is not None:
            _write_artifacts(Path(artifacts), record)
        return record


def _write_artifacts(out: Path, record: Record) -> None:
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{record.index:03d}_{record.route_id or 'run'}".replace("/", "_")
    (out / f"{stem}.record.json").write_text(json.dumps(record.leaderboard(), indent=2))
    if record.trace is not None:
        (out / f"{stem}.trace.json").write_text(json.dumps(record.trace))


def run(
    scenario: ScenarioRef,
    *,
    driver: DriverRef | None = None,
    seed: int | None = None,
    artifacts: str | os.PathLike[str] | None = None,
    on_event: EventCallback | None = None,
    progress: bool = False,
    addr: str | None = None,
    **options: Any,
) -> Record:
    """Runs one scenario (a file, a name the runtime knows, or a
    :class:`~atlas_drive.scenario.Scenario`) on the runtime at ``addr``
    (default :func:`default_scenario_addr`) and returns its record. Further
    keyword options: see :meth:`Runtime.run`."""
    with Runtime(addr) as rt:
        return rt.run(
            scenario,
            driver=driver,
            seed=seed,
            artifacts=artifacts,
            on_event=on_event,
            progress=progress,
            **options,
        )


def route_ids(path: str | os.PathLike[str]) -> list[str]:
    """The route ids of a Leaderboard route file, in file order."""
    p = Path(path)
    try:
        root = ET.parse(p).getroot()
    except (OSError, ET.ParseError) as e:
        raise ScenarioError(f"{p}: {e}") from None
    return [r.get("id", "") for r in root.iter("route")]


def run_all(
    scenarios: Iterable[ScenarioRef], *, addr: str | None = None, **options: Any
) -> list[Record]:
    """Runs scenarios one after another on one connection."""
    with Runtime(addr) as rt:
        return [rt.run(s, index=i, **options) for i, s in enumerate(scenarios)]
