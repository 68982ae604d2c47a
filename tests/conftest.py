"""Shared fixtures: local source servers, a database per test, a Harness factory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer

POSTGRES_URL = os.environ.get("KAMERMONITOR_TEST_POSTGRES")


@pytest.fixture
def tk() -> Iterator[TkFeedServer]:
    with TkFeedServer(first_token=30_000_000, hang_seconds=3) as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def sru() -> Iterator[SruServer]:
    with SruServer(hang_seconds=3) as server:
        yield server


def _fresh_postgres(name: str) -> str:
    assert POSTGRES_URL
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    admin.dispose()
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: SQLite in tmp_path, and PostgreSQL when configured."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kamermonitor.db'}"
    if not POSTGRES_URL:
        pytest.skip("KAMERMONITOR_TEST_POSTGRES not set")
    return _fresh_postgres(f"t_{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**8}")


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'kamermonitor.db'}"
