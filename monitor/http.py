"""Polite, bounded HTTP GETs for the sources, and the one error type sources raise.

Every request goes through :class:`Fetcher`, so limits live in one place: explicit
connect/read timeouts, a cap on response size (counted after decompression, which also
cuts off gzip bombs and endless bodies), a pause between requests to the same host,
``Retry-After`` on 429/503, and a translation of every failure into one
:class:`SourceError` whose message names the source and the problem in one line.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

logger = logging.getLogger(__name__)

USER_AGENT = "kamermonitor/0.1 (+https://github.com/kamermonitor/kamermonitor)"


class SourceError(Exception):
    """A source could not be read; ``str()`` is the one-line operator message."""

    def __init__(self, source: str, problem: str, *, retry_after: float | None = None) -> None:
        super().__init__(f"{source}: {problem}")
        self.source = source
        self.problem = problem
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_bytes: int = 20 * 1024 * 1024
    pause_seconds: float = 0.2  # between two requests to the same host
    user_agent: str = USER_AGENT


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


def make_client(settings: HttpSettings) -> httpx.Client:
    """The single httpx client every source shares."""
    return httpx.Client(
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        headers={"User-Agent": settings.user_agent},
        follow_redirects=True,
        limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Fetcher:
    """Bounded GETs with per-host pacing, shared by all sources."""

    def __init__(self, client: httpx.Client, settings: HttpSettings | None = None) -> None:
        self.client = client
        self.settings = settings or HttpSettings()
        self.stats = FetchStats()
        self._last_request: dict[str, float] = {}
        self._lock = threading.Lock()

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
    ) -> FetchResult:
        """GET ``url``; return the body or raise :class:`SourceError`.

        ``stop_when`` is called on the bytes read so far; when it returns True the read
        stops early (used to probe the end of a feed without downloading whole pages).
        """
        limit = max_bytes or self.settings.max_bytes
        self._pace(url)
        with self._lock:  # polls read ahead in a thread, and enrichment runs on another
            self.stats.requests += 1
            self.stats.per_source[source] = self.stats.per_source.get(source, 0) + 1
        try:
            with self.client.stream("GET", url, params=params, headers={"Accept": accept}) as resp:
                self._check_status(source, resp)
                body, complete = self._read(source, resp, limit, stop_when)
                with self._lock:
                    self.stats.bytes_wire += resp.num_bytes_downloaded
                final = str(resp.url)
        except httpx.TimeoutException as exc:
            raise SourceError(source, f"timed out ({type(exc).__name__}) fetching {_short(url)}") from exc
        except httpx.TransportError as exc:
            raise SourceError(source, f"cannot reach {_short(url)}: {_reason(exc)}") from exc
        except httpx.HTTPError as exc:  # decoding errors, invalid URLs, too many redirects
            raise SourceError(source, f"HTTP error fetching {_short(url)}: {exc}") from exc
        with self._lock:
            self.stats.bytes_body += len(body)
            self.stats.bytes_per_source[source] = self.stats.bytes_per_source.get(source, 0) + len(body)
        # Officiële bekendmakingen answers a missing document with 200 + redirect to fout404.
        if "fout404" in final.lower():
            raise SourceError(source, f"not found (soft 404, redirected to {_short(final)})")
        if expect_xml and complete:
            _check_looks_like_xml(source, resp.headers.get("content-type", ""), body)
        return FetchResult(body, final, resp.status_code, complete)

    def _check_status(self, source: str, resp: httpx.Response) -> None:
        code = resp.status_code
        if code < 400:
            return
        if code in (429, 503):
            retry_after = parse_retry_after(resp.headers.get("retry-after"))
            hint = f", retry after {retry_after:.0f}s" if retry_after is not None else ""
            raise SourceError(source, f"HTTP {code} from {_short(str(resp.url))}{hint}", retry_after=retry_after)
        raise SourceError(source, f"HTTP {code} from {_short(str(resp.url))}")

    def _read(
        self,
        source: str,
        resp: httpx.Response,
        limit: int,
        stop_when: Callable[[bytes], bool] | None,
    ) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        size = 0
        for chunk in resp.iter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise SourceError(source, f"response larger than {limit} bytes from {_short(str(resp.url))}")
            if stop_when is not None and stop_when(b"".join(chunks)):
                return b"".join(chunks), False
        return b"".join(chunks), True


def _check_looks_like_xml(source: str, content_type: str, body: bytes) -> None:
    head = body.lstrip()[:512].lower()
    if not head:
        raise SourceError(source, "empty response body where XML was expected")
    if "html" in content_type.lower() or head.startswith((b"<!doctype html", b"<html")):
        raise SourceError(source, f"got HTML instead of XML (content-type {content_type or 'missing'})")


def _short(url: str, limit: int = 120) -> str:
    return url if len(url) <= limit else url[: limit - 1] + "…"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]
