"""How ``run``'s service stops when its database fails under it: one line, the scheduler stopped, no hang."""

from __future__ import annotations

import signal
import sqlite3
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import OperationalError

from monitor import service as service_module
from monitor.context import Context
from monitor.notify.deliver import Deliverer
from monitor.store.guard import DatabaseFault
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, settings_for


@pytest.fixture
def signal_handlers() -> Iterator[None]:
    """Service.start installs its own SIGTERM/SIGINT handlers: put pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_database_fault_in_a_poll_stops_the_service_with_one_line(
    tk: TkFeedServer, sqlite_db: str, monkeypatch: pytest.MonkeyPatch, signal_handlers: None,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    ctx = Context.create(
        settings_for(sqlite_db, syncfeed_url=tk.base_url, extra={"sources": {"sru": {"enabled": False}}})
    )

    def disk_fails(_ctx: Context, _name: str) -> bool:
        raise OperationalError("INSERT INTO letters ...", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(service_module, "poll_source", disk_fails)
    svc = service_module.Service(ctx, Deliverer(ctx, {}))
    # Were the scheduler never stopped, start() would block: this ends the test instead.
    fired = threading.Event()
    watchdog = threading.Timer(20, lambda: (fired.set(), ctx.stopping.set()))
    watchdog.start()
    try:
        with pytest.raises(DatabaseFault, match="disk I/O error"):
            svc.start()
    finally:
        watchdog.cancel()
        ctx.close()
    assert not fired.is_set()  # the fault itself stopped the scheduler
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("stopping: ")][:1] == [
        f"stopping: {svc.fatal}"
    ]
    assert not [r for r in caplog.records if r.exc_info]  # no traceback: not even a second shutdown's
