"""``[sources.sru]``: the SRU search's options, their defaults (written once, here) and their bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ...configread import Reader

NAME = "sru"
SRU_URL = "https://repository.overheid.nl/sru"


@dataclass(frozen=True, slots=True)
class SruConfig:
    enabled: bool = True
    base_url: str = SRU_URL
    interval_seconds: float = 600.0
    jitter_seconds: float = 30.0
    overlap_days: int = 3
    page_size: int = 100
    max_pages_per_poll: int = 10
    max_dossier_clauses: int = 25

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> SruConfig:
        d = cls()
        r.known(t, p, {f.name for f in fields(cls)})
        return cls(
            enabled=r.value(t, "enabled", p, bool, d.enabled),
            base_url=r.url(t, "base_url", p, d.base_url),
            interval_seconds=r.positive(t, "interval_seconds", p, d.interval_seconds),
            jitter_seconds=r.non_negative(t, "jitter_seconds", p, d.jitter_seconds),
            overlap_days=r.count(t, "overlap_days", p, d.overlap_days, minimum=0),
            page_size=r.count(t, "page_size", p, d.page_size, maximum=1000),
            max_pages_per_poll=r.count(t, "max_pages_per_poll", p, d.max_pages_per_poll),
            max_dossier_clauses=r.count(t, "max_dossier_clauses", p, d.max_dossier_clauses, minimum=0),
        )
