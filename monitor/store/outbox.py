"""The outbox: one row per (letter, channel, recipient), claimed with leases, marked after sending.

A row is written in the same transaction that records the letter, so a crash can
re-send but never lose an alert.  ``idem_key`` makes a second enqueue of the same
(letter, channel, recipient) a no-op, which is how a letter matched by two watches that
share a channel reaches that channel once.  Claims are compare-and-set updates with a
lease, so several instances sharing PostgreSQL never send one row twice, and a row held
by a crashed process is taken back when its lease runs out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from .db import chunks, insert_ignore
from .schema import outbox


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event: str
    channel: str
    target: str
    letter_id: int | None
    batch: str
    hold: str
    watch: str
    reason: str
    text: str | None
    attempts: int
    created_at: datetime
    first_failure_at: datetime | None


def enqueue(conn: Connection, rows: Sequence[dict[str, Any]], now: datetime) -> int:
    """Add deliveries (dicts with idem_key, event, channel, target, ...); return how many were new."""
    full = [
        {"status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now, "target": "",
         "batch": "", "hold": "", "watch": "", "reason": "", **row}
        for row in rows
    ]  # fmt: skip
    return insert_ignore(conn, outbox, full)


def statuses(conn: Connection, idem_keys: Sequence[str]) -> list[str | None]:
    """The status of each idempotency key's row (None when there is no such row), in order."""
    found: dict[str, str] = {}
    for chunk in chunks(idem_keys):
        rows = conn.execute(select(outbox.c.idem_key, outbox.c.status).where(outbox.c.idem_key.in_(chunk)))
        found.update({k: st for k, st in rows})
    return [found.get(k) for k in idem_keys]


def claim(conn: Connection, owner: str, now: datetime, lease: float, limit: int = 200) -> list[Delivery]:
    """Take due rows (pending and due, or held under an expired lease) for this owner."""
    due = or_(
        and_(outbox.c.status == "pending", outbox.c.next_attempt_at <= now),
        and_(outbox.c.status == "sending", outbox.c.locked_until < now),
    )
    ids = list(conn.execute(select(outbox.c.id).where(due).order_by(outbox.c.id).limit(limit)).scalars())
    claimed = []
    until = now + timedelta(seconds=lease)
    for row_id in ids:
        res = conn.execute(
            update(outbox)
            .where(outbox.c.id == row_id, due)
            .values(status="sending", locked_until=until, locked_by=owner)
        )
        if res.rowcount:
            claimed.append(row_id)
    if not claimed:
        return []
    rows = conn.execute(select(outbox).where(outbox.c.id.in_(claimed)).order_by(outbox.c.id))
    return [_to_delivery(r._mapping) for r in rows]


def _to_delivery(m: Any) -> Delivery:
    return Delivery(
        m["id"], m["event"], m["channel"], m["target"], m["letter_id"], m["batch"], m["hold"], m["watch"], m["reason"],
        m["text"], m["attempts"], m["created_at"], m["first_failure_at"],
    )  # fmt: skip


def renew(conn: Connection, ids: Sequence[int], owner: str, now: datetime, lease: float) -> bool:
    """Extend this owner's lease on rows about to be sent; False when any is no longer its own.

    A drain claims many rows at once and sends them one by one (Slack at one a second), so
    a lease can run out mid-drain; another instance may then have claimed a row (which
    changes ``locked_by``).  Renewing just before sending keeps that row from going out twice.
    """
    res = conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids), outbox.c.locked_by == owner, outbox.c.status == "sending")
        .values(locked_until=now + timedelta(seconds=lease))
    )
    return res.rowcount == len(set(ids))


def mark_sent(conn: Connection, ids: Sequence[int], owner: str, now: datetime) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids), outbox.c.locked_by == owner, outbox.c.status == "sending")
        .values(status="sent", sent_at=now, locked_until=None, attempts=outbox.c.attempts + 1, last_error=None)
    )


def mark_retry(conn: Connection, ids: Sequence[int], owner: str, now: datetime, at: datetime, error: str) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids), outbox.c.locked_by == owner, outbox.c.status == "sending")
        .values(
            status="pending", next_attempt_at=at, locked_until=None, attempts=outbox.c.attempts + 1,
            last_error=error, first_failure_at=func.coalesce(outbox.c.first_failure_at, now),
        )
    )  # fmt: skip


def mark_failed(conn: Connection, ids: Sequence[int], owner: str, now: datetime, error: str) -> None:
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_(ids), outbox.c.locked_by == owner, outbox.c.status == "sending")
        .values(
            status="failed", locked_until=None, attempts=outbox.c.attempts + 1, last_error=error,
            first_failure_at=func.coalesce(outbox.c.first_failure_at, now),
        )
    )  # fmt: skip


def release_owners(conn: Connection, is_dead: Callable[[str], bool]) -> int:
    """Rows held ('sending') by owners that died: pending again, so they are sent, once more."""
    owners = conn.execute(
        select(outbox.c.locked_by).where(outbox.c.status == "sending", outbox.c.locked_by.is_not(None)).distinct()
    ).scalars()
    dead = [o for o in owners if is_dead(o)]
    if not dead:
        return 0
    res = conn.execute(
        update(outbox)
        .where(outbox.c.status == "sending", outbox.c.locked_by.in_(dead))
        .values(status="pending", locked_until=None)
    )
    return res.rowcount or 0


def unclaim(conn: Connection, ids: Sequence[int], owner: str) -> int:
    """This owner's claimed rows that it has not begun to send: pending again, due now."""
    total = 0
    for chunk in chunks(ids):
        res = conn.execute(
            update(outbox)
            .where(outbox.c.id.in_(chunk), outbox.c.locked_by == owner, outbox.c.status == "sending")
            .values(status="pending", locked_until=None)
        )
        total += res.rowcount or 0
    return total


def retry_failed(conn: Connection, now: datetime, channel: str | None = None) -> int:
    cond = outbox.c.status == "failed"
    if channel:
        cond = and_(cond, outbox.c.channel == channel)
    res = conn.execute(
        update(outbox).where(cond).values(status="pending", next_attempt_at=now, first_failure_at=None, attempts=0)
    )
    return res.rowcount or 0


def counts(conn: Connection) -> dict[str, dict[str, int]]:
    """channel → {pending, retrying, sending, sent, failed} counts."""
    out: dict[str, dict[str, int]] = {}
    rows = conn.execute(
        select(outbox.c.channel, outbox.c.status, outbox.c.attempts, func.count()).group_by(
            outbox.c.channel, outbox.c.status, outbox.c.attempts
        )
    )
    for channel, status, attempts, n in rows:
        key = "retrying" if status == "pending" and attempts else status
        bucket = out.setdefault(channel, {"pending": 0, "retrying": 0, "sending": 0, "sent": 0, "failed": 0})
        bucket[key] = bucket.get(key, 0) + n
    return out


def messages_sent(conn: Connection) -> dict[str, dict[str, int]]:
    """channel → recipient → messages sent, as that recipient saw them.

    The rows of one message (a digest names many letters) are marked sent together, with
    one ``sent_at``; so each distinct (recipient, sent_at) is one message.
    """
    rows = conn.execute(
        select(outbox.c.channel, outbox.c.target, func.count(func.distinct(outbox.c.sent_at)))
        .where(outbox.c.status == "sent")
        .group_by(outbox.c.channel, outbox.c.target)
    )
    out: dict[str, dict[str, int]] = {}
    for channel, target, n in rows:
        out.setdefault(channel, {})[target] = n
    return out


def failures(conn: Connection, limit: int = 20) -> list[tuple[str, str, str | None, str]]:
    """Recent failed or retrying rows: (channel, status, last_error, target)."""
    rows = conn.execute(
        select(outbox.c.channel, outbox.c.status, outbox.c.last_error, outbox.c.target)
        .where(or_(outbox.c.status == "failed", and_(outbox.c.status == "pending", outbox.c.attempts > 0)))
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    return [(c, s, e, t) for c, s, e, t in rows]


def retrying_since(conn: Connection, before: datetime) -> list[tuple[int, str, str | None]]:
    """Rows still not delivered whose first failure is older than ``before``."""
    rows = conn.execute(
        select(outbox.c.id, outbox.c.channel, outbox.c.last_error).where(
            outbox.c.status.in_(["pending", "sending"]), outbox.c.first_failure_at < before
        )
    )
    return [(i, c, e) for i, c, e in rows]


def stuck(conn: Connection, before: datetime) -> dict[str, int]:
    """channel → undelivered rows that have been due, or failing, since before ``before``."""
    rows = conn.execute(
        select(outbox.c.channel, func.count())
        .where(
            outbox.c.status.in_(["pending", "sending"]),
            or_(outbox.c.next_attempt_at < before, outbox.c.first_failure_at < before),
        )
        .group_by(outbox.c.channel)
    )
    return {c: n for c, n in rows}
