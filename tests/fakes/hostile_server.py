"""A loopback server that answers as a hostile or broken endpoint would.

    with HostileServer() as srv:
        srv.answer(Reply(status=302, headers={"Location": "http://elsewhere.invalid/x"}))
        srv.answer(Reply(body=bomb, headers={"Content-Encoding": "deflate, gzip"}))
        srv.answer(Reply(drip=0.2))        # status line, headers and body a byte every 0.2 s
        srv.url("/SyncFeed/2.0")           # http://127.0.0.1:PORT/SyncFeed/2.0

Each request takes the next queued reply (the last one repeats).  ``banner`` mode speaks
first, as an SMTP server does: ``HostileServer(banner_drip=0.2)`` sends ``220 ...`` a byte
at a time and never finishes.  Everything runs on 127.0.0.1 and stops with the context.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drip: float = 0.0  # seconds between bytes; 0 sends at once
    body_drip_only: bool = False  # send status and headers at once, drip the body


def deflate_gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped, then zlib-deflated again: ``Content-Encoding: deflate, gzip``."""
    inner = gzip.compress(b"\0" * size, compresslevel=9)
    return zlib.compress(inner, 9)


class HostileServer:
    def __init__(self, *, banner_drip: float | None = None) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self._replies: deque[Reply] = deque()
        self._last = Reply(body=b"ok")
        self._stop = threading.Event()
        self._banner_drip = banner_drip
        self.requests: list[bytes] = []
        self._thread = threading.Thread(target=self._serve, daemon=True, name="hostile-server")

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *replies: Reply) -> None:
        self._replies.extend(replies)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _send(self, conn: socket.socket, data: bytes, drip: float) -> None:
        if not drip:
            conn.sendall(data)
            return
        for i in range(len(data)):
            if self._stop.is_set():
                return
            conn.sendall(data[i : i + 1])
            time.sleep(drip)

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            if self._banner_drip is not None:
                self._send(conn, b"220 slow.example ESMTP " + b"." * 10_000, self._banner_drip)
                return
            conn.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            self.requests.append(head)
            reply = self._replies.popleft() if self._replies else self._last
            self._last = reply
            headers = {"Content-Length": str(len(reply.body)), "Connection": "close", **reply.headers}
            head_out = f"HTTP/1.1 {reply.status} X\r\n".encode() + b"".join(
                f"{k}: {v}\r\n".encode() for k, v in headers.items()
            )
            head_out += b"\r\n"
            if reply.body_drip_only:
                conn.sendall(head_out)
                self._send(conn, reply.body, reply.drip)
            else:
                self._send(conn, head_out + reply.body, reply.drip)
