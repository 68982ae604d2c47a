"""Letters (the merged view), the identity keys that find them, watches and matches."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, select, update

from ..models import DossierRef, Letter
from .mirror import _chunks
from .schema import letter_keys, letters, matches, outbox, sru_records, tk_documents, watches

LETTER_FIELDS = (
    "dossiers", "dossier_title", "number", "kind", "date", "subject", "title", "vergaderjaar",
    "document_nummer", "zaak_nummer", "tk_guid", "ob_identifier", "senders", "tk_url", "tk_file_url",
    "ob_html_url", "ob_pdf_url", "deleted",
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


def save(conn: Connection, letter_id: int, values: dict[str, Any]) -> None:
    conn.execute(update(letters).where(letters.c.id == letter_id).values(**values))


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


def count_matches(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(matches.c.watch, func.count()).group_by(matches.c.watch))
    return {w: n for w, n in rows}


def recent_for_watch(conn: Connection, watch: str, limit: int) -> list[Letter]:
    """The watch's letters, newest first (by letter date, then first sighting)."""
    rows = conn.execute(
        select(letters)
        .join(matches, matches.c.letter_id == letters.c.id)
        .where(matches.c.watch == watch, letters.c.deleted.is_(False))
        .order_by(letters.c.date.desc().nulls_last(), letters.c.first_seen.desc())
        .limit(limit)
    )
    return [to_model(r) for r in rows]


def outbox_letter_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(outbox)).scalar() or 0)
