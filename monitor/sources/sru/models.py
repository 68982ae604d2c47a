"""What the SRU search says, parsed: a record per publication, and a page of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ...models import Day, DossierRef


@dataclass(frozen=True, slots=True)
class SruRecord:
    """One officiële-bekendmakingen publication as described by an SRU record."""

    identifier: str  # kst-26643-1384, kst-1027708, blg-1007826
    dossiers: tuple[DossierRef, ...] = ()
    ondernummer: str | None = None  # "1384"; Eerste Kamer uses letters ("B")
    vergaderjaar: str | None = None
    subtype: str | None = None  # KamerstukTypen subrubriek, e.g. "Brief regering", "Motie"
    document_title: str | None = None  # documenttitel: the letter's subject
    full_title: str | None = None  # dcterms:title "dossiertitel; soort; documenttitel"
    dossier_title: str | None = None
    doc_type: str | None = None  # Kamerstuk | Bijlage | ...
    publication: str | None = None  # publicatienaam
    documentstatus: str | None = None
    date: date | None = None  # the document's own date (dcterms:date / issued)
    available: Day | None = None  # publication date
    modified: Day | None = None
    changed_at: datetime | None = None  # cd:datumTijdstipWijziging* or gzd:timestamp
    indieners: tuple[str, ...] = ()
    hoofddocument: str | None = None  # for bijlagen: the letter's identifier
    preferred_url: str | None = None
    html_url: str | None = None
    pdf_url: str | None = None
    xml_url: str | None = None
    is_reprint: bool = False


@dataclass(frozen=True, slots=True)
class SruPage:
    records: tuple[SruRecord, ...]
    number_of_records: int | None
    next_position: int | None
    returned: int | None = None  # <record> elements in the answer, usable or not
