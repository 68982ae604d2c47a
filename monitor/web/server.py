"""Serving the WSGI application with waitress, in a thread of its own.

Why waitress: the monitor is synchronous (SQLAlchemy Core, blocking sockets), and so is
waitress — a pure-Python, dependency-free WSGI server that answers each request on a
small pool of worker threads, with an asyncore loop of its own for the sockets.  There
is no event loop to host in a thread (as uvicorn would need) and no async wrappers around
blocking database reads.  It binds its socket in ``create_server``, before anything is
served, so a port that is taken is an ``OSError`` the caller turns into one clear line
before the scheduler starts.  Requests are bounded (header size, body size, connections,
idle timeout) and it says nothing about itself in the ``Server`` header.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..config import Settings, WebConfig
from ..configread import read_secret

if TYPE_CHECKING:
    from wsgiref.types import WSGIApplication

    from ..http import FetchStats
    from ..metrics import Recorder

logger = logging.getLogger(__name__)

THREADS = 4  # concurrent requests; the read-only engine has as many connections


class WebError(Exception):
    """The HTTP surface cannot start (one line, for the operator)."""


class WebServer:
    """A bound waitress server; ``start()`` serves it in a daemon thread, ``stop()`` closes it."""

    def __init__(self, app: WSGIApplication, web: WebConfig) -> None:
        from waitress.server import create_server

        try:
            self._server: Any = create_server(
                app, host=web.host, port=web.port, threads=THREADS, ident="kamermonitor",
                connection_limit=50, channel_timeout=30, max_request_header_size=16 * 1024,
                max_request_body_size=1024, clear_untrusted_proxy_headers=True,
                # One address only, exactly as configured: no IPv6 twin of 127.0.0.1.
                ipv4=":" not in web.host, ipv6=":" in web.host,
            )  # fmt: skip
        except OSError as exc:
            raise WebError(f"web: cannot listen on {web.listen}: {exc.strerror or exc}") from exc
        except ValueError as exc:  # waitress: a host that does not resolve
            raise WebError(f"web: cannot listen on {web.listen}: {exc}") from exc
        self._thread: threading.Thread | None = None
        self._serving = False
        self.on_stop: Callable[[], None] | None = None
        host, port = self._server.effective_host, self._server.effective_port
        self.address = f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="web", daemon=True)
        self._serving = True
        self._thread.start()
        logger.info("web: serving on http://%s", self.address)

    def serve_forever(self) -> None:
        """Serve in the calling thread until :meth:`interrupt` (from a signal handler or another thread)."""
        logger.info("web: serving on http://%s", self.address)
        self._serving = True
        self._run()

    def _run(self) -> None:
        try:
            self._server.run()
        finally:
            self._serving = False

    def interrupt(self) -> None:
        """Close the listening socket and every connection, from the server's own loop: serving ends.

        The closing runs in the loop's thread (waitress's trigger), never under a ``select``
        that is waiting on those sockets.
        """
        from waitress import wasyncore

        sockets = self._server._map
        if self._serving:
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(sockets))
        else:
            wasyncore.close_all(sockets)

    def stop(self) -> None:
        """Close the socket and every connection; let requests in progress finish (up to 5 s)."""
        self.interrupt()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._server.task_dispatcher.shutdown(timeout=5)
        if self.on_stop is not None:
            self.on_stop()


def open_surface(
    settings: Settings,
    *,
    alive: Callable[[], bool],
    recorder: Recorder | None = None,
    stats: FetchStats | None = None,
) -> WebServer:
    """The bound server for ``[web]``, with its own read-only database engine; raise WebError."""
    from ..store.db import StoreUnavailable, open_reader
    from ..store.schema import SchemaTooNew
    from .app import WebApp

    web = settings.web
    token = read_secret(web.token_env) if web.token_env else None
    if web.token_env and not token:
        raise WebError(f"web.token_env: environment variable {web.token_env} (or {web.token_env}_FILE) is not set")
    try:
        engine = open_reader(settings.database, pool_size=THREADS)
    except (StoreUnavailable, SchemaTooNew) as exc:
        raise WebError(f"web: {exc}") from exc
    app = WebApp(settings, engine, alive=alive, recorder=recorder, stats=stats, token=token)
    try:
        server = WebServer(app, web)
    except WebError:
        engine.dispose()
        raise
    server.on_stop = engine.dispose
    return server
