"""A deadline for blocking socket code that takes no deadline of its own (smtplib).

smtplib's ``timeout`` is per socket operation, so a server that answers a byte a second
holds a send for as long as it likes.  :class:`Watchdog` shuts the sockets it watches down
when its time is up; whatever blocks on them wakes with an error at once.  No HTTP
imports here: ``status`` builds the e-mail channel only to describe it.
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket


class Watchdog:
    """Shut a socket down when a deadline passes, waking whatever blocks on it (smtplib).

    ``with Watchdog(seconds) as dog: dog.watch(sock); ...``; ``dog.fired`` says whether it did.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self.fired = False

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if self.fired:
                _shutdown(sock)
            else:
                self._sockets.append(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shutdown(sock)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    import socket

    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
