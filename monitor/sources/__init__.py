"""The sources the monitor polls: the :class:`Source` protocol and the registry that names them.

A source is one package under ``monitor/sources/`` (its client, its poll, its mapping to
:class:`~monitor.detect.Observation`) plus one line in :data:`SOURCES`.  Everything else
reaches a source through this protocol: ``config.py`` hands it its ``[sources.<name>]``
table, ``poll.py`` runs it, ``doctor`` checks it, the status pages label it.  Nothing
outside a source's package names it (tests/test_architecture.py checks that).

This module imports no poll code at import time: ``config.py`` imports the registry, and
the polls import the context, which imports the configuration.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from .sru import SRU
from .syncfeed import SYNCFEED

if TYPE_CHECKING:
    from ..configread import Reader
    from ..context import Context
    from ..detect import NewMatch
    from ..doctor import Doctor
    from ..http import Fetcher
    from ..models import DossierRef


class SourceConfig(Protocol):
    """What the scheduler and the status pages read of every source's options."""

    @property
    def enabled(self) -> bool: ...
    @property
    def interval_seconds(self) -> float: ...
    @property
    def jitter_seconds(self) -> float: ...


class PollResult(Protocol):
    requests: int
    new_matches: list[NewMatch]
    new_data: bool


class Source(Protocol):
    """One source of letters, as the rest of the monitor sees it."""

    @property
    def name(self) -> str:
        """Its key in ``[sources.<name>]``, in the cursors, health rows and logs."""

    @property
    def label(self) -> str:
        """Its name on the status page (Dutch)."""

    @property
    def stalls(self) -> str | None:
        """Why silence in working hours is worth a warning (the warning's last clause); None: it is normal."""

    def read_config(self, r: Reader, table: Mapping[str, Any], path: str) -> SourceConfig:
        """Its options from its own table; problems go to ``r`` with their key path."""

    def default_config(self) -> SourceConfig: ...

    def poll(self, ctx: Context, batch: str) -> PollResult:
        """One poll: fetch, record observations, queue alerts (``alerts.enqueue(…, batch)``).

        Raises SourceError for source problems.  ``batch`` names this poll's alerts: many for one
        watch become one digest.
        """

    def ready(self, cursors: Mapping[str, str], dossiers: Sequence[DossierRef]) -> bool:
        """Whether it has read what a new watch on ``dossiers`` needs before "now watching" is said."""

    def position(self, cursors: Mapping[str, str]) -> str:
        """Where it has read up to, in its own terms, for ``status`` ("" when unknown)."""

    def condition_text(self, subject: str) -> str | None:
        """A condition ``source-stale:<name>:<subject>`` of its own in Dutch, or None when it has none."""

    def check(self, doc: Doctor, fetcher: Fetcher) -> None:
        """``doctor``: one request that shows the source answers in the shape the poll expects."""


# The registry: one line per source.  Order is polling and reporting order.
SOURCES: dict[str, Source] = {
    SYNCFEED.name: SYNCFEED,
    SRU.name: SRU,
}

C = TypeVar("C")


def default_configs() -> dict[str, SourceConfig]:
    return {name: source.default_config() for name, source in SOURCES.items()}


def config_of(sources: Mapping[str, object], name: str, kind: type[C]) -> C:
    """A source's own options, typed: ``config_of(settings.sources, "x", XConfig)``."""
    cfg = sources[name]
    if not isinstance(cfg, kind):
        raise TypeError(f"sources.{name}: expected {kind.__name__}, got {type(cfg).__name__}")
    return cfg
