"""Process counters for ``/metrics``: what happened in this process, recorded at a few hook points.

Two kinds of figures reach ``/metrics`` (``monitor/web/metrics.py`` puts them together):

- **State, read from the store when scraped**: letters on record, outbox rows per channel
  and state, alerts ever queued and sent, each source's last success and failures in a row.
  These are exact, survive restarts, cost one query each, and ``kamermonitor serve`` (which
  never polls) shows them too.
- **Events, counted here**: polls and their failures, deliveries retried or failed, the
  latencies of delivered alerts and of first sightings.  The store keeps no history of
  them (a failed row can be re-queued, a retry leaves one row), so they are counted as
  they happen and start again from zero when the process restarts — as Prometheus
  expects of a counter (``rate()`` and ``increase()`` handle the reset).  Requests and
  bytes per source come from the HTTP client's own counters (``FetchStats``).

This module depends on nothing: the hooks are a lock and a few additions, and the
Prometheus client is imported only by the web package, when ``[web]`` is on.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

# Seconds: a letter alerted within a minute of being seen, up to a day for a slow channel.
DELIVERY_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0)
# Seconds from the letter's date (its midnight, Amsterdam time) to the first sighting.
FIRST_SEEN_BUCKETS = tuple(h * 3600.0 for h in (1, 3, 6, 12, 24, 48, 72, 7 * 24, 14 * 24, 30 * 24, 90 * 24))


@dataclass(slots=True)
class Histogram:
    """Counts per bucket (not cumulative), their sum and count; ``buckets`` are upper bounds."""

    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)  # the last one is +Inf

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """(upper bound, observations at or below it) as Prometheus writes them, "+Inf" last."""
        out, running = [], 0
        for bound, n in zip((*(_bound(b) for b in self.buckets), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


def _bound(value: float) -> str:
    return repr(float(value))


@dataclass(frozen=True, slots=True)
class Snapshot:
    polls: dict[str, int]
    poll_failures: dict[str, int]
    retried: dict[str, int]
    failed: dict[str, int]
    delivery_latency: dict[str, Histogram]
    first_seen_lag: dict[str, Histogram]


class Recorder:
    """Event counters of one process; every method is thread-safe and cheap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._polls: dict[str, int] = {}
        self._poll_failures: dict[str, int] = {}
        self._retried: dict[str, int] = {}
        self._failed: dict[str, int] = {}
        self._delivery: dict[str, Histogram] = {}
        self._first_seen: dict[str, Histogram] = {}

    def poll(self, source: str, ok: bool) -> None:
        with self._lock:
            self._polls[source] = self._polls.get(source, 0) + 1
            if not ok:
                self._poll_failures[source] = self._poll_failures.get(source, 0) + 1

    def delivered(self, channel: str, latencies: Iterable[float]) -> None:
        """Alerts accepted by ``channel``: seconds from first sighting of each letter to now."""
        with self._lock:
            hist = self._delivery.setdefault(channel, Histogram(DELIVERY_BUCKETS))
            for seconds in latencies:
                hist.observe(max(seconds, 0.0))

    def retried(self, channel: str, n: int) -> None:
        with self._lock:
            self._retried[channel] = self._retried.get(channel, 0) + n

    def failed(self, channel: str, n: int) -> None:
        with self._lock:
            self._failed[channel] = self._failed.get(channel, 0) + n

    def first_seen(self, source: str, lags: Iterable[float]) -> None:
        """Letters that just matched a watch: seconds from their date to their first sighting."""
        with self._lock:
            hist = self._first_seen.setdefault(source, Histogram(FIRST_SEEN_BUCKETS))
            for seconds in lags:
                hist.observe(max(seconds, 0.0))

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                dict(self._polls), dict(self._poll_failures), dict(self._retried), dict(self._failed),
                {k: _copy(h) for k, h in self._delivery.items()}, {k: _copy(h) for k, h in self._first_seen.items()},
            )  # fmt: skip


def _copy(h: Histogram) -> Histogram:
    out = Histogram(h.buckets)
    out.counts, out.total, out.count = list(h.counts), h.total, h.count
    return out
