"""A total deadline for one network operation, and a way to stop it from another thread.

httpx's timeouts are per socket operation: a server that sends one byte a second (of
headers or body) never trips a 30-second read timeout and holds a poll for as long as it
likes.  Here every socket operation of a request made inside :func:`deadline` gets at most
the time left until that deadline, so connect + headers + body together end in time.
Operations also wake up every half second to check a stop event, so SIGTERM ends a
request in flight within a second instead of after its deadline.

The deadline lives in a thread-local: the sources read ahead on a second thread and
enrichment and delivery run on their own, each with its own deadline.  SMTP (smtplib)
gets the same from :class:`monitor.watchdog.Watchdog`.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

# How often a waiting socket operation looks at the stop event.
_SLICE = 0.5

_local = threading.local()
# The message of the timeout raised when the deadline (not a per-operation timeout) ran out.
EXPIRED = "deadline reached"


@contextlib.contextmanager
def deadline(seconds: float, stop: threading.Event | None = None) -> Iterator[None]:
    """Network operations on this thread must end within ``seconds`` (and when ``stop`` is set)."""
    before = getattr(_local, "state", None)
    _local.state = (time.monotonic() + seconds, stop)
    try:
        yield
    finally:
        _local.state = before


def _remaining(timeout: float | None) -> tuple[float, threading.Event | None]:
    """Seconds this operation may take: the smaller of its own timeout and the deadline."""
    own, until, stop = _limits(timeout)
    return min(own, until) - time.monotonic(), stop


def _limits(timeout: float | None) -> tuple[float, float, threading.Event | None]:
    """(end of the operation's own timeout, the deadline, the stop event) as monotonic times."""
    now = time.monotonic()
    own = math.inf if timeout is None else now + timeout
    state = getattr(_local, "state", None)
    if state is None:
        return own, math.inf, None
    until, stop = state
    return own, until, stop


def _sliced(call: Any, timeout: float | None, error: type[Exception]) -> Any:
    """Run a socket operation in slices of at most ``_SLICE`` s, checking stop and deadline."""
    own, until, stop = _limits(timeout)
    while True:
        if stop is not None and stop.is_set():
            raise error("stopping")
        now = time.monotonic()
        if now >= until:
            raise error(EXPIRED)
        left = min(own, until) - now
        if left <= 0:
            raise error("timed out")
        try:
            return call(min(left, _SLICE) if stop is not None else left)
        except error:
            now = time.monotonic()
            if now >= until:
                raise error(EXPIRED) from None
            if now >= own:
                raise


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = _sliced(lambda t: self._inner.read(max_bytes, t), timeout, httpcore.ReadTimeout)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # Not sliced: a write that timed out may have sent part of the buffer.
        left, _ = _remaining(timeout)
        if left <= 0:
            raise httpcore.WriteTimeout(EXPIRED)
        self._inner.write(buffer, left)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left, _ = _remaining(timeout)
        if left <= 0:
            raise httpcore.ConnectTimeout(EXPIRED)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left, stop = _remaining(timeout)
        if stop is not None and stop.is_set():
            raise httpcore.ConnectError("stopping")
        if left <= 0:
            raise httpcore.ConnectTimeout(EXPIRED)
        return _Stream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:  # pragma: no cover - not used
        return _Stream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:  # pragma: no cover - not used
        self._inner.sleep(seconds)


def transport(**kwargs: Any) -> httpx.HTTPTransport:
    """An httpx transport whose sockets honour :func:`deadline`."""
    out = httpx.HTTPTransport(**kwargs)
    pool = getattr(out, "_pool", None)
    if pool is not None and hasattr(pool, "_network_backend"):
        # httpx does not take a network backend; its pool (and a proxy's) has one slot for it.
        pool._network_backend = _Backend()
    return out
