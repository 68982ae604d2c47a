"""End-to-end detection against local SyncFeed and SRU servers: every letter, once."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest

from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for

TODAY = date(2025, 6, 27)
NOW = datetime(2025, 6, 27, 9, 30, tzinfo=UTC)
LETTER = "aa000000-0000-4000-8000-000000001350"
ZAAK = "bb000000-0000-4000-8000-000000001350"
SUBJECT = "Indiening voorstel AI-fabriek Groningen"


def seed_history(tk: TkFeedServer, sru: SruServer) -> None:
    """What exists before the monitor starts: the dossier, an old letter, its publication."""
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    tk.add_dossier("0b5e4b7a-6e7e-4d7f-9c55-33529a000001", 33529, "Gaswinning uit het Groningenveld")
    tk.add_document(
        "aa000000-0000-4000-8000-000000001336", "2025D21028", "Brief regering",
        "Verzamelbrief digitalisering mei 2025", ICT, "2025-05-13", "2024-2025", 1336, [DOSSIER_26643],
    )  # fmt: skip
    sru.add_record(
        "kst-26643-1336", document_title="Verzamelbrief digitalisering mei 2025", date=date(2025, 5, 13),
        modified=date(2025, 6, 26),
    )  # fmt: skip


def harness(tk: TkFeedServer, sru: SruServer, database: str, **kw: object) -> Harness:
    return Harness(settings_for(database, syncfeed_url=tk.base_url, sru_url=sru.base_url, **kw), now=lambda: NOW)


@pytest.fixture
def monitor(tk: TkFeedServer, sru: SruServer, database: str) -> Harness:
    seed_history(tk, sru)
    h = harness(tk, sru, database)
    yield h  # type: ignore[misc]
    h.close()


def test_first_poll_records_history_without_alerting(monitor: Harness, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="monitor"):
        monitor.cycle()
    assert monitor.deliveries() == []
    assert "now watching dossier 26643 (1 letter on record)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="monitor"):
        monitor.cycle()
    assert "now watching" not in caplog.text  # said once


def test_letter_first_seen_unlinked_is_alerted_once(tk: TkFeedServer, sru: SruServer, monitor: Harness) -> None:
    monitor.cycle()  # baseline
    # A new letter appears with Volgnummer -1 and no dossier link; its Zaak names the dossier.
    tk.add_zaak(ZAAK, "2025Z13010", "Brief regering", SUBJECT, [DOSSIER_26643])
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [], [ZAAK])
    monitor.cycle()
    sent = monitor.deliveries()
    assert [(r["status"], r["channel"]) for r in sent] == [("sent", "console")]
    text = monitor.output.getvalue()
    assert SUBJECT in text and "26643" in text and "Brief regering" in text and "2025D29876" in text
    assert "tweedekamer.nl" in text

    # It gets its Kamerstuk number: the same letter, not a new one.
    tk.update_document(LETTER, volgnummer=1350, dossier_guids=[DOSSIER_26643])
    monitor.cycle()
    # The official publication appears in SRU, then a reprint.
    sru.add_record(
        "kst-26643-1350", document_title=SUBJECT, date=TODAY, modified=TODAY, indieners=("V.P.G. Karremans",)
    )
    monitor.cycle()
    sru.add_record(
        "kst-26643-1350-h1", ondernummer="1350", document_title=f"{SUBJECT} (herdruk)", date=TODAY, modified=TODAY
    )
    monitor.cycle()
    # And the TK document is withdrawn.
    tk.delete(LETTER)
    monitor.cycle()
    assert len(monitor.deliveries()) == 1

    monitor.restart()
    monitor.cycle()
    assert len(monitor.deliveries()) == 1
    with monitor.ctx.engine.connect() as conn:
        from monitor.store import letters

        [letter] = letters.recent_for_watch(conn, "dossier-26643", 1)
    assert letter.citation == "Kamerstuk 26643, nr. 1350"
    assert letter.ob_html_url == "https://zoek.officielebekendmakingen.nl/kst-26643-1350.html"
    assert letter.document_nummer == "2025D29876" and letter.senders == ("V.P.G. Karremans",)


def test_letter_published_in_sru_before_tk_is_alerted_once(tk: TkFeedServer, sru: SruServer, monitor: Harness) -> None:
    monitor.cycle()
    sru.add_record("kst-26643-1351", document_title="Kabinetsreactie op het rapport", date=TODAY, modified=TODAY)
    monitor.cycle()
    assert len(monitor.deliveries()) == 1
    tk.add_document(
        LETTER, "2025D29877", "Brief regering", "Kabinetsreactie op het rapport", ICT, TODAY, "2024-2025", 1351,
        [DOSSIER_26643],
    )  # fmt: skip
    monitor.cycle()
    assert len(monitor.deliveries()) == 1


def test_letter_dated_days_before_it_appears_is_still_new(tk: TkFeedServer, sru: SruServer, monitor: Harness) -> None:
    monitor.cycle()
    tk.add_document(
        LETTER, "2025D29001", "Brief regering", "Brief dated Monday", ICT, date(2025, 6, 23), "2024-2025", -1,
        [DOSSIER_26643],
    )  # fmt: skip
    monitor.cycle()
    assert len(monitor.deliveries()) == 1


def test_other_kinds_are_not_alerted_by_a_letters_watch(tk: TkFeedServer, sru: SruServer, monitor: Harness) -> None:
    monitor.cycle()
    tk.add_document(
        LETTER, "2025D29002", "Motie", "Motie van het lid X", ICT, TODAY, "2024-2025", 1352, [DOSSIER_26643]
    )
    monitor.cycle()
    assert monitor.deliveries() == []


def test_other_dossier_and_keyword_watches_share_the_same_feed_reads(
    tk: TkFeedServer, sru: SruServer, sqlite_db: str
) -> None:
    seed_history(tk, sru)
    watches = [
        {"name": "ict", "dossiers": ["26643"]},
        {"name": "gas", "dossiers": ["33529"], "kinds": ["*"]},
        {"name": "ai", "keywords": ["ai-fabriek"]},
    ]
    h = harness(tk, sru, sqlite_db, watches=watches)
    h.cycle()
    idle_before = len(tk.requests), len(sru.queries)
    h.cycle()
    tk_idle = len(tk.requests) - idle_before[0]
    sru_idle = len(sru.queries) - idle_before[1]
    assert (tk_idle, sru_idle) == (1, 1)
    # The AI-fabriek motion goes to 33529 (Gaswinning), not 26643.
    tk.add_document(
        LETTER, "2025D28000", "Motie", "Motie Holman c.s. over de AI-fabriek in Groningen", "Gaswinning",
        TODAY, "2024-2025", 1324, ["0b5e4b7a-6e7e-4d7f-9c55-33529a000001"],
    )  # fmt: skip
    tk.add_document(
        "aa000000-0000-4000-8000-000000009999", "2025D28001", "Brief regering", SUBJECT, "Economische zaken",
        TODAY, "2024-2025", -1, [],
    )  # fmt: skip
    before = len(tk.requests)
    h.cycle()
    feed_reads = [r for r in tk.requests[before:] if "/Feed" in r]
    assert len(feed_reads) == 1  # new letters cost no extra feed reads (their files are read for enrichment)
    got = {(r["watch"], r["letter_id"]) for r in h.deliveries()}
    by_watch = sorted(w for w, _ in got)
    assert by_watch == ["ai", "gas"]  # the motion matches "gas" (all kinds), the letter the keyword
    h.close()


def test_restart_never_realerts(tk: TkFeedServer, sru: SruServer, monitor: Harness) -> None:
    monitor.cycle()
    tk.add_document(LETTER, "2025D29003", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    monitor.cycle()
    for _ in range(3):
        monitor.restart()
        monitor.cycle()
    assert len(monitor.deliveries()) == 1
    assert monitor.deliveries()[0]["status"] == "sent"
