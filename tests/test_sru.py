"""SRU source: query building, response parsing (fixtures) and the client (local fake server)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from lxml import etree

from monitor.config import HttpConfig
from monitor.http import Fetcher, SourceError, make_client
from monitor.models import DossierRef
from monitor.sources.sru.models import SruRecord
from monitor.sources.sru.query import build_query
from monitor.sources.sru.search import SruClient, parse_response
from tests.fakes.sru_server import SruServer

FIXTURES = Path(__file__).parent / "fixtures" / "sru"
SETTINGS = HttpConfig(read_timeout=1, pause_seconds=0)
CEST = timezone(timedelta(hours=2))


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_id(name: str) -> dict[str, SruRecord]:
    return {r.identifier: r for r in parse_response(fixture(name)).records}


def one_record(meta: str, enriched: str = "") -> bytes:
    """A minimal SRU 2.0 response around one record's metadata blocks."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<sru:searchRetrieveResponse xmlns:sru="http://docs.oasis-open.org/ns/search-ws/sruResponse"
    xmlns:gzd="http://standaarden.overheid.nl/sru" xmlns:ow="http://standaarden.overheid.nl/wetgeving/"
    xmlns:dcterms="http://purl.org/dc/terms/">
  <sru:version>2.0</sru:version><sru:numberOfRecords>1</sru:numberOfRecords>
  <sru:records><sru:record><sru:recordData><gzd:gzd>
    <gzd:originalData><ow:meta>{meta}</ow:meta></gzd:originalData>
    <gzd:enrichedData>{enriched}</gzd:enrichedData>
  </gzd:gzd></sru:recordData></sru:record></sru:records>
</sru:searchRetrieveResponse>""".encode()


# --- parsing recorded and constructed responses ---------------------------------------


def test_recorded_sample_a_record_is_parsed() -> None:
    page = parse_response(fixture("sample_a.xml"))
    record = page.records[0]
    mock = "http://__MOCK_SERVICE__/repository.overheid.nl/frbr/officielepublicaties/kst/32545/kst-32545-143/1"
    assert record == SruRecord(
        identifier="kst-32545-143",
        dossiers=(DossierRef(32545),),
        ondernummer="143",
        vergaderjaar="2020-2021",
        subtype="Motie",
        document_title="Motie van de leden Inge van Dijk en Grinwis over het definiëren van een "
        "grensspaarsaldo voor negatieve spaarrente",
        full_title="Wet- en regelgeving financiële markten; Motie; Motie van de leden Inge van Dijk en "
        "Grinwis over het definiëren van een grensspaarsaldo voor negatieve spaarrente",
        dossier_title="Wet- en regelgeving financiële markten",
        doc_type="Kamerstuk",
        publication="Kamerstuk",
        documentstatus="Opgemaakt na onopgemaakt",
        date=date(2021, 7, 6),
        available=date(2021, 7, 7),
        modified=date(2021, 7, 9),
        changed_at=datetime(2021, 7, 9, 11, 23, 39, 536390, tzinfo=CEST),
        indieners=("I. (Inge) van Dijk", "P.A. Grinwis"),
        hoofddocument=None,
        preferred_url="https://zoek.officielebekendmakingen.nl/kst-32545-143.html",
        html_url=f"{mock}/html/kst-32545-143.html",
        pdf_url=f"{mock}/pdf/kst-32545-143.pdf",
        xml_url=f"{mock}/xml/kst-32545-143.xml",
        is_reprint=False,
    )


def test_number_of_records_is_taken_as_given_not_counted() -> None:
    page = parse_response(fixture("sample_a.xml"))
    # The recorded count (an "estimate") says 3 where 2 records follow.
    assert (page.number_of_records, len(page.records), page.next_position) == (3, 2, None)


def test_non_http_links_are_dropped() -> None:
    broken = by_id("sample_a.xml")["kst-32545-144"]
    assert broken.preferred_url is None and broken.pdf_url is None
    assert broken.html_url is not None and broken.html_url.startswith("http://")
    odd = by_id("odd_records.xml")["kst-26643-713"]  # javascript: preferredUrl, ftp: html itemUrl
    assert (odd.preferred_url, odd.html_url) == (None, None)
    assert odd.pdf_url == (
        "https://repository.overheid.nl/frbr/officielepublicaties/kst/26643/kst-26643-713/1/pdf/kst-26643-713.pdf"
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("diagnostic_bare.xml", "sru: SRU diagnostic 1/6: Unsupported parameter value (x-connection)"),
        (
            "diagnostic_in_response.xml",
            "sru: SRU diagnostic 1/22: Query syntax error (w.dossiernummer==26643 AND ()",
        ),
    ],
)
def test_diagnostic_with_http_200_is_an_error_not_an_empty_result(name: str, expected: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_response(fixture(name))
    assert str(caught.value) == expected
    assert "\n" not in str(caught.value)


def test_diagnostic_message_is_one_line_and_bounded() -> None:
    body = (
        b'<diagnostics xmlns="http://docs.oasis-open.org/ns/search-ws/sruResponse"><diagnostic>'
        b"<uri>info:srw/diagnostic/1/60</uri><message>Result set not\n created:  too many matching records"
        b"</message><details>" + b"x" * 2000 + b"</details></diagnostic></diagnostics>"
    )
    with pytest.raises(SourceError, match=r"1/60: Result set not created: too many matching records") as caught:
        parse_response(body, source="ob")
    assert str(caught.value).startswith("ob: SRU diagnostic 1/60")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 320


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b"<rss version='2.0'><channel/></rss>",
            "sru: unexpected XML root <rss>, not an SRU searchRetrieveResponse",
        ),
        (b"<sru:searchRetrieveResponse xmlns:sru='x'><sru:records>", "sru: malformed or truncated XML"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', "sru: XML with a DTD or entity declarations rejected"),
    ],
)
def test_responses_that_are_not_sru_are_errors(body: bytes, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        parse_response(body)
    assert str(caught.value).startswith(message)


def test_sru_1_2_namespace_is_parsed_the_same() -> None:
    page = parse_response(fixture("sru12_response.xml"))
    assert (page.number_of_records, page.next_position) == (12, 2)
    (record,) = page.records
    assert (record.identifier, record.subtype, record.dossiers) == (
        "kst-26643-1149",
        "Brief regering",
        (DossierRef(26643),),
    )
    assert record.document_title == "Verzamelbrief Digitalisering maart 2024"


def test_empty_result_has_no_records() -> None:
    body = (
        b'<searchRetrieveResponse xmlns="http://docs.oasis-open.org/ns/search-ws/sruResponse">'
        b"<version>2.0</version><numberOfRecords>0</numberOfRecords></searchRetrieveResponse>"
    )
    page = parse_response(body)
    assert (page.records, page.number_of_records, page.next_position) == ((), 0, None)


def test_letter_in_dossier_26643_is_parsed() -> None:
    letter = by_id("letters_26643.xml")["kst-26643-1384"]
    assert (letter.dossiers, letter.ondernummer, letter.vergaderjaar) == (
        (DossierRef(26643),),
        "1384",
        "2024-2025",
    )
    assert (letter.subtype, letter.doc_type, letter.publication) == (
        "Brief regering",
        "Kamerstuk",
        "Kamerstuk",
    )
    assert letter.document_title is not None and letter.document_title.startswith("Plan van aanpak aangenomen")
    assert (letter.date, letter.available, letter.modified) == (
        date(2025, 8, 28),
        date(2025, 8, 28),
        date(2025, 8, 29),
    )
    assert letter.changed_at == datetime(2025, 8, 29, 9, 14, 2, 123456, tzinfo=CEST)  # 7 digits, truncated
    assert letter.preferred_url == "https://zoek.officielebekendmakingen.nl/kst-26643-1384.html"
    assert not letter.is_reprint


def test_bijlage_keeps_its_hoofddocument_and_pdf() -> None:
    bijlage = by_id("letters_26643.xml")["blg-1184310"]
    assert (bijlage.doc_type, bijlage.publication, bijlage.hoofddocument) == (
        "Bijlage",
        "Kamerstuk",
        "kst-26643-1384",
    )
    assert bijlage.subtype is None and bijlage.html_url is None
    assert bijlage.pdf_url is not None and bijlage.pdf_url.endswith("/blg-1184310.pdf")


def test_subtype_may_come_from_kamerstuktypen_dcterms_type() -> None:
    reprint = by_id("letters_26643.xml")["kst-26643-1336-h1"]
    assert (reprint.subtype, reprint.doc_type) == ("Brief regering", "Kamerstuk")
    assert reprint.indieners == ("F.Z. Szabó",)
    assert reprint.is_reprint
    assert reprint.changed_at == datetime(2025, 5, 21, 14, 2, 59, tzinfo=CEST)


def test_unformatted_record_takes_subtype_and_subject_from_its_title() -> None:
    record = by_id("letters_26643.xml")["kst-1027708"]
    assert (record.subtype, record.dossier_title) == (
        "Brief regering",
        "Informatie- en communicatietechnologie (ICT)",
    )
    assert record.document_title == "Hoofdlijnen beleid voor digitalisering (herdruk)"
    assert (record.ondernummer, record.documentstatus, record.dossiers) == (
        None,
        "Onopgemaakt",
        (DossierRef(26643),),
    )
    assert record.date == date(2022, 4, 29)  # no dcterms:date, so dcterms:issued
    assert record.pdf_url is not None and record.pdf_url.endswith("/kst-1027708.pdf")  # only in gzd:url
    assert record.is_reprint  # "(herdruk)" in the title


def test_reprint_is_recognised_by_its_id_suffix_alone() -> None:
    meta = "<ow:owmskern><dcterms:identifier>kst-26643-1336-h2</dcterms:identifier></ow:owmskern>"
    (record,) = parse_response(one_record(meta)).records
    assert record.is_reprint


def test_bijlage_title_is_not_split_into_segments() -> None:
    meta = (
        "<ow:owmskern><dcterms:identifier>blg-1</dcterms:identifier>"
        "<dcterms:title>Rapport; deel 1; bijlagen</dcterms:title>"
        '<dcterms:type scheme="OVERHEIDop.Parlementair">Bijlage</dcterms:type></ow:owmskern>'
    )
    (record,) = parse_response(one_record(meta)).records
    assert (record.subtype, record.document_title, record.full_title) == (None, None, "Rapport; deel 1; bijlagen")


def test_title_split_survives_a_semicolon_in_the_dossier_title() -> None:
    meta = (
        "<ow:owmskern><dcterms:identifier>kst-1-2</dcterms:identifier>"
        "<dcterms:title>Dossier; met puntkomma; Brief regering; Onderwerp</dcterms:title></ow:owmskern>"
        "<ow:tpmeta><ow:dossiertitel>Dossier; met puntkomma</ow:dossiertitel></ow:tpmeta>"
    )
    (record,) = parse_response(one_record(meta)).records
    assert (record.dossier_title, record.subtype, record.document_title) == (
        "Dossier; met puntkomma",
        "Brief regering",
        "Onderwerp",
    )


def test_one_bad_record_does_not_lose_the_others(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="monitor.sources.sru"):
        page = parse_response(fixture("odd_records.xml"))
    assert [r.identifier for r in page.records] == ["kst-26643-713", "kst-21501-33-1079"]
    assert (page.number_of_records, page.next_position) == (9, 5)
    assert "record 1 skipped: no dcterms:identifier" in caplog.text
    assert "record 3 skipped: surrogate diagnostic 1/64: Record temporarily unavailable" in caplog.text


def test_several_dossiers_in_one_value_are_split_and_unparseable_ones_skipped() -> None:
    record = by_id("odd_records.xml")["kst-26643-713"]
    assert record.dossiers == (DossierRef(26643), DossierRef(31490))
    assert record.indieners == ("R.W. Knops", "B. van ’t Wout")


def test_dossier_with_numeric_toevoeging_is_parsed() -> None:
    assert by_id("odd_records.xml")["kst-21501-33-1079"].dossiers == (DossierRef(21501, "33"),)


def test_dates_tolerate_timestamps_and_garbage() -> None:
    records = by_id("odd_records.xml")
    assert records["kst-26643-713"].modified == date(2020, 9, 15)  # "2020-09-15T10:31:00+02:00"
    assert records["kst-26643-713"].changed_at == datetime(2020, 9, 15, 10, 32, 5, 123456, tzinfo=CEST)
    garbage = records["kst-21501-33-1079"]  # "onbekend", "2024-13-45", "gisteren"
    assert (garbage.modified, garbage.date, garbage.changed_at) == (None, None, None)


# --- the query ---------------------------------------------------------------------------


def test_query_for_one_dossier_since_a_date() -> None:
    assert build_query([DossierRef(26643)], date(2025, 6, 24)) == (
        "c.product-area==officielepublicaties AND w.publicatienaam==Kamerstuk AND w.dossiernummer==26643 "
        "AND dt.modified>=2025-06-24 sortBy dt.modified/sort.descending"
    )


def test_query_for_several_dossiers_is_sorted_and_deduplicated() -> None:
    dossiers = [DossierRef.parse("36600-VII"), DossierRef(26643), DossierRef.parse("36600 VII")]
    assert build_query(dossiers, None) == (
        "c.product-area==officielepublicaties AND w.publicatienaam==Kamerstuk AND "
        "(w.dossiernummer==26643 OR w.dossiernummer==36600-VII) sortBy dt.modified/sort.descending"
    )


def test_query_for_many_dossiers_drops_the_dossier_clause() -> None:
    many = [DossierRef(30000 + n) for n in range(26)]
    expected = (
        "c.product-area==officielepublicaties AND w.publicatienaam==Kamerstuk AND dt.modified>=2025-01-01 "
        "sortBy dt.modified/sort.descending"
    )
    assert build_query(many, date(2025, 1, 1)) == expected
    assert build_query([], date(2025, 1, 1)) == expected
    assert "w.dossiernummer" in build_query(many[:25], date(2025, 1, 1))
    assert "w.dossiernummer" not in build_query(many[:3], None, max_dossier_clauses=2)


def test_query_includes_bijlagen_by_using_publicatienaam() -> None:
    query = build_query([DossierRef(26643)], None)
    assert "w.publicatienaam==Kamerstuk" in query and "dt.type" not in query


# --- the client against the local fake server -----------------------------------------


@pytest.fixture
def server() -> Iterator[SruServer]:
    with SruServer(hang_seconds=3) as srv:
        yield srv


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with make_client(SETTINGS) as client:
        yield client


def sru_client(server: SruServer, http: httpx.Client, page_size: int = 100) -> SruClient:
    return SruClient(Fetcher(http, SETTINGS), server.base_url, source="ob-sru", page_size=page_size)


def test_fetch_page_sends_only_the_documented_parameters(server: SruServer, http: httpx.Client) -> None:
    accepts: list[str | None] = []
    http.event_hooks["request"] = [lambda request: accepts.append(request.headers.get("accept"))]
    query = build_query([DossierRef(26643)], date(2025, 1, 1))
    sru_client(server, http, page_size=50).fetch_page(query, start=51)
    params = parse_qs(server.requests[0])
    assert params == {
        "operation": ["searchRetrieve"],
        "version": ["2.0"],
        "startRecord": ["51"],
        "maximumRecords": ["50"],
        "query": [query],
    }
    assert accepts == ["application/xml"]


def test_paging_follows_next_record_position_until_absent(server: SruServer, http: httpx.Client) -> None:
    for n in range(7):
        server.add_record(f"kst-26643-{1400 + n}", modified=date(2025, 9, 1 + n // 2))
    query = build_query([DossierRef(26643)], date(2025, 1, 1))
    pages = list(sru_client(server, http, page_size=3).search(query))
    assert [p.next_position for p in pages] == [4, 7, None]
    assert [parse_qs(q)["startRecord"][0] for q in server.requests] == ["1", "4", "7"]
    assert set(server.queries) == {query}  # identical query string on every page
    ids = [r.identifier for p in pages for r in p.records]
    # modified descending, then identifier ascending
    assert ids == [
        "kst-26643-1406",
        "kst-26643-1404",
        "kst-26643-1405",
        "kst-26643-1402",
        "kst-26643-1403",
    ] + [
        "kst-26643-1400",
        "kst-26643-1401",
    ]
    assert {p.number_of_records for p in pages} == {7}


def test_search_stops_after_max_pages(server: SruServer, http: httpx.Client) -> None:
    for n in range(10):
        server.add_record(f"kst-26643-{1400 + n}")
    pages = list(sru_client(server, http, page_size=2).search(build_query([], None), max_pages=3))
    assert len(pages) == 3 and len(server.requests) == 3 and pages[-1].next_position == 7


def test_next_position_that_does_not_advance_is_an_error() -> None:
    body = (
        b'<searchRetrieveResponse xmlns="http://www.loc.gov/zing/srw/"><numberOfRecords>9</numberOfRecords>'
        b"<nextRecordPosition>1</nextRecordPosition></searchRetrieveResponse>"
    )
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body))
    with httpx.Client(transport=transport) as client:
        sru = SruClient(Fetcher(client, SETTINGS), "http://sru.test/sru")
        with pytest.raises(SourceError, match=r"^sru: nextRecordPosition 1 does not advance$"):
            list(sru.search("dt.modified>=2025-01-01"))


def test_server_filters_by_dossier_date_and_publication(server: SruServer, http: httpx.Client) -> None:
    server.add_record("kst-26643-1384", modified=date(2025, 8, 29))
    server.add_record("blg-1184310", subtype=None, doc_type="Bijlage", hoofddocument="kst-26643-1384")
    server.add_record("kst-36600-VII-12", dossier="36600-VII", modified=date(2025, 9, 2))
    server.add_record("kst-26643-713", dossier="26643;31490", modified=date(2025, 9, 3))
    server.add_record("kst-26643-1336", modified=date(2025, 5, 14))  # before the window
    server.add_record("kst-32545-143", dossier="32545")  # another dossier
    client = sru_client(server, http)
    query = build_query([DossierRef(26643), DossierRef.parse("36600-VII")], date(2025, 8, 1))
    ids = [r.identifier for r in client.fetch_page(query).records]
    assert ids == ["kst-26643-713", "kst-36600-VII-12", "kst-26643-1384", "blg-1184310"]
    only_letters = query.replace("w.publicatienaam==Kamerstuk", "dt.type==Kamerstuk")
    assert "blg-1184310" not in [r.identifier for r in client.fetch_page(only_letters).records]


def test_fake_server_output_round_trips_through_the_parser(server: SruServer, http: httpx.Client) -> None:
    title = "Reactie op ‘Langer Veilig Onderweg’ & <AI> in financiële risico’s"
    server.publication_base = "https://repository.overheid.nl"  # links as the real service writes them
    server.add_record("kst-26643-1385", document_title=title, indieners=("F.Z. Szabó", "Z. ’t Hart"))
    server.add_record("blg-1184311", subtype=None, doc_type="Bijlage", hoofddocument="kst-26643-1385")
    records = {r.identifier: r for r in sru_client(server, http).fetch_page(build_query([], None)).records}
    letter = records["kst-26643-1385"]
    assert (letter.document_title, letter.subtype, letter.ondernummer) == (title, "Brief regering", "1385")
    assert letter.full_title == f"Informatie- en communicatietechnologie (ICT); Brief regering; {title}"
    assert letter.indieners == ("F.Z. Szabó", "Z. ’t Hart")
    assert letter.changed_at is not None and letter.html_url is not None and letter.xml_url is not None
    assert letter.preferred_url == "https://zoek.officielebekendmakingen.nl/kst-26643-1385.html"
    bijlage = records["blg-1184311"]
    assert (bijlage.doc_type, bijlage.hoofddocument, bijlage.subtype) == ("Bijlage", "kst-26643-1385", None)
    assert (
        bijlage.pdf_url
        == "https://repository.overheid.nl/frbr/officielepublicaties/blg/onopgemaakt/blg-1184311/1/pdf/blg-1184311.pdf"
    )


def element_paths(xml: bytes) -> set[str]:
    """Namespace-qualified paths of every element, the way a strict consumer would see them."""
    root = etree.fromstring(xml)
    tree = root.getroottree()
    return {re.sub(r"\[\d+\]", "", tree.getelementpath(e)) for e in root.iter() if isinstance(e.tag, str)}


def test_fake_server_answers_in_the_shape_of_sample_a(server: SruServer, http: httpx.Client) -> None:
    server.add_record("kst-26643-1384", indieners=("F.Z. Szabó",))
    response = http.get(
        server.base_url,
        params={"operation": "searchRetrieve", "version": "2.0", "query": "c.product-area==officielepublicaties"},
    )
    generated, recorded = element_paths(response.content), element_paths(fixture("sample_a.xml"))
    assert generated <= recorded, sorted(generated - recorded)
    assert [p.rsplit("}", 1)[1] for p in recorded - generated] == ["subject"]  # no taxonomy in the fake
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_bytes_are_parsed_not_text(server: SruServer, http: httpx.Client) -> None:
    server.content_type = "text/xml; charset=ISO-8859-1"  # wrong: the body is UTF-8
    server.add_record("kst-32545-143", dossier="32545", dossier_title="Wet- en regelgeving financiële markten")
    (record,) = sru_client(server, http).fetch_page(build_query([DossierRef(32545)], None)).records
    assert record.dossier_title == "Wet- en regelgeving financiële markten"


def test_record_updates_and_removals_are_served(server: SruServer, http: httpx.Client) -> None:
    server.add_record("kst-26643-1384", modified=date(2025, 8, 29))
    server.add_record("kst-26643-1385", modified=date(2025, 8, 30))
    server.update_record("kst-26643-1384", modified=date(2025, 9, 5), documentstatus="Opgemaakt na onopgemaakt")
    server.remove_record("kst-26643-1385")
    (record,) = sru_client(server, http).fetch_page(build_query([], date(2025, 8, 1))).records
    assert (record.identifier, record.modified, record.documentstatus) == (
        "kst-26643-1384",
        date(2025, 9, 5),
        "Opgemaakt na onopgemaakt",
    )


def test_unsupported_cql_is_a_diagnostic_error(server: SruServer, http: httpx.Client) -> None:
    with pytest.raises(SourceError, match=r"^ob-sru: SRU diagnostic 1/22: Query syntax error \(unsupported index"):
        sru_client(server, http).fetch_page("dt.onbekend==1")


def test_diagnostic_from_the_service_is_reported(server: SruServer, http: httpx.Client) -> None:
    server.fail_next(1, "diagnostic")
    with pytest.raises(SourceError) as caught:
        sru_client(server, http).fetch_page(build_query([], None))
    assert str(caught.value) == "ob-sru: SRU diagnostic 1/6: Unsupported parameter value (x-connection)"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("500", r"^ob-sru: HTTP 500 from http://127\.0\.0\.1:\d+/sru\?"),
        ("503", r"^ob-sru: HTTP 503 from .*, retry after 7s$"),
        ("html", r"^ob-sru: got HTML instead of XML \(content-type text/html; charset=utf-8\)$"),
        ("malformed", r"^ob-sru: malformed or truncated XML: Opening and ending tag mismatch"),
        ("truncated", r"^ob-sru: malformed or truncated XML: "),
    ],
)
def test_server_failures_are_reported(server: SruServer, http: httpx.Client, mode: str, message: str) -> None:
    server.fail_next(1, mode)
    client = sru_client(server, http)
    with pytest.raises(SourceError, match=message) as caught:
        client.fetch_page(build_query([], None))
    if mode == "503":
        assert caught.value.retry_after == 7
    assert client.fetch_page(build_query([], None)).records == ()  # the next request is served again


def test_soft_404_is_reported(server: SruServer, http: httpx.Client) -> None:
    server.fail_next(1, "soft404")
    with pytest.raises(
        SourceError,
        match=r"^ob-sru: not found \(soft 404, redirected to http://127\.0\.0\.1:\d+/fout404\.html\)$",
    ):
        sru_client(server, http).fetch_page(build_query([], None))


def test_connection_reset_is_reported(server: SruServer, http: httpx.Client) -> None:
    server.fail_next(1, "reset")
    with pytest.raises(SourceError, match=r"^ob-sru: cannot reach http://127\.0\.0\.1:\d+/sru: "):
        sru_client(server, http).fetch_page(build_query([], None))


def test_hanging_server_times_out(server: SruServer, http: httpx.Client) -> None:
    server.fail_next(1, "hang")
    with pytest.raises(SourceError, match=r"^ob-sru: timed out \(ReadTimeout\) fetching http://127\.0\.0\.1:\d+/sru$"):
        sru_client(server, http).fetch_page(build_query([], None))


def test_fault_modes_are_checked(server: SruServer) -> None:
    with pytest.raises(ValueError, match="unknown fault mode 'teapot'"):
        server.fail_next(1, "teapot")
