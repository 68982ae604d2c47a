"""SyncFeed parsing (on fixtures) and the SyncFeed client (against a loopback fake server)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from monitor.config import HttpConfig
from monitor.http import Fetcher, SourceError, make_client
from monitor.sources.syncfeed.client import PROBE_MAX_BYTES, SyncFeedClient
from monitor.sources.syncfeed.feed import parse_entity, parse_feed
from monitor.sources.syncfeed.models import TkDocument, TkDossier, TkZaak
from tests.fakes.tk_server import TkFeedServer

FIXTURES = Path(__file__).parent / "fixtures" / "syncfeed"
ICT = "5b0e4c1a-2e57-4b63-9d4f-3a8c26643000"  # dossier 26643 in the fixtures
DIGI = "7d2a9f10-6c3b-4e8a-b1d5-0c4e32761000"  # dossier 32761
ATOM = 'xmlns="http://www.w3.org/2005/Atom"'
MB = 1024 * 1024


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def page(name: str) -> list[TkDocument]:
    entities = parse_feed(fixture(name)).entities
    assert all(isinstance(e, TkDocument) for e in entities)
    return list(entities)  # type: ignore[arg-type]


def quirk(index: int) -> TkDocument:
    doc = parse_feed(fixture("quirks_page.xml")).entities[index]
    assert isinstance(doc, TkDocument)
    return doc


def by_nummer(name: str) -> dict[str | None, TkDocument]:
    return {d.nummer: d for d in page(name)}


# --- parsing: realistic Document page -------------------------------------------------


def test_document_page_yields_entities_in_feed_order_with_their_own_skiptokens() -> None:
    docs = page("document_page_26643.xml")
    assert [d.skiptoken for d in docs] == list(range(20127301, 20127307))
    assert [d.nummer for d in docs[:5]] == ["2023D05549", "2025D21028", "2025D21029", "2025D35903", "2025D43430"]


def test_letter_fields_are_read_from_the_tk_namespace() -> None:
    letter = by_nummer("document_page_26643.xml")["2025D21028"]
    assert letter.guid == "e5a7c9db-2102-4f51-82a3-2025d2102800"
    assert letter.soort == "Brief regering"
    assert letter.onderwerp == "Verzamelbrief digitalisering mei 2025"
    assert letter.titel == "Informatie- en communicatietechnologie (ICT)"
    assert letter.citeertitel == "Verzamelbrief digitalisering mei 2025"
    assert letter.vergaderjaar == "2024-2025"
    assert letter.volgnummer == 1336
    assert letter.datum == date(2025, 5, 13)
    assert letter.content_type == "application/pdf"
    assert letter.content_length == 312345
    assert letter.dossier_guids == (ICT,)
    assert letter.zaak_guids == ("a1c3e5f7-0912-4b3d-8e6f-2025e0914300",)
    assert letter.enclosure_url == (
        "https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0/Resources/e5a7c9db-2102-4f51-82a3-2025d2102800"
    )
    assert not letter.deleted


def test_updated_is_timezone_aware_utc() -> None:
    letter = by_nummer("document_page_26643.xml")["2025D21028"]
    assert letter.updated == datetime(2025, 5, 14, 15, 13, 40, tzinfo=UTC)
    assert letter.updated is not None and letter.updated.utcoffset() is not None


def test_datum_with_offset_and_plain_date_both_become_dates() -> None:
    docs = by_nummer("document_page_26643.xml")
    assert docs["2023D05549"].datum == date(2023, 2, 10)  # 2023-02-10T00:00:00+01:00
    assert docs["2025D35903"].datum == date(2025, 8, 28)  # 2025-08-28


def test_document_with_two_dossier_refs_keeps_both() -> None:
    cofiled = by_nummer("document_page_26643.xml")["2023D05549"]
    assert cofiled.dossier_guids == (ICT, DIGI)
    assert cofiled.volgnummer == 971


def test_unlinked_first_version_has_no_dossier_and_no_volgnummer() -> None:
    v1 = by_nummer("document_page_26643.xml")["2025D43430"]
    assert v1.dossier_guids == ()
    assert v1.volgnummer is None  # <volgnummer>-1</volgnummer>
    assert v1.zaak_guids == ("c3e5a7b9-1870-4d3f-a081-2025e1870800",)


def test_attachment_points_at_its_letter() -> None:
    bijlage = by_nummer("document_page_26643.xml")["2025D21029"]
    assert bijlage.soort == "Bijlage"
    assert bijlage.bron_document_guid == "e5a7c9db-2102-4f51-82a3-2025d2102800"
    assert bijlage.volgnummer is None  # absent


def test_capitalised_verwijderd_true_is_a_tombstone() -> None:
    last = page("document_page_26643.xml")[-1]
    assert last.deleted and last.nummer is None and last.enclosure_url is None


def test_tombstone_entry_is_parsed_as_deleted() -> None:
    (tomb,) = page("document_tombstone.xml")
    assert tomb.guid == "d1bd5ec5-72fb-4702-8115-b6d24b552cdb"
    assert tomb.deleted
    assert tomb.updated == datetime(2019, 7, 3, 13, 33, 10, tzinfo=UTC)
    assert tomb.skiptoken == 2410876  # skiptoken=..&category=.. order
    assert (tomb.soort, tomb.dossier_guids, tomb.volgnummer) == (None, (), None)


def test_cursor_resumes_from_feed_level_next_link() -> None:
    result = parse_feed(fixture("document_page_26643.xml"))
    assert result.next_skiptoken == 20127306
    assert result.next_url is not None and "skiptoken=20127306" in result.next_url
    # The feed-level link wins even when it differs from the last entry's own link.
    body = (
        f'<feed {ATOM}><link rel="next" href="https://x/Feed?skiptoken=99&amp;category=Document"/>'
        '<entry><title>g</title><link rel="next" href="https://x/Feed?category=Document&amp;skiptoken=42"/>'
        '<content><document id="g"/></content><category term="document"/></entry></feed>'
    )
    assert parse_feed(body.encode()).next_skiptoken == 99


def test_cursor_falls_back_to_the_last_entry_link_without_a_feed_link() -> None:
    result = parse_feed(fixture("quirks_page.xml"))
    assert result.next_url is None
    assert result.next_skiptoken == 20200007


def test_other_categories_are_skipped_but_still_advance_the_cursor() -> None:
    result = parse_feed(fixture("fractiezetelpersoon_entry.xml"))
    assert result.entities == ()
    assert result.next_skiptoken == 16687327


def test_empty_feed_has_no_cursor() -> None:
    result = parse_feed(f"<feed {ATOM}><title>leeg</title></feed>".encode())
    assert result.entities == () and result.next_skiptoken is None and result.next_url is None


def test_skiptoken_is_read_from_the_query_whatever_the_parameter_order() -> None:
    for query in ("category=Document&amp;skiptoken=7", "skiptoken=7&amp;category=Document", "skiptoken=7"):
        body = (
            f'<feed {ATOM}><entry><title>g</title><category term="document"/>'
            f'<link rel="next" href="https://x/SyncFeed/2.0/Feed?{query}"/>'
            "<content><document id='g'/></content></entry></feed>"
        )
        assert parse_feed(body.encode()).entities[0].skiptoken == 7, query


# --- parsing: tolerated variations ----------------------------------------------------


def test_ns1_prefix_and_padded_values_are_read() -> None:
    doc = quirk(0)
    assert doc.nummer == "2025D29999"  # padded with newlines
    assert doc.onderwerp == "AI-fabriek Groningen & Noord-Drenthe: €200 mln <voorlopig>"
    assert doc.content_type == "application/pdf"
    assert doc.vergaderjaar == "2024-2025"
    assert doc.skiptoken == 20200001


def test_unparseable_fields_become_none_without_losing_the_entry() -> None:
    doc = quirk(0)
    assert (doc.volgnummer, doc.content_length, doc.datum) == (None, None, None)  # "abc", "n/a", "unknown"
    dossier = parse_feed(fixture("quirks_page.xml")).entities[4]
    assert isinstance(dossier, TkDossier) and dossier.nummer is None and dossier.titel == "Onleesbaar nummer"


def test_whitespace_only_values_are_none() -> None:
    doc = quirk(0)
    assert doc.titel is None and doc.citeertitel is None
    assert doc.updated is None  # no <updated>


def test_duplicate_and_empty_dossier_refs_are_dropped() -> None:
    doc = quirk(0)
    assert doc.dossier_guids == (ICT, "e8f9a0b1-3352-4c6d-8e7f-33529000aaaa")


def test_unprefixed_attributes_and_a_missing_entry_link_are_accepted() -> None:
    doc = parse_feed(fixture("quirks_page.xml")).entities[1]
    assert isinstance(doc, TkDocument)
    assert (doc.content_type, doc.content_length, doc.skiptoken) == ("application/pdf", 1234, None)
    assert doc.updated == datetime(2025, 6, 27, 10, 0, 0, 123456, tzinfo=UTC)  # 7 decimals
    assert doc.volgnummer is None  # 0 is not a Kamerstuk number
    assert doc.datum == date(2025, 6, 27)


def test_zaak_keeps_all_dossier_refs_and_normalises_updated_to_utc() -> None:
    zaak = parse_feed(fixture("quirks_page.xml")).entities[2]
    assert isinstance(zaak, TkZaak)
    assert (zaak.nummer, zaak.soort) == ("2025Z09143", "Brief regering")
    assert zaak.dossier_guids == (ICT, DIGI)
    assert zaak.updated == datetime(2025, 6, 27, 8, 0, 2, tzinfo=UTC)  # +02:00 in the feed


def test_dossier_with_toevoeging_and_capitalised_category_term() -> None:
    dossier = parse_feed(fixture("quirks_page.xml")).entities[3]
    assert isinstance(dossier, TkDossier)
    assert (dossier.nummer, dossier.toevoeging) == (36600, "VII")
    assert str(dossier.ref) == "36600-VII"


def test_category_and_guid_come_from_content_and_title_when_missing() -> None:
    doc = parse_feed(fixture("quirks_page.xml")).entities[5]
    assert isinstance(doc, TkDocument)
    assert (doc.guid, doc.soort) == ("cc000007-0000-4000-8000-000000000007", "Motie")


def test_entry_without_content_is_skipped() -> None:
    body = f'<feed {ATOM}><entry><title>g</title><category term="document"/></entry></feed>'
    assert parse_feed(body.encode()).entities == ()


# --- parsing: single entities ---------------------------------------------------------


def test_entity_as_bare_element_is_parsed() -> None:
    doc = parse_entity(fixture("document_entity_bare.xml"))
    assert isinstance(doc, TkDocument)
    assert (doc.nummer, doc.volgnummer, doc.dossier_guids) == ("2025D43430", 1423, (ICT,))


def test_entity_as_atom_entry_is_parsed() -> None:
    dossier = parse_entity(fixture("kamerstukdossier_30218_entry.xml"))
    assert dossier == TkDossier(guid="1f031e16-cb3b-45b5-b3c9-a8abd27c913a", nummer=30218)


def test_entity_as_feed_with_one_entry_is_parsed() -> None:
    tomb = parse_entity(fixture("document_tombstone.xml"))
    assert isinstance(tomb, TkDocument) and tomb.deleted


def test_entity_of_another_kind_is_none() -> None:
    assert parse_entity(fixture("commissiezetelvastpersoon_entity.xml")) is None
    assert parse_entity(f"<feed {ATOM}/>".encode()) is None


# --- parsing: bad input ---------------------------------------------------------------


def test_non_feed_root_is_a_clear_source_error() -> None:
    with pytest.raises(SourceError, match=r"^syncfeed: expected an Atom <feed>, got <rss>$"):
        parse_feed(b"<rss><channel/></rss>")


def test_error_document_is_reported_with_its_message() -> None:
    with pytest.raises(SourceError, match="syncfeed: server returned an error document: An error has occurred"):
        parse_feed(fixture("error_response.xml"))
    with pytest.raises(SourceError, match="An error has occurred"):
        parse_entity(fixture("error_response.xml"), source="tk-entity")


def test_truncated_feed_is_a_source_error() -> None:
    data = fixture("document_page_26643.xml")
    with pytest.raises(SourceError, match="^tk: malformed or truncated XML"):
        parse_feed(data[: len(data) // 2], source="tk")


def test_empty_body_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="syncfeed: malformed or truncated XML"):
        parse_feed(b"")


def test_entity_bomb_is_rejected() -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE feed [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
        b'<feed xmlns="http://www.w3.org/2005/Atom"><title>&b;</title></feed>'
    )
    with pytest.raises(SourceError, match="syncfeed: XML with a DTD or entity declarations rejected"):
        parse_feed(bomb)


# --- client against the fake server ---------------------------------------------------


def make_fetcher(max_bytes: int = 5 * MB) -> Fetcher:
    settings = HttpConfig(connect_timeout=1, read_timeout=1, pause_seconds=0, max_response_mb=max_bytes / MB)
    return Fetcher(make_client(settings), settings)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    f = make_fetcher()
    yield f
    f.client.close()


@pytest.fixture
def client(tk: TkFeedServer, fetcher: Fetcher) -> SyncFeedClient:
    return SyncFeedClient(fetcher, tk.base_url + "/")  # trailing slash must not matter


def add_letter(tk: TkFeedServer, i: int, **kw: object) -> int:
    return tk.add_document(
        f"doc-{i}",
        f"2025D{40000 + i}",
        "Brief regering",
        f"Brief {i}",
        "Informatie- en communicatietechnologie (ICT)",
        date(2025, 10, 3),
        "2025-2026",
        **kw,  # type: ignore[arg-type]
    )


def test_fetch_page_returns_entries_after_the_skiptoken(tk: TkFeedServer, client: SyncFeedClient) -> None:
    tk.add_dossier(ICT, 26643, "Informatie- en communicatietechnologie (ICT)")
    tokens = [add_letter(tk, i, volgnummer=1400 + i, dossier_guids=[ICT]) for i in range(3)]
    result = client.fetch_page("Document", tokens[0])
    assert [d.skiptoken for d in result.entities] == tokens[1:]
    doc = result.entities[0]
    assert isinstance(doc, TkDocument)
    assert (doc.nummer, doc.volgnummer, doc.dossier_guids, doc.datum) == (
        "2025D40001",
        1401,
        (ICT,),
        date(2025, 10, 3),
    )
    assert result.next_url is None and result.next_skiptoken == tokens[-1]
    dossiers = client.fetch_page("Kamerstukdossier", None).entities
    expected = TkDossier(ICT, skiptoken=30_000_000, nummer=26643, titel="Informatie- en communicatietechnologie (ICT)")
    assert dossiers == (replace(expected, updated=dossiers[0].updated),)


def test_cursor_walks_all_pages_by_token_and_by_next_link(fetcher: Fetcher) -> None:
    with TkFeedServer(page_size=3) as tk:
        client = SyncFeedClient(fetcher, tk.base_url)
        for i in range(8):
            add_letter(tk, i)
            tk.add_zaak(f"zaak-{i}", f"2025Z{i:05}", "Brief regering", "x")  # interleaved category
        seen, token = [], None
        while (result := client.fetch_page("Document", token)).entities:
            seen += [e.guid for e in result.entities]
            token = result.next_skiptoken
        assert seen == [f"doc-{i}" for i in range(8)]
        first = client.fetch_page("Document", None)
        followed = list(first.entities)
        while first.next_url:
            first = client.fetch_url(first.next_url)
            followed += first.entities
        assert [e.guid for e in followed] == seen


def test_titles_with_markup_and_non_ascii_round_trip(tk: TkFeedServer, client: SyncFeedClient) -> None:
    subject = "AI-fabriek Groningen & Nij Begun <€200 mln> — Szabó, “Karremans”"
    tk.add_document("doc-x", "2025D30001", "Brief regering", subject, "ICT & <meer>", "2025-06-27", "2024-2025")
    (doc,) = client.fetch_page("Document", None).entities
    assert isinstance(doc, TkDocument)
    assert (doc.onderwerp, doc.titel, doc.datum) == (subject, "ICT & <meer>", date(2025, 6, 27))


def test_updated_document_appears_again_with_full_state(tk: TkFeedServer, client: SyncFeedClient) -> None:
    first = add_letter(tk, 1, zaak_guids=["zaak-1"])
    tk.update_document("doc-1", volgnummer=1423, dossier_guids=[ICT])
    (v2,) = client.fetch_page("Document", first).entities
    assert isinstance(v2, TkDocument)
    assert (v2.volgnummer, v2.dossier_guids, v2.zaak_guids, v2.nummer) == (1423, (ICT,), ("zaak-1",), "2025D40001")


def test_deleted_entity_arrives_as_tombstone(tk: TkFeedServer, client: SyncFeedClient) -> None:
    token = add_letter(tk, 1)
    tk.delete("doc-1")
    (tomb,) = client.fetch_page("Document", token).entities
    assert isinstance(tomb, TkDocument) and tomb.deleted and tomb.guid == "doc-1" and tomb.nummer is None


def test_enclosure_link_serves_the_file(tk: TkFeedServer, client: SyncFeedClient, fetcher: Fetcher) -> None:
    add_letter(tk, 1, content=b"%PDF-1.7 brief", content_type="application/pdf")
    (doc,) = client.fetch_page("Document", None).entities
    assert isinstance(doc, TkDocument) and doc.enclosure_url and doc.content_length == 14
    assert fetcher.get("syncfeed", doc.enclosure_url, expect_xml=False).content == b"%PDF-1.7 brief"


def test_fetch_entity_returns_latest_state_or_none(tk: TkFeedServer, client: SyncFeedClient) -> None:
    add_letter(tk, 1)
    tk.update_document("doc-1", volgnummer=1450)
    doc = client.fetch_entity("doc-1")
    assert isinstance(doc, TkDocument) and doc.volgnummer == 1450 and doc.skiptoken == tk.last_token
    assert client.fetch_entity("no-such-guid") is None
    assert client.fetch_entity("../Feed?category=Document") is None  # quoted into one path segment


def test_next_link_to_another_host_is_refused(client: SyncFeedClient, fetcher: Fetcher) -> None:
    with pytest.raises(SourceError, match="syncfeed: next link points away from"):
        client.fetch_url("http://elsewhere.invalid/SyncFeed/2.0/Feed?category=Document&skiptoken=1")
    assert fetcher.stats.requests == 0


# --- finding the end of the feed ------------------------------------------------------


def test_first_start_finds_feed_end_within_60_requests_and_20_mb(tk: TkFeedServer, fetcher: Fetcher) -> None:
    client = SyncFeedClient(fetcher, tk.base_url)
    for i in range(300):  # more than one page, so every probe could read 250 entries
        add_letter(tk, i, volgnummer=1000 + i, dossier_guids=[ICT])
    last = tk.last_token
    assert last is not None and last > 30_000_000
    end = client.find_feed_end("Document")
    assert end == last
    assert fetcher.stats.requests < 60
    assert fetcher.stats.bytes_body < 20 * MB
    assert fetcher.stats.bytes_body / fetcher.stats.requests < 100_000  # probes stop early
    new = add_letter(tk, 999)
    assert [e.skiptoken for e in client.fetch_page("Document", end).entities] == [new]


def test_feed_end_is_exact_despite_pruning_holes(fetcher: Fetcher) -> None:
    with TkFeedServer(first_token=12_000_000, token_step=7) as tk:
        client = SyncFeedClient(fetcher, tk.base_url)
        for i in range(20):
            last_doc = add_letter(tk, i)
            tk.skip_tokens(1000 * i)
        tk.add_zaak("zaak-late", "2025Z1", "Brief regering", "later, other category")
        end = client.find_feed_end("Document")
        assert end == last_doc  # the last Document, not the later Zaak
        assert client.fetch_page("Document", end).entities == ()
        assert client.find_feed_end("Zaak") == tk.last_token


def test_feed_end_uses_a_high_hint(tk: TkFeedServer, fetcher: Fetcher) -> None:
    client = SyncFeedClient(fetcher, tk.base_url)
    for i in range(5):
        add_letter(tk, i)
    assert client.find_feed_end("Document", high_hint=30_000_010) == tk.last_token
    below = fetcher.stats.requests
    assert client.find_feed_end("Document", low=29_999_000, high_hint=30_000_002) == tk.last_token
    assert below < 20 and fetcher.stats.requests - below < 20
    assert client.find_feed_end("Document", high_hint=40_000_000) == tk.last_token  # far off: still exact


def test_feed_end_of_an_empty_category_is_low_after_one_request(tk: TkFeedServer, fetcher: Fetcher) -> None:
    client = SyncFeedClient(fetcher, tk.base_url)
    add_letter(tk, 1)
    assert client.find_feed_end("Kamerstukdossier", low=5) == 5
    assert client.find_feed_end("Document", low=tk.last_token or 0) == tk.last_token
    assert fetcher.stats.requests == 2


def test_feed_that_ignores_skiptoken_is_reported_not_searched_forever() -> None:
    body = f"<feed {ATOM}><entry><title>g</title></entry></feed>".encode()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    fetcher = Fetcher(httpx.Client(transport=transport), HttpConfig(pause_seconds=0))
    with pytest.raises(SourceError, match="syncfeed: Document feed never ends"):
        SyncFeedClient(fetcher, "https://tk.test/SyncFeed/2.0").find_feed_end("Document")
    assert fetcher.stats.requests == 42  # probe(low), probe(start), 40 gallop steps


def test_probe_errors_surface_as_source_errors(tk: TkFeedServer, client: SyncFeedClient) -> None:
    add_letter(tk, 1)
    tk.fail_next(1, "500")
    with pytest.raises(SourceError, match="syncfeed: HTTP 500"):
        client.find_feed_end("Document")
    tk.fail_next(1, "html")
    with pytest.raises(SourceError, match="syncfeed: got HTML instead of XML"):
        client.find_feed_end("Document")
    tk.fail_next(1, "dtd")
    with pytest.raises(SourceError, match="syncfeed: XML with a DTD"):
        client.find_feed_end("Document")


def test_probe_reads_at_most_the_probe_cap(tk: TkFeedServer, fetcher: Fetcher) -> None:
    client = SyncFeedClient(fetcher, tk.base_url)
    tk.fail_next(1, "endless")
    with pytest.raises(SourceError, match=f"syncfeed: response larger than {PROBE_MAX_BYTES} bytes"):
        client.find_feed_end("Document")
    assert fetcher.stats.bytes_body <= PROBE_MAX_BYTES


# --- faults ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("500", r"^syncfeed: HTTP 500 from http://127\.0\.0\.1:\d+/SyncFeed/2\.0/Feed\?category=Document"),
        ("429", r"^syncfeed: HTTP 429 from "),
        ("html", r"^syncfeed: got HTML instead of XML \(content-type text/html\)$"),
        ("truncated", r"^syncfeed: malformed or truncated XML: "),
        ("malformed", r"^syncfeed: malformed or truncated XML: .*mismatch"),
        ("dtd", r"^syncfeed: XML with a DTD or entity declarations rejected$"),
        ("drop", r"^syncfeed: cannot reach http://127\.0\.0\.1:\d+/SyncFeed/2\.0/Feed.*: .*peer closed"),
    ],
)
def test_bad_response_is_a_clear_source_error(
    tk: TkFeedServer, client: SyncFeedClient, mode: str, message: str
) -> None:
    add_letter(tk, 1)
    tk.fail_next(1, mode)
    with pytest.raises(SourceError, match=message):
        client.fetch_page("Document", None)
    assert len(client.fetch_page("Document", None).entities) == 1  # the next request is fine


def test_html_instead_of_xml_is_a_clear_source_error(tk: TkFeedServer, client: SyncFeedClient) -> None:
    tk.fail_next(1, "html")
    with pytest.raises(SourceError) as info:
        client.fetch_page("Document", 5)
    assert info.value.source == "syncfeed" and "HTML instead of XML" in info.value.problem


def test_503_carries_retry_after(tk: TkFeedServer, client: SyncFeedClient) -> None:
    tk.fail_next(1, "503")
    with pytest.raises(SourceError, match=r"syncfeed: HTTP 503 .*retry after 7s") as info:
        client.fetch_page("Document", None)
    assert info.value.retry_after == 7


def test_entity_bomb_from_the_server_is_rejected(tk: TkFeedServer, client: SyncFeedClient) -> None:
    tk.fail_next(1, "dtd")
    with pytest.raises(SourceError, match="syncfeed: XML with a DTD or entity declarations rejected"):
        client.fetch_entity("doc-1")


def test_gzip_bomb_is_cut_off_by_size_limit(tk: TkFeedServer, client: SyncFeedClient, fetcher: Fetcher) -> None:
    tk.fail_next(1, "gzipbomb")
    with pytest.raises(SourceError, match=rf"^syncfeed: response larger than {5 * MB} bytes from http://127"):
        client.fetch_page("Document", None)
    assert fetcher.stats.bytes_body == 0  # nothing of it is kept
    assert tk.bytes_sent < MB  # the bomb itself is small on the wire


def test_endless_body_is_cut_off_by_size_limit(tk: TkFeedServer, client: SyncFeedClient) -> None:
    tk.fail_next(1, "endless")
    with pytest.raises(SourceError, match=rf"^syncfeed: response larger than {5 * MB} bytes"):
        client.fetch_page("Document", None)


def test_timeout_is_reported(tk: TkFeedServer, client: SyncFeedClient) -> None:
    tk.fail_next(1, "hang")
    with pytest.raises(SourceError, match=r"^syncfeed: timed out \(ReadTimeout\) fetching http://127"):
        client.fetch_page("Document", None)


def test_unreachable_server_is_reported(fetcher: Fetcher) -> None:
    tk = TkFeedServer().start()
    base = tk.base_url
    tk.stop()
    with pytest.raises(SourceError, match=r"^syncfeed: cannot reach http://127\.0\.0\.1:\d+/SyncFeed/2\.0/Feed"):
        SyncFeedClient(fetcher, base).fetch_page("Document", None)


def test_unknown_fault_mode_is_refused(tk: TkFeedServer) -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        tk.fail_next(1, "refuse")
