"""A local HTTP server that answers like a Slack incoming webhook.

    with SlackServer() as slack:
        url = slack.url_for("goodhook")       # http://127.0.0.1:PORT/services/T000/B000/goodhook
        ...
        slack.messages                        # accepted payloads (parsed JSON)
        slack.requests                        # every request, accepted or not

Path tokens pick fixed answers: ``archived`` 410 channel_is_archived, ``gone`` 404
channel_not_found, ``revoked`` 403 invalid_token, ``prohibited`` 403 action_prohibited,
``boom`` 500 rollup_error.  ``rate_limit_next(n)`` answers 429 with ``Retry-After``;
``fail_next(n, mode)`` answers 500, hangs past the client timeout (``"hang"``) or closes
the connection without an answer (``"drop"``).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

FailMode = Literal["500", "hang", "drop"]

FIXED = {
    "archived": (410, "channel_is_archived"),
    "gone": (404, "channel_not_found"),
    "revoked": (403, "invalid_token"),
    "prohibited": (403, "action_prohibited"),
    "boom": (500, "rollup_error"),
}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int | None  # None when the server hung or dropped the connection

    def json(self) -> Any:
        return json.loads(self.body)


class SlackServer:
    def __init__(self, *, hang_seconds: float = 5.0) -> None:
        self.hang_seconds = hang_seconds
        self.messages: list[dict[str, Any]] = []
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._faults: deque[FailMode] = deque()
        self._rate_limited = 0
        self._retry_after = "1"
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-slack", daemon=True
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url_for(self, token: str = "goodhook") -> str:
        return f"http://127.0.0.1:{self.port}/services/T000/B000/{token}"

    def start(self) -> SlackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SlackServer:
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

    def fail_next(self, n: int, mode: FailMode = "500") -> None:
        if mode not in ("500", "hang", "drop"):
            raise ValueError(f"unknown fault mode {mode!r}")
        with self._lock:
            self._faults.extend([mode] * n)

    def clear_faults(self) -> None:
        """Forget every armed fault and rate limit: the webhook works normally again."""
        with self._lock:
            self._faults.clear()
            self._rate_limited = 0

    # ------------------------------------------------------------------ the handler

    def _decide(self, path: str, raw: bytes) -> tuple[int, str, dict[str, str]] | FailMode:
        parts = path.split("?", 1)[0].strip("/").split("/")
        if len(parts) != 4 or parts[0] != "services":
            return 404, "no_service", {}
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._rate_limited > 0:
                self._rate_limited -= 1
                return 429, "rate_limited", {"Retry-After": self._retry_after}
        if parts[3] in FIXED:
            code, body = FIXED[parts[3]]
            return code, body, {}
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return 400, "invalid_payload", {}
        if not isinstance(payload, dict):
            return 400, "invalid_payload", {}
        blocks = payload.get("blocks") or []
        if not payload.get("text") and not blocks and not payload.get("attachments"):
            return 400, "no_text", {}
        if not isinstance(blocks, list) or not _blocks_ok(blocks):
            return 400, "invalid_blocks", {}
        with self._lock:
            self.messages.append(payload)
        return 200, "ok", {}

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
                self.send_header("Content-Type", "text/html")
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                decision = server._decide(self.path, raw)
                if decision == "500":
                    decision = (500, "rollup_error", {})
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
                self._reply(405, "invalid_method", {})

        return Handler


def _blocks_ok(blocks: list[Any]) -> bool:
    if len(blocks) > 50:
        return False
    for block in blocks:
        if not isinstance(block, dict):
            return False
        raw = block.get("text")
        text: dict[str, Any] = raw if isinstance(raw, dict) else {}
        content = str(text.get("text", ""))
        if block.get("type") == "section" and len(content) > 3000:
            return False
        if block.get("type") == "header" and (text.get("type") != "plain_text" or len(content) > 150):
            return False
    return True
