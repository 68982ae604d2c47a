"""Letter enrichment: published HTML, TK PDF/DOCX files, the shared text rules, fetching.

Fixtures are constructed (tests/fixtures/letters/README.md); PDFs and DOCX files are
rendered at test time by tests/enrich_fixtures.py.  No test touches the network: fetching
goes through a real httpx.Client on an httpx.MockTransport.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import date
from functools import cache

import httpx
import pytest

from monitor.config import HttpConfig
from monitor.enrich.docx import DOCX_MAX_XML_BYTES
from monitor.enrich.errors import EnrichError
from monitor.enrich.fetch import enrich_from_publication, enrich_from_tk_file
from monitor.enrich.html import parse_publication_html
from monitor.enrich.letter import DOCX_TYPE, PDF_TYPE, parse_document, parse_letter_text
from monitor.enrich.pdf import extract_pdf_text
from monitor.enrich.signature import office_from_caps
from monitor.enrich.text import cut_summary, find_citations, join_lines, parse_dutch_date
from monitor.http import Fetcher, SourceError
from monitor.models import LetterDetails, Signatory
from tests.enrich_fixtures import corrupt_pdf, document_xml, docx, html, letter_pdf, template

AI_FABRIEK_SIGNATORIES = (
    Signatory("Vincent Karremans", "Minister van Economische Zaken"),
    Signatory(
        "Eddie van Marum",
        "Staatssecretaris van Binnenlandse Zaken, Herstel Groningen, Digitalisering en Koninkrijksrelaties",
    ),
    Signatory("Gijs Tuinman", "Staatssecretaris van Defensie"),
    Signatory("Eppo Bruins", "Minister van Onderwijs, Cultuur en Wetenschap"),
)
AI_FABRIEK_PURPOSE = (
    "Met deze brief informeren wij u over de indiening van het Nederlandse voorstel voor een AI-fabriek in "
    "Groningen. Ook informeren wij u over de bijdragen van het Rijk en de regio en over het vervolgproces."
)


@cache
def pdf(name: str) -> bytes:
    return letter_pdf(name)


@cache
def pdf_details(name: str) -> LetterDetails:
    details = parse_document(pdf(name), PDF_TYPE)
    assert details is not None
    return details


def page(body: str, head: str = "") -> bytes:
    """A minimal published-kamerstuk page around ``body`` (the content of div.algemeen)."""
    return f"""<html><head>{head}</head><body><div id="broodtekst"><div class="stuk">
        <h1 class="stuktitel"><span class="stuknummer">Nr. 7</span> BRIEF VAN DE MINISTER VAN FINANCIËN</h1>
        <p class="kamerstukdatum">Den Haag, <span class="datum">3 maart 2025</span></p>
        <div class="algemeen">{body}</div></div></div></body></html>""".encode()


# --- published HTML --------------------------------------------------------------------


def test_publication_html_gives_sender_date_summary_and_four_signatories() -> None:
    details = parse_publication_html(html("kst-26643-1342.html"))

    assert details.sender_office == "Minister van Economische Zaken"
    assert details.place_date_line == "Den Haag, 27 juni 2025"
    assert details.letter_date == date(2025, 6, 27)
    assert details.summary == AI_FABRIEK_PURPOSE
    assert details.signatories == AI_FABRIEK_SIGNATORIES
    assert details.source == "html"


def test_publication_subject_is_the_documenttitel_and_citations_come_from_footnotes() -> None:
    details = parse_publication_html(html("kst-26643-1342.html"))

    assert details.subject == "Indiening voorstel AI-fabriek Groningen"
    # 31490-999 is in the sidebar, 99999-1 in a script, 26643-1342 is the page itself.
    assert details.cited == ("26643-1265", "26643-1330")


def test_script_in_html_is_ignored() -> None:
    details = parse_publication_html(html("kst-26643-1342.html"))
    assert "niet in de brief" not in (details.summary or "")
    assert details.place_date_line == "Den Haag, 27 juni 2025"

    body = """<p>Het kabinet <script>document.write("Met deze brief informeren wij u over een list.")</script>
        heeft besloten de regeling met een jaar te verlengen, zoals eerder aangekondigd.</p>
        <script>var signer = "De Minister van Defensie, Kees Kwaadaardig";</script>
        <p>De Minister van Financiën,</p><p>Anna de Boer</p>"""
    inline = parse_publication_html(page(body, head='<script>var x = "Kamerstuk 12345, nr. 6";</script>'))
    assert inline.summary == (
        "Het kabinet heeft besloten de regeling met een jaar te verlengen, zoals eerder aangekondigd."
    )
    assert inline.signatories == (Signatory("Anna de Boer", "Minister van Financiën"),)
    assert inline.cited == ()


def test_publication_without_paragraphs_has_no_summary_but_keeps_other_fields() -> None:
    details = parse_publication_html(html("kst-26643-1350-table-only.html"))

    assert details.summary is None
    assert details.signatories == ()
    assert details.subject == "Overzicht openstaande toezeggingen digitalisering"  # DC.title, third part
    assert details.sender_office == "Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties"
    assert details.letter_date == date(2025, 7, 3)  # DCTERMS.issued: the page has no "Den Haag, …"
    assert details.place_date_line is None
    assert details.cited == ("26643-1330", "26643-1301")


def test_table_first_letter_skips_the_table() -> None:
    details = parse_publication_html(html("kst-26643-1149-table-first.html"))

    assert details.summary is not None
    assert details.summary.startswith("In deze verzamelbrief informeer ik uw Kamer")
    assert details.subject == "Verzamelbrief Digitalisering maart 2024"
    assert details.letter_date == date(2024, 4, 9)
    assert details.signatories == (
        Signatory("Alexandra van Huffelen", "Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties"),
    )
    assert details.cited == ("26643-271", "26643-1140")


def test_publication_signatures_in_name_office_order_with_initials() -> None:
    body = """<p>Het kabinet verlengt de regeling met een jaar, zoals eerder aan uw Kamer is gemeld.</p>
        <p>A.B. de Vries<br/>Minister van Financiën</p>
        <p>C. van der Berg-Jansen<br/>Staatssecretaris van Financiën<br/>Fiscaliteit en Belastingdienst</p>"""
    details = parse_publication_html(page(body))

    assert details.signatories == (
        Signatory("A.B. de Vries", "Minister van Financiën"),
        Signatory("C. van der Berg-Jansen", "Staatssecretaris van Financiën, Fiscaliteit en Belastingdienst"),
    )
    assert details.sender_office == "Minister van Financiën"  # from the stuk title


def test_structured_ondertekening_and_a_signatory_without_name() -> None:
    body = """<p>Het kabinet verlengt de regeling met een jaar, zoals eerder aan uw Kamer is gemeld.</p>
        <p class="ondertekening"><span class="functie">De Minister van Financiën,</span>
        <span class="naam">A.B. de Vries</span></p>
        <p class="ondertekening"><span class="functie">De Staatssecretaris van Financiën,</span></p>"""
    details = parse_publication_html(page(body))

    assert details.signatories == (
        Signatory("A.B. de Vries", "Minister van Financiën"),
        Signatory(None, "Staatssecretaris van Financiën"),
    )
    assert details.summary == "Het kabinet verlengt de regeling met een jaar, zoals eerder aan uw Kamer is gemeld."


def test_co_signers_without_offices_are_names_not_offices() -> None:
    body = """<p>verzoekt de regering de regeling met een jaar te verlengen,</p>
        <p>en gaat over tot de orde van de dag.</p>
        <div class="alineagroep"><p>Inge van Dijk</p><p>Grinwis</p></div>"""
    details = parse_publication_html(page(body).replace(b"BRIEF VAN DE MINISTER VAN FINANCI", b"MOTIE VAN DE LEDEN X"))

    assert details.signatories == (Signatory("Inge van Dijk", None), Signatory("Grinwis", None))
    assert details.sender_office is None  # a motion's title names no office


def test_non_markup_bytes_are_an_enrich_error() -> None:
    with pytest.raises(EnrichError, match="not an HTML page"):
        parse_publication_html(b"https://zoek.officielebekendmakingen.nl/kst-26643-1342.html")


# --- TK PDF ----------------------------------------------------------------------------


def test_pdf_letter_gives_betreft_subject_and_date() -> None:
    details = pdf_details("ai_fabriek.txt")

    assert details.subject == "Indiening voorstel AI-fabriek Groningen"
    assert details.letter_date == date(2025, 6, 27)
    assert details.sender_office == "Minister van Economische Zaken"
    assert details.summary == AI_FABRIEK_PURPOSE
    assert details.cited == ("26643-1265", "26643-1330")  # footnote 2 (Handelingen) is no Kamerstuk
    assert details.source == "pdf"


def test_wrapped_betreft_is_joined() -> None:
    assert "Betreft Indiening voorstel AI-fabriek\n" in extract_pdf_text(pdf("ai_fabriek.txt"))
    assert pdf_details("ai_fabriek.txt").subject == "Indiening voorstel AI-fabriek Groningen"
    # Wrapped with a hyphen inside a word: "Werk-" / "agenda".
    assert pdf_details("single_signatory.txt").subject == (
        "Verzamelbrief Digitalisering maart 2024 en voortgang Werkagenda Waardengedreven Digitaliseren"
    )


@pytest.mark.parametrize(
    ("lines", "joined"),
    [
        (["ontwikkeling en toe-", "passing van AI"], "ontwikkeling en toepassing van AI"),
        (["het Nederlandse AI-", "ecosysteem"], "het Nederlandse AI-ecosysteem"),
        (["een AI-", "fabriek"], "een AI-fabriek"),
        (["De Rijks-", "bijdrage"], "De Rijksbijdrage"),
        (["de regio-", "en Rijksbijdrage"], "de regio- en Rijksbijdrage"),
        (["in Gronin-", "gen"], "in Groningen"),
        (["Noord-", "Brabant"], "Noord-Brabant"),
        (["COVID-", "19"], "COVID-19"),
        (["ICT-", "projecten"], "ICT-projecten"),
        (["data-", "analyse"], "data-analyse"),  # Dutch keeps the hyphen between clashing vowels
        (["een woord  ", "  en nog een"], "een woord en nog een"),
        (["een dash -", "daarna"], "een dash - daarna"),
        (["zacht\u00ad", "koppelteken"], "zachtkoppelteken"),
    ],
)
def test_hyphenated_line_breaks_are_rejoined(lines: list[str], joined: str) -> None:
    assert join_lines(lines) == joined


def test_hyphenated_line_breaks_in_a_pdf_are_rejoined() -> None:
    text = extract_pdf_text(pdf("single_signatory.txt"))
    assert "Werk-\nagenda" in text and "over-\nheid" in text  # the breaks are really in the PDF
    summary = pdf_details("single_signatory.txt").summary or ""
    assert "o.a. de Werkagenda, de digitale identiteit en de inzet van algoritmes bij de overheid." in summary


def test_footnote_markers_are_removed_and_footnotes_are_not_body() -> None:
    text = (
        "Datum 3 maart 2025\nBetreft Verlenging regeling\n\nGeachte Voorzitter,\n\n"
        "Met deze brief informeer ik u over de brief van 31 januari 20251 en de\n"
        "afspraken2 die daarover zijn gemaakt met de sector.3\n\n"
        "1 Kamerstuk 2024-2025, 19637, nr. 3012.\n2 Zie https://www.rijksoverheid.nl.\n"
        "3 Kamerstukken II 2019/20, 35 300-VII, nrs. 12 en 13.\n\n"
        "Anna de Boer\nMinister van Financiën\n"
    )
    details = parse_letter_text(text)

    assert details.summary == (
        "Met deze brief informeer ik u over de brief van 31 januari 2025 en de afspraken die daarover zijn "
        "gemaakt met de sector."
    )
    assert details.cited == ("19637-3012", "35300-VII-12", "35300-VII-13")
    assert details.signatories == (Signatory("Anna de Boer", "Minister van Financiën"),)


def without_blocks(text: str, *starts: str) -> str:
    """The extracted text minus the blank-line-separated blocks that start with ``starts``."""
    return "\n\n".join(block for block in text.split("\n\n") if not block.strip().startswith(starts))


def test_page_break_and_footnote_block_do_not_split_a_paragraph() -> None:
    text = extract_pdf_text(pdf("ai_fabriek.txt"))
    assert "toegang tot rekenkracht,\n" in text  # the paragraph really breaks across the page

    first = parse_letter_text(without_blocks(text, "Met deze brief")).summary
    assert first is not None and first.startswith("Nederland wil een vooraanstaande rol spelen in de ontwikkeling")
    assert "en toepassing van artificiële intelligentie (AI). In eerdere brieven heeft het kabinet" in first

    third = parse_letter_text(without_blocks(text, "Met deze brief", "Nederland wil")).summary
    assert third is not None and third.startswith("Op 27 juni 2025 heeft Nederland het voorstel voor de AI-fabriek in")
    assert "toegang tot rekenkracht, data en expertise en versterkt daarmee het Nederlandse AI-ecosysteem." in third
    assert "Groningen ingediend" in third


def test_summary_is_cut_at_a_sentence_end_within_600_chars() -> None:
    paragraph = join_lines(
        template("single_signatory.txt").split("Geachte Voorzitter,\n\n")[1].split("\n\n")[0].split("\n")
    )
    assert len(paragraph) > 600
    summary = pdf_details("single_signatory.txt").summary

    assert summary is not None and len(summary) <= 600
    assert paragraph.startswith(summary) and summary.endswith(".")
    assert paragraph[len(summary)] == " " and paragraph[len(summary) + 1].isupper()  # a real sentence end
    assert "nr. 1100) ga ik" in summary  # "nr." and "o.a." did not end a sentence


def test_summary_without_a_sentence_end_is_cut_between_words() -> None:
    sentence = "het kabinet " + "en de regio " * 80 + "besluiten samen."
    cut = cut_summary(sentence)

    assert len(cut) <= 600 and cut.endswith("…")
    assert sentence.startswith(cut[:-1]) and sentence[len(cut) - 1] == " "


def test_letter_without_paragraphs_has_no_summary_but_keeps_other_fields() -> None:
    details = pdf_details("no_paragraphs.txt")

    assert details.summary is None
    assert details.subject == "Planning beantwoording schriftelijke vragen"
    assert details.letter_date == date(2025, 7, 2)
    # Office first, a gap for the signature, then the name.
    assert details.signatories == (Signatory("Vincent Karremans", "Minister van Economische Zaken"),)
    assert details.sender_office == "Minister van Economische Zaken"


def test_two_column_signatures_are_split() -> None:
    text = extract_pdf_text(pdf("ai_fabriek.txt"))
    assert any("Vincent Karremans" in line and "Eddie van Marum" in line for line in text.splitlines())

    assert pdf_details("ai_fabriek.txt").signatories == AI_FABRIEK_SIGNATORIES


def test_single_signatory_with_office_over_two_lines() -> None:
    assert pdf_details("single_signatory.txt").signatories == (
        Signatory("Alexandra van Huffelen", "Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties"),
    )


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(corrupt_pdf(), id="truncated"),
        pytest.param(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n" + bytes(range(256)) * 8, id="garbage"),
        pytest.param(b"<html><body>Niet gevonden</body></html>", id="html-error-page"),
        pytest.param(b"", id="empty"),
    ],
)
def test_corrupt_pdf_raises_enrich_error(data: bytes) -> None:
    with pytest.raises(EnrichError):
        parse_document(data, PDF_TYPE)


def test_pdf_page_cap_limits_the_text() -> None:
    text = extract_pdf_text(pdf("ai_fabriek.txt"), max_pages=1)
    assert "Pagina 1 van 2" in text and "Vincent Karremans" not in text


# --- DOCX and dispatch -----------------------------------------------------------------


def test_docx_letter_is_handled() -> None:
    details = parse_document(docx(), DOCX_TYPE)

    assert details is not None and details.source == "docx"
    assert details.subject == "Indiening voorstel AI-fabriek Groningen"
    assert details.letter_date == date(2025, 6, 27)
    assert details.summary is not None and details.summary.startswith("Met deze brief informeren wij u")
    assert details.signatories == AI_FABRIEK_SIGNATORIES[:2]
    assert details.cited == ("26643-1265",)


def test_docx_zip_bomb_is_refused() -> None:
    bomb = document_xml().replace(b"<w:body>", b"<w:body>" + b" " * (DOCX_MAX_XML_BYTES + 1))
    data = docx(bomb)
    assert len(data) < 100_000  # small on the wire, huge inflated

    with pytest.raises(EnrichError, match="word/document.xml"):
        parse_document(data, DOCX_TYPE)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (docx(b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY x "y">]><w:document/>'), "DTD"),
        (docx(b"<w:document><w:body>"), "malformed"),
        (b"PK\x03\x04 not really a zip", "unreadable DOCX"),
    ],
)
def test_unsafe_or_broken_docx_is_an_enrich_error(data: bytes, problem: str) -> None:
    with pytest.raises(EnrichError, match=problem):
        parse_document(data, DOCX_TYPE)


def test_docx_without_document_xml_is_an_enrich_error() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("word/other.xml", "<x/>")
    with pytest.raises(EnrichError, match="without word/document.xml"):
        parse_document(buffer.getvalue(), DOCX_TYPE)


@pytest.mark.parametrize("content_type", ["application/msword", "text/html", "image/png"])
def test_other_file_types_give_none(content_type: str) -> None:
    assert parse_document(pdf("no_paragraphs.txt"), content_type) is None


def test_generic_content_type_is_decided_by_the_file() -> None:
    as_pdf = parse_document(pdf("no_paragraphs.txt"), "application/octet-stream")
    as_docx = parse_document(docx(), None)

    assert as_pdf is not None and as_pdf.source == "pdf"
    assert as_docx is not None and as_docx.source == "docx"
    assert parse_document(b"plain text", None) is None


# --- shared rules and the stored form ----------------------------------------------------


def test_citations_are_normalised() -> None:
    text = (
        "Kamerstuk 2024-2025, 26643, nr. 1265; Kamerstuk 26 643, nr. 271; 26643 nr. 713; "
        "Kamerstukken II 2019/20, 35 300, nr. 1; Kamerstuk 21501-33, nr. 1079; Kamerstuk 36 600 VII, nr. 5; "
        "kst-26643-1384 and again Kamerstuk 2024-2025, 26643, nr. 1265. Not: Handelingen II 2024/25, nr. 80; "
        "EUR 12.500, nr. 3; 2595 BD nr. 6."
    )
    assert find_citations(text) == [
        "26643-1265",
        "26643-271",
        "26643-713",
        "35300-1",
        "21501-33-1079",
        "36600-VII-5",
        "26643-1384",
    ]


def test_dutch_dates() -> None:
    assert parse_dutch_date("Den Haag, 27 juni 2025") == date(2025, 6, 27)
    assert parse_dutch_date("Datum 1 December 2024") == date(2024, 12, 1)
    assert parse_dutch_date("31 februari 2025, daarna 2 maart 2025") == date(2025, 3, 2)
    assert parse_dutch_date("27-06-2025") is None


def test_office_from_the_capitalised_stuk_title() -> None:
    assert office_from_caps("MINISTER VAN ONDERWIJS, CULTUUR EN WETENSCHAP") == (
        "Minister van Onderwijs, Cultuur en Wetenschap"
    )
    assert office_from_caps("MINISTER VOOR BUITENLANDSE HANDEL EN ONTWIKKELINGSHULP") == (
        "Minister voor Buitenlandse Handel en Ontwikkelingshulp"
    )


def test_details_round_trip_through_json() -> None:
    for details in (
        pdf_details("ai_fabriek.txt"),
        parse_publication_html(html("kst-26643-1342.html")),
        LetterDetails(),
    ):
        assert LetterDetails.from_json(details.to_json()) == details
    stored = pdf_details("ai_fabriek.txt").to_json()
    assert '"letter_date":"2025-06-27"' in stored and "Koninkrijksrelaties" in stored  # ISO date, no \u escapes


@pytest.mark.parametrize(
    "stored",
    ["not json", "[]", '{"source": "fax"}', '{"letter_date": "27 juni"}', '{"signatories": "x"}', '{"subject": 3}'],
)
def test_stored_details_that_are_not_ours_are_rejected(stored: str) -> None:
    with pytest.raises(ValueError):
        LetterDetails.from_json(stored)


# --- fetching ----------------------------------------------------------------------------


Serve = Callable[[bytes, str], tuple[Fetcher, list[httpx.Request]]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """A Fetcher whose every GET answers with ``body`` (and records the requests)."""
    clients: list[httpx.Client] = []

    def make(body: bytes, content_type: str) -> tuple[Fetcher, list[httpx.Request]]:
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, content=body, headers={"content-type": content_type})

        client = httpx.Client(transport=httpx.MockTransport(handler))
        clients.append(client)
        return Fetcher(client, HttpConfig(pause_seconds=0, max_response_mb=1.0)), seen

    yield make
    for client in clients:
        client.close()


FILE_URL = "https://gegevensmagazijn.tweedekamer.nl/OData/v4/2.0/Document(1)/resource"
ALLOWED = ("https://gegevensmagazijn.tweedekamer.nl", "https://zoek.officielebekendmakingen.nl")


def test_size_mismatch_with_announced_content_length_is_an_error(serve: Serve) -> None:
    body = pdf("no_paragraphs.txt")
    fetcher, _ = serve(body, PDF_TYPE)

    with pytest.raises(EnrichError, match=f"downloaded {len(body)} bytes but {len(body) + 10} were announced"):
        enrich_from_tk_file(fetcher, FILE_URL, PDF_TYPE, len(body) + 10, ALLOWED)


def test_tk_file_with_the_announced_size_is_read(serve: Serve) -> None:
    body = pdf("no_paragraphs.txt")
    fetcher, seen = serve(body, PDF_TYPE)

    details = enrich_from_tk_file(fetcher, FILE_URL, PDF_TYPE, len(body), ALLOWED)

    assert details is not None and details.subject == "Planning beantwoording schriftelijke vragen"
    assert seen[0].headers["accept"].startswith("application/pdf")


def test_tk_file_of_another_type_is_not_downloaded(serve: Serve) -> None:
    fetcher, seen = serve(b"xx", "application/msword")

    assert enrich_from_tk_file(fetcher, FILE_URL, "application/msword", 2, ALLOWED) is None
    assert seen == []


def test_tk_file_announced_over_the_cap_is_refused_before_download(serve: Serve) -> None:
    fetcher, seen = serve(b"xx", PDF_TYPE)

    with pytest.raises(EnrichError, match="exceeds"):
        enrich_from_tk_file(fetcher, FILE_URL, PDF_TYPE, 50 * 1024 * 1024, ALLOWED)
    assert seen == []


def test_publication_is_fetched_as_html_and_read(serve: Serve) -> None:
    fetcher, seen = serve(html("kst-26643-1342.html"), "text/html; charset=utf-8")

    details = enrich_from_publication(fetcher, "https://zoek.officielebekendmakingen.nl/kst-26643-1342.html", ALLOWED)

    assert details.signatories == AI_FABRIEK_SIGNATORIES
    assert "text/html" in seen[0].headers["accept"]


@pytest.mark.parametrize(
    "url",
    [
        "https://elsewhere.example/kst-26643-1342.html",
        "http://zoek.officielebekendmakingen.nl/kst-26643-1342.html",  # another scheme
        "https://zoek.officielebekendmakingen.nl:8443/kst-26643-1342.html",  # another port
        "https://zoek.officielebekendmakingen.nl.evil.example/kst-26643-1342.html",
    ],
)
def test_a_link_off_the_allowed_urls_is_refused_without_a_request(serve: Serve, url: str) -> None:
    fetcher, seen = serve(html("kst-26643-1342.html"), "text/html; charset=utf-8")

    with pytest.raises(EnrichError, match=r"ob-publication: refused .* not under \[enrichment\] allowed_urls"):
        enrich_from_publication(fetcher, url, ALLOWED)
    with pytest.raises(EnrichError, match=r"tk-document: refused .* not under \[enrichment\] allowed_urls"):
        enrich_from_tk_file(fetcher, url, PDF_TYPE, None, ALLOWED)
    assert seen == []


def test_an_allowed_url_with_a_path_admits_only_links_under_that_path(serve: Serve) -> None:
    fetcher, seen = serve(html("kst-26643-1342.html"), "text/html; charset=utf-8")
    allowed = ("https://repository.overheid.nl/frbr",)

    with pytest.raises(EnrichError, match="refused"):
        enrich_from_publication(fetcher, "https://repository.overheid.nl/frbr/../sru?x=1", allowed)
    details = enrich_from_publication(
        fetcher, "https://repository.overheid.nl/frbr/kst-26643-1342/1/html/x.html", allowed
    )
    assert details.signatories == AI_FABRIEK_SIGNATORIES and len(seen) == 1


def test_fetch_failures_stay_source_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(refuse)) as client:
        fetcher = Fetcher(client, HttpConfig(pause_seconds=0))
        with pytest.raises(SourceError, match="HTTP 404"):
            enrich_from_publication(fetcher, "https://zoek.officielebekendmakingen.nl/kst-1.html", ALLOWED)
