"""The suite's own guard: a test that reaches past loopback fails, even if the error is caught.

``tests/conftest.py`` replaces socket connects and name lookups for the whole run; these
tests prove that it refuses the internet, lets loopback through, and records the attempt
so the test that made it fails at teardown.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import httpx
import pytest

from tests import conftest


def _forget_attempts() -> None:
    conftest._OFF_LOOPBACK.clear()  # these attempts are on purpose: do not fail this test for them


def test_a_connection_off_loopback_is_refused_and_recorded() -> None:
    with pytest.raises(RuntimeError, match="tests must not leave loopback"):
        socket.create_connection(("192.0.2.1", 80), timeout=1)
    assert conftest._OFF_LOOPBACK == ["connect to ('192.0.2.1', 80)"]
    _forget_attempts()


def test_a_name_lookup_of_an_internet_host_is_refused_even_when_the_caller_catches_it() -> None:
    with contextlib.suppress(Exception):  # the monitor catches errors like this; the record remains
        httpx.get("https://repository.overheid.nl/sru", timeout=1)
    assert conftest._OFF_LOOPBACK == ["name lookup of 'repository.overheid.nl'"]
    _forget_attempts()


def test_loopback_connections_go_through() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        accepted = threading.Thread(target=lambda: server.accept()[0].close())
        accepted.start()
        with socket.create_connection(("localhost", port), timeout=5):
            pass
        accepted.join(5)
    assert conftest._OFF_LOOPBACK == []


def test_a_reserved_name_fails_to_resolve_without_a_query() -> None:
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("syncfeed.kamermonitor.invalid", 443)
    assert conftest._OFF_LOOPBACK == []
