"""Conditional requests: an idle poll asks again with the last answer's validators and takes 304 as "nothing new".

Against the local fakes, which send ``ETag`` and ``Last-Modified`` and answer 304 (as the
real sources might).  A 304 must never hide a change, never stand for a page that was
fetched but not recorded, and is counted in the metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest

from monitor.conditional import MAX_VALIDATORS, Validator, Validators
from monitor.config import HttpConfig
from monitor.http import Fetcher, SourceError, make_client
from monitor.sources.syncfeed.client import SyncFeedClient
from monitor.web.metrics import exposition
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for

TODAY = date(2025, 6, 27)
NOW = datetime(2025, 6, 27, 9, 30, tzinfo=UTC)
LETTER = "aa000000-0000-4000-8000-000000001400"


@pytest.fixture
def monitor(tk: TkFeedServer, sru: SruServer, sqlite_db: str) -> Iterator[Harness]:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    h = Harness(settings_for(sqlite_db, syncfeed_url=tk.base_url, sru_url=sru.base_url), now=lambda: NOW)
    yield h
    h.close()


def test_idle_syncfeed_poll_is_answered_304_and_a_new_letter_still_arrives(tk: TkFeedServer, monitor: Harness) -> None:
    monitor.cycle()  # first start: the end of the feed, then its caught-up page, remembered
    before = tk.not_modified
    monitor.cycle(["syncfeed"])
    assert tk.not_modified == before + 1  # the same caught-up page: 304, no body
    assert monitor.ctx.fetcher.stats.not_modified_per_source["syncfeed"] == tk.not_modified
    tk.add_document(
        LETTER, "2025D30001", "Brief regering", "Nieuwe brief", ICT, TODAY, "2024-2025", -1, [DOSSIER_26643]
    )
    monitor.cycle(["syncfeed"])
    assert tk.not_modified == before + 1  # the page changed: a full answer, not 304
    assert [r["status"] for r in monitor.deliveries()] == ["sent"]
    monitor.cycle(["syncfeed"])  # the new caught-up page is read in full once
    monitor.cycle(["syncfeed"])
    assert tk.not_modified == before + 2


def test_idle_sru_poll_is_answered_304_and_a_new_publication_still_arrives(sru: SruServer, monitor: Harness) -> None:
    monitor.cycle()
    monitor.cycle(["sru"])
    before = sru.not_modified
    monitor.cycle(["sru"])
    assert sru.not_modified == before + 1
    assert monitor.ctx.fetcher.stats.not_modified_per_source["sru"] >= 1
    sru.add_record("kst-26643-1400", document_title="Nieuwe brief", date=TODAY, modified=TODAY)
    monitor.cycle(["sru"])
    assert sru.not_modified == before + 1
    assert [r["status"] for r in monitor.deliveries()] == ["sent"]


def test_a_page_with_entries_is_never_asked_conditionally(tk: TkFeedServer) -> None:
    # Were a page with entries remembered, a crash before it was stored would turn into a
    # 304 on the next poll, and the entries would be skipped for good.
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    fetcher = Fetcher(make_client(HttpConfig(pause_seconds=0)), HttpConfig(pause_seconds=0))
    client = SyncFeedClient(fetcher, tk.base_url)
    [(page, token)] = list(client.pages("Kamerstukdossier", 0, 5))
    assert len(page.entities) == 1 and len(fetcher.validators) == 0  # a page with entries: not remembered
    [(caught_up, same)] = list(client.pages("Kamerstukdossier", token, 5))
    assert caught_up.entities == () and same == token and len(fetcher.validators) == 1
    [(page, _)] = list(client.pages("Kamerstukdossier", 0, 5))
    assert len(page.entities) == 1 and tk.not_modified == 0  # asked in full again
    assert list(client.pages("Kamerstukdossier", token, 5)) == [(caught_up, token)] and tk.not_modified == 1
    fetcher.client.close()


def test_a_304_to_an_unconditional_request_is_an_error_not_an_empty_page() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(304, headers={"ETag": '"x"'})

    settings = HttpConfig(pause_seconds=0)
    fetcher = Fetcher(httpx.Client(transport=httpx.MockTransport(answer)), settings)
    with pytest.raises(SourceError, match="304 to an unconditional request"):
        fetcher.get("syncfeed", "http://feed.test/Feed", {"category": "Document"}, conditional=True)
    with pytest.raises(SourceError, match="304"):
        fetcher.get("syncfeed", "http://feed.test/Feed", {"category": "Document"})
    assert fetcher.stats.not_modified == 0


def test_hostile_validators_are_not_kept_and_the_table_is_bounded() -> None:
    assert Validator.of("k", "x" * 201, "Mon, 01 Jan 2024 00:00:00 GMT\r\nX-Injected: 1").etag is None
    assert Validator.of("k", '"ok"\x00', None).etag is None
    table = Validators()
    table.remember(Validator.of("k", "\x01", "\x02"))
    assert len(table) == 0 and table.headers("k") == {}
    for i in range(MAX_VALIDATORS + 10):
        table.remember(Validator.of(f"url{i}", f'"{i}"', None))
    assert len(table) == MAX_VALIDATORS
    assert table.headers("url0") == {} and table.headers(f"url{MAX_VALIDATORS + 9}") == {
        "If-None-Match": f'"{MAX_VALIDATORS + 9}"'
    }


def test_304s_are_counted_per_source_in_the_metrics(tk: TkFeedServer, monitor: Harness) -> None:
    for _ in range(3):
        monitor.cycle(["syncfeed"])
    assert tk.not_modified >= 1
    with monitor.ctx.engine.connect() as conn:
        text = exposition(monitor.settings, conn, monitor.ctx.metrics, monitor.ctx.fetcher.stats).decode()
    line = f'kamermonitor_source_not_modified_total{{source="syncfeed"}} {float(tk.not_modified)}'
    assert line in text.splitlines()


def test_sources_answering_gzip_give_the_same_letters_for_fewer_bytes(
    tk: TkFeedServer, sru: SruServer, monitor: Harness
) -> None:
    # Whether the live services compress is not recorded; the monitor asks for gzip, and
    # what it makes of a compressed answer must be what it makes of a plain one.
    for i in range(40):
        sru.add_record(f"kst-26643-{1300 + i}", document_title=f"Oude brief {i}", date=date(2025, 5, 1))
    tk.compress = sru.compress = True
    monitor.cycle()  # first start: end searches, mirror and the SRU backfill, all compressed
    stats = monitor.ctx.fetcher.stats
    assert stats.bytes_wire * 3 < stats.bytes_body  # it did arrive compressed
    tk.add_document(
        LETTER, "2025D30001", "Brief regering", "Nieuwe brief", ICT, TODAY, "2024-2025", -1, [DOSSIER_26643]
    )
    monitor.cycle()
    assert [r["status"] for r in monitor.deliveries()] == ["sent"]  # the new letter, and no old one
    with monitor.ctx.engine.connect() as conn:
        from monitor.store import letters as letter_store

        recent = letter_store.recent_for_watch(conn, monitor.ctx.settings.watches[0].name, 100)
    assert {x.subject for x in recent} >= {"Nieuwe brief"} | {f"Oude brief {i}" for i in range(40)}
