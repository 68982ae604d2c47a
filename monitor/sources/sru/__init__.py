"""The officiële bekendmakingen (SRU) source: its search client, poll and observations.

:data:`SRU` is what the registry (:mod:`monitor.sources`) knows of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .config import NAME, SruConfig

if TYPE_CHECKING:
    from ...configread import Reader
    from ...context import Context
    from ...doctor import Doctor
    from ...http import Fetcher
    from ...models import DossierRef
    from .poll import SruPollResult


def backfill_cursor(dossier: DossierRef) -> str:
    """The cursor that says a dossier's existing publications are on record."""
    return f"{NAME}:backfill:{dossier}"


class Sru:
    name = NAME
    label = "Officiële bekendmakingen (SRU)"
    stalls = None  # days without publications are normal; a dossier gone silent is checked per dossier

    def read_config(self, r: Reader, table: Mapping[str, Any], path: str) -> SruConfig:
        return SruConfig.read(r, table, path)

    def default_config(self) -> SruConfig:
        return SruConfig()

    def poll(self, ctx: Context, batch: str) -> SruPollResult:
        from .poll import poll  # the poll needs the context, which needs the configuration, which needs this

        return poll(ctx, batch)

    def ready(self, cursors: Mapping[str, str], dossiers: Sequence[DossierRef]) -> bool:
        # A new dossier is announced once its official publications are on record.
        return all(backfill_cursor(d) in cursors for d in dossiers)

    def position(self, cursors: Mapping[str, str]) -> str:
        since = cursors.get(f"{NAME}:since")
        return f"; publications read up to {since}" if since is not None else ""

    def condition_text(self, subject: str) -> str | None:
        # source-stale:sru:<dossier>, raised by the daily liveness probe
        return f"Officiële bekendmakingen (SRU) geeft geen resultaten meer voor dossier {subject}" if subject else None

    def check(self, doc: Doctor, fetcher: Fetcher) -> None:
        from .doctor import check

        check(doc, fetcher)


SRU = Sru()
