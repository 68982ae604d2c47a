"""Real payloads (tests/fixtures/recorded/, provenance in its README): what each parses into,
field by field, and whether the local fake servers speak the same shapes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from monitor.enrich.html import parse_publication_html
from monitor.enrich.letter import parse_letter_text
from monitor.enrich.pdf import extract_pdf_text
from monitor.http import SourceError
from monitor.models import DossierRef
from monitor.sources.sru.models import SruRecord
from monitor.sources.sru.observe import attachment_from_sru, from_sru, is_attachment
from monitor.sources.sru.search import parse_response
from monitor.sources.syncfeed.feed import parse_feed
from monitor.sources.syncfeed.models import TkDossier
from tests.fakes.sru_server import SruServer, diagnostic_xml
from tests.fakes.tk_server import TkFeedServer

RECORDED = Path(__file__).parent / "fixtures" / "recorded"
CEST = timezone(timedelta(hours=2))
MOTIE = (
    "Motie van de leden Inge van Dijk en Grinwis over het definiëren van een grensspaarsaldo voor negatieve spaarrente"
)


def payload(path: str) -> bytes:
    return (RECORDED / path).read_bytes()


def records(path: str) -> dict[str, SruRecord]:
    return {r.identifier: r for r in parse_response(payload(path)).records}


# --- SRU -------------------------------------------------------------------------------


def test_recorded_bijlage_carries_its_letters_number_and_is_attached_not_observed() -> None:
    page = parse_response(payload("sru/plooi_dcn_sru_record_bijlage_wrapped.xml"))
    assert (page.number_of_records, page.next_position) == (1, None)
    [rec] = page.records
    assert rec.identifier == "blg-936562"
    assert rec.doc_type == "Bijlage"
    assert rec.dossiers == (DossierRef(35300, "X"),)
    assert rec.ondernummer == "63"  # its letter's number, not its own
    assert rec.hoofddocument == "kst-35300-X-63"
    assert rec.full_title == (
        "Eindnotitie verkenning haalbaarheid epidemiologisch onderzoek chroom 6 Defensie (samenvattende conclusies)"
    )
    assert (rec.document_title, rec.dossier_title, rec.subtype) == (None, None, None)
    assert (rec.date, rec.available, rec.modified) == (date(2020, 6, 16), date(2020, 6, 16), date(2020, 6, 17))
    assert rec.changed_at == datetime(2020, 7, 12, 22, 2, 56, 849694, tzinfo=CEST)
    assert rec.documentstatus == "Onopgemaakt" and rec.publication == "Kamerstuk" and rec.vergaderjaar == "2019-2020"
    assert rec.preferred_url == "https://zoek.officielebekendmakingen.nl/blg-936562.html"
    assert rec.pdf_url == (
        "https://repository.overheid.nl/frbr/officielepublicaties/blg/onopgemaakt/blg-936562/1/pdf/blg-936562.pdf"
    )
    assert (rec.html_url, rec.xml_url) == (None, None)
    # Routed as an attachment: by its hoofddocument first, then by the letter's Kamerstuk key.
    assert is_attachment(rec)
    seen = attachment_from_sru(rec)
    assert seen.ref == "ob:blg-936562"
    assert seen.parents == ("ob:kst-35300-X-63", "kst:35300-X-63")
    assert seen.title == rec.full_title and seen.url == rec.pdf_url and seen.page_url == rec.preferred_url


def test_recorded_page_1_of_76_mixes_bijlagen_handelingen_and_a_brief() -> None:
    page = parse_response(payload("sru/plooi_dcn_page1_of_76.xml"))
    assert (page.number_of_records, page.next_position) == (76, 11)
    found = {r.identifier: r for r in page.records}
    assert len(found) == 10
    bijlagen = {i for i, r in found.items() if is_attachment(r)}
    assert bijlagen == {"blg-998035", "blg-998029", "blg-999984", "blg-1000226", "blg-1000150"}
    # Two have no hoofddocument: they attach by dossier + ondernummer alone.
    assert found["blg-1000226"].hoofddocument is None
    assert attachment_from_sru(found["blg-1000226"]).parents == ("kst:32813-864",)
    assert attachment_from_sru(found["blg-1000150"]).parents == ("kst:35925-VII-6",)
    assert attachment_from_sru(found["blg-998029"]).parents == ("ob:kst-27926-347", "kst:27926-347")
    assert found["blg-998029"].full_title == "Overzicht 'Wie wonen in de middenhuur?'"
    handelingen = sorted(i for i, r in found.items() if r.doc_type == "Handeling")
    assert handelingen == ["h-ek-20212022-2-1", "h-ek-20212022-2-7", "h-tk-20202021-100-4", "h-tk-20202021-101-5"]
    assert all(found[i].dossiers == () and found[i].publication == "Handelingen" for i in handelingen)
    brief = found["kst-22112-3185"]
    assert not is_attachment(brief)
    assert brief.subtype == "Brief"
    assert brief.document_title == "Fiche: Herziening Richtlijn hernieuwbare energie"
    assert brief.dossier_title == "Nieuwe Commissievoorstellen en initiatieven van de lidstaten van de Europese Unie"
    assert (brief.dossiers, brief.ondernummer) == ((DossierRef(22112),), "3185")
    assert brief.indieners == ("Th.J.A.M. de Bruijn",)
    assert (brief.date, brief.available, brief.modified) == (date(2021, 9, 17), date(2021, 9, 27), date(2021, 10, 13))
    assert brief.documentstatus == "Opgemaakt na onopgemaakt"
    assert brief.html_url == (
        "https://repository.overheid.nl/frbr/officielepublicaties/kst/22112/kst-22112-3185/1/html/kst-22112-3185.html"
    )
    assert from_sru(brief).keys[:2] == ("ob:kst-22112-3185", "kst:22112-3185")


def test_recorded_full_page_kamerstuk_aanhangsel_and_bijlagen() -> None:
    page = parse_response(payload("sru/plooi_sru_full.xml"))
    assert (page.number_of_records, page.next_position) == (3, None)  # the recording says 3 for 5 records
    found = {r.identifier: r for r in page.records}
    assert list(found) == ["kst-32545-143", "ah-tk-20202021-3235", "blg-1007826", "blg-1025203", "kst-32545-144"]
    motie = found["kst-32545-143"]
    assert (motie.subtype, motie.doc_type, motie.ondernummer) == ("Motie", "Kamerstuk", "143")
    assert motie.document_title == MOTIE
    assert motie.dossier_title == "Wet- en regelgeving financiële markten"
    assert motie.indieners == ("I. (Inge) van Dijk", "P.A. Grinwis")
    assert motie.changed_at == datetime(2021, 7, 9, 11, 23, 39, 536390, tzinfo=CEST)
    aanhangsel = found["ah-tk-20202021-3235"]
    assert (aanhangsel.doc_type, aanhangsel.subtype, aanhangsel.dossiers) == ("Aanhangsel van de Handelingen", None, ())
    assert not is_attachment(aanhangsel)
    blg = found["blg-1007826"]
    assert is_attachment(blg) and blg.hoofddocument == "kst-33037-430" and blg.ondernummer == "430"
    assert blg.changed_at == datetime(2022, 1, 4, 8, 29, 6, 532007, tzinfo=timezone(timedelta(hours=1)))
    assert attachment_from_sru(found["blg-1025203"]).title == "Keuzeproces zorgverzekering"


def test_recorded_single_kamerstuk_records() -> None:
    [rec] = records("sru/plooi_dcn_kst-35842-4.xml").values()
    assert (rec.identifier, rec.subtype, rec.ondernummer, rec.dossiers) == (
        "kst-35842-4",
        "Overig",
        "4",
        (DossierRef(35842),),
    )
    assert rec.document_title == "Advies Afdeling advisering Raad van State en Nader rapport"
    assert rec.indieners == ("Th.C. de Graaf", "K.H. Ollongren")
    assert (rec.date, rec.available, rec.modified) == (date(2021, 5, 25), date(2021, 5, 26), date(2021, 5, 27))
    # dcterms:type without a scheme: not a Bijlage, subtype from subrubriek.
    [motie] = records("sru/kst_37020_IX_40_reported_trimmed.xml").values()
    assert (motie.identifier, motie.doc_type, motie.subtype) == ("kst-37020-IX-40", None, "Motie")
    assert (motie.dossiers, motie.ondernummer) == ((DossierRef(37020, "IX"),), "40")
    assert motie.document_title == "Motie van de leden Dassen en Stultiens over een SER-advies"
    assert motie.indieners == ("L.A.J.M. Dassen", "L.C.J. Stultiens")
    assert motie.pdf_url is not None and motie.pdf_url.endswith("/kst-37020-IX-40.pdf") and motie.html_url is None
    assert not is_attachment(motie)


def test_recorded_handeling_and_kamervraag_have_no_dossier() -> None:
    [handeling] = records("sru/plooi_dcn_sru_record_handeling_wrapped.xml").values()
    assert (handeling.identifier, handeling.doc_type, handeling.dossiers) == ("h-ek-20202021-1-1", "Handeling", ())
    assert handeling.full_title == "Presentie en opening"
    [vraag] = records("sru/plooi_dcn_sru_record_kv_onopgemaakt_wrapped.xml").values()
    assert (vraag.identifier, vraag.publication, vraag.dossiers) == ("kv-2989900822", "Kamervragen zonder antwoord", ())
    assert vraag.indieners == ("Atsma",) and vraag.pdf_url is None


def test_recorded_diagnostic_in_the_default_namespace_is_an_error() -> None:
    with pytest.raises(SourceError) as caught:
        parse_response(payload("sru/diag_default_ns_reported_live_2026.xml"))
    assert str(caught.value) == (
        "sru: SRU diagnostic 1/10: line 1:13 mismatched input 'c.product-area' expecting "
        "{<EOF>, AND, OR, NOT, PROX, SORTBY}"
    )


# --- SyncFeed --------------------------------------------------------------------------


def test_recorded_syncfeed_pages_of_other_categories_move_the_cursor_only() -> None:
    stemming = parse_feed(payload("syncfeed/stemming_page_kaeldrin_real.xml"))
    assert stemming.entities == ()  # not a category the monitor models; tombstones included
    assert stemming.next_skiptoken == 3560496
    assert (
        stemming.next_url
        == "https://gegevensmagazijn.tweedekamer.nl/SyncFeed/2.0/Feed?skiptoken=3560496&category=Stemming"
    )
    activiteit = parse_feed(payload("syncfeed/activiteit_page_kaeldrin_real.xml"))
    assert (activiteit.entities, activiteit.next_skiptoken) == ((), 26603382)


def test_recorded_kamerstukdossier_entry() -> None:
    page = parse_feed(payload("syncfeed/kamerstukdossier_30218_wetsuite_nsstripped.xml"))
    assert page.entities == (
        TkDossier(
            guid="1f031e16-cb3b-45b5-b3c9-a8abd27c913a",
            deleted=False,
            skiptoken=53457,
            updated=datetime(2019, 6, 28, 20, 34, 35, tzinfo=UTC),
            nummer=30218,
            toevoeging=None,  # <toevoeging nil="true"/>
            titel="Wijziging van de Wet ruimtelijke ordening inzake de grondexploitatie",
        ),
    )
    assert (page.next_skiptoken, page.next_url) == (53457, None)


# --- letter text -------------------------------------------------------------------------


def test_recorded_tk_file_in_kamerstuk_layout() -> None:
    details = parse_letter_text((RECORDED / "tkfile/2025D21028_v2_docx_preview_opentk.txt").read_text(), source="docx")
    assert details.sender_office == "Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties"
    assert details.number == "1336"
    assert details.place_date_line == "Den Haag, 13 mei 2025"
    assert details.letter_date == date(2025, 5, 13)
    assert details.summary is not None and details.summary.startswith(
        "In deze brief vindt u de beantwoording van een aantal moties en toezeggingen"
    )
    assert details.subject is None  # the layout has no Betreft line: the subject comes from TK's onderwerp
    assert details.source == "docx"


def test_recorded_tk_file_verslag_in_kamerstuk_layout() -> None:
    details = parse_letter_text((RECORDED / "tkfile/2025D22094_v3_pdf_preview_opentk.txt").read_text())
    assert details.number == "1337"
    assert details.letter_date == date(2025, 5, 19)  # "Vastgesteld 19 mei 2025"
    assert details.place_date_line is None
    assert details.summary is not None and details.summary.startswith("De vaste commissie voor Digitale Zaken")
    assert details.cited == ("26643-1196", "26643-1327")
    assert [(s.name, s.office) for s in details.signatories] == [
        ("Wingelaar", "Voorzitter van de commissie"),
        ("Muller", "Adjunct-griffier van de commissie"),
    ]


def test_recorded_publication_of_a_motion() -> None:
    page = parse_publication_html(payload("publication/kst-32545-143.html"))
    assert page.subject == MOTIE
    assert page.letter_date == date(2021, 7, 6)
    assert page.place_date_line == "Voorgesteld 6 juli 2021"
    assert page.sender_office is None  # a motion has no "Brief van" title
    assert [(s.name, s.office) for s in page.signatories] == [("Inge van Dijk", None), ("Grinwis", None)]
    assert page.summary is not None and page.summary.startswith("constaterende dat diverse financiële instellingen")
    pdf = parse_letter_text(extract_pdf_text(payload("publication/kst-32545-143.pdf")))
    assert pdf.number == "143"
    assert pdf.letter_date == date(2021, 7, 6)  # "Voorgesteld 6 juli 2021"
    assert pdf.summary is not None and "constaterende dat diverse financiële instellingen" in pdf.summary
    aanhangsel = parse_publication_html(payload("publication/ah-tk-20202021-3235.html"))
    assert aanhangsel.letter_date == date(2021, 6, 21)
    assert aanhangsel.summary is not None and aanhangsel.summary.startswith("Klopt het dat de Tijdelijke")


# --- the fake servers speak the recorded shapes --------------------------------------------


def element_paths(root: etree._Element) -> list[str]:
    """Each element's path of {namespace}localname from ``root``, in document order, once each."""
    out: dict[str, None] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        chain = [el, *el.iterancestors()]
        chain = chain[: chain.index(root) + 1]
        out["/".join(etree.QName(x).text for x in reversed(chain))] = None
    return list(out)


def first(root: etree._Element, name: str) -> etree._Element:
    found = next(root.iter(f"{{*}}{name}"), None)
    assert found is not None, name
    return found


def manifestations(record: etree._Element) -> list[str | None]:
    return [el.get("manifestation") for el in record.iter("{*}itemUrl")]


def fake_sru_page(**fields: object) -> etree._Element:
    server = SruServer()
    server.add_record(str(fields.pop("identifier")), **fields)
    return etree.fromstring(server.respond({"version": "2.0", "query": "c.product-area==officielepublicaties"}))


def test_fake_sru_bijlage_record_has_the_recorded_shape() -> None:
    real = first(etree.fromstring(payload("sru/plooi_dcn_sru_record_bijlage_wrapped.xml")), "record")
    fake = first(
        fake_sru_page(
            identifier="blg-1184311", doc_type="Bijlage", subtype=None, ondernummer="1350",
            hoofddocument="kst-26643-1350", documentstatus="Onopgemaakt", document_title="Bijlage",
        ),
        "record",
    )  # fmt: skip
    assert element_paths(fake) == element_paths(real)
    assert manifestations(fake) == manifestations(real) == ["metadata", "metadataowms", "pdf"]
    assert first(fake, "url").text == first(fake, "itemUrl").getparent()[-2].text  # gzd:url is the pdf
    assert first(fake, "url").text.endswith(".pdf") and first(real, "url").text.endswith(".pdf")  # type: ignore[union-attr]


def test_fake_sru_kamerstuk_record_uses_only_recorded_elements() -> None:
    real = first(etree.fromstring(payload("sru/plooi_dcn_kst-35842-4.xml")), "record")
    fake = first(fake_sru_page(identifier="kst-26643-1350", indieners=("F.M. Weerwind",)), "record")
    real_paths = element_paths(real)
    fake_paths = element_paths(fake)
    assert set(fake_paths) <= set(real_paths), set(fake_paths) - set(real_paths)
    # What the recording has beyond the fake is metadata the monitor does not read.
    assert {p.rsplit("}", 1)[-1] for p in set(real_paths) - set(fake_paths)} <= {"subject", "adviesRvs"}
    in_real_order = [p for p in real_paths if p in set(fake_paths)]
    assert fake_paths == in_real_order  # and in the same order


def test_fake_sru_response_envelope_and_empty_answer() -> None:
    real = etree.fromstring(payload("sru/plooi_dcn_page1_of_76.xml"))
    server = SruServer()
    for n in range(12):
        server.add_record(f"kst-26643-{1300 + n}")
    fake = etree.fromstring(server.respond({"version": "2.0", "query": "c.product-area==officielepublicaties",
                                            "maximumRecords": "10"}))  # fmt: skip
    top = [etree.QName(el).text for el in real]
    assert [etree.QName(el).text for el in fake][: len(top)] == top  # version, numberOfRecords, records, next
    empty = etree.fromstring(SruServer().respond({"version": "2.0", "query": "c.product-area==officielepublicaties"}))
    assert [etree.QName(el).localname for el in empty if el.tag.endswith("records")] == []  # no <records> at all
    assert empty.find("{*}nextRecordPosition") is None


def test_fake_sru_diagnostic_has_the_recorded_shape() -> None:
    real = etree.fromstring(payload("sru/diag_default_ns_reported_live_2026.xml"))
    fake = etree.fromstring(diagnostic_xml("1/10", "Query syntax error", bare=False))
    assert element_paths(fake) == element_paths(real)
    assert fake.prefix is None and real.prefix is None  # the default namespace, not sru:


def test_fake_syncfeed_header_and_entries_have_the_recorded_shape() -> None:
    real = etree.fromstring(payload("syncfeed/stemming_page_kaeldrin_real.xml"))
    with TkFeedServer(page_size=2) as tk:
        tk.add_dossier("0b5e4b7a-0000-4000-8000-000000000000", 26643, "ICT")
        tk.delete("0b5e4b7a-0000-4000-8000-000000000000")
        tk.add_dossier("0b5e4b7a-0000-4000-8000-000000000001", 26644, "ICT")
        fake = etree.fromstring(tk.feed_xml("Kamerstukdossier", 0))
    header = [etree.QName(el).text for el in real if etree.QName(el).localname != "entry"]
    assert [etree.QName(el).text for el in fake if etree.QName(el).localname != "entry"] == header
    assert [el.get("rel") for el in fake.findall("{*}link")] == ["self", "next"]
    assert fake.findtext("{*}title") == "Gegevensmagazijn SyncFeed (category: Kamerstukdossier)"
    assert [el.text for el in first(fake, "author")] == [el.text for el in first(real, "author")]
    assert fake.findtext("{*}rights") == real.findtext("{*}rights")
    feed_updated = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+0[12]:00$")
    assert feed_updated.match(real.findtext("{*}updated") or "") and feed_updated.match(
        fake.findtext("{*}updated") or ""
    )
    real_entry, fake_entry = real.find("{*}entry"), fake.find("{*}entry")
    assert real_entry is not None and fake_entry is not None
    assert [etree.QName(el).text for el in fake_entry] == [etree.QName(el).text for el in real_entry]
    entry_updated = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
    assert entry_updated.match(real_entry.findtext("{*}updated") or "")
    assert entry_updated.match(fake_entry.findtext("{*}updated") or "")
    next_link = re.compile(r"/Feed\?skiptoken=\d+&category=[A-Z]\w+$")
    for entry in (real_entry, fake_entry):
        link = entry.find("{*}link")
        assert link is not None and next_link.search(link.get("href") or "")

    # A tombstone: verwijderd="true" and no children, in the tk namespace.
    def tombstones(feed: etree._Element) -> list[etree._Element]:
        return [el for el in feed.iter() if el.get("{http://www.tweedekamer.nl/xsd/tkData/v1-0}verwijderd") == "true"]

    for feed in (real, fake):
        assert tombstones(feed) and all(len(el) == 0 for el in tombstones(feed))
    # The entity: the same namespace, with its fields as children.
    real_entity = first(
        first(payload_root("syncfeed/kamerstukdossier_30218_wetsuite_nsstripped.xml"), "content"), "kamerstukdossier"
    )
    fake_entity = [el for el in fake.iter("{*}kamerstukdossier") if len(el)][0]
    assert etree.QName(fake_entity).namespace == "http://www.tweedekamer.nl/xsd/tkData/v1-0"
    assert {etree.QName(el).localname for el in fake_entity} <= {etree.QName(el).localname for el in real_entity}


def payload_root(path: str) -> etree._Element:
    return etree.fromstring(payload(path))
