"""Shared fixtures: local source servers, a database per test, a Harness factory."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer

POSTGRES_URL = os.environ.get("KAMERMONITOR_TEST_POSTGRES")

# No test may touch the internet: every connection and name lookup this process makes must
# stay on loopback.  Anything else raises *and* fails the test that made it (an error
# raised inside the monitor may be caught and logged as a source problem, which would hide it).
_OFF_LOOPBACK: list[str] = []
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_getaddrinfo = socket.getaddrinfo


def _loopback(host: object) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _refuse(what: str) -> None:
    _OFF_LOOPBACK.append(what)
    raise RuntimeError(f"tests must not leave loopback: {what}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _refuse(f"connect to {address!r}")
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        _refuse(f"connect to {address!r}")
    return _connect_ex(self, address)


def _ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0] if isinstance(host, str) else "")
    except ValueError:
        return False
    return True


# Names that never resolve (RFC 6761): a test may use one to see a lookup fail, and gets
# that failure here, without a query leaving the machine.
_NEVER_RESOLVE = (".invalid", ".test", ".example")


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # An address needs no lookup (its connect is checked); a name other than localhost does.
    if isinstance(host, str) and host.lower().rstrip(".").endswith(_NEVER_RESOLVE):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    if not _loopback(host) and not _ip_literal(host):
        _refuse(f"name lookup of {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(autouse=True)
def _no_internet() -> Iterator[None]:
    """Fail the test that tried to reach past loopback, even when the monitor swallowed the error."""
    _OFF_LOOPBACK.clear()
    yield
    tried, _OFF_LOOPBACK[:] = list(_OFF_LOOPBACK), []
    assert not tried, f"this test tried to reach the internet: {tried}"


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
