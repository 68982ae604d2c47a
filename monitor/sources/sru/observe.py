"""SRU records → :class:`~monitor.detect.Observation`: which keys and fields officiële bekendmakingen vouch for."""

from __future__ import annotations

from ...detect import Observation, subject_key
from ...store.attachments import Sighting
from .models import SruRecord

IDENTITY = "ob_identifier"  # the letter field that holds a publication's identifier


def is_attachment(rec: SruRecord) -> bool:
    """A Bijlage: SRU ``dcterms:type`` Bijlage or a ``blg-`` identifier.

    A bijlage carries its *letter's* dossier and number, so it must never be observed as
    a letter: it would take the letter's Kamerstuk identity and publication links.
    """
    return (rec.doc_type or "").casefold() == "bijlage" or rec.identifier.casefold().startswith("blg-")


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
    return Observation(IDENTITY, rec.identifier, tuple(keys), values, rec.dossiers, weak=frozenset(weak))
