"""SyncFeed documents → :class:`~monitor.detect.Observation`: which keys and fields the Tweede Kamer vouches for."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from ...detect import Observation, subject_key
from ...models import DossierRef
from ...store.attachments import Sighting
from .models import TkDocument

TK_SITE = "https://www.tweedekamer.nl/kamerstukken"
IDENTITY = "tk_guid"  # the letter field that holds a Document's GUID
# A withdrawn Document does not retract a letter that is officially published already.
PUBLISHED = frozenset({"ob_identifier"})


def tk_page_url(soort: str | None, document_nummer: str | None, zaak_nummer: str | None) -> str | None:
    """The tweedekamer.nl page of a document (id = Zaak number when known, did = DocumentNummer)."""
    if not document_nummer:
        return None
    query = f"id={_quote(zaak_nummer or document_nummer)}&did={_quote(document_nummer)}"
    if (soort or "").lower() == "brief regering":
        return f"{TK_SITE}/brieven_regering/detail?{query}"
    return f"{TK_SITE}/detail?{query}"


_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]*")


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
        return Observation(IDENTITY, doc.guid, tuple(keys), retracts=True, survives_if=PUBLISHED)
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
    return Observation(
        IDENTITY, doc.guid, tuple(keys), values, tuple(refs), weak=frozenset({"dossier_title"}), survives_if=PUBLISHED
    )


def is_attachment(doc: TkDocument) -> bool:
    """A TK Document of kind Bijlage.

    A bijlage carries its *letter's* dossier and number, so it must never be observed as
    a letter: it would take the letter's Kamerstuk identity and publication links.
    """
    return (doc.soort or "").strip().casefold() == "bijlage"


def attachment_from_tk(doc: TkDocument, dossiers: Sequence[DossierRef]) -> Sighting:
    """A TK Document of kind Bijlage: attached through its ``bronDocument`` (its letter), else its number."""
    parents = [f"tk:{doc.bron_document_guid}"] if doc.bron_document_guid else []
    if doc.volgnummer and doc.volgnummer > 0:  # inferred: a bijlage numbered like its letter
        parents += [f"kst:{d}-{doc.volgnummer}" for d in dossiers]
    return Sighting(f"tk:{doc.guid}", "tk", tuple(parents), doc.onderwerp or doc.titel, doc.enclosure_url)
