"""Letters (the merged view), the identity keys that find them, watches and matches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, update

from ..models import Attachment, DossierRef, Letter
from .mirror import _chunks
from .schema import letter_keys, letters, matches, sru_records, tk_documents, watches

LETTER_FIELDS = (
    "dossiers", "dossier_title", "number", "kind", "date", "subject", "title", "vergaderjaar",
    "document_nummer", "zaak_nummer", "tk_guid", "ob_identifier", "senders", "tk_url", "tk_file_url",
    "ob_html_url", "ob_pdf_url", "ob_html_source", "deleted",
)  # fmt: skip


def keys_to_letters(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(list(set(keys))):
        rows = conn.execute(select(letter_keys.c.key, letter_keys.c.letter_id).where(letter_keys.c.key.in_(chunk)))
        out.update({key: letter_id for key, letter_id in rows})
    return out


def add_keys(conn: Connection, pairs: Sequence[tuple[str, int]]) -> None:
    """Record new keys (the caller has checked they are not taken)."""
    if pairs:
        conn.execute(letter_keys.insert(), [{"key": k, "letter_id": i} for k, i in pairs])


def rows_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    wanted = list(set(ids))
    for i in range(0, len(wanted), 500):
        for row in conn.execute(select(letters).where(letters.c.id.in_(wanted[i : i + 500]))):
            out[row.id] = dict(row._mapping)
    return out


def create(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert letters; return their ids in the order given."""
    if not rows:
        return []
    result = conn.execute(letters.insert().returning(letters.c.id, sort_by_parameter_order=True), list(rows))
    return [r[0] for r in result]


_SAVED = (*LETTER_FIELDS, "updated_at")
_SAVE_MANY = update(letters).where(letters.c.id == bindparam("b_id")).values({c: bindparam(f"b_{c}") for c in _SAVED})


def save_many(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write the merged fields of many letters in one executemany."""
    if rows:
        conn.execute(_SAVE_MANY, [{"b_id": r["id"], **{f"b_{c}": r[c] for c in _SAVED}} for r in rows])


def merge(conn: Connection, keep: int, drop: int) -> None:
    """Two letters turned out to be one: move everything of ``drop`` onto ``keep``."""
    conn.execute(update(letter_keys).where(letter_keys.c.letter_id == drop).values(letter_id=keep))
    conn.execute(update(tk_documents).where(tk_documents.c.letter_id == drop).values(letter_id=keep))
    conn.execute(update(sru_records).where(sru_records.c.letter_id == drop).values(letter_id=keep))
    kept = set(conn.execute(select(matches.c.watch).where(matches.c.letter_id == keep)).scalars())
    for watch in conn.execute(select(matches.c.watch).where(matches.c.letter_id == drop)).scalars().all():
        if watch not in kept:
            conn.execute(
                update(matches).where(matches.c.letter_id == drop, matches.c.watch == watch).values(letter_id=keep)
            )
    conn.execute(matches.delete().where(matches.c.letter_id == drop))
    conn.execute(update(letters).where(letters.c.id == drop).values(deleted=True, dossiers=""))


def to_model(row: dict[str, Any] | Row[Any]) -> Letter:
    m = dict(row._mapping) if isinstance(row, Row) else row
    return Letter(
        id=m["id"],
        dossiers=tuple(DossierRef.parse(d) for d in (m["dossiers"] or "").split(",") if d),
        dossier_title=m["dossier_title"],
        number=m["number"],
        kind=m["kind"],
        date=m["date"],
        subject=m["subject"],
        vergaderjaar=m["vergaderjaar"],
        document_nummer=m["document_nummer"],
        zaak_nummer=m["zaak_nummer"],
        tk_guid=m["tk_guid"],
        ob_identifier=m["ob_identifier"],
        senders=tuple(s for s in (m["senders"] or "").split("\n") if s),
        tk_url=m["tk_url"],
        tk_file_url=m["tk_file_url"],
        ob_html_url=m["ob_html_url"],
        ob_pdf_url=m["ob_pdf_url"],
        deleted=bool(m["deleted"]),
        first_seen=m["first_seen"],
    )


def load(conn: Connection, ids: Iterable[int]) -> dict[int, Letter]:
    return {i: to_model(r) for i, r in rows_by_id(conn, ids).items()}


@dataclass(frozen=True, slots=True)
class WatchState:
    fingerprint: str
    baselined_at: datetime


def watch_states(conn: Connection) -> dict[str, WatchState]:
    rows = conn.execute(select(watches.c.name, watches.c.fingerprint, watches.c.baselined_at))
    return {name: WatchState(fp, at) for name, fp, at in rows}


def set_watch(conn: Connection, name: str, fingerprint: str, at: datetime) -> None:
    from .db import upsert

    upsert(conn, watches, [{"name": name, "fingerprint": fingerprint, "baselined_at": at}], ["name"])


def matched(conn: Connection, letter_ids: Iterable[int]) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    wanted = list(set(letter_ids))
    for i in range(0, len(wanted), 500):
        rows = conn.execute(
            select(matches.c.watch, matches.c.letter_id).where(matches.c.letter_id.in_(wanted[i : i + 500]))
        )
        out.update((w, lid) for w, lid in rows)
    return out


def add_matches(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(matches.insert(), list(rows))


def all_letter_ids(conn: Connection) -> list[int]:
    return list(conn.execute(select(letters.c.id).where(letters.c.deleted.is_(False))).scalars())


def alerted_watches(conn: Connection, letter_ids: Iterable[int]) -> dict[int, list[str]]:
    """letter id → watches that alerted it (not silently recorded)."""
    out: dict[int, list[str]] = {}
    wanted = list(set(letter_ids))
    for i in range(0, len(wanted), 500):
        rows = conn.execute(
            select(matches.c.letter_id, matches.c.watch).where(
                matches.c.letter_id.in_(wanted[i : i + 500]), matches.c.silent.is_(False)
            )
        )
        for lid, watch in rows:
            out.setdefault(lid, []).append(watch)
    return out


def attachments(conn: Connection, letters_: Iterable[Letter]) -> dict[int, tuple[Attachment, ...]]:
    """Bijlagen of each letter: TK documents naming it as bronDocument, SRU records naming it hoofddocument."""
    wanted = list(letters_)
    by_tk = {x.tk_guid: x.id for x in wanted if x.tk_guid}
    by_ob = {x.ob_identifier: x.id for x in wanted if x.ob_identifier}
    found: dict[int, dict[int, Attachment]] = {}
    queries: list[tuple[Any, dict[str, int]]] = []
    if by_tk:
        tk_query = (
            select(tk_documents.c.bron_guid, letters.c.id, letters.c.subject, letters.c.ob_html_url)
            .add_columns(letters.c.tk_file_url)
            .join(letters, letters.c.id == tk_documents.c.letter_id)
            .where(tk_documents.c.bron_guid.in_(list(by_tk)), tk_documents.c.deleted.is_(False))
        )
        queries.append((tk_query, by_tk))
    if by_ob:
        ob_query = (
            select(sru_records.c.hoofddocument, letters.c.id, letters.c.subject, letters.c.ob_html_url)
            .add_columns(letters.c.ob_pdf_url)
            .join(letters, letters.c.id == sru_records.c.letter_id)
            .where(sru_records.c.hoofddocument.in_(list(by_ob)))
        )
        queries.append((ob_query, by_ob))
    for query, parents in queries:
        for parent_ref, att_id, subject, url1, url2 in conn.execute(query):
            parent = parents[parent_ref]
            found.setdefault(parent, {})[att_id] = Attachment(subject or "Bijlage", url1 or url2)
    return {k: tuple(v.values()) for k, v in found.items()}


@dataclass(frozen=True, slots=True)
class DetailsState:
    letter_id: int
    ob_html_source: str | None
    tk_file_url: str | None
    content_type: str | None
    content_length: int | None
    details_key: str | None


def details_states(conn: Connection, letter_ids: Iterable[int]) -> list[DetailsState]:
    """What enrichment needs per letter: where to read it and which version was read."""
    wanted = sorted(set(letter_ids))
    if not wanted:
        return []
    files = {
        lid: (ctype, clen)
        for lid, ctype, clen in conn.execute(
            select(tk_documents.c.letter_id, tk_documents.c.content_type, tk_documents.c.content_length).where(
                tk_documents.c.letter_id.in_(wanted), tk_documents.c.deleted.is_(False)
            )
        )
    }
    rows = conn.execute(
        select(letters.c.id, letters.c.ob_html_source, letters.c.tk_file_url, letters.c.details_key).where(
            letters.c.id.in_(wanted), letters.c.deleted.is_(False)
        )
    )
    return [DetailsState(lid, html, tk_file, *files.get(lid, (None, None)), key) for lid, html, tk_file, key in rows]


def save_details(conn: Connection, letter_id: int, key: str, details: str | None, error: str | None) -> None:
    conn.execute(
        update(letters).where(letters.c.id == letter_id).values(details=details, details_key=key, details_error=error)
    )


def details(conn: Connection, letter_ids: Iterable[int]) -> dict[int, str]:
    """letter id → stored details JSON."""
    wanted = list(set(letter_ids))
    rows = conn.execute(
        select(letters.c.id, letters.c.details).where(letters.c.id.in_(wanted), letters.c.details.is_not(None))
    )
    return {lid: text for lid, text in rows}


def published_counts(conn: Connection, dossiers: Iterable[DossierRef]) -> dict[str, int]:
    """Dossier → how many officially published letters (SRU records) are on record for it."""
    out: dict[str, int] = {}
    for d in dossiers:
        # dossiers is a comma-separated list; match the whole item.
        pattern = letters.c.dossiers.like(f"%{d}%")
        rows = conn.execute(
            select(letters.c.dossiers).where(
                pattern, letters.c.ob_identifier.is_not(None), letters.c.deleted.is_(False)
            )
        )
        out[str(d)] = sum(1 for (text,) in rows if str(d) in text.split(","))
    return out


def count_matches(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(matches.c.watch, func.count()).group_by(matches.c.watch))
    return {w: n for w, n in rows}


def recent(conn: Connection, watch_names: Sequence[str], limit: int) -> dict[str, list[Letter]]:
    """Each watch's letters, newest first (letter date, then first sighting), in one query."""
    if not watch_names:
        return {}
    rank = (
        func.row_number()
        .over(
            partition_by=matches.c.watch,
            order_by=(letters.c.date.desc().nulls_last(), letters.c.first_seen.desc(), letters.c.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(matches.c.watch.label("watch"), letters, rank)
        .join(letters, matches.c.letter_id == letters.c.id)
        .where(matches.c.watch.in_(list(watch_names)), letters.c.deleted.is_(False))
        .subquery()
    )
    rows = conn.execute(select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.watch, ranked.c.rank))
    out: dict[str, list[Letter]] = {name: [] for name in watch_names}
    for row in rows:
        out[row.watch].append(to_model(dict(row._mapping)))
    return out


def recent_for_watch(conn: Connection, watch: str, limit: int) -> list[Letter]:
    return recent(conn, [watch], limit)[watch]
