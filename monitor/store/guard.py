"""Database faults in one line, and the single-instance lock of a SQLite database.

A read-only, corrupt or full database, or one whose directory cannot be made, is not a
bug to print a 100-line traceback for: the operator needs the file and the cause.
:func:`describe` turns SQLAlchemy's and the OS's errors into that line, and
:class:`DatabaseFault` carries it to the command line, which exits 1.

SQLite is single-instance: two services on one file would each take the other's
deliveries for their own.  :func:`lock_instance` takes an exclusive lock on a file beside
the database (``kamermonitor.db.lock``, holding the owner's pid) for the life of the
process; a second process is refused with one line.  The kernel drops the lock when the
process dies, however it dies, so a SIGKILL never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ..dburl import database_label
from .db import DatabaseFault

__all__ = ["DatabaseFault", "describe", "is_database_error", "lock_instance"]


def describe(url: str, exc: BaseException) -> str:
    """``database /var/lib/km.db: attempt to write a readonly database``."""
    if isinstance(exc, DatabaseFault):
        return str(exc)
    cause: object = exc
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        cause = exc.orig
    if isinstance(cause, OSError) and cause.strerror:
        text = cause.strerror + (f": {cause.filename}" if cause.filename else "")
    else:
        text = str(cause) or type(cause).__name__
    first = text.strip().splitlines()[0] if text.strip() else type(cause).__name__
    return f"database {database_label(url)}: {first[:300]}"


def is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, (SQLAlchemyError, DatabaseFault))


_held: list[IO[str]] = []  # kept open (and so locked) for the life of the process


def lock_instance(url: str) -> None:
    """Take the single-instance lock of a SQLite database file; no-op for other databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database).expanduser()
    lock_path = path.with_name(path.name + ".lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseFault(f"database {path}: cannot create {path.parent}: {exc.strerror}") from None
    try:
        handle = open(lock_path, "a+", encoding="utf-8")  # noqa: SIM115 - held until the process ends
    except OSError as exc:
        raise DatabaseFault(describe(url, exc)) from None
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip()[:20] or "?"
        handle.close()
        raise DatabaseFault(
            f"database {path}: another kamermonitor (pid {holder}) is using it; "
            "a SQLite database serves one instance (use PostgreSQL for several)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    _held.append(handle)
