"""Source objects → :class:`~monitor.detect.Observation`: which keys and fields each source vouches for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from .detect import Observation, subject_key
from .models import DossierRef, SruRecord, TkDocument
from .store.attachments import Sighting

TK_SITE = "https://www.tweedekamer.nl/kamerstukken"


def tk_page_url(soort: str | None, document_nummer: str | None, zaak_nummer: str | None) -> str | None:
    """The tweedekamer.nl page of a document (id = Zaak number when known, did = DocumentNummer)."""
    if not document_nummer:
        return None
    query = f"id={_quote(zaak_nummer or document_nummer)}&did={_quote(document_nummer)}"
    if (soort or "").lower() == "brief regering":
        return f"{TK_SITE}/brieven_regering/detail?{query}"
    return f"{TK_SITE}/detail?{query}"


_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]*")


def _quote(value: str) -> str:
    """Percent-encode a query value; the usual ``2025D35903`` / ``2025Z10001`` need nothing."""
    return value if _URL_SAFE.fullmatch(value) else quote(value, safe="")


def from_tk(
    doc: TkDocument,
    dossiers: Sequence[tuple[DossierRef, str | None]],
    zaak_nummer: str | None,
) -> Observation:
    """``dossiers`` are the document's own dossiers plus those of its zaken, resolved to numbers."""
    keys = [f"tk:{doc.guid}"]
    if doc.deleted:
        return Observation("tk", doc.guid, tuple(keys), deleted=True)
    if doc.nummer:
        keys.append(f"tknr:{doc.nummer}")
    refs = [d for d, _ in dossiers]
    if doc.volgnummer and doc.volgnummer > 0:
        keys += [f"kst:{d}-{doc.volgnummer}" for d in refs]
    keys += [k for d in refs if (k := subject_key(d, doc.datum, doc.onderwerp))]
    values = {
        "kind": doc.soort,
        "subject": doc.onderwerp,
        "title": doc.titel,
        "date": doc.datum,
        "vergaderjaar": doc.vergaderjaar,
        "document_nummer": doc.nummer,
        "zaak_nummer": zaak_nummer,
        "tk_guid": doc.guid,
        "number": str(doc.volgnummer) if doc.volgnummer and doc.volgnummer > 0 else None,
        "tk_url": tk_page_url(doc.soort, doc.nummer, zaak_nummer),
        "tk_file_url": doc.enclosure_url,
        "dossier_title": next((t for _, t in dossiers if t), None) or doc.titel,
    }
    return Observation("tk", doc.guid, tuple(keys), values, tuple(refs), weak=frozenset({"dossier_title"}))


def is_attachment(item: SruRecord | TkDocument) -> bool:
    """A Bijlage: SRU ``dcterms:type`` Bijlage or a ``blg-`` identifier; a TK Document of kind Bijlage.

    A bijlage carries its *letter's* dossier and number, so it must never be observed as
    a letter: it would take the letter's Kamerstuk identity and publication links.
    """
    if isinstance(item, SruRecord):
        return (item.doc_type or "").casefold() == "bijlage" or item.identifier.casefold().startswith("blg-")
    return (item.soort or "").strip().casefold() == "bijlage"


def attachment_from_sru(rec: SruRecord) -> Sighting:
    """An SRU Bijlage: attached by ``hoofddocument`` when it has one, else by dossier + ondernummer."""
    parents = [f"ob:{rec.hoofddocument}"] if rec.hoofddocument else []
    if rec.ondernummer:
        # Only the first choice when there is no hoofddocument; with one, a fallback in case
        # the letter is known by its number before its publication is.
        parents += [f"kst:{d}-{rec.ondernummer}" for d in rec.dossiers]
    title = rec.full_title or rec.document_title
    return Sighting(
        f"ob:{rec.identifier}", "sru", tuple(parents), title, rec.pdf_url, rec.preferred_url or rec.html_url
    )


def attachment_from_tk(doc: TkDocument, dossiers: Sequence[DossierRef]) -> Sighting:
    """A TK Document of kind Bijlage: attached through its ``bronDocument`` (its letter), else its number."""
    parents = [f"tk:{doc.bron_document_guid}"] if doc.bron_document_guid else []
    if doc.volgnummer and doc.volgnummer > 0:  # inferred: a bijlage numbered like its letter
        parents += [f"kst:{d}-{doc.volgnummer}" for d in dossiers]
    return Sighting(f"tk:{doc.guid}", "tk", tuple(parents), doc.onderwerp or doc.titel, doc.enclosure_url)


def from_sru(rec: SruRecord) -> Observation:
    keys = [f"ob:{rec.identifier}"]
    if rec.ondernummer:
        keys += [f"kst:{d}-{rec.ondernummer}" for d in rec.dossiers]
    keys += [k for d in rec.dossiers if (k := subject_key(d, rec.date, rec.document_title))]
    values = {
        "number": rec.ondernummer,
        "ob_identifier": rec.identifier,
        "ob_html_url": rec.preferred_url or rec.html_url,
        "ob_pdf_url": rec.pdf_url,
        "ob_html_source": rec.html_url,
        "senders": "\n".join(rec.indieners) or None,
        "dossier_title": rec.dossier_title,
        "kind": rec.subtype,
        "subject": rec.document_title,
        "title": rec.full_title,
        "date": rec.date,
        "vergaderjaar": rec.vergaderjaar,
    }
    # TK's own fields win for what TK knows; a reprint never replaces the original's links.
    weak = {"kind", "subject", "title", "date", "vergaderjaar"}
    if rec.is_reprint:
        weak |= {"ob_identifier", "ob_html_url", "ob_pdf_url", "ob_html_source"}
    return Observation("sru", rec.identifier, tuple(keys), values, rec.dossiers, weak=frozenset(weak))
