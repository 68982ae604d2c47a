"""The database setting: a SQLAlchemy URL, or a bare file path taken as SQLite.

Checked by ``check-config`` and every command before anything starts (a URL that does not
parse, or whose driver is not installed, is one configuration error), and turned into the
name an operator knows the database by (:func:`database_label`).  Only SQLAlchemy's URL
and dialect lookup are imported here, not the store.
"""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.engine import URL, make_url

_BARE_PATH = re.compile(r"[\w.~/+@,:-]+")


def database_url(text: str) -> str:
    """A SQLAlchemy URL from ``--database``: a URL, or a bare file path taken as SQLite.

    Raises ValueError (one line) when ``text`` is neither, or when its driver is not
    installed, so ``check-config`` and every command refuse it before anything starts.
    """
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    text = text.strip()
    if "://" not in text:
        if not text or not (_BARE_PATH.fullmatch(text) or text.startswith(("/", "./", "../", "~/"))):
            raise ValueError(f"not a SQLAlchemy URL or a file path: {text!r}")
        return f"sqlite:///{Path(text).expanduser()}"
    try:
        parsed = with_driver(make_url(text))
    except ArgumentError:
        raise ValueError(f"not a SQLAlchemy URL: {_hide_password(text)!r}") from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise ValueError(f"unknown database type {parsed.drivername!r}") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        raise ValueError(
            f"the driver for {parsed.drivername!r} is not installed ({exc.name or exc}); "
            "use sqlite:///FILE or postgresql+psycopg://…"
        ) from None
    return text


def _hide_password(text: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", text)


def with_driver(parsed: URL) -> URL:
    # Plain "postgresql://" means psycopg (3), the driver this package installs.
    return parsed.set(drivername="postgresql+psycopg") if parsed.drivername == "postgresql" else parsed


def database_label(url: str) -> str:
    """The database as an operator knows it: the SQLite file's path, or the URL without password."""
    try:
        parsed = make_url(url)
    except Exception:
        return _hide_password(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database or ":memory:")
    return parsed.render_as_string(hide_password=True)
