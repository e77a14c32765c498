"""Errors of the Python API."""

from __future__ import annotations

import grpc


class AtlasError(Exception):
    """Base of every error raised by atlas_drive."""


class ScenarioError(AtlasError, ValueError):
    """A scenario (file or built in code) is invalid; the message names the
    file and the element."""


class RpcError(AtlasError):
    """A call to an ATLAS service failed: the method, the gRPC status code and
    the server's message (which names the file and element for bad input)."""

    def __init__(self, method: str, code: grpc.StatusCode, details: str) -> None:
        self.method = method
        self.code = code
        self.details = details
        super().__init__(f"{method}: {code.name}: {details}")
