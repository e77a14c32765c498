"""Leaderboard route files (``<routes><route id town>...``): read, pick,
change, run.

>>> rf = RouteFile.load("scenarios/routes/leaderboard-1.0/routes_training.xml")  # doctest: +SKIP
>>> rf.ids[:3], rf.town("0")                                                    # doctest: +SKIP
(['0', '1', '2'], 'Town01')
>>> short = rf.only(["0"]).truncated("0", 3)        # the first 3 waypoints   # doctest: +SKIP
>>> atlas_drive.run(short, route_id="0")                                       # doctest: +SKIP

Waypoints are in CARLA's frame, as in the file.
"""

from __future__ import annotations

import copy
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from ._proto.atlas.scenario.v1 import scenario_pb2 as pb
from .errors import ScenarioError


class RouteFile:
    def __init__(self, path: Path, root: ET.Element) -> None:
        self.path = path
        self.root = root

    @staticmethod
    def load(path: str | os.PathLike[str]) -> RouteFile:
        p = Path(path)
        try:
            root = ET.parse(p).getroot()
        except OSError as e:
            raise ScenarioError(f"{p}: cannot read: {e.strerror}") from None
        except ET.ParseError as e:
            raise ScenarioError(f"{p}: line {e.position[0]}: not well-formed XML: {e}") from None
        if root.tag != "routes":
            raise ScenarioError(f"{p}: root element is <{root.tag}>, expected <routes>")
        return RouteFile(p, root)

    @property
    def ids(self) -> list[str]:
        return [r.get("id", "") for r in self.root.iter("route")]

    def route(self, route_id: str) -> ET.Element:
        for r in self.root.iter("route"):
            if r.get("id") == route_id:
                return r
        raise ScenarioError(f"{self.path}: no <route id={route_id!r}> (ids: {', '.join(self.ids[:10])}…)")

    def town(self, route_id: str) -> str:
        return self.route(route_id).get("town", "")

    def waypoints(self, route_id: str) -> list[tuple[float, float, float]]:
        """``(x, y, z)`` of the route's waypoints, CARLA frame."""
        return [
            (float(w.get("x", 0)), float(w.get("y", 0)), float(w.get("z", 0)))
            for w in self.route(route_id).iter("waypoint")
        ]

    def only(self, route_ids: list[str]) -> RouteFile:
        """A copy holding only these routes (unknown ids are an error)."""
        for rid in route_ids:
            self.route(rid)
        root = copy.deepcopy(self.root)
        for r in list(root):
            if r.tag == "route" and r.get("id") not in route_ids:
                root.remove(r)
        return RouteFile(self.path, root)

    def truncated(self, route_id: str, waypoints: int) -> RouteFile:
        """A copy whose route ``route_id`` keeps its first ``waypoints`` waypoints."""
        if waypoints < 2:
            raise ScenarioError(f"{self.path}: route {route_id!r}: a route needs at least 2 waypoints")
        out = RouteFile(self.path, copy.deepcopy(self.root))
        r = out.route(route_id)
        parent = r.find("waypoints")
        holder = parent if parent is not None else r
        for w in holder.findall("waypoint")[waypoints:]:
            holder.remove(w)
        return out

    def text(self) -> str:
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(self.root, encoding="unicode")

    def source(self) -> pb.ScenarioSource:
        return pb.ScenarioSource(file_name=str(self.path), content=self.text())
