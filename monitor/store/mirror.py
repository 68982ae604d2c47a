"""The raw mirror of what the sources said: TK dossiers, zaken, documents and SRU records.

Only what identity and re-evaluation need is kept; the merged, human-facing view lives
in :mod:`monitor.store.letters`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, delete, select

from ..models import DossierRef, TkDocument, TkDossier, TkZaak
from .db import upsert
from .schema import sru_records, tk_document_refs, tk_documents, tk_dossiers, tk_zaken

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


def upsert_dossiers(conn: Connection, items: Sequence[TkDossier]) -> None:
    rows = [
        {"guid": d.guid, "nummer": d.nummer, "toevoeging": d.toevoeging, "titel": d.titel, "deleted": d.deleted}
        for d in _latest(items)
    ]
    upsert(conn, tk_dossiers, rows, ["guid"])


def upsert_zaken(conn: Connection, items: Sequence[TkZaak]) -> None:
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


def dossiers(conn: Connection, guids: Iterable[str]) -> dict[str, KnownDossier]:
    wanted = list(set(guids))
    out: dict[str, KnownDossier] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(
            select(tk_dossiers.c.guid, tk_dossiers.c.nummer, tk_dossiers.c.toevoeging, tk_dossiers.c.titel).where(
                tk_dossiers.c.guid.in_(chunk), tk_dossiers.c.deleted.is_(False), tk_dossiers.c.nummer.is_not(None)
            )
        )
        for guid, nummer, toevoeging, titel in rows:
            out[guid] = KnownDossier(DossierRef(nummer, toevoeging or None), titel)
    return out


def zaken(conn: Connection, guids: Iterable[str]) -> dict[str, KnownZaak]:
    wanted = list(set(guids))
    out: dict[str, KnownZaak] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(
            select(tk_zaken.c.guid, tk_zaken.c.nummer, tk_zaken.c.soort, tk_zaken.c.dossier_guids).where(
                tk_zaken.c.guid.in_(chunk), tk_zaken.c.deleted.is_(False)
            )
        )
        for guid, nummer, soort, dossier_guids in rows:
            out[guid] = KnownZaak(nummer, soort, _split(dossier_guids))
    return out


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
    for chunk in _chunks(guids):
        conn.execute(delete(tk_document_refs).where(tk_document_refs.c.doc_guid.in_(chunk)))
    refs = [
        {"doc_guid": d.guid, "ref_guid": ref, "kind": kind}
        for d in latest
        if not d.deleted
        for kind, group in (("dossier", d.dossier_guids), ("zaak", d.zaak_guids))
        for ref in dict.fromkeys(group)
    ]
    if refs:
        conn.execute(tk_document_refs.insert(), refs)


def documents_referencing(conn: Connection, ref_guids: Iterable[str]) -> dict[str, int]:
    """Documents (guid → letter id) that reference any of the given zaak/dossier GUIDs."""
    out: dict[str, int] = {}
    for chunk in _chunks(list(set(ref_guids))):
        rows = conn.execute(
            select(tk_documents.c.guid, tk_documents.c.letter_id)
            .join(tk_document_refs, tk_document_refs.c.doc_guid == tk_documents.c.guid)
            .where(tk_document_refs.c.ref_guid.in_(chunk), tk_documents.c.deleted.is_(False))
        )
        for guid, letter_id in rows:
            if letter_id is not None:
                out[guid] = letter_id
    return out


def document_refs(conn: Connection, doc_guids: Iterable[str]) -> dict[str, tuple[list[str], list[str]]]:
    """doc guid → (dossier guids, zaak guids) as last stored."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for chunk in _chunks(list(set(doc_guids))):
        rows = conn.execute(
            select(tk_document_refs.c.doc_guid, tk_document_refs.c.ref_guid, tk_document_refs.c.kind).where(
                tk_document_refs.c.doc_guid.in_(chunk)
            )
        )
        for doc, ref, kind in rows:
            entry = out.setdefault(doc, ([], []))
            (entry[0] if kind == "dossier" else entry[1]).append(ref)
    return out


def unknown_refs(conn: Connection, guids: Iterable[str], kind: str) -> list[str]:
    """Which of these dossier/zaak GUIDs the mirror has never seen."""
    table = tk_dossiers if kind == "dossier" else tk_zaken
    wanted = list(set(guids))
    known: set[str] = set()
    for chunk in _chunks(wanted):
        known.update(conn.execute(select(table.c.guid).where(table.c.guid.in_(chunk))).scalars())
    return [g for g in wanted if g not in known]


def sru_versions(conn: Connection, identifiers: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in _chunks(list(set(identifiers))):
        rows = conn.execute(
            select(sru_records.c.identifier, sru_records.c.version).where(sru_records.c.identifier.in_(chunk))
        )
        out.update({ident: version for ident, version in rows})
    return out


def upsert_sru(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    upsert(conn, sru_records, rows, ["identifier"])


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
