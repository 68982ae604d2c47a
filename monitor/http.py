"""Polite, bounded HTTP GETs for the sources, and the one error type sources raise.

Every request goes through :class:`Fetcher`, so limits live in one place: explicit
connect/read timeouts and a total deadline for the whole request (:mod:`monitor.deadline`),
a cap on response size counted while decompressing (at most one content coding, inflated
in bounded steps, so a gzip bomb or a stack of codings never grows past the cap), a pause
between requests to the same host after a short burst (:mod:`monitor.pacing`),
``Retry-After`` on 429/503 (clamped, :mod:`monitor.retry`), redirects followed only within
the configured base URL, and a translation of every failure into one :class:`SourceError`
whose message names the source and the problem in one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx

from . import deadline
from .conditional import Validator, Validators
from .config import HttpConfig
from .inflate import CodingError, Inflater, TooLarge
from .pacing import Pacer
from .retry import parse_retry_after
from .textcut import shorten
from .urls import origin
from .urls import within as within  # re-exported: the sources check their links with it

logger = logging.getLogger(__name__)


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


@dataclass(slots=True)
class FetchStats:
    """Counters for benchmarks and ``status``: requests made and bytes received."""

    requests: int = 0
    bytes_wire: int = 0  # as sent by the server (compressed)
    bytes_body: int = 0  # after decompression
    per_source: dict[str, int] = field(default_factory=dict)
    bytes_per_source: dict[str, int] = field(default_factory=dict)  # body bytes, after decompression
    # Request line and headers sent, status line and headers received (as HTTP/1.1 puts them on the wire).
    bytes_head: int = 0
    not_modified: int = 0  # conditional requests answered 304
    not_modified_per_source: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FetchResult:
    content: bytes
    url: str  # final URL after redirects
    status: int
    complete: bool = True  # False when ``stop_when`` ended the read early
    validator: Validator | None = None  # of a conditional request's 200: see Fetcher.remember

    @property
    def not_modified(self) -> bool:
        """304: the same as the response remembered for this URL; there is no body."""
        return self.status == 304


def make_client(settings: HttpConfig) -> httpx.Client:
    """The single httpx client every source shares."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        # One coding at most, and only those inflated here in bounded steps (see monitor.inflate).
        headers={"User-Agent": settings.user_agent, "Accept-Encoding": "gzip, deflate"},
        follow_redirects=False,  # followed by Fetcher.get, within the configured base only
        transport=deadline.transport(limits=httpx.Limits(max_connections=4, max_keepalive_connections=2)),
    )


def _head_bytes(resp: httpx.Response) -> int:
    """Bytes of the request line, request headers, status line and response headers."""
    req = resp.request
    target = req.url.raw_path
    sent = len(req.method) + len(target) + len(b"  HTTP/1.1\r\n") + 2
    sent += sum(len(k) + len(v) + 4 for k, v in req.headers.raw)
    got = len(f"HTTP/1.1 {resp.status_code} {resp.reason_phrase}\r\n") + 2
    got += sum(len(k) + len(v) + 4 for k, v in resp.headers.raw)
    return sent + got


class Fetcher:
    """Bounded GETs with per-host pacing, shared by all sources."""

    def __init__(self, client: httpx.Client, settings: HttpConfig, stop: threading.Event | None = None) -> None:
        self.client = client
        self.settings = settings
        self.stats = FetchStats()
        self._pacer = Pacer()
        self._lock = threading.Lock()
        # Set when the process is stopping: requests in flight end within a second.  ``run``
        # passes the flag its start-up signal handler may already have set.
        self.stop = stop if stop is not None else threading.Event()
        self.validators = Validators()

    def remember(self, result: FetchResult) -> None:
        """Ask for this URL conditionally from now on: its response has been dealt with in full.

        A later 304 then means "the same as this", so a caller remembers only a response
        whose content it has recorded (or that held nothing to record): a 304 must never
        stand for a page that was fetched but not stored.
        """
        if result.validator is not None:
            self.validators.remember(result.validator)

    def _pace(self, url: str) -> None:
        # The slot is reserved before sleeping, so other hosts are not held up.
        wait = self._pacer.reserve(urlsplit(url).netloc, self.settings.pause_seconds, self.settings.burst)
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
        conditional: bool = False,
    ) -> FetchResult:
        """GET ``url``; return the body or raise :class:`SourceError`.

        ``stop_when`` is called on the bytes read so far; when it returns True the read
        stops early (used to probe the end of a feed without downloading whole pages).
        Redirects are followed only to URLs under ``base`` (default: the same scheme, host
        and port as ``url``); anything else is a SourceError marked ``foreign``.

        ``conditional``: send ``If-None-Match`` / ``If-Modified-Since`` when this URL's
        response was :meth:`remember`-ed, and return a 200's validators with it.  A 304 is
        returned as a result whose ``not_modified`` is True and whose content is empty;
        the caller must treat it as "the same as remembered", never parse it.
        """
        limit = max_bytes or self.settings.max_bytes
        allowed = base or origin(url)
        if self.stop.is_set():
            raise SourceError(source, "not fetched: the monitor is stopping")
        key = str(httpx.URL(url, params=params)) if conditional else ""
        extra = self.validators.headers(key) if conditional else {}
        with deadline.deadline(self.settings.deadline_seconds, self.stop):
            for _ in range(MAX_REDIRECTS + 1):
                self._pace(url)
                with self._lock:  # polls read ahead in a thread, and enrichment runs on another
                    self.stats.requests += 1
                    self.stats.per_source[source] = self.stats.per_source.get(source, 0) + 1
                next_url, result = self._once(source, url, params, accept, limit, stop_when, allowed, extra)
                if result is not None:
                    break
                # A redirect target is another URL: the validators were for the first one.
                url, params, extra = next_url, None, {}
            else:
                raise SourceError(source, f"more than {MAX_REDIRECTS} redirects from {shorten(url)}")
        body, final, status, complete, content_type, validator = result
        if status == 304:
            if not extra:  # nothing was asked conditionally: a 304 here is not an answer
                raise SourceError(source, f"HTTP 304 to an unconditional request for {shorten(final)}")
            with self._lock:
                self.stats.not_modified += 1
                self.stats.not_modified_per_source[source] = self.stats.not_modified_per_source.get(source, 0) + 1
            return FetchResult(b"", final, status, True)
        if conditional:
            validator = Validator(key, validator.etag, validator.last_modified) if validator else None
        with self._lock:
            self.stats.bytes_body += len(body)
            self.stats.bytes_per_source[source] = self.stats.bytes_per_source.get(source, 0) + len(body)
        # Officiële bekendmakingen answers a missing document with 200 + redirect to fout404.
        if "fout404" in final.lower():
            raise SourceError(source, f"not found (soft 404, redirected to {shorten(final)})")
        if expect_xml and complete:
            _check_looks_like_xml(source, content_type, body)
        return FetchResult(body, final, status, complete, validator if conditional else None)

    def _once(
        self,
        source: str,
        url: str,
        params: Mapping[str, str | int] | None,
        accept: str,
        limit: int,
        stop_when: Callable[[bytes], bool] | None,
        allowed: str,
        extra: Mapping[str, str],
    ) -> tuple[str, tuple[bytes, str, int, bool, str, Validator | None] | None]:
        """One request: (redirect target, None) or ("", (body, final url, status, complete, type, validator))."""
        try:
            with self.client.stream("GET", url, params=params, headers={"Accept": accept, **extra}) as resp:
                with self._lock:
                    self.stats.bytes_head += _head_bytes(resp)
                if resp.status_code == 304 and extra:
                    return "", (b"", str(resp.url), 304, True, "", None)
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
                validator = Validator.of("", resp.headers.get("etag"), resp.headers.get("last-modified"))
                ctype = resp.headers.get("content-type", "")
                return "", (body, str(resp.url), resp.status_code, complete, ctype, validator)
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
        try:
            return self._inflate(source, resp, limit, stop_when)
        except CodingError as exc:
            raise SourceError(source, str(exc)) from None

    def _inflate(
        self,
        source: str,
        resp: httpx.Response,
        limit: int,
        stop_when: Callable[[bytes], bool] | None,
    ) -> tuple[bytes, bool]:
        inflater = Inflater(resp.headers.get("content-encoding", ""))
        chunks: list[bytes] = []
        size = 0
        too_large = SourceError(source, f"response larger than {limit} bytes from {shorten(str(resp.url))}")
        # A response built in memory (httpx.MockTransport in tests) has no stream left to read.
        pieces = [resp.content] if resp.is_stream_consumed else resp.iter_raw()
        for raw in pieces:
            try:
                chunk = inflater.feed(raw, limit - size)
            except TooLarge:
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
