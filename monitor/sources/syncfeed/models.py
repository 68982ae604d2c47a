"""What the SyncFeed's entries say, parsed: Documents, Zaken, Kamerstukdossiers and pages of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ...models import DossierRef


@dataclass(frozen=True, slots=True)
class TkDocument:
    """One state of a Tweede Kamer ``Document`` as carried by a SyncFeed entry."""

    guid: str
    deleted: bool = False
    skiptoken: int | None = None
    updated: datetime | None = None
    nummer: str | None = None  # DocumentNummer, e.g. 2025D35903
    soort: str | None = None
    onderwerp: str | None = None
    titel: str | None = None
    citeertitel: str | None = None
    datum: date | None = None
    vergaderjaar: str | None = None
    volgnummer: int | None = None  # None when absent or -1 ("no Kamerstuk number yet")
    content_type: str | None = None
    content_length: int | None = None
    enclosure_url: str | None = None
    dossier_guids: tuple[str, ...] = ()
    zaak_guids: tuple[str, ...] = ()
    bron_document_guid: str | None = None  # set on attachments (Bijlage) pointing at their letter


@dataclass(frozen=True, slots=True)
class TkZaak:
    """One state of a Tweede Kamer ``Zaak`` (the case a letter belongs to)."""

    guid: str
    deleted: bool = False
    skiptoken: int | None = None
    updated: datetime | None = None
    nummer: str | None = None  # e.g. 2025Z09143
    soort: str | None = None
    onderwerp: str | None = None
    titel: str | None = None
    dossier_guids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TkDossier:
    """One state of a Tweede Kamer ``Kamerstukdossier``: the GUID→number mapping."""

    guid: str
    deleted: bool = False
    skiptoken: int | None = None
    updated: datetime | None = None
    nummer: int | None = None
    toevoeging: str | None = None
    titel: str | None = None

    @property
    def ref(self) -> DossierRef | None:
        return DossierRef(self.nummer, self.toevoeging or None) if self.nummer else None


TkEntity = TkDocument | TkZaak | TkDossier


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of a SyncFeed category, in feed order."""

    entities: tuple[TkEntity, ...]
    next_skiptoken: int | None  # feed-level ``next`` link, else the last entry's own link
    next_url: str | None = None
