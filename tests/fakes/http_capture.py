"""The shared machinery of the local webhook-like servers (Teams, signed webhooks, Apprise's target).

A subclass decides what one POST gets (:meth:`CaptureServer.judge`); this base runs the
server on a free loopback port, records every request, and injects faults before the
subclass is asked:

    server.rate_limit_next(2, retry_after=3)   # 429 with Retry-After, twice
    server.fail_next(1, "500")                 # or "503", "hang" (past the client's timeout), "drop"

``messages`` holds what was accepted (the subclass appends to it).  Nothing here ever
connects to the internet.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

FailMode = Literal["500", "502", "503", "hang", "drop"]
FAIL_MODES: tuple[str, ...] = ("500", "502", "503", "hang", "drop")
# (status, body, extra headers)
Answer = tuple[int, str, dict[str, str]]
MAX_BODY = 4 * 1024 * 1024  # a request larger than this is refused unread (413)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None when the server hung or dropped the connection

    def json(self) -> Any:
        return json.loads(self.body)


class CaptureServer:
    """A threaded HTTP server on 127.0.0.1 whose answers a subclass decides."""

    name = "fake-webhook"

    def __init__(self, *, hang_seconds: float = 5.0) -> None:
        self.hang_seconds = hang_seconds
        self.messages: list[Any] = []
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._faults: deque[str] = deque()
        self._rate_limited = 0
        self._retry_after = "1"
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ fault injection

    def rate_limit_next(self, n: int, retry_after: int | float | str = 1) -> None:
        with self._lock:
            self._rate_limited = n
            self._retry_after = str(retry_after)

    def fail_next(self, n: int, mode: str = "500") -> None:
        if mode not in FAIL_MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self._faults.extend([mode] * n)

    def clear_faults(self) -> None:
        """Forget every armed fault and rate limit: the server answers normally again."""
        with self._lock:
            self._faults.clear()
            self._rate_limited = 0

    # ------------------------------------------------------------------ for subclasses

    def judge(self, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        """The answer to one POST that no fault intercepted (accepted ones go to ``messages``)."""
        raise NotImplementedError

    def accept(self, message: Any) -> None:
        with self._lock:
            self.messages.append(message)

    # ------------------------------------------------------------------ the handler

    def _decide(self, path: str, headers: dict[str, str], raw: bytes) -> Answer | str:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._rate_limited > 0:
                self._rate_limited -= 1
                return 429, '{"error":"rate limited"}', {"Retry-After": self._retry_after}
        return self.judge(path, headers, raw)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            # Answer head and body without waiting for the ACK of the first write (~40 ms on loopback).
            disable_nagle_algorithm = True
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _record(self, raw: bytes, status: int | None) -> None:
                with server._lock:
                    server.requests.append(
                        RecordedRequest(self.command, self.path, dict(self.headers.items()), raw, status)
                    )

            def _reply(self, code: int, body: str, extra: dict[str, str]) -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json" if body.startswith("{") else "text/plain")
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._record(b"", 413)
                    self.close_connection = True
                    self._reply(413, "request too large", {})
                    return
                raw = self.rfile.read(length)
                decision = server._decide(self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                if decision in ("500", "502", "503"):
                    decision = (int(str(decision)), '{"error":"server error"}', {})
                if decision == "hang":
                    self._record(raw, None)
                    server._stopping.wait(server.hang_seconds)
                    self.close_connection = True
                    return
                if decision == "drop":
                    self._record(raw, None)
                    self.close_connection = True
                    return
                assert isinstance(decision, tuple)
                self._record(raw, decision[0])
                self._reply(*decision)

            def do_GET(self) -> None:
                self._record(b"", 405)
                self._reply(405, "method not allowed", {})

        return Handler
