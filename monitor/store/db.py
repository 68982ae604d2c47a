"""Opening the database: engine, SQLite pragmas, migrations, and a dialect-neutral upsert.

SQLite (the default) runs in WAL mode so readers (``list``, ``status``) never block the
poller; PostgreSQL serves when several instances share the work.  Callers only ever see
SQLAlchemy Core connections inside ``engine.begin()`` transactions.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, create_engine, event
from sqlalchemy.engine import Dialect, make_url

from ..dburl import database_url, with_driver
from .schema import LATEST, SchemaTooNew, current_version, migrate


def utcnow() -> datetime:
    return datetime.now(UTC)


class DatabaseFault(Exception):
    """The database cannot be used; ``str()`` is the one-line operator message."""


class NoDatabase(Exception):
    """``open_engine(create=False)``: the database does not exist, or holds no kamermonitor schema yet."""


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and for ``:memory:``).

    ``sqlite:///file:/path/km.db?mode=ro&uri=true`` names ``/path/km.db``.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    name = parsed.database
    if str(parsed.query.get("uri", "")).lower() in ("true", "1") and name.startswith("file:"):
        name = name.removeprefix("file:").split("?", 1)[0]
    return Path(name).expanduser()


def _missing(path: Path) -> NoDatabase | DatabaseFault:
    """Why a read-only command finds no database at ``path``: none yet, or none possible."""
    folder = path.parent
    ancestor = folder
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():  # a file where a directory should be: run could not create it either
        return DatabaseFault(f"database {path}: cannot create {folder}: Not a directory")
    return NoDatabase(f"no database yet at {path}")


def open_engine(url: str, *, create: bool = True) -> Engine:
    """Create the engine for ``url`` and bring its schema up to date.

    With ``create=False`` (read-only commands) a database that does not exist yet is not
    created: :class:`NoDatabase` is raised instead.
    """
    parsed = make_url(database_url(url))
    path = sqlite_path(url)
    if path is not None and not create and not path.exists():
        raise _missing(path)
    engine = make_engine(url)
    with engine.begin() as conn:
        if not create and current_version(conn) == 0:
            engine.dispose()
            raise NoDatabase(f"no kamermonitor tables yet in {parsed.render_as_string(hide_password=True)}")
        migrate(conn)
    return engine


def make_engine(url: str) -> Engine:
    """The engine for ``url``, configured as the monitor uses it, without touching the schema.

    A SQLite file's directory is created when missing; connecting creates the file.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if parsed.database and parsed.database != ":memory:":
            folder = Path(parsed.database).expanduser().parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseFault(f"database {parsed.database}: cannot create {folder}: {exc.strerror}") from None
            # A small pool: reconnecting per transaction would re-run the pragmas and checkpoint the WAL.
            pool = {"pool_size": 2, "max_overflow": 4}
        engine = create_engine(parsed, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; issue it ourselves so that a
        # transaction takes the write lock up front and never deadlocks on upgrade.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    return create_engine(with_driver(parsed), pool_pre_ping=True, pool_size=2, max_overflow=2)


class StoreUnavailable(Exception):
    """The database cannot be opened for reading (missing, not yet created by ``run``)."""


def open_reader(url: str, pool_size: int = 4) -> Engine:
    """An engine that only reads: its own connections, never a write lock, never a migration.

    For the HTTP surface, next to the poller in ``run`` or on its own in ``serve``: SQLite
    is opened read-only (``mode=ro``) with deferred transactions, which in WAL mode read
    a snapshot without waiting for, or holding back, the poller's writes; PostgreSQL
    sessions are read-only (``default_transaction_read_only``).  The schema must exist
    already and be one this code knows.
    """
    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite":
        file = sqlite_path(url)
        if file is None:
            raise StoreUnavailable("the HTTP surface needs a database file, not an in-memory database")
        path = file.resolve()
        if not path.is_file():
            raise StoreUnavailable(f"database {path} does not exist (kamermonitor run creates it)")
        reader = make_url(f"sqlite:///file:{path}?mode=ro&uri=true")
        engine = create_engine(reader, pool_size=pool_size, max_overflow=pool_size)
        event.listen(engine, "connect", _sqlite_reader_pragmas)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
    else:
        parsed = with_driver(parsed)
        # Added to any options the URL carries already (a search_path, say).
        given = parsed.query.get("options", "")
        options = " ".join([*([given] if isinstance(given, str) else given), "-c default_transaction_read_only=on"])
        parsed = parsed.update_query_dict({"options": options.strip()})
        engine = create_engine(parsed, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
    try:
        with engine.connect() as conn:
            version = current_version(conn)
    except Exception as exc:
        engine.dispose()
        raise StoreUnavailable(f"cannot read the database: {type(exc).__name__}: {exc}") from exc
    if version > LATEST:
        engine.dispose()
        raise SchemaTooNew(f"database schema version {version} is newer than this kamermonitor ({LATEST})")
    if version < LATEST:
        engine.dispose()
        raise StoreUnavailable(f"database schema version {version} is older than this kamermonitor's ({LATEST}): "
                               "start kamermonitor run once to migrate it")  # fmt: skip
    return engine


# Pages are read through a memory map instead of one read() each: a ``list`` of 1,000 watches
# at 100,000 letters looks up some 13,000 letter rows scattered over the file, and took half
# as long so (bench §6).  Writes still go through SQLite's own I/O, in WAL mode.
MMAP_BYTES = 256 * 1024 * 1024


def _sqlite_reader_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # the "begin" listener issues a deferred BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA query_only=1")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cur.close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # let the "begin" listener control transactions
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cur.close()


def upsert(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows, replacing the non-key columns of rows whose key already exists."""
    if rows:
        _executemany(conn, table, rows, tuple(keys))


def insert_many(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Plain INSERT of many rows (every row with the same columns)."""
    if rows:
        _executemany(conn, table, rows, None)


def _executemany(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: tuple[str, ...] | None) -> None:
    """One driver-level executemany, each value converted by its column type's bind processor.

    This is what SQLAlchemy's executemany does, minus its per-row bookkeeping: in a
    catch-up the mirror, key and letter tables get tens of thousands of rows, and that
    bookkeeping cost more than SQLite's own inserts.  The conversion is SQLAlchemy's
    (``TypeEngine.bind_processor``), so values are stored exactly as it would store them.
    """
    columns = tuple(rows[0])
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"rows for {table.name} do not all have the same columns")
    sql, processors = _driver_insert(conn.dialect, table, columns, keys)
    get = operator.itemgetter(*columns)
    values: list[Any] = [get(row) for row in rows] if len(columns) > 1 else [(get(row),) for row in rows]
    convert = [(i, p) for i, p in enumerate(processors) if p is not None]
    if convert:
        for n, value in enumerate(values):
            converted = list(value)
            for i, p in convert:
                if converted[i] is not None:
                    converted[i] = p(converted[i])
            values[n] = tuple(converted)
    conn.exec_driver_sql(sql, values)


@functools.lru_cache(maxsize=64)
def _driver_insert(
    dialect: Dialect, table: Table, columns: tuple[str, ...], keys: tuple[str, ...] | None
) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
    """INSERT (… ON CONFLICT (keys) DO UPDATE) with positional parameters, and each column's processor."""
    quote = dialect.identifier_preparer.quote
    mark = _placeholder(dialect)
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES ({', '.join(mark for _ in columns)})"
    )
    if keys is not None:
        updates = [f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keys]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        sql += f" ON CONFLICT ({', '.join(quote(k) for k in keys)}) {action}"
    # dialect_impl: the generic DateTime has no processor; SQLite's own (which formats it) has.
    processors = tuple(table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns)
    return sql, processors


def rows_where_in(
    conn: Connection, table: Table, columns: Sequence[str], key: str, values: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """``SELECT columns FROM table WHERE key IN values`` as plain driver tuples, in chunks.

    For the hot lookups of a catch-up (identity keys, zaken, dossiers): the values come back
    as the driver gives them (a SQLite boolean is 0/1), so use it for text and number
    columns and truth tests only.
    """
    quote = conn.dialect.identifier_preparer.quote
    mark = _placeholder(conn.dialect)
    head = f"SELECT {', '.join(quote(c) for c in columns)} FROM {quote(table.name)} WHERE {quote(key)} IN "
    out: list[tuple[Any, ...]] = []
    # The driver's own cursor, on this transaction's connection: no Row objects to build.
    cursor = conn.connection.cursor()
    try:
        for chunk in chunks(values):
            cursor.execute(head + f"({', '.join(mark for _ in chunk)})", tuple(chunk))
            out += cursor.fetchall()
    finally:
        cursor.close()
    return out


def _placeholder(dialect: Dialect) -> str:
    """The driver's positional parameter marker: ``%s`` for psycopg, ``?`` for sqlite3."""
    return "%s" if dialect.paramstyle in ("format", "pyformat") else "?"


# Values per IN list: well under SQLite's and PostgreSQL's parameter limits.
IN_CHUNK = 500

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``, for IN lists and batched statements."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def insert_ignore(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those that violate a unique key; return how many went in."""
    if not rows:
        return 0
    stmt: Any
    stmt = _insert(conn, table)
    # RETURNING tells which rows went in: rowcount after ON CONFLICT DO NOTHING is not
    # reliable across drivers (psycopg reports -1).
    stmt = stmt.on_conflict_do_nothing().returning(*table.primary_key.columns)
    total = 0
    for row in rows:
        total += conn.execute(stmt, row).first() is not None
    return total


def _insert(conn: Connection, table: Table) -> Any:
    """The dialect's own INSERT, which knows ON CONFLICT.

    Imported on use: the engine has loaded its dialect already, and a command that never
    writes (``list``, ``status``) should not import PostgreSQL's for a SQLite database.
    """
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
