"""gRPC plumbing shared by the clients: channels, typed methods, retry hints
and W3C trace context, as the Rust clients do them.

- Addresses are ``host:port`` or ``http://host:port`` (what the ATLAS_*_ADDR
  variables hold); a host name is resolved by gRPC's DNS resolver with
  round-robin over its addresses (on Swarm ``tasks.scenario:50053`` is one
  address per replica).
- A status carrying ``retry-after-ms`` (ATLAS servers) or
  ``grpc-retry-pushback-ms`` in its trailing metadata is retried after that
  delay, a bounded number of times; other errors surface as :class:`RpcError`.
- Every call carries a ``traceparent`` header: the one in the environment
  variable ``TRACEPARENT`` when set, else a fresh trace per top-level call, so
  a run started from Python is one trace across the services.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

import grpc
from google.protobuf.message import Message

from .errors import RpcError

MAX_MESSAGE_BYTES = 64 << 20
RETRY_AFTER_KEY = "retry-after-ms"
GRPC_PUSHBACK_KEY = "grpc-retry-pushback-ms"
DEFAULT_ATTEMPTS = 8

Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)


def target(addr: str) -> str:
    """A gRPC target from an ATLAS address (``host:port``, ``:port`` or a URI)."""
    a = addr.strip()
    for scheme in ("http://", "https://", "grpc://"):
        if a.startswith(scheme):
            a = a[len(scheme) :]
    a = a.rstrip("/")
    if a.startswith(":"):
        a = "127.0.0.1" + a
    if not a:
        raise ValueError(f"empty address {addr!r}")
    if a.startswith(("dns:", "ipv4:", "ipv6:", "unix:")):
        return a
    host = a.rsplit(":", 1)[0].strip("[]")
    if host.replace(".", "").isdigit() or ":" in host or host == "localhost":
        return a
    return "dns:///" + a


def channel(addr: str) -> grpc.Channel:
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.lb_policy_name", "round_robin"),
        ("grpc.enable_retries", 0),
    ]
    return grpc.insecure_channel(target(addr), options=options)


def traceparent() -> str:
    env = os.environ.get("TRACEPARENT", "").strip()
    if env:
        return env
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def metadata(trace: str | None = None) -> tuple[tuple[str, str | bytes], ...]:
    return (("traceparent", trace or traceparent()),)


def retry_after(err: grpc.RpcError) -> float | None:
    """The retry hint of a failed call, seconds; None when it carries none."""
    trailing: Callable[[], object] | None = getattr(err, "trailing_metadata", None)
    if trailing is None:
        return None
    md = trailing() or ()
    hints: dict[str, str] = {}
    for item in md:  # type: ignore[attr-defined]
        key, value = item[0], item[1]
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        hints[str(key).lower()] = str(value)
    for key in (RETRY_AFTER_KEY, GRPC_PUSHBACK_KEY):
        if key in hints:
            try:
                ms = int(hints[key])
            except ValueError:
                return None
            return None if ms < 0 else max(ms, 1) / 1000.0
    return None


def _code(err: grpc.RpcError) -> grpc.StatusCode:
    code: Callable[[], grpc.StatusCode] | None = getattr(err, "code", None)
    return code() if code is not None else grpc.StatusCode.UNKNOWN


def _details(err: grpc.RpcError) -> str:
    details: Callable[[], str | None] | None = getattr(err, "details", None)
    return (details() if details is not None else None) or str(err)


def wrap(err: grpc.RpcError, what: str) -> RpcError:
    return RpcError(what, _code(err), _details(err))


class Unary(Generic[Req, Resp]):
    """One unary method of a service, typed, with retry hints honoured."""

    def __init__(self, ch: grpc.Channel, path: str, resp: type[Resp]) -> None:
        self._path = path
        self._call: grpc.UnaryUnaryMultiCallable[Req, Resp] = ch.unary_unary(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=resp.FromString,
        )

    def __call__(
        self,
        request: Req,
        *,
        timeout: float | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
        trace: str | None = None,
    ) -> Resp:
        md = metadata(trace)
        for attempt in range(attempts):
            try:
                out: Resp = self._call(request, timeout=timeout, metadata=md)
                return out
            except grpc.RpcError as e:
                hint = retry_after(e)
                if hint is None or attempt + 1 == attempts:
                    raise wrap(e, self._path) from None
                time.sleep(hint)
        raise AssertionError("unreachable")


class ServerStream(Generic[Req, Resp]):
    """One server-streaming method. Retried on a hint only before the first
    message arrives (a stream that has started is not replayed)."""

    def __init__(self, ch: grpc.Channel, path: str, resp: type[Resp]) -> None:
        self._path = path
        self._call: grpc.UnaryStreamMultiCallable[Req, Resp] = ch.unary_stream(
            path,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=resp.FromString,
        )

    def __call__(
        self,
        request: Req,
        *,
        timeout: float | None = None,
        attempts: int = DEFAULT_ATTEMPTS,
        trace: str | None = None,
    ) -> Iterator[Resp]:
        md = metadata(trace)
        for attempt in range(attempts):
            started = False
            try:
                stream: Iterator[Resp] = self._call(request, timeout=timeout, metadata=md)
                for msg in stream:
                    started = True
                    yield msg
                return
            except grpc.RpcError as e:
                hint = retry_after(e)
                if started or hint is None or attempt + 1 == attempts:
                    raise wrap(e, self._path) from None
                time.sleep(hint)
