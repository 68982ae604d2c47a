"""SRU at any number of dossiers: never an unfiltered window, one filtered query per 25 dossiers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from monitor.models import DossierRef
from monitor.sources.sru.query import window_queries
from monitor.store import letters as letter_store
from tests.fakes.sru_server import SruServer
from tests.harness import Harness, settings_for

NOW = datetime(2025, 6, 27, 9, 30, tzinfo=UTC)
HEAD = "c.product-area==officielepublicaties AND w.publicatienaam==Kamerstuk AND "
TAIL = " AND dt.modified>=2025-06-24 sortBy dt.modified/sort.descending"


def ors(first: int, last: int) -> str:
    return "(" + " OR ".join(f"w.dossiernummer=={n}" for n in range(first, last + 1)) + ")"


def test_sixty_dossiers_are_asked_in_three_filtered_queries_of_25_25_and_10() -> None:
    sixty = [DossierRef(30060 - n) for n in range(60)]  # given in any order, asked for sorted
    assert window_queries(sixty, date(2025, 6, 24)) == [
        HEAD + ors(30001, 30025) + TAIL,
        HEAD + ors(30026, 30050) + TAIL,
        HEAD + ors(30051, 30060) + TAIL,
    ]
    assert window_queries(sixty[:1], date(2025, 6, 24)) == [HEAD + "w.dossiernummer==30060" + TAIL]
    # No dossiers (keyword watches only), or the operator's 0: one query without a dossier clause.
    unfiltered = HEAD.removesuffix(" AND ") + TAIL
    assert window_queries([], date(2025, 6, 24)) == [unfiltered]
    assert window_queries(sixty, date(2025, 6, 24), max_dossier_clauses=0) == [unfiltered]


@pytest.fixture
def sixty(sru: SruServer, sqlite_db: str) -> Iterator[Harness]:
    watches = [{"name": "many", "dossiers": [str(30000 + n) for n in range(1, 61)]}]
    h = Harness(settings_for(sqlite_db, sru_url=sru.base_url, watches=watches), now=lambda: NOW)
    yield h
    h.close()


def test_a_poll_with_sixty_dossiers_asks_only_for_them_and_finds_a_letter_in_the_last_group(
    sru: SruServer, sixty: Harness
) -> None:
    sixty.cycle()  # first poll: backfills begin; the window is asked for the first time
    sru.add_record("kst-30060-7", dossier="30060", document_title="Brief over de zestigste", date=date(2025, 6, 27),
                   modified=date(2025, 6, 27))  # fmt: skip
    sru.add_record("kst-40000-1", dossier="40000", document_title="Niet gevolgd", date=date(2025, 6, 27),
                   modified=date(2025, 6, 27))  # fmt: skip
    before = len(sru.queries)
    sixty.cycle()
    window = [q for q in sru.queries[before:] if "dt.modified>=" in q]
    assert window == window_queries([DossierRef(30000 + n) for n in range(1, 61)], date(2025, 6, 24))
    with sixty.ctx.engine.connect() as conn:
        counts = letter_store.published_counts(conn, [DossierRef(30060), DossierRef(40000)])
    assert counts.get("30060") == 1 and not counts.get("40000")  # the other dossier's record never came back
