"""A monitor wired to local source servers, for end-to-end tests and benchmarks.

``Harness`` builds real settings (pointing at the loopback servers), a real SQLite or
PostgreSQL store, real channels, and runs real poll cycles; ``restart()`` drops every
in-memory object and starts again on the same database, as a process restart would.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.config import Settings, parse
from monitor.context import Context
from monitor.notify.deliver import Deliverer
from monitor.notify.registry import build_channels
from monitor.poll import CycleResult, run_cycle

DOSSIER_26643 = "0b5e4b7a-6e7e-4d7f-9c55-26643a000001"
ICT = "Informatie- en communicatietechnologie (ICT)"


def settings_for(
    database: str,
    *,
    syncfeed_url: str | None = None,
    sru_url: str | None = None,
    watches: list[dict[str, Any]] | None = None,
    channels: list[dict[str, Any]] | None = None,
    extra: dict[str, Any] | None = None,
) -> Settings:
    """Settings as a user would write them in TOML, pointed at local servers."""
    data: dict[str, Any] = {
        "http": {"pause_seconds": 0, "read_timeout": 2, "connect_timeout": 2},
        "sources": {
            "syncfeed": {"enabled": syncfeed_url is not None, "base_url": syncfeed_url or "http://127.0.0.1:9"},
            "sru": {"enabled": sru_url is not None, "base_url": sru_url or "http://127.0.0.1:9"},
        },
        "delivery": {"backoff_base_seconds": 0.05, "backoff_cap_seconds": 0.2},
    }
    _merge(data, extra or {})
    if watches is not None:
        data["watch"] = watches
    if channels is not None:
        data["channel"] = channels
    return dataclasses.replace(parse(data), database=database)


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def mail_harness(
    syncfeed_url: str, sru_url: str, smtp_port: int, database: str, now: datetime, extra: dict[str, Any] | None = None
) -> Harness:
    """A monitor watching dossier 26643 into one e-mail channel (local SMTP), at a fixed time."""
    channel = {
        "name": "mail", "type": "email", "host": "127.0.0.1", "port": smtp_port, "security": "none",
        "from": "Kamermonitor <alerts@example.org>", "to": ["beleid@example.org"],
        "message_id_domain": "kamermonitor.test",
    }  # fmt: skip
    settings = settings_for(
        database, syncfeed_url=syncfeed_url, sru_url=sru_url, channels=[channel], extra=extra,
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": ["mail"]}],
    )  # fmt: skip
    return Harness(settings, now=lambda: now)


class Clock:
    """A settable clock for Context(now=...): digests, quiet hours and staleness without sleeping."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)

    def sleep(self, seconds: float) -> None:
        """Context(sleep=...): waiting moves this clock instead of the test."""
        self.advance(seconds=seconds)


class Harness:
    def __init__(self, settings: Settings, now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.now = now or (lambda: datetime.now(UTC))
        self.output = io.StringIO()
        self._open()

    def _open(self) -> None:
        if isinstance(self.now, Clock):
            self.ctx = Context.create(self.settings, now=self.now, sleep=self.now.sleep)
        else:
            self.ctx = Context.create(self.settings, now=self.now)
        self.channels = build_channels(self.settings, stream=self.output)
        self.deliverer = Deliverer(self.ctx, self.channels)

    def cycle(self, sources: list[str] | None = None) -> CycleResult:
        return run_cycle(self.ctx, self.deliverer, sources)

    def restart(self) -> None:
        self.ctx.close()
        self._open()

    def close(self) -> None:
        self.ctx.close()

    def deliveries(self, event: str = "new") -> list[dict[str, Any]]:
        """Outbox rows of this kind, oldest first."""
        from sqlalchemy import select

        from monitor.store.schema import outbox

        with self.ctx.engine.connect() as conn:
            rows = conn.execute(select(outbox).where(outbox.c.event == event).order_by(outbox.c.id))
            return [dict(r._mapping) for r in rows]

    def letter_ids_alerted(self) -> list[int]:
        return [r["letter_id"] for r in self.deliveries() if r["status"] == "sent"]
