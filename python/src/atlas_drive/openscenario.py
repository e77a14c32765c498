"""OpenSCENARIO files: read, change parameters, run.

>>> from atlas_drive.openscenario import OpenScenario            # doctest: +SKIP
>>> x = OpenScenario.load("scenarios/alks/alks_scenario_4_2_1_fully_blocking_target_template.xosc")
>>> x.parameters["Ego_InitSpeed_Ve0_kph"]                        # doctest: +SKIP
'60.0'
>>> atlas_drive.run(x.with_parameters(Ego_InitSpeed_Ve0_kph=40))  # doctest: +SKIP

The file goes to the runtime with the catalogs and road network it refers
to, keyed by their normalised path relative to the file's directory (as
``atlas run`` sends them).
"""

from __future__ import annotations

import copy
import os
import posixpath
import xml.etree.ElementTree as ET
from pathlib import Path

from ._proto.atlas.scenario.v1 import scenario_pb2 as pb
from .errors import ScenarioError


def normalise(rel: str) -> str | None:
    """``rel`` with ``.`` and ``..`` removed; None when absolute or leaving the tree."""
    rel = rel.replace("\\", "/")
    if rel.startswith("/"):
        return None
    parts: list[str] = []
    for c in rel.split("/"):
        if c in ("", "."):
            continue
        if c == "..":
            if not parts:
                return None
            parts.pop()
        else:
            parts.append(c)
    return posixpath.join(*parts) if parts else None


class OpenScenario:
    def __init__(self, path: Path, root: ET.Element) -> None:
        self.path = path
        self.root = root

    @staticmethod
    def load(path: str | os.PathLike[str]) -> OpenScenario:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8-sig")
        except OSError as e:
            raise ScenarioError(f"{p}: cannot read: {e.strerror}") from None
        return OpenScenario(p, parse(p, text))

    def _declarations(self) -> list[ET.Element]:
        decls = self.root.find("ParameterDeclarations")
        return [] if decls is None else decls.findall("ParameterDeclaration")

    @property
    def parameters(self) -> dict[str, str]:
        """The file's top-level parameters, name → value as written."""
        return {d.get("name", ""): d.get("value", "") for d in self._declarations()}

    def with_parameters(self, **values: object) -> OpenScenario:
        """A copy with parameters set (unknown names are an error naming them)."""
        out = OpenScenario(self.path, copy.deepcopy(self.root))
        by_name = {d.get("name", ""): d for d in out._declarations()}
        for name, v in values.items():
            if name not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                raise ScenarioError(f"{self.path}: `ParameterDeclaration` {name!r}: no such parameter (declared: {known})")
            by_name[name].set("value", str(v).lower() if isinstance(v, bool) else str(v))
        return out

    def text(self) -> str:
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(self.root, encoding="unicode")

    def files(self) -> dict[str, str]:
        return referenced_files(self.path, self.root)

    def source(self) -> pb.ScenarioSource:
        src = pb.ScenarioSource(file_name=str(self.path), content=self.text())
        for k, v in self.files().items():
            src.files[k] = v
        return src


def parse(path: Path, text: str) -> ET.Element:
    try:
        return ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as e:
        raise ScenarioError(f"{path}: line {e.position[0]}: not well-formed XML: {e}") from None


def referenced_files(path: Path, root: ET.Element) -> dict[str, str]:
    """Road network and catalog files an OpenSCENARIO document refers to."""
    params = {d.get("name", ""): d.get("value", "") for d in root.iter("ParameterDeclaration")}

    def resolve(v: str) -> str:
        return params.get(v[1:], v) if v.startswith("$") else v

    base = path.parent
    out: dict[str, str] = {}
    for el in root.iter("LogicFile"):
        rel = normalise(resolve(el.get("filepath", "")))
        if rel and (base / rel).is_file():
            out[rel] = (base / rel).read_text(encoding="utf-8-sig")
    for loc in root.iter("CatalogLocations"):
        for d in loc.iter("Directory"):
            rel = normalise(resolve(d.get("path", "")))
            if not rel or not (base / rel).is_dir():
                continue
            for f in sorted((base / rel).iterdir()):
                if f.is_file() and f.suffix.lower() == ".xosc":
                    out[posixpath.join(rel, f.name)] = f.read_text(encoding="utf-8-sig")
    return out
