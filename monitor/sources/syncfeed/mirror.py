"""The raw mirror of what the SyncFeed said: TK dossiers, zaken and documents.

Only what identity and re-evaluation need is kept; the merged, human-facing view lives
in :mod:`monitor.store.letters`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Connection, Table, delete

from ...models import DossierRef
from ...store.db import chunks, insert_many, rows_where_in, upsert
from ...store.schema import tk_document_refs, tk_documents, tk_dossiers, tk_zaken
from .models import TkDocument, TkDossier, TkZaak

E = TypeVar("E", TkDocument, TkZaak, TkDossier)


@dataclass(frozen=True, slots=True)
class KnownDossier:
    ref: DossierRef
    titel: str | None


@dataclass(frozen=True, slots=True)
class KnownZaak:
    nummer: str | None
    soort: str | None
    dossier_guids: tuple[str, ...]


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def _write_dossiers(conn: Connection, items: Sequence[TkDossier]) -> None:
    rows = [
        {"guid": d.guid, "nummer": d.nummer, "toevoeging": d.toevoeging, "titel": d.titel, "deleted": d.deleted}
        for d in _latest(items)
    ]
    upsert(conn, tk_dossiers, rows, ["guid"])


def _write_zaken(conn: Connection, items: Sequence[TkZaak]) -> None:
    rows = [
        {
            "guid": z.guid,
            "nummer": z.nummer,
            "soort": z.soort,
            "dossier_guids": ",".join(z.dossier_guids),
            "deleted": z.deleted,
        }
        for z in _latest(items)
    ]
    upsert(conn, tk_zaken, rows, ["guid"])


def _latest(items: Sequence[E]) -> list[E]:
    """Keep the last state per GUID: a page can carry several versions of one entity."""
    return list({item.guid: item for item in items}.values())


def _known_dossier(nummer: int | None, toevoeging: str | None, titel: str | None, deleted: bool) -> KnownDossier | None:
    """What resolving a document needs of a dossier; None when it cannot place one (deleted, no number)."""
    if deleted or nummer is None:
        return None
    return KnownDossier(DossierRef(nummer, toevoeging or None), titel)


def _known_zaak(
    nummer: str | None, soort: str | None, dossier_guids: tuple[str, ...], deleted: bool
) -> KnownZaak | None:
    return None if deleted else KnownZaak(nummer, soort, dossier_guids)


K = TypeVar("K", KnownZaak, KnownDossier)


class _Remembered(Generic[K]):
    """One mirror table as a poll knows it: each GUID's state, or that the table lacks it."""

    def __init__(self, table: Table, columns: tuple[str, ...], from_row: Callable[..., K | None]) -> None:
        self.table = table
        self.columns = ("guid", *columns)
        self.from_row: Callable[..., K | None] = from_row  # the columns' values → state
        self.states: dict[str, K | None] = {}  # None: in the mirror but not usable (deleted, ...)
        self.absent: set[str] = set()  # looked up: not in the mirror

    def remember(self, guid: str, state: K | None) -> None:
        self.states[guid] = state
        self.absent.discard(guid)

    def usable(self, conn: Connection, guids: Iterable[str]) -> dict[str, K]:
        wanted = set(guids)
        self._load(conn, wanted)
        return {g: state for g in wanted if (state := self.states.get(g)) is not None}

    def unknown(self, conn: Connection, guids: Iterable[str]) -> list[str]:
        """Which of these GUIDs the mirror has never seen (in first-seen order)."""
        wanted = list(dict.fromkeys(guids))
        self._load(conn, set(wanted))
        return [g for g in wanted if g in self.absent]

    def _load(self, conn: Connection, guids: set[str]) -> None:
        missing = [g for g in guids if g not in self.states and g not in self.absent]
        for guid, *values in rows_where_in(conn, self.table, self.columns, "guid", missing):
            self.states[guid] = self.from_row(*values)
        self.absent.update(g for g in missing if g not in self.states)


class Related:
    """The zaken and dossiers one poll has read or written, so each is read from the store once.

    A catch-up resolves tens of thousands of documents to their dossiers: the same ~1,500
    dossiers over and over, and zaken that the same poll has just stored from the Zaak
    feed.  Every write of those two tables during the poll goes through here
    (:meth:`upsert_zaken`, :meth:`upsert_dossiers`), so what is remembered stays what the
    store holds; the lease makes this poll the only writer of the source.  A new instance
    is made for each poll.
    """

    def __init__(self) -> None:
        self._zaken = _Remembered(
            tk_zaken, ("nummer", "soort", "dossier_guids", "deleted"),
            lambda nummer, soort, dossier_guids, deleted: _known_zaak(nummer, soort, _split(dossier_guids), deleted),
        )  # fmt: skip
        self._dossiers = _Remembered(
            tk_dossiers, ("nummer", "toevoeging", "titel", "deleted"),
            lambda nummer, toevoeging, titel, deleted: _known_dossier(nummer, toevoeging, titel, bool(deleted)),
        )  # fmt: skip

    def upsert_dossiers(self, conn: Connection, items: Sequence[TkDossier]) -> None:
        latest = _latest(items)
        _write_dossiers(conn, latest)
        for d in latest:
            self._dossiers.remember(d.guid, _known_dossier(d.nummer, d.toevoeging, d.titel, d.deleted))

    def upsert_zaken(self, conn: Connection, items: Sequence[TkZaak]) -> None:
        latest = _latest(items)
        _write_zaken(conn, latest)
        for z in latest:
            self._zaken.remember(z.guid, _known_zaak(z.nummer, z.soort, z.dossier_guids, z.deleted))

    def zaken(self, conn: Connection, guids: Iterable[str]) -> dict[str, KnownZaak]:
        """The zaken among ``guids`` that the mirror holds and that are not deleted."""
        return self._zaken.usable(conn, guids)

    def dossiers(self, conn: Connection, guids: Iterable[str]) -> dict[str, KnownDossier]:
        """The dossiers among ``guids`` that the mirror holds with a number and not deleted."""
        return self._dossiers.usable(conn, guids)

    def unknown_zaken(self, conn: Connection, guids: Iterable[str]) -> list[str]:
        """Which of these zaak GUIDs the mirror has never seen (in first-seen order)."""
        return self._zaken.unknown(conn, guids)

    def unknown_dossiers(self, conn: Connection, guids: Iterable[str]) -> list[str]:
        return self._dossiers.unknown(conn, guids)


def upsert_documents(conn: Connection, docs: Sequence[TkDocument], letter_ids: dict[str, int]) -> None:
    latest = _latest(docs)
    rows = [
        {
            "guid": d.guid,
            "letter_id": letter_ids.get(d.guid),
            "nummer": d.nummer,
            "soort": d.soort,
            "volgnummer": d.volgnummer,
            "dossier_guids": ",".join(d.dossier_guids),
            "zaak_guids": ",".join(d.zaak_guids),
            "bron_guid": d.bron_document_guid,
            "content_type": d.content_type,
            "content_length": d.content_length,
            "skiptoken": d.skiptoken,
            "deleted": d.deleted,
        }
        for d in latest
    ]
    upsert(conn, tk_documents, rows, ["guid"])
    guids = [d.guid for d in latest]
    for chunk in chunks(guids):
        conn.execute(delete(tk_document_refs).where(tk_document_refs.c.doc_guid.in_(chunk)))
    refs = [
        {"doc_guid": d.guid, "ref_guid": ref, "kind": kind}
        for d in latest
        if not d.deleted
        for kind, group in (("dossier", d.dossier_guids), ("zaak", d.zaak_guids))
        for ref in dict.fromkeys(group)
    ]
    if refs:
        insert_many(conn, tk_document_refs, refs)


def documents_referencing(conn: Connection, ref_guids: Iterable[str]) -> dict[str, int]:
    """Documents (guid → letter id) that reference any of the given zaak/dossier GUIDs."""
    # Two indexed lookups rather than a join: during a catch-up almost every changed zaak
    # is referenced by no stored document yet, and the first lookup then ends it.
    docs = {doc for (doc,) in rows_where_in(conn, tk_document_refs, ("doc_guid",), "ref_guid", list(set(ref_guids)))}
    rows = rows_where_in(conn, tk_documents, ("guid", "letter_id", "deleted"), "guid", list(docs))
    return {guid: letter_id for guid, letter_id, deleted in rows if letter_id is not None and not deleted}


def document_refs(conn: Connection, doc_guids: Iterable[str]) -> dict[str, tuple[list[str], list[str]]]:
    """doc guid → (dossier guids, zaak guids) as last stored."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for doc, ref, kind in rows_where_in(
        conn, tk_document_refs, ("doc_guid", "ref_guid", "kind"), "doc_guid", list(set(doc_guids))
    ):
        entry = out.setdefault(doc, ([], []))
        (entry[0] if kind == "dossier" else entry[1]).append(ref)
    return out
