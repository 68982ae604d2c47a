"""``/metrics``: the Prometheus exposition, written by the official client library.

State comes from the store at scrape time (exact, survives restarts, shown by ``serve``
too); events come from this process's :class:`~monitor.metrics.Recorder` and the HTTP
client's counters, and are absent in ``serve``, which neither polls nor delivers (see
``monitor/metrics.py`` for the split).  Labels are bounded: ``source`` is one of the
configured sources (or the enrichment fetches), ``channel`` one of the configured channels
or a channel still named by old outbox rows, ``state`` one of four.  No watch names.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Connection

from ..config import Settings
from ..http import FetchStats
from ..metrics import DELIVERY_BUCKETS, FIRST_SEEN_BUCKETS, Histogram, Recorder
from ..store import letters as letter_store
from ..store import ops
from ..store import outbox as outbox_store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEPTH_STATES = ("pending", "retrying", "sending", "failed")

Family = CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily


class _Families(Collector):
    def __init__(self, families: list[Family]) -> None:
        self._families = families

    def collect(self) -> Iterator[Family]:
        return iter(self._families)


def exposition(
    settings: Settings, conn: Connection, recorder: Recorder | None = None, stats: FetchStats | None = None
) -> bytes:
    """Every family, as the text format 0.0.4."""
    families = _store_families(settings, conn)
    if recorder is not None:
        families += _event_families(settings, recorder, stats)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)


def _store_families(settings: Settings, conn: Connection) -> list[Family]:
    sources = settings.enabled_sources()
    channels = [c.name for c in settings.channels]
    letters = GaugeMetricFamily("kamermonitor_letters_recorded", "Letters on record (merged duplicates not counted).")
    letters.add_metric([], letter_store.count_letters(conn))
    last = GaugeMetricFamily(
        "kamermonitor_source_last_success_timestamp_seconds",
        "Unix time of the source's last successful poll (absent: never).", labels=["source"],
    )  # fmt: skip
    failing = GaugeMetricFamily(
        "kamermonitor_source_consecutive_failures", "Failed polls in a row (0 after a success).", labels=["source"]
    )
    health = {h.source: h for h in ops.all_health(conn)}
    for source in sources:
        h = health.get(source)
        if h is not None and h.last_success is not None:
            last.add_metric([source], h.last_success.timestamp())
        failing.add_metric([source], h.consecutive_failures if h is not None else 0)
    counts = outbox_store.counts(conn)
    queued = CounterMetricFamily(
        "kamermonitor_alerts_queued_total", "Messages ever queued in the outbox (alerts, follow-ups, warnings).",
        labels=["channel"],
    )  # fmt: skip
    sent = CounterMetricFamily("kamermonitor_alerts_sent_total", "Outbox messages delivered.", labels=["channel"])
    depth = GaugeMetricFamily(
        "kamermonitor_outbox_depth", "Outbox messages not delivered, by state.", labels=["channel", "state"]
    )
    for channel in dict.fromkeys([*channels, *sorted(counts)]):
        c = counts.get(channel, {})
        queued.add_metric([channel], sum(c.values()))
        sent.add_metric([channel], c.get("sent", 0))
        for state in DEPTH_STATES:
            depth.add_metric([channel, state], c.get(state, 0))
    return [letters, last, failing, queued, sent, depth]


def _event_families(settings: Settings, recorder: Recorder, stats: FetchStats | None) -> list[Family]:
    snap = recorder.snapshot()
    sources = settings.enabled_sources()
    channels = [c.name for c in settings.channels]
    out: list[Family] = [
        _counter("kamermonitor_polls_total", "Polls of the source by this process.", "source", sources, snap.polls),
        _counter(
            "kamermonitor_poll_failures_total",
            "Polls of the source that failed, by this process.",
            "source",
            sources,
            snap.poll_failures,
        ),  # fmt: skip
        _counter(
            "kamermonitor_alerts_retried_total",
            "Delivery attempts that failed and will be retried.",
            "channel",
            channels,
            snap.retried,
        ),  # fmt: skip
        _counter(
            "kamermonitor_alerts_failed_total",
            "Messages given up on (a permanent failure or too many attempts).",
            "channel",
            channels,
            snap.failed,
        ),  # fmt: skip
    ]
    if stats is not None:
        out += [
            _counter(
                "kamermonitor_source_requests_total",
                "HTTP requests to the source (enrichment: publication, tk-file).",
                "source",
                sources,
                stats.per_source,
            ),  # fmt: skip
            _counter(
                "kamermonitor_source_response_bytes_total",
                "Response body bytes received from the source.",
                "source",
                sources,
                stats.bytes_per_source,
            ),  # fmt: skip
            _counter(
                "kamermonitor_source_not_modified_total",
                "Conditional requests the source answered 304 Not Modified (nothing new, no body).",
                "source",
                sources,
                stats.not_modified_per_source,
            ),  # fmt: skip
        ]
    out.append(
        _histogram(
            "kamermonitor_delivery_latency_seconds",
            "First sighting of a letter to its first alert being accepted by the channel (held digests excluded).",
            "channel",
            channels,
            snap.delivery_latency,
            DELIVERY_BUCKETS,
        )  # fmt: skip
    )
    out.append(
        _histogram(
            "kamermonitor_first_seen_lag_seconds",
            "A newly matched letter's date (midnight, local time) to its first sighting.",
            "source",
            sources,
            snap.first_seen_lag,
            FIRST_SEEN_BUCKETS,
        )  # fmt: skip
    )
    return out


def _counter(name: str, doc: str, label: str, known: Iterable[str], values: Mapping[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=[label])
    for key in dict.fromkeys([*known, *sorted(values)]):
        family.add_metric([key], values.get(key, 0))
    return family


def _histogram(
    name: str, doc: str, label: str, known: Iterable[str], values: Mapping[str, Histogram], buckets: tuple[float, ...]
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[label])
    for key in dict.fromkeys([*known, *sorted(values)]):
        hist = values.get(key) or Histogram(buckets)
        family.add_metric([key], [(b, float(n)) for b, n in hist.cumulative()], hist.total)
    return family
