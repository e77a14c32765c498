"""Suites: the suite files of ``atlas suite run`` run from Python.

A suite file (TOML) names scenarios and route files (globs relative to the
file), policies, seeds (absent: each file's own), repetitions, a simulated
timeout, the concurrency, a wall-clock deadline per attempt and the attempts a
run gets. Every combination is one run; a run whose attempt fails with a
transient status (UNAVAILABLE, RESOURCE_EXHAUSTED, ABORTED, DEADLINE_EXCEEDED,
CANCELLED) is tried again, up to ``max_attempts``; a run with a bad input
fails at once. Policies: ``default`` and ``baseline`` are the runtime's own
driver, an endpoint (``http://host:port``) any egodriver; ``model`` and
other names need an address in ``drivers=`` (e.g. a
:class:`~atlas_drive.policy.PolicyServer`).
"""

from __future__ import annotations

import glob
import hashlib
import math
import os
import time
import tomllib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from .client import DriverRef, Runtime, route_ids
from .errors import RpcError, ScenarioError
from .records import Record

TRANSIENT = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
KEYS = {
    "name", "scenarios", "routes", "policies", "seeds", "repetitions", "timeout_s",
    "concurrency", "deadline_s", "max_attempts", "route_ids", "towns",
}


@dataclass(frozen=True)
class RunSpec:
    id: str
    file: Path
    route_id: str
    policy: str
    seed: int | None
    repetition: int


@dataclass
class RunResult:
    spec: RunSpec
    record: Record | None
    attempts: int
    error: str = ""


@dataclass
class Suite:
    file: Path
    name: str
    policies: dict[str, str]
    runs: list[RunSpec]
    timeout_s: float | None = None
    concurrency: int = 2
    deadline_s: float = 600.0
    max_attempts: int = 4

    @staticmethod
    def load(path: str | os.PathLike[str]) -> Suite:
        p = Path(path)
        try:
            raw: dict[str, Any] = tomllib.loads(p.read_text())
        except OSError as e:
            raise ScenarioError(f"{p}: cannot read: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ScenarioError(f"{p}: {e}") from None

        def bad(key: str, msg: str) -> ScenarioError:
            return ScenarioError(f"{p}: `{key}`: {msg}")

        for k in raw:
            if k not in KEYS:
                raise bad(k, "unknown field")
        policies = raw.get("policies")
        if not isinstance(policies, dict) or not policies:
            raise bad("policies", "name at least one policy")
        for name, target in policies.items():
            if not isinstance(target, str) or not target.strip():
                raise bad(f"policies.{name}", "empty; give `default`, `baseline`, `model` or an endpoint")
        seeds_raw = raw.get("seeds")
        if seeds_raw is not None and (not seeds_raw or len(set(seeds_raw)) != len(seeds_raw)):
            raise bad("seeds", "empty list or a seed listed twice")
        seeds: list[int | None] = list(seeds_raw) if seeds_raw is not None else [None]
        reps = int(raw.get("repetitions", 1))
        if reps < 1:
            raise bad("repetitions", "must be at least 1")
        timeout = raw.get("timeout_s")
        if timeout is not None and not (math.isfinite(timeout) and timeout > 0):
            raise bad("timeout_s", "must be a positive number of seconds")
        concurrency = int(raw.get("concurrency", 2))
        max_attempts = int(raw.get("max_attempts", 4))
        deadline = float(raw.get("deadline_s", 600.0))
        if concurrency < 1:
            raise bad("concurrency", "must be at least 1")
        if max_attempts < 1:
            raise bad("max_attempts", "must be at least 1")
        if not (math.isfinite(deadline) and deadline > 0):
            raise bad("deadline_s", "must be a positive number of seconds")
        base = p.parent
        files: list[tuple[Path, str]] = []
        wanted_routes = raw.get("route_ids")
        for key in ("scenarios", "routes"):
            for g in raw.get(key, []):
                matches = sorted(glob.glob(str(base / g)))
                if not matches:
                    raise bad(key, f"{g!r} matches no file")
                for m in matches:
                    mp = Path(m)
                    if key == "scenarios":
                        files.append((mp, ""))
                    else:
                        for rid in route_ids(mp):
                            if wanted_routes is None or rid in wanted_routes:
                                files.append((mp, rid))
        seen: set[tuple[Path, str]] = set()
        runs: list[RunSpec] = []
        for f, rid in files:
            if (f.resolve(), rid) in seen:
                continue
            seen.add((f.resolve(), rid))
            content = f.read_bytes()
            for pol in sorted(policies):
                for seed in seeds:
                    for rep in range(reps):
                        h = hashlib.sha256(content)
                        h.update(f"\0{rid}\0{pol}\0{seed}\0{rep}".encode())
                        runs.append(RunSpec(h.hexdigest()[:16], f, rid, pol, seed, rep))
        return Suite(
            file=p,
            name=str(raw.get("name") or p.stem),
            policies={k: v.strip() for k, v in policies.items()},
            runs=runs,
            timeout_s=timeout,
            concurrency=concurrency,
            deadline_s=deadline,
            max_attempts=max_attempts,
        )


@dataclass
class SuiteResult:
    suite: Suite
    results: list[RunResult] = field(default_factory=list)

    @property
    def records(self) -> list[Record]:
        return [r.record for r in self.results if r.record is not None]

    @property
    def failed(self) -> list[RunResult]:
        return [r for r in self.results if r.record is None]

    def mean_driving_score(self, policy: str | None = None) -> float:
        recs = [r.record for r in self.results if r.record is not None and (policy is None or r.spec.policy == policy)]
        return sum(r.driving_score for r in recs) / len(recs) if recs else 0.0


def _driver(target: str, name: str, drivers: Mapping[str, DriverRef]) -> DriverRef | None:
    if name in drivers:
        return drivers[name]
    if target in ("default", "baseline"):
        return None
    if "://" in target or ":" in target:
        return target
    raise ScenarioError(f"policy {name!r} = {target!r}: give its egodriver address in drivers={{{name!r}: ...}}")


def run_suite(
    suite: str | os.PathLike[str] | Suite,
    *,
    addr: str | None = None,
    drivers: Mapping[str, DriverRef] | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> SuiteResult:
    """Runs every run of a suite file on the runtime at ``addr``, ``concurrency``
    at a time; returns the records (and the runs that failed, with why)."""
    s = suite if isinstance(suite, Suite) else Suite.load(suite)
    drv = {name: _driver(t, name, drivers or {}) for name, t in s.policies.items()}
    out = SuiteResult(s)

    def one(i: int, spec: RunSpec, rt: Runtime) -> RunResult:
        err = ""
        for attempt in range(1, s.max_attempts + 1):
            try:
                rec = rt.run(
                    spec.file,
                    driver=drv[spec.policy],
                    seed=spec.seed,
                    timeout_s=s.timeout_s,
                    route_id=spec.route_id,
                    index=i,
                    deadline_s=s.deadline_s,
                )
                return RunResult(spec, rec, attempt)
            except RpcError as e:
                err = str(e)
                if e.code not in TRANSIENT:
                    return RunResult(spec, None, attempt, err)
                time.sleep(min(2.0, 0.1 * 2**attempt))
            except ScenarioError as e:
                return RunResult(spec, None, attempt, str(e))
        return RunResult(spec, None, s.max_attempts, err)

    with Runtime(addr) as rt, ThreadPoolExecutor(max_workers=s.concurrency) as pool:
        futs = [pool.submit(one, i, spec, rt) for i, spec in enumerate(s.runs)]
        for f in futs:
            r = f.result()
            out.results.append(r)
            if on_result is not None:
                on_result(r)
    return out
