"""Opening the database: engine, SQLite pragmas, migrations, and a dialect-neutral upsert.

SQLite (the default) runs in WAL mode so readers (``list``, ``status``) never block the
poller; PostgreSQL serves when several instances share the work.  Callers only ever see
SQLAlchemy Core connections inside ``engine.begin()`` transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from .schema import migrate


def utcnow() -> datetime:
    return datetime.now(UTC)


def open_engine(url: str) -> Engine:
    """Create the engine for ``url`` and bring its schema up to date."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            # A small pool: reconnecting per transaction would re-run the pragmas and checkpoint the WAL.
            pool = {"pool_size": 2, "max_overflow": 4}
        engine = create_engine(parsed, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; issue it ourselves so that a
        # transaction takes the write lock up front and never deadlocks on upgrade.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
    else:
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=2, max_overflow=2)
    with engine.begin() as conn:
        migrate(conn)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener control transactions
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, replacing the non-key columns of rows whose key already exists."""
    if not rows:
        return
    stmt: Any
    stmt = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    cols = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols})
    conn.execute(stmt, list(rows))


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those that violate a unique key; return how many went in."""
    if not rows:
        return 0
    stmt: Any
    stmt = postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)
    # RETURNING tells which rows went in: rowcount after ON CONFLICT DO NOTHING is not
    # reliable across drivers (psycopg reports -1).
    stmt = stmt.on_conflict_do_nothing().returning(*table.primary_key.columns)
    total = 0
    for row in rows:
        total += conn.execute(stmt, row).first() is not None
    return total
