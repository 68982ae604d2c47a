"""The doctor's check of the database: URL, driver, schema version, and write access by a rolled-back write.

It opens the store without migrating and never creates a database.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .core import Doctor

if TYPE_CHECKING:
    from sqlalchemy import Engine


def check_database(doc: Doctor) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from ..store.db import make_engine, sqlite_path

    item = "database"
    try:
        url = make_url(doc.settings.database)
    except ArgumentError as exc:
        raise doc.fail(f"{item} URL", f"not a valid SQLAlchemy URL: {exc}") from None
    shown = url.render_as_string(hide_password=True)
    path = sqlite_path(doc.settings.database)
    if path is not None and not path.exists():
        writable = _dir_writable(path)
        if not writable:
            raise doc.fail(f"{item} file", f"{path} does not exist and its directory cannot be written")
        doc.say("warning", f"{item} file", f"{path} does not exist yet; `kamermonitor run` creates it there")
        return
    try:
        engine = make_engine(doc.settings.database)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = " (pip install 'kamermonitor[postgres]')" if url.get_backend_name() == "postgresql" else ""
        raise doc.fail(f"{item} driver", f"{url.drivername}: {exc}{hint}") from None
    doc.say("ok", f"{item} driver", f"{engine.dialect.name} via {engine.dialect.driver}")
    try:
        _schema_and_write(doc, item, engine, shown)
    except SQLAlchemyError as exc:
        raise doc.fail(f"{item} connect", f"{shown}: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _schema_and_write(doc: Doctor, item: str, engine: Engine, shown: str) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import SQLAlchemyError

    from ..store.schema import LATEST, current_version, cursors

    with engine.connect() as conn:
        version = current_version(conn)
        conn.rollback()
    doc.say("ok", f"{item} connect", shown)
    if version == 0:
        doc.say("warning", f"{item} schema", "no kamermonitor tables yet; `kamermonitor run` creates them")
        return
    if version > LATEST:
        raise doc.fail(f"{item} schema", f"version {version} is newer than this kamermonitor ({LATEST})")
    if version < LATEST:
        doc.say("warning", f"{item} schema", f"version {version}; `kamermonitor run` migrates it to {LATEST}")
    else:
        doc.say("ok", f"{item} schema", f"version {version} (current)")
    # Write access: a row written in a transaction that is rolled back, so nothing changes.
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                conn.execute(insert(cursors).values(name="doctor:write-check", value="", updated_at=datetime.now(UTC)))
            finally:
                trans.rollback()
    except SQLAlchemyError as exc:
        raise doc.fail(f"{item} write", f"cannot write: {_first_line(exc)}") from None
    doc.say("ok", f"{item} write", "a test write succeeded (rolled back)")


def _first_line(exc: Exception) -> str:
    """The driver's own message (SQLAlchemy wraps it in a paragraph with a link)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _dir_writable(path: Path) -> bool:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return os.access(parent, os.W_OK | os.X_OK)
