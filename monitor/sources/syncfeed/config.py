"""``[sources.syncfeed]``: the SyncFeed's options, their defaults (written once, here) and their bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ...configread import Reader

NAME = "syncfeed"
SYNCFEED_URL = "https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0"


@dataclass(frozen=True, slots=True)
class SyncFeedConfig:
    enabled: bool = True
    base_url: str = SYNCFEED_URL
    interval_seconds: float = 120.0
    jitter_seconds: float = 10.0
    start_skiptoken: int | None = None
    max_pages_per_poll: int = 20
    related_every: int = 5  # read the Zaak/Kamerstukdossier feeds every Nth poll
    entity_lookups_per_poll: int = 20

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> SyncFeedConfig:
        d = cls()
        r.known(t, p, {f.name for f in fields(cls)})
        start = r.value(t, "start_skiptoken", p, int, -1)
        if start >= 2**62:
            r.fail(f"{p}.start_skiptoken", f"must be below 2**62, got {start!r}")
            start = -1
        return cls(
            enabled=r.value(t, "enabled", p, bool, d.enabled),
            base_url=r.url(t, "base_url", p, d.base_url),
            interval_seconds=r.positive(t, "interval_seconds", p, d.interval_seconds),
            jitter_seconds=r.non_negative(t, "jitter_seconds", p, d.jitter_seconds),
            start_skiptoken=start if start >= 0 else None,
            max_pages_per_poll=r.count(t, "max_pages_per_poll", p, d.max_pages_per_poll),
            related_every=r.count(t, "related_every", p, d.related_every),
            entity_lookups_per_poll=r.count(t, "entity_lookups_per_poll", p, d.entity_lookups_per_poll, minimum=0),
        )
