"""The WSGI application: six read-only routes, methods, the optional token, conditional GET.

- ``GET /healthz``: 200 while the service runs (its scheduler, in ``run``), else 503.
- ``GET /readyz``: 200 or 503 with a JSON body naming what is wrong (``health.py``).
- ``GET /metrics``: Prometheus text format (``metrics.py``).
- ``GET /``, ``GET /watch/<naam>``: the status page and a watch's page (``pages.py``).
- ``GET /feeds/<naam>.atom``: the watch's Atom feed (``feeds.py``), with ETag/Last-Modified → 304.

Bad input: a method other than GET or HEAD is 405 (on every path); with ``[web]
token_env`` set, the pages and feeds need the token (``Authorization: Bearer …`` or
``?token=…``) and answer 401 before looking at the path, so a visitor without it
learns nothing about which watches exist; an unknown watch is 404.  Health, readiness
and metrics stay open for orchestrators and Prometheus (they name no watches).  An
error inside a handler is logged and answered with a bare 500: nothing of it is shown.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..config import Settings
from ..http import FetchStats
from ..metrics import Recorder
from . import feeds
from .health import readiness
from .pages import Pages, Redactor

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)

HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
ATOM = "application/atom+xml; charset=utf-8"
# No scripts, nothing from elsewhere, no framing; the page's own <style> only.
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_REASONS = {200: "OK", 304: "Not Modified", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            500: "Internal Server Error", 503: "Service Unavailable"}  # fmt: skip
_HOST = re.compile(r"(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?")
_FEED = re.compile(r"/feeds/(?P<name>[^/]{1,300})\.atom")
_WATCH = re.compile(r"/watch/(?P<name>[^/]{1,300})")


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: dict[str, str] = field(default_factory=dict)


def _text(status: int, text: str) -> Response:
    return Response(status, (text + "\n").encode())


class WebApp:
    """``alive`` says whether the service runs; ``recorder``/``stats`` are this process's events (``run`` only)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        alive: Callable[[], bool],
        recorder: Recorder | None = None,
        stats: FetchStats | None = None,
        token: str | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.alive = alive
        self.recorder = recorder
        self.stats = stats
        self.token = token or None
        self.now = now
        self.pages = Pages(settings, Redactor.for_settings(settings, [token] if token else []))
        self.watches = {w.name: w for w in settings.watches}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            resp = self._handle(method, environ)
        except SQLAlchemyError as exc:
            logger.warning("web: database error answering %s: %s", _path(environ), type(exc).__name__)
            resp = _text(503, "database niet bereikbaar")
        except Exception:
            logger.exception("web: error answering %s", _path(environ))
            resp = _text(500, "interne fout")
        headers = {"Content-Type": resp.content_type, "X-Content-Type-Options": "nosniff", **resp.headers}
        if resp.status != 304:
            headers["Content-Length"] = str(len(resp.body))
        start_response(f"{resp.status} {_REASONS.get(resp.status, '')}", list(headers.items()))
        return [] if method == "HEAD" or resp.status == 304 else [resp.body]

    def _handle(self, method: str, environ: WSGIEnvironment) -> Response:
        if method not in ("GET", "HEAD"):
            return Response(405, b"alleen GET en HEAD\n", headers={"Allow": "GET, HEAD"})
        path = _path(environ)
        if path == "/healthz":
            return _text(200, "ok") if self.alive() else _text(503, "gestopt")
        if path == "/readyz":
            return self._ready()
        if path == "/metrics":
            return self._metrics()
        if path != "/" and not _FEED.fullmatch(path) and not _WATCH.fullmatch(path):
            return _text(404, "niet gevonden")
        query = parse_qs(environ.get("QUERY_STRING", ""), max_num_fields=20)
        if not self._authorized(environ, query):
            return Response(
                401,
                b"token vereist\n",
                headers={"WWW-Authenticate": 'Bearer realm="kamermonitor"', "Cache-Control": "no-store"},
            )
        link = self._linker(query)
        if path == "/":
            with self.engine.begin() as conn:
                return _page(self.pages.status(conn, self.now(), link))
        if m := _WATCH.fullmatch(path):
            watch = self.watches.get(m["name"])  # waitress has decoded the path
            if watch is None:
                return _text(404, "onbekende watch")
            with self.engine.begin() as conn:
                return _page(self.pages.watch(conn, self.now(), watch, link))
        m = _FEED.fullmatch(path)
        assert m is not None
        watch = self.watches.get(m["name"])  # waitress has decoded the path
        if watch is None:
            return _text(404, "onbekende watch")
        return self._feed(environ, watch)

    def _authorized(self, environ: WSGIEnvironment, query: dict[str, list[str]]) -> bool:
        if self.token is None:
            return True
        given = ""
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        elif query.get("token"):
            given = query["token"][0]
        return hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode("utf-8"))

    def _linker(self, query: dict[str, list[str]]) -> Callable[[str], str]:
        """Links on a page keep the visitor's ``?token=`` (their own, already in their address bar)."""
        if self.token is None or not query.get("token"):
            return lambda path: path
        suffix = "?token=" + quote(query["token"][0], safe="")
        return lambda path: path + suffix

    def _ready(self) -> Response:
        try:
            with self.engine.begin() as conn:
                problems = [p.as_json() for p in readiness(self.settings, conn, self.now())]
        except SQLAlchemyError as exc:
            problems = [{"kind": "database", "name": "store", "detail": f"cannot read: {type(exc).__name__}"}]
        body = json.dumps({"ready": not problems, "problems": problems}, ensure_ascii=False).encode()
        return Response(503 if problems else 200, body + b"\n", JSON, {"Cache-Control": "no-store"})

    def _metrics(self) -> Response:
        from .metrics import CONTENT_TYPE, exposition

        with self.engine.begin() as conn:
            body = exposition(self.settings, conn, self.recorder, self.stats)
        return Response(200, body, CONTENT_TYPE, {"Cache-Control": "no-store"})

    def _feed(self, environ: WSGIEnvironment, watch: Any) -> Response:
        root = self._root(environ)
        with self.engine.begin() as conn:
            feed = feeds.load(conn, watch, root)
        last_modified = feed.updated.replace(microsecond=0)
        headers = {
            "ETag": feed.etag, "Last-Modified": format_datetime(last_modified.astimezone(UTC), usegmt=True),
            "Cache-Control": "no-cache", "Vary": "Authorization",
        }  # fmt: skip
        if _not_modified(environ, feed.etag, last_modified):
            return Response(304, b"", ATOM, headers)
        return Response(200, feeds.render(feed, root), ATOM, headers)

    def _root(self, environ: WSGIEnvironment) -> str:
        """``scheme://host[:port]`` for absolute links: ``base_url``, else the Host asked for, if it is one."""
        if self.settings.web.base_url:
            return self.settings.web.base_url.rstrip("/")
        scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
        host = environ.get("HTTP_HOST", "")
        if not _HOST.fullmatch(host):
            host = self.settings.web.listen
        return f"{scheme}://{host}"


def _page(html: str) -> Response:
    headers = {"Content-Security-Policy": CSP, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
               "X-Frame-Options": "DENY"}  # fmt: skip
    return Response(200, html.encode("utf-8"), HTML, headers)


def _path(environ: WSGIEnvironment) -> str:
    """PATH_INFO as the client sent it: WSGI hands it over as latin-1 decoded bytes."""
    raw = environ.get("PATH_INFO", "") or "/"
    try:
        return str(raw.encode("latin-1").decode("utf-8"))
    except (UnicodeEncodeError, UnicodeDecodeError):
        return str(raw)


def _not_modified(environ: WSGIEnvironment, etag: str, last_modified: datetime) -> bool:
    match = environ.get("HTTP_IF_NONE_MATCH")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return "*" in tags or etag in tags
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return last_modified <= when
    return False
