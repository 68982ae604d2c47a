"""Reading the Tweede Kamer SyncFeed over HTTP: pages by skiptoken, single entities, the feed's end.

The wire format itself (pages, entries, links) is :mod:`.feed`'s; this module only asks the
service, through the shared :class:`~monitor.http.Fetcher`, and never trusts a link that
leaves the configured base URL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from typing import Final
from urllib.parse import quote, urljoin

from ...http import Fetcher, SourceError
from ...xmlsafe import children
from .feed import Links, feed_root, parse_entity, parse_feed
from .models import FeedPage, TkEntity

logger = logging.getLogger(__name__)

# A probe only needs the feed header and the start of the first entry; a few KB in practice.
# The cap must still exceed one decoded network chunk (64 KB of gzip can inflate ~20x).
PROBE_MAX_BYTES: Final = 2 * 1024 * 1024
# First step of the upward search: real tokens are in the tens of millions, so starting at
# 2**20 keeps both phases short (about 5 upward probes and 24 bisection probes for 30M).
_FIRST_STEP: Final = 1 << 20
# A caller's hint is usually close (a stored cursor, a known recent token): start small.
_HINT_STEP: Final = 64
# Upward steps before giving up: 40 doublings of 2**20 pass 2**60, far beyond any real token.
_MAX_GALLOP_PROBES: Final = 40

_ENTRY_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?entry[\s>/]")
_FEED_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?feed\s*>")
_FIRST_TAG = re.compile(rb"<([A-Za-z_][\w.:-]*)")


class SyncFeedClient:
    """Reads SyncFeed pages, entities and the feed's end through a shared :class:`Fetcher`."""

    def __init__(self, fetcher: Fetcher, base_url: str, source: str = "syncfeed") -> None:
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")
        self.source = source
        self._on_probe: Callable[[int], None] | None = None

    def _feed_params(self, category: str, skiptoken: int | None) -> dict[str, str | int]:
        params: dict[str, str | int] = {"category": category}
        if skiptoken is not None:
            params["skiptoken"] = skiptoken
        return params

    def fetch_page(self, category: str, skiptoken: int | None) -> FeedPage:
        """One page of ``category`` (URL spelling: ``Document``) with entries after ``skiptoken``."""
        result = self.fetcher.get(
            self.source, f"{self.base_url}/Feed", self._feed_params(category, skiptoken), base=self.base_url
        )
        return parse_feed(result.content, self.source, base=self.base_url)

    def pages(self, category: str, skiptoken: int, max_pages: int) -> Iterator[tuple[FeedPage, int]]:
        """Pages after ``skiptoken``, each with the token that follows it, until caught up.

        Caught up means a page with no entries, without a feed-level next link, or whose
        token does not move (both ways of ending have been seen).  At most
        ``max_pages`` are read; the rest is for the next poll.  The caught-up (empty) page
        is asked again conditionally next time: a 304 is "still caught up", an empty page.
        """
        for _ in range(max_pages):
            result = self.fetcher.get(
                self.source, f"{self.base_url}/Feed", self._feed_params(category, skiptoken), base=self.base_url,
                conditional=True,
            )  # fmt: skip
            if result.not_modified:
                # The same caught-up page as last time (remembered below): nothing new.
                yield FeedPage((), None), skiptoken
                return
            page = parse_feed(result.content, self.source, base=self.base_url)
            next_token = page.next_skiptoken if page.next_skiptoken is not None else skiptoken
            yield page, next_token
            if not page.entities or page.next_url is None or next_token == skiptoken:
                if not page.entities:
                    # Only an empty page: a 304 then stands for a page with nothing to record.
                    self.fetcher.remember(result)
                return
            skiptoken = next_token
        logger.info("syncfeed: %s page limit reached; the rest follows next poll", category)

    def fetch_url(self, url: str) -> FeedPage:
        """Follow a ``next`` link from a previous page.

        The link must point at the configured host: a feed is untrusted input and must not
        steer the monitor to other servers.  Relative links are resolved against the base.
        """
        absolute = urljoin(self.base_url + "/", url)
        Links(self.base_url, self.source).check(absolute)
        result = self.fetcher.get(self.source, absolute, base=self.base_url)
        return parse_feed(result.content, self.source, base=self.base_url)

    def fetch_entity(self, guid: str) -> TkEntity | None:
        """The latest state of one entity, or None when the service answers 404.

        Entities have been seen to vanish (404) instead of being marked deleted
        (OpenDataPortaal#128), so "not found" is an answer, not an outage; every other
        failure still raises :class:`SourceError`.
        """
        url = f"{self.base_url}/Entiteiten/{quote(guid.strip(), safe='')}"
        try:
            result = self.fetcher.get(self.source, url, base=self.base_url)
        except SourceError as exc:
            # SourceError carries no status code; http.py words every 4xx as "HTTP <code> from".
            if exc.problem.startswith("HTTP 404 "):
                return None
            raise
        return parse_entity(result.content, self.source)

    def find_feed_end(
        self, category: str, low: int = 0, high_hint: int | None = None, on_probe: Callable[[int], None] | None = None
    ) -> int:
        """A skiptoken T at the current end of ``category``, found without reading its history.

        ``fetch_page(category, T)`` then returns only entries added after the search.

        Method: probe(X) asks whether ``Feed?category=C&skiptoken=X`` has any entry, reading
        only until the first ``<entry`` or the feed's end (a few KB, capped at
        :data:`PROBE_MAX_BYTES`).  probe is monotone in X: true below the last token, false
        from it on, whatever holes pruning left.  So:

        1. If probe(low) is false, return ``low``.
        2. Bracket the end with a galloping search that doubles its step: upward from
           ``low + 2**20`` without a hint; from ``high_hint`` with a small first step
           (upward or downward), so a close hint costs a handful of probes.
        3. Bisect between the last true X and the first false X until they are adjacent.

        The result is the smallest X with an empty answer, which is the last existing
        token.  For tokens around 30,000,000 and no hint this is about 31 requests.
        ``on_probe(skiptoken)`` is called after each probe, for progress reports.

        Entries appended *during* the search (it takes seconds) may land at or below T and so
        be skipped; that is the price of not replaying history on a first start.
        """
        self._on_probe = on_probe
        try:
            return self._search_end(category, low, high_hint)
        finally:
            self._on_probe = None

    def _search_end(self, category: str, low: int, high_hint: int | None) -> int:
        if not self._probe(category, low):
            return low
        if high_hint is not None and high_hint > low:
            start, step = high_hint, _HINT_STEP
        else:
            start, step = low + _FIRST_STEP, _FIRST_STEP
        if self._probe(category, start):
            lo, hi = self._gallop_up(category, start, step)
        else:
            lo, hi = self._gallop_down(category, low, start, step)
        # invariant: probe(lo) is true, probe(hi) is false; bisect to adjacent integers.
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._probe(category, mid):
                lo = mid
            else:
                hi = mid
        return hi

    def _gallop_up(self, category: str, lo: int, step: int) -> tuple[int, int]:
        """From a true ``lo``, double the step until a probe is false: (last true, first false)."""
        for _ in range(_MAX_GALLOP_PROBES):
            if not self._probe(category, lo + step):
                return lo, lo + step
            lo, step = lo + step, step * 2
        # Tokens would exceed 2**60 by now: the server is not honouring skiptoken.
        raise SourceError(self.source, f"{category} feed never ends (skiptoken {lo} still has entries)")

    def _gallop_down(self, category: str, low: int, hi: int, step: int) -> tuple[int, int]:
        """From a false ``hi`` above a true ``low``, step down until a probe is true."""
        while hi - step > low:
            if self._probe(category, hi - step):
                return hi - step, hi
            hi, step = hi - step, step * 2
        return low, hi

    def _probe(self, category: str, skiptoken: int) -> bool:
        """Whether the feed has any entry after ``skiptoken``, reading as little as possible."""

        def seen_enough(buf: bytes) -> bool:
            return _ENTRY_START.search(buf) is not None or _FEED_END.search(buf) is not None

        result = self.fetcher.get(
            self.source,
            f"{self.base_url}/Feed",
            self._feed_params(category, skiptoken),
            max_bytes=PROBE_MAX_BYTES,
            stop_when=seen_enough,
            base=self.base_url,
        )
        if self._on_probe is not None:
            self._on_probe(skiptoken)
        body = result.content
        if _ENTRY_START.search(body):
            # Cut short on purpose, so it cannot be parsed; check at least that it is a feed.
            first = _FIRST_TAG.search(body)
            name = first.group(1).decode("ascii", "replace").rsplit(":", 1)[-1] if first else ""
            if name != "feed":
                raise SourceError(self.source, f"expected an Atom <feed>, got <{name or '?'}>")
            return True
        # No entry before the feed's end: the whole (small) document is here, so parse it all.
        return next(children(feed_root(body, self.source), "entry"), None) is not None
