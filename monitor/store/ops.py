"""Operational state: source cursors, source health, leases and announced conditions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, literal, or_, select, update

from ..retry import clamp
from .db import insert_ignore, upsert
from .schema import conditions, cursors, leases, source_health


def get_cursor(conn: Connection, name: str) -> str | None:
    value = conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar()
    return None if value is None else str(value)


def set_cursor(conn: Connection, name: str, value: str, now: datetime) -> None:
    upsert(conn, cursors, [{"name": name, "value": value, "updated_at": now}], ["name"])


def all_cursors(conn: Connection) -> dict[str, str]:
    return {n: v for n, v in conn.execute(select(cursors.c.name, cursors.c.value))}


def cursor_moved(conn: Connection, sources: Sequence[str]) -> dict[str, datetime]:
    """source → when one of its cursors (``<source>:…``) was last written."""
    out: dict[str, datetime] = {}
    for source in sources:
        at = conn.execute(select(func.max(cursors.c.updated_at)).where(cursors.c.name.like(f"{source}:%"))).scalar()
        if at is not None:
            out[source] = at
    return out


@dataclass(frozen=True, slots=True)
class Health:
    source: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_new_data: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    not_before: datetime | None = None


def health(conn: Connection, source: str) -> Health:
    row = conn.execute(select(source_health).where(source_health.c.source == source)).first()
    if row is None:
        return Health(source)
    m = row._mapping
    return Health(
        source, m["last_attempt"], m["last_success"], m["last_new_data"], m["consecutive_failures"] or 0,
        m["last_error"], m["not_before"],
    )  # fmt: skip


def all_health(conn: Connection) -> list[Health]:
    names = conn.execute(select(source_health.c.source).order_by(source_health.c.source)).scalars().all()
    return [health(conn, n) for n in names]


def record_success(conn: Connection, source: str, now: datetime, *, new_data: bool) -> Health:
    before = health(conn, source)
    upsert(
        conn,
        source_health,
        [{
            "source": source, "last_attempt": now, "last_success": now,
            "last_new_data": now if new_data or before.last_new_data is None else before.last_new_data,
            "consecutive_failures": 0, "last_error": None, "not_before": None,
        }],
        ["source"],
    )  # fmt: skip
    return before


def record_failure(conn: Connection, source: str, now: datetime, error: str, retry_after: float | None) -> Health:
    before = health(conn, source)
    upsert(
        conn,
        source_health,
        [{
            "source": source, "last_attempt": now, "last_success": before.last_success,
            "last_new_data": before.last_new_data, "consecutive_failures": before.consecutive_failures + 1,
            "last_error": error[:1000],
            # Clamped again here: whatever a caller passes, the date arithmetic cannot overflow.
            "not_before": now + timedelta(seconds=clamp(retry_after)) if retry_after else None,
        }],
        ["source"],
    )  # fmt: skip
    return health(conn, source)


def acquire_lease(
    conn: Connection,
    name: str,
    owner: str,
    now: datetime,
    seconds: float,
    is_dead: Callable[[str], bool] | None = None,
) -> bool:
    """Take or renew the named lease; False when another live owner holds it.

    A lease held by an owner that ``is_dead`` says has died (a killed process on this
    host) is taken over at once rather than after it expires.
    """
    until = now + timedelta(seconds=seconds)
    if insert_ignore(conn, leases, [{"name": name, "owner": owner, "until": until}]):
        return True
    holder = conn.execute(select(leases.c.owner).where(leases.c.name == name)).scalar()
    takeover = holder is not None and is_dead is not None and is_dead(str(holder))
    res = conn.execute(
        update(leases)
        .where(leases.c.name == name, or_(leases.c.owner == owner, leases.c.until < now, literal(takeover)))
        .values(owner=owner, until=until)
    )
    return bool(res.rowcount)


def release_lease(conn: Connection, name: str, owner: str) -> None:
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == owner))


def condition_on(conn: Connection, key: str, now: datetime, detail: str) -> bool:
    """Mark a condition active; True only the first time (so it is announced once)."""
    return bool(insert_ignore(conn, conditions, [{"key": key, "since": now, "detail": detail}]))


def condition_off(conn: Connection, key: str) -> datetime | None:
    """Clear a condition; return since when it was active (None if it was not)."""
    since = conn.execute(select(conditions.c.since).where(conditions.c.key == key)).scalar()
    if since is not None:
        conn.execute(delete(conditions).where(conditions.c.key == key))
    return since


def active_conditions(conn: Connection) -> list[tuple[str, datetime, str | None]]:
    rows = conn.execute(select(conditions.c.key, conditions.c.since, conditions.c.detail).order_by(conditions.c.key))
    return [(k, s, d) for k, s, d in rows]
