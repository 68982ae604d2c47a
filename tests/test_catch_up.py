"""A backlog drains poll after poll: a poll that stops at its page limit is followed at once.

And the first start reads every feed it needs in its first cycle; what does not fit the
page limit is said in the log and read by the polls that follow at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from monitor.poll import behind
from monitor.service import Service
from monitor.sources.syncfeed.poll import cursor_name
from monitor.store import ops
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for

TODAY = date(2025, 6, 27)
NOW = datetime(2025, 6, 27, 9, 30, tzinfo=UTC)
PAGE = 5  # entries per page of the local feed, so a few letters make several pages


@pytest.fixture
def small_pages() -> Iterator[TkFeedServer]:
    with TkFeedServer(page_size=PAGE) as tk:
        yield tk


def monitor(tk: TkFeedServer, database: str, max_pages: int) -> Harness:
    extra = {"sources": {"syncfeed": {"max_pages_per_poll": max_pages}}}
    watches = [{"name": "ict", "dossiers": ["26643"]}]
    return Harness(settings_for(database, syncfeed_url=tk.base_url, watches=watches, extra=extra), now=lambda: NOW)


def letters(tk: TkFeedServer, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        tk.add_document(
            f"aa000000-0000-4000-8000-{i:012d}", f"2025D{40000 + i}", "Brief regering", f"Brief {i}", ICT, TODAY,
            "2024-2025", -1, [DOSSIER_26643],
        )  # fmt: skip


def cursor(h: Harness, category: str) -> str | None:
    with h.ctx.engine.connect() as conn:
        return ops.get_cursor(conn, cursor_name(category))


def test_first_start_reads_every_feed_in_its_first_cycle(small_pages: TkFeedServer, sqlite_db: str) -> None:
    tk = small_pages
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    h = monitor(tk, sqlite_db, max_pages=20)
    try:
        h.cycle()
        assert all(cursor(h, c) is not None for c in ("Kamerstukdossier", "Zaak", "Document"))
        assert not behind(h.ctx, "syncfeed")  # nothing left for later polls
        before = len(tk.requests)
        h.cycle()
        assert [p for p in tk.requests[before:] if "category=" in p] == [
            p for p in tk.requests[before:] if "category=Document" in p
        ]  # the second poll is an ordinary one
    finally:
        h.close()


def test_first_start_says_what_it_defers_past_the_page_limit(
    small_pages: TkFeedServer, sqlite_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    tk = small_pages
    for n in range(3 * PAGE):  # three pages of dossiers to mirror, at two pages a poll
        tk.add_dossier(f"0b5e4b7a-6e7e-4d7f-9c55-{n:012d}", 30000 + n, f"Dossier {n}")
    h = monitor(tk, sqlite_db, max_pages=2)
    try:
        with caplog.at_level(logging.INFO, logger="monitor"):
            h.cycle()
        assert behind(h.ctx, "syncfeed")
        assert "page limit (2 pages) reached in Kamerstukdossier; the service polls again right away" in caplog.text
        h.cycle()  # the next poll reads the rest, whatever its number
        assert not behind(h.ctx, "syncfeed")
        assert int(cursor(h, "Kamerstukdossier") or 0) == tk.last_token
    finally:
        h.close()


def test_service_polls_again_right_after_a_page_limit_until_caught_up(
    small_pages: TkFeedServer, sqlite_db: str
) -> None:
    tk = small_pages
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    h = monitor(tk, sqlite_db, max_pages=2)
    try:
        h.cycle()  # first start: the end of the feed
        letters(tk, 7 * PAGE)  # seven pages: four polls of at most two pages
        service = Service(h.ctx, h.deliverer)
        before = len(tk.requests)
        service._poll("syncfeed")  # one run of the poll job
        document_pages = [p for p in tk.requests[before:] if "category=Document" in p]
        assert len(document_pages) == 7  # the last page has no next link: caught up without another request
        assert int(cursor(h, "Document") or 0) == tk.last_token
        assert not behind(h.ctx, "syncfeed")
        with h.ctx.engine.connect() as conn:
            assert int(ops.get_cursor(conn, "syncfeed:polls") or 0) == 1 + 4  # the first start, then 2+2+2+1 pages
    finally:
        h.close()
