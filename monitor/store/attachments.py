"""Attachments (Bijlagen): stored apart from letters, attached to one through its identity keys.

An attachment has its own identity (``ob:blg-936562``, ``tk:<guid>``) and a ranked list
of *parent keys*: identity keys its letter is (or will be) known by, strongest first
(``ob:<hoofddocument>`` / ``tk:<bronDocument>``, then ``kst:<dossier>-<nr>``).  It is
attached to the letter that owns its strongest parent key in ``letter_keys``; while no
letter owns any of them, ``letter_id`` stays NULL and the attachment waits.  Whenever
letters gain keys, :func:`resolve` is asked again for the attachments waiting on those
keys, which is how an attachment that arrived before its letter finds it later.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from ..models import Attachment
from .db import chunks, insert_many, rows_where_in
from .schema import attachment_parents, attachments, letter_keys


@dataclass(frozen=True, slots=True)
class Sighting:
    """What one source says about one attachment."""

    ref: str  # ob:blg-936562 | tk:<guid>
    source: str  # the observing source's short tag, as stored in attachments.source
    parents: tuple[str, ...] = ()  # letter identity keys, strongest first
    title: str | None = None
    url: str | None = None  # its file (PDF)
    page_url: str | None = None
    deleted: bool = False


_UPDATE = (
    update(attachments)
    .where(attachments.c.ref == bindparam("b_ref"))
    .values({c: bindparam(f"b_{c}") for c in ("source", "title", "url", "page_url", "deleted", "updated_at")})
)
_MOVE = update(attachments).where(attachments.c.ref == bindparam("b_ref")).values(letter_id=bindparam("b_letter_id"))


def save(conn: Connection, sightings: Sequence[Sighting], now: datetime) -> None:
    """Store the latest state of each attachment and its parent keys (deletions only mark rows)."""
    latest = list({s.ref: s for s in sightings}.values())
    known = {ref for (ref,) in rows_where_in(conn, attachments, ("ref",), "ref", [s.ref for s in latest])}
    live = [s for s in latest if not s.deleted]
    gone = [s.ref for s in latest if s.deleted and s.ref in known]
    for chunk in chunks(gone):
        conn.execute(update(attachments).where(attachments.c.ref.in_(chunk)).values(deleted=True, updated_at=now))
    fields = [
        {"source": s.source, "title": s.title, "url": s.url, "page_url": s.page_url, "deleted": False} for s in live
    ]
    fresh = [
        {"ref": s.ref, **f, "letter_id": None, "first_seen": now, "updated_at": now}
        for s, f in zip(live, fields, strict=True)
        if s.ref not in known
    ]
    insert_many(conn, attachments, fresh)
    again = [
        {"b_ref": s.ref, **{f"b_{k}": v for k, v in f.items()}, "b_updated_at": now}
        for s, f in zip(live, fields, strict=True)
        if s.ref in known
    ]
    if again:
        conn.execute(_UPDATE, again)
    refs = [s.ref for s in live]
    for chunk in chunks(refs):
        conn.execute(attachment_parents.delete().where(attachment_parents.c.ref.in_(chunk)))
    parents = [
        {"ref": s.ref, "key": key, "rank": rank} for s in live for rank, key in enumerate(dict.fromkeys(s.parents))
    ]
    insert_many(conn, attachment_parents, parents)


def resolve(conn: Connection, refs: Iterable[str] = (), keys: Iterable[str] = ()) -> list[tuple[int, str]]:
    """Attach the given attachments, and those waiting on any of ``keys``, to their letters.

    Returns (letter id, attachment ref) for each attachment that was waiting and is now
    attached: the caller announces those.  An attachment already attached that now
    resolves to another letter (a stronger parent key appeared) moves silently.
    """
    candidates = set(refs)
    by_key = rows_where_in(conn, attachment_parents, ("ref",), "key", list(set(keys)))
    candidates |= {ref for (ref,) in by_key}
    if not candidates:
        return []
    current = {
        ref: (letter_id, bool(deleted))
        for ref, letter_id, deleted in rows_where_in(
            conn, attachments, ("ref", "letter_id", "deleted"), "ref", sorted(candidates)
        )
    }
    ranked = rows_where_in(conn, attachment_parents, ("ref", "key", "rank"), "ref", sorted(current))
    owners = dict(rows_where_in(conn, letter_keys, ("key", "letter_id"), "key", list({k for _, k, _ in ranked})))
    best: dict[str, tuple[int, int]] = {}  # ref -> (rank, letter id)
    for ref, key, rank in ranked:
        if key in owners and (ref not in best or rank < best[ref][0]):
            best[ref] = (rank, owners[key])
    attached: list[tuple[int, str]] = []
    moves: list[dict[str, Any]] = []
    for ref in sorted(best):
        letter_id, deleted = current[ref][0], current[ref][1]
        target = best[ref][1]
        if letter_id == target:
            continue
        moves.append({"b_ref": ref, "b_letter_id": target})
        if letter_id is None and not deleted:
            attached.append((target, ref))
    if moves:
        conn.execute(_MOVE, moves)
    return attached


def move(conn: Connection, keep: int, drop: int) -> None:
    """Two letters turned out to be one: ``drop``'s attachments are ``keep``'s now."""
    conn.execute(update(attachments).where(attachments.c.letter_id == drop).values(letter_id=keep))


def _same(title: str | None) -> str:
    return re.sub(r"[\W_]+", " ", unicodedata.normalize("NFKC", title or "").casefold()).strip()


def for_letters(
    conn: Connection, letter_ids: Iterable[int], only: Iterable[str] | None = None
) -> dict[int, tuple[Attachment, ...]]:
    """Each letter's attachments, first seen first; ``only`` limits them to these refs.

    One bijlage can be seen by more than one source (a parliamentary Document and an
    official publication, with no identifier in common): one title under one letter is
    listed once, as first seen.
    """
    picked = set(only) if only is not None else None
    out: dict[int, list[Attachment]] = {}
    titles: set[tuple[int, str]] = set()
    for chunk in chunks(sorted(set(letter_ids))):
        rows = conn.execute(
            select(attachments.c.letter_id, attachments.c.ref, attachments.c.title, attachments.c.url)
            .add_columns(attachments.c.page_url)
            .where(attachments.c.letter_id.in_(chunk), attachments.c.deleted.is_(False))
            .order_by(attachments.c.first_seen, attachments.c.ref)
        )
        for letter_id, ref, title, url, page in rows:
            name = (letter_id, _same(title) or ref)
            if name in titles:
                continue
            titles.add(name)
            if picked is None or ref in picked:
                out.setdefault(letter_id, []).append(Attachment(title or "Bijlage", url or page, ref))
    return {k: tuple(v) for k, v in out.items()}


def repeats(conn: Connection, pairs: Sequence[tuple[int, str]]) -> set[str]:
    """Refs among newly attached ``pairs`` whose title their letter already has from another attachment.

    The same bijlage seen by both sources is announced once: a copy attached earlier
    wins, and among copies attached together the one :func:`for_letters` lists.
    """
    if not pairs:
        return set()
    fresh = {ref for _, ref in pairs}
    earlier: set[tuple[int, str]] = set()
    rows: list[tuple[int, str, str]] = []
    for chunk in chunks(sorted({lid for lid, _ in pairs})):
        for letter_id, ref, title in conn.execute(
            select(attachments.c.letter_id, attachments.c.ref, attachments.c.title)
            .where(attachments.c.letter_id.in_(chunk), attachments.c.deleted.is_(False))
            .order_by(attachments.c.first_seen, attachments.c.ref)
        ):
            name = _same(title) or ref
            if ref in fresh:
                rows.append((letter_id, ref, name))
            else:
                earlier.add((letter_id, name))
    out: set[str] = set()
    for letter_id, ref, name in rows:
        if (letter_id, name) in earlier:
            out.add(ref)
        earlier.add((letter_id, name))
    return out
