"""Polite, bounded HTTP GETs for the sources, and the one error type sources raise.

Every request goes through :class:`Fetcher`, so limits live in one place: explicit
connect/read timeouts and a total deadline for the whole request (:mod:`monitor.deadline`),
a cap on response size counted while decompressing (at most one content coding, inflated
in bounded steps, so a gzip bomb or a stack of codings never grows past the cap), a pause
between requests to the same host, ``Retry-After`` on 429/503 (clamped, :mod:`monitor.retry`),
redirects followed only within the configured base URL, and a translation of every failure
into one :class:`SourceError` whose message names the source and the problem in one line.
"""

from __future__ import annotations

import logging
import posixpath
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from . import deadline
from .retry import parse_retry_after
from .textcut import shorten

if TYPE_CHECKING:
    from .config import HttpConfig

logger = logging.getLogger(__name__)

USER_AGENT = "kamermonitor/0.1 (+https://github.com/kamermonitor/kamermonitor)"


class SourceError(Exception):
    """A source could not be read; ``str()`` is the one-line operator message."""

    def __init__(self, source: str, problem: str, *, retry_after: float | None = None, foreign: bool = False) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem
        self.retry_after = retry_after
        # A link or redirect off the configured base URL: tell the operator at once.
        self.foreign = foreign


MAX_REDIRECTS = 5


def within(url: str, base: str) -> bool:
    """True when ``url`` is under ``base``: same scheme, host and port, and inside its path."""
    try:
        u, b = urlsplit(url), urlsplit(base)
        same = (u.scheme.lower(), u.hostname, u.port) == (b.scheme.lower(), b.hostname, b.port)
    except ValueError:
        return False
    # "/Feed/2.0/../../other" and its percent-encoded spellings are not inside the prefix "/Feed/2.0".
    path = posixpath.normpath(unquote(u.path) or "/")
    prefix = posixpath.normpath(unquote(b.path) or "/").rstrip("/")
    return same and (path == prefix or path.startswith(prefix + "/") or not prefix)


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: the base for a URL that has no configured one."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 20 * 1024 * 1024
    pause_seconds: float = 0.2  # between two requests to the same host
    user_agent: str = USER_AGENT
    deadline_seconds: float = 120.0  # one request in all: connect, headers and body


@dataclass(slots=True)
class FetchStats:
    """Counters for benchmarks and ``status``: requests made and bytes received."""

    requests: int = 0
    bytes_wire: int = 0  # as sent by the server (compressed)
    bytes_body: int = 0  # after decompression
    per_source: dict[str, int] = field(default_factory=dict)
    bytes_per_source: dict[str, int] = field(default_factory=dict)  # body bytes, after decompression


@dataclass(frozen=True, slots=True)
class FetchResult:
    content: bytes
    url: str  # final URL after redirects
    status: int
    complete: bool = True  # False when ``stop_when`` ended the read early


def settings_from(cfg: HttpConfig) -> HttpSettings:
    """The ``[http]`` section as the Fetcher takes it."""
    return HttpSettings(
        connect_timeout=cfg.connect_timeout,
        read_timeout=cfg.read_timeout,
        max_bytes=int(cfg.max_response_mb * 1024 * 1024),
        pause_seconds=cfg.pause_seconds,
        deadline_seconds=cfg.deadline_seconds,
        **({"user_agent": cfg.user_agent} if cfg.user_agent else {}),
    )


def make_client(settings: HttpSettings) -> httpx.Client:
    """The single httpx client every source shares."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        # One coding at most, and only those inflated here in bounded steps (see _Inflater).
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,  # followed by Fetcher.get, within the configured base only
        transport=deadline.transport(limits=httpx.Limits(max_connections=4, max_keepalive_connections=2)),
    )


class _Inflater:
    """Undo at most one content coding, never producing more than the caller still accepts.

    httpx inflates a whole network chunk at once, and a stack of codings
    (``deflate, gzip``) multiplies: 1.8 KB became 2.1 GB in memory before the size cap was
    checked.  Here each step asks zlib for at most ``room + 1`` bytes, so the body never
    exceeds the cap by more than one byte.
    """

    def __init__(self, source: str, coding_header: str) -> None:
        codings = [c.strip().lower() for c in coding_header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise SourceError(source, f"refused a response with stacked content codings ({coding_header[:80]})")
        self.coding = codings[0] if codings else None
        self._source = source
        self._zlib: zlib._Decompress | None = None
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self.coding is not None:
            raise SourceError(source, f"unsupported content coding {self.coding[:40]!r}")
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate ``data``; raise :class:`_TooLarge` past ``room`` bytes of output."""
        if self._zlib is None:
            return data
        try:
            out = self._step(data, room)
        except zlib.error as exc:
            raise SourceError(self._source, f"corrupt {self.coding} response body: {exc}") from None
        return out

    def _step(self, data: bytes, room: int) -> bytes:
        assert self._zlib is not None
        if self._first and self.coding == "deflate":
            self._first = False
            try:  # "deflate" is meant to be zlib-wrapped, but some servers send it raw
                return self._bounded(data, room)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._bounded(data, room)

    def _bounded(self, data: bytes, room: int) -> bytes:
        assert self._zlib is not None
        parts: list[bytes] = []
        size = 0
        while True:
            piece = self._zlib.decompress(data, room - size + 1)
            parts.append(piece)
            size += len(piece)
            if size > room:
                raise _TooLarge
            data = self._zlib.unconsumed_tail
            if not data:
                return b"".join(parts)


class _TooLarge(Exception):
    pass


class Fetcher:
    """Bounded GETs with per-host pacing, shared by all sources."""

    def __init__(self, client: httpx.Client, settings: HttpSettings | None = None) -> None:
        self.client = client
        self.settings = settings or HttpSettings()
        self.stats = FetchStats()
        self._last_request: dict[str, float] = {}
        self._lock = threading.Lock()
        # Set when the process is stopping: requests in flight end within a second.
        self.stop = threading.Event()

    def _pace(self, url: str) -> None:
        host = urlsplit(url).netloc
        with self._lock:
            last = self._last_request.get(host)
            now = time.monotonic()
            wait = 0.0 if last is None else max(0.0, self.settings.pause_seconds - (now - last))
            # Reserve this host's next slot before sleeping, so other hosts are not held up.
            self._last_request[host] = now + wait
        if wait > 0:
            time.sleep(wait)

    def get(
        self,
        source: str,
        url: str,
        params: Mapping[str, str | int] | None = None,
        *,
        accept: str = "application/xml",
        expect_xml: bool = True,
        max_bytes: int | None = None,
        stop_when: Callable[[bytes], bool] | None = None,
        base: str | None = None,
    ) -> FetchResult:
        """GET ``url``; return the body or raise :class:`SourceError`.

        ``stop_when`` is called on the bytes read so far; when it returns True the read
        stops early (used to probe the end of a feed without downloading whole pages).
        Redirects are followed only to URLs under ``base`` (default: the same scheme, host
        and port as ``url``); anything else is a SourceError marked ``foreign``.
        """
        limit = max_bytes or self.settings.max_bytes
        allowed = base or origin(url)
        if self.stop.is_set():
            raise SourceError(source, "not fetched: the monitor is stopping")
        with deadline.deadline(self.settings.deadline_seconds, self.stop):
            for _ in range(MAX_REDIRECTS + 1):
                self._pace(url)
                with self._lock:  # polls read ahead in a thread, and enrichment runs on another
                    self.stats.requests += 1
                    self.stats.per_source[source] = self.stats.per_source.get(source, 0) + 1
                next_url, result = self._once(source, url, params, accept, limit, stop_when, allowed)
                if result is not None:
                    break
                url, params = next_url, None
            else:
                raise SourceError(source, f"more than {MAX_REDIRECTS} redirects from {shorten(url)}")
        body, final, status, complete, content_type = result
        with self._lock:
            self.stats.bytes_body += len(body)
            self.stats.bytes_per_source[source] = self.stats.bytes_per_source.get(source, 0) + len(body)
        # Officiële bekendmakingen answers a missing document with 200 + redirect to fout404.
        if "fout404" in final.lower():
            raise SourceError(source, f"not found (soft 404, redirected to {shorten(final)})")
        if expect_xml and complete:
            _check_looks_like_xml(source, content_type, body)
        return FetchResult(body, final, status, complete)

    def _once(
        self,
        source: str,
        url: str,
        params: Mapping[str, str | int] | None,
        accept: str,
        limit: int,
        stop_when: Callable[[bytes], bool] | None,
        allowed: str,
    ) -> tuple[str, tuple[bytes, str, int, bool, str] | None]:
        """One request: (redirect target, None) or ("", (body, final url, status, complete, type))."""
        try:
            with self.client.stream("GET", url, params=params, headers={"Accept": accept}) as resp:
                location = resp.headers.get("location") if resp.is_redirect else None
                if location is not None:
                    target = urljoin(str(resp.url), location.strip())
                    if not within(target, allowed) and "fout404" not in target.lower():
                        raise SourceError(
                            source,
                            f"refused a redirect from {shorten(str(resp.url))} to {shorten(target)}: "
                            f"outside {shorten(allowed)}",
                            foreign=True,
                        )
                    return target, None
                self._check_status(source, resp)
                body, complete = self._read(source, resp, limit, stop_when)
                with self._lock:
                    self.stats.bytes_wire += resp.num_bytes_downloaded
                return "", (body, str(resp.url), resp.status_code, complete, resp.headers.get("content-type", ""))
        except httpx.TimeoutException as exc:
            if self.stop.is_set():
                raise SourceError(source, f"abandoned {shorten(url)}: the monitor is stopping") from exc
            if str(exc) == deadline.EXPIRED:
                what = f"after the {self.settings.deadline_seconds:g} s deadline for the whole request"
                raise SourceError(source, f"timed out ({what}) fetching {shorten(url)}") from exc
            raise SourceError(source, f"timed out ({type(exc).__name__}) fetching {shorten(url)}") from exc
        except httpx.TransportError as exc:
            if self.stop.is_set():
                raise SourceError(source, f"abandoned {shorten(url)}: the monitor is stopping") from exc
            raise SourceError(source, f"cannot reach {shorten(url)}: {_reason(exc)}") from exc
        except httpx.HTTPError as exc:  # invalid URLs and the like
            raise SourceError(source, f"HTTP error fetching {shorten(url)}: {exc}") from exc

    def _check_status(self, source: str, resp: httpx.Response) -> None:
        code = resp.status_code
        if code < 400:
            return
        if code in (429, 503):
            retry_after = parse_retry_after(resp.headers.get("retry-after"), who=source)
            hint = f", retry after {retry_after:.0f}s" if retry_after is not None else ""
            raise SourceError(source, f"HTTP {code} from {shorten(str(resp.url))}{hint}", retry_after=retry_after)
        raise SourceError(source, f"HTTP {code} from {shorten(str(resp.url))}")

    def _read(
        self,
        source: str,
        resp: httpx.Response,
        limit: int,
        stop_when: Callable[[bytes], bool] | None,
    ) -> tuple[bytes, bool]:
        inflater = _Inflater(source, resp.headers.get("content-encoding", ""))
        chunks: list[bytes] = []
        size = 0
        too_large = SourceError(source, f"response larger than {limit} bytes from {shorten(str(resp.url))}")
        # A response built in memory (httpx.MockTransport in tests) has no stream left to read.
        pieces = [resp.content] if resp.is_stream_consumed else resp.iter_raw()
        for raw in pieces:
            try:
                chunk = inflater.feed(raw, limit - size)
            except _TooLarge:
                raise too_large from None
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise too_large
            if stop_when is not None and stop_when(b"".join(chunks)):
                return b"".join(chunks), False
        return b"".join(chunks), True


def _check_looks_like_xml(source: str, content_type: str, body: bytes) -> None:
    head = body.lstrip()[:512].lower()
    if not head:
        raise SourceError(source, "empty response body where XML was expected")
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        raise SourceError(source, f"got HTML instead of XML (content-type {content_type or 'missing'})")


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
