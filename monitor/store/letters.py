"""Letters (the merged view), the identity keys that find them, watches and matches."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Connection, Row, Subquery, bindparam, false, func, select, update

from ..models import Day, DossierRef, Letter, LetterDetails, kamerstuk_citation
from . import attachments as attachment_store
from .db import chunks, insert_many, rows_where_in, upsert
from .schema import MIRRORED_LETTER_IDS, letter_keys, letters, matches, tk_documents, watches

LETTER_FIELDS = (
    "dossiers", "dossier_title", "number", "kind", "date", "subject", "title", "vergaderjaar",
    "document_nummer", "zaak_nummer", "tk_guid", "ob_identifier", "senders", "tk_url", "tk_file_url",
    "ob_html_url", "ob_pdf_url", "ob_html_source", "deleted",
)  # fmt: skip


def keys_to_letters(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    rows = rows_where_in(conn, letter_keys, ("key", "letter_id"), "key", list(set(keys)))
    return {key: letter_id for key, letter_id in rows}


def add_keys(conn: Connection, pairs: Sequence[tuple[str, int]]) -> None:
    """Record new keys (the caller has checked they are not taken)."""
    if pairs:
        insert_many(conn, letter_keys, [{"key": k, "letter_id": i} for k, i in pairs])


def rows_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in chunks(list(set(ids))):
        for row in conn.execute(select(letters).where(letters.c.id.in_(chunk))):
            out[row.id] = dict(row._mapping)
    return out


def create(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert letters; return their ids in the order given (an ``id`` in the rows is ignored)."""
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        # SQLAlchemy sends INSERT … RETURNING one row at a time on SQLite (to keep the ids
        # in order); numbering the rows here lets them go in one executemany.  Safe: every
        # transaction holds SQLite's write lock from its start (BEGIN IMMEDIATE, db.py).
        start = int(conn.execute(select(func.max(letters.c.id))).scalar() or 0) + 1
        ids = list(range(start, start + len(rows)))
        insert_many(conn, letters, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
        return ids
    rows = [{k: v for k, v in row.items() if k != "id"} for row in rows]
    result = conn.execute(letters.insert().returning(letters.c.id, sort_by_parameter_order=True), rows)
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
    for column in MIRRORED_LETTER_IDS:
        conn.execute(update(column.table).where(column == drop).values({column: keep}))
    attachment_store.move(conn, keep, drop)
    kept = set(conn.execute(select(matches.c.watch).where(matches.c.letter_id == keep)).scalars())
    for watch in conn.execute(select(matches.c.watch).where(matches.c.letter_id == drop)).scalars().all():
        if watch not in kept:
            conn.execute(
                update(matches).where(matches.c.letter_id == drop, matches.c.watch == watch).values(letter_id=keep)
            )
    conn.execute(matches.delete().where(matches.c.letter_id == drop))
    conn.execute(update(letters).where(letters.c.id == drop).values(deleted=True, dossiers=()))


# The columns a Letter is built from, in the order of Letter's fields.
_MODEL_FIELDS = (
    "id", "dossiers", "dossier_title", "number", "kind", "date", "subject", "vergaderjaar", "document_nummer",
    "zaak_nummer", "tk_guid", "ob_identifier", "senders", "tk_url", "tk_file_url", "ob_html_url", "ob_pdf_url",
    "deleted", "first_seen",
)  # fmt: skip
_MODEL_COLUMNS = tuple(letters.c[f] for f in _MODEL_FIELDS)


def to_model(row: dict[str, Any] | Row[Any]) -> Letter:
    m = row._mapping if isinstance(row, Row) else row
    return _letter(*(m[f] for f in _MODEL_FIELDS))


def _letter(
    id: int, dossiers: tuple[DossierRef, ...], dossier_title: str | None, number: str | None, kind: str | None,
    date: Day | None, subject: str | None, vergaderjaar: str | None, document_nummer: str | None,
    zaak_nummer: str | None, tk_guid: str | None, ob_identifier: str | None, senders: str | None,
    tk_url: str | None, tk_file_url: str | None, ob_html_url: str | None, ob_pdf_url: str | None,
    deleted: bool | None, first_seen: datetime | None,
) -> Letter:  # fmt: skip
    """A Letter from the values of ``_MODEL_FIELDS``, in that order."""
    return Letter(
        id=id,
        dossiers=dossiers,
        dossier_title=dossier_title,
        number=number,
        kind=kind,
        date=date,
        subject=subject,
        vergaderjaar=vergaderjaar,
        document_nummer=document_nummer,
        zaak_nummer=zaak_nummer,
        tk_guid=tk_guid,
        ob_identifier=ob_identifier,
        senders=tuple(s for s in senders.split("\n") if s) if senders else (),
        tk_url=tk_url,
        tk_file_url=tk_file_url,
        ob_html_url=ob_html_url,
        ob_pdf_url=ob_pdf_url,
        deleted=bool(deleted),
        first_seen=first_seen,
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
    upsert(conn, watches, [{"name": name, "fingerprint": fingerprint, "baselined_at": at}], ["name"])


def matched(conn: Connection, letter_ids: Iterable[int]) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for chunk in chunks(list(set(letter_ids))):
        rows = conn.execute(select(matches.c.watch, matches.c.letter_id).where(matches.c.letter_id.in_(chunk)))
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
    for chunk in chunks(list(set(letter_ids))):
        rows = conn.execute(
            select(matches.c.letter_id, matches.c.watch).where(
                matches.c.letter_id.in_(chunk), matches.c.silent.is_(False)
            )
        )
        for lid, watch in rows:
            out.setdefault(lid, []).append(watch)
    return out


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


def parse_details(text: str | None) -> LetterDetails | None:
    """Stored details JSON → LetterDetails; None when absent or written by an incompatible version."""
    if not text:
        return None
    try:
        return LetterDetails.from_json(text)
    except ValueError:  # render without rather than fail
        return None


def with_details(conn: Connection, found: Sequence[Letter]) -> list[Letter]:
    """The letters with the details read from them attached (sender, summary, signatories)."""
    texts = details(conn, [x.id for x in found])
    return [replace(x, details=parse_details(texts.get(x.id))) for x in found]


def published_counts(conn: Connection, dossiers: Iterable[DossierRef]) -> dict[str, int]:
    """Dossier → how many officially published letters (with an ``ob_identifier``) are on record for it."""
    out: dict[str, int] = {}
    for d in dossiers:
        # The column holds "26643,32761": LIKE narrows the rows in the database, then the item is compared whole.
        pattern = letters.c.dossiers.like(f"%{d}%")
        rows = conn.execute(
            select(letters.c.dossiers).where(
                pattern, letters.c.ob_identifier.is_not(None), letters.c.deleted.is_(False)
            )
        )
        out[str(d)] = sum(1 for (refs,) in rows if d in refs)
    return out


def first_sightings(conn: Connection, letter_ids: Iterable[int]) -> list[tuple[Day, datetime]]:
    """(date, first seen) of the given letters that have a date."""
    out: list[tuple[Day, datetime]] = []
    for chunk in chunks(list(set(letter_ids))):
        rows = conn.execute(
            select(letters.c.date, letters.c.first_seen).where(letters.c.id.in_(chunk), letters.c.date.is_not(None))
        )
        out += [(day, seen) for day, seen in rows]
    return out


def updated_at(conn: Connection, letter_ids: Iterable[int]) -> dict[int, datetime]:
    """letter id → when its record last changed."""
    out: dict[int, datetime] = {}
    for chunk in chunks(list(set(letter_ids))):
        out.update(
            {i: at for i, at in conn.execute(select(letters.c.id, letters.c.updated_at).where(letters.c.id.in_(chunk)))}
        )
    return out


def count_letters(conn: Connection) -> int:
    """Letters on record (merged-away duplicates not counted)."""
    # "= 0" (not "IS 0", as elsewhere): the condition of the partial index ix_letters_live, read instead of the rows.
    query = select(func.count()).select_from(letters).where(letters.c.deleted == false())
    return int(conn.execute(query).scalar() or 0)


def count_matches_of(conn: Connection, watch: str) -> int:
    return int(conn.execute(select(func.count()).select_from(matches).where(matches.c.watch == watch)).scalar() or 0)


def count_matches(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(matches.c.watch, func.count()).group_by(matches.c.watch))
    return {w: n for w, n in rows}


class Listed(NamedTuple):
    """A letter as ``kamermonitor list`` shows it: how to cite it, what it is, where to read it."""

    id: int
    dossiers: tuple[str, ...]  # as str(DossierRef): "26643", "36600-VII"
    number: str | None
    kind: str | None
    date: Day | None
    subject: str | None
    document_nummer: str | None
    ob_identifier: str | None
    tk_url: str | None
    ob_html_url: str | None
    ob_pdf_url: str | None

    @property
    def citation(self) -> str | None:
        return kamerstuk_citation(self.dossiers, self.number)


_LISTED_COLUMNS = tuple(letters.c[f] for f in Listed._fields)


@functools.lru_cache(maxsize=4096)
def _dossier_names(refs: tuple[DossierRef, ...]) -> tuple[str, ...]:
    return tuple(str(d) for d in refs)


def _ranked(watch_names: Sequence[str]) -> Subquery:
    """(watch, letter id, rank) of each watch's letters, newest first (letter date, then first sighting).

    The window runs over narrow rows; the caller joins ``letters`` for the few it keeps.
    """
    rank = (
        func.row_number()
        .over(
            partition_by=matches.c.watch,
            order_by=(letters.c.date.desc().nulls_last(), letters.c.first_seen.desc(), letters.c.id.desc()),
        )
        .label("rank")
    )
    return (
        select(matches.c.watch.label("watch"), matches.c.letter_id.label("letter_id"), rank)
        .join(letters, matches.c.letter_id == letters.c.id)
        .where(matches.c.watch.in_(list(watch_names)), letters.c.deleted.is_(False))
        .subquery()
    )


def _recent_rows(
    conn: Connection, watch_names: Sequence[str], limit: int, columns: Sequence[ColumnElement[Any]]
) -> Iterable[Sequence[Any]]:
    ranked = _ranked(watch_names)
    return conn.execute(
        select(ranked.c.watch, *columns)
        .join(letters, letters.c.id == ranked.c.letter_id)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.watch, ranked.c.rank)
    )


def recent(conn: Connection, watch_names: Sequence[str], limit: int) -> dict[str, list[Letter]]:
    """Each watch's letters, newest first (letter date, then first sighting), in one query."""
    out: dict[str, list[Letter]] = {name: [] for name in watch_names}
    if watch_names:
        for row in _recent_rows(conn, watch_names, limit, _MODEL_COLUMNS):
            out[row[0]].append(_letter(*row[1:]))
    return out


def recent_listed(conn: Connection, watch_names: Sequence[str], limit: int) -> dict[str, list[Listed]]:
    """What :func:`recent` finds, as :class:`Listed` rows: for ``list``, which prints thousands of them."""
    out: dict[str, list[Listed]] = {name: [] for name in watch_names}
    if watch_names:
        for row in _recent_rows(conn, watch_names, limit, _LISTED_COLUMNS):
            out[row[0]].append(Listed(row[1], _dossier_names(row[2]), *row[3:]))
    return out


def recent_for_watch(conn: Connection, watch: str, limit: int) -> list[Letter]:
    return recent(conn, [watch], limit)[watch]
