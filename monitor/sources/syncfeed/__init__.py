"""The Tweede Kamer SyncFeed source: its feed client, poll, observations and read-ahead.

:data:`SYNCFEED` is what the registry (:mod:`monitor.sources`) knows of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .config import NAME, SyncFeedConfig

if TYPE_CHECKING:
    from ...configread import Reader
    from ...context import Context
    from ...doctor import Doctor
    from ...http import Fetcher
    from ...models import DossierRef
    from .poll import TkPollResult


class SyncFeed:
    name = NAME
    label = "Tweede Kamer (SyncFeed)"
    stalls = "the Tweede Kamer feed may have stalled"

    def read_config(self, r: Reader, table: Mapping[str, Any], path: str) -> SyncFeedConfig:
        return SyncFeedConfig.read(r, table, path)

    def default_config(self) -> SyncFeedConfig:
        return SyncFeedConfig()

    def poll(self, ctx: Context, batch: str) -> TkPollResult:
        from .poll import poll  # the poll needs the context, which needs the configuration, which needs this

        return poll(ctx, batch)

    def ready(self, cursors: Mapping[str, str], dossiers: Sequence[DossierRef]) -> bool:
        return True  # it reads every document as it comes: nothing to wait for

    def position(self, cursors: Mapping[str, str]) -> str:
        token = cursors.get(f"{NAME}:Document")
        return f"; read up to skiptoken {token} of the Document feed" if token is not None else ""

    def condition_text(self, subject: str) -> str | None:
        return None

    def check(self, doc: Doctor, fetcher: Fetcher) -> None:
        from .doctor import check

        check(doc, fetcher)


SYNCFEED = SyncFeed()
