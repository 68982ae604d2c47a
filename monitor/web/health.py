"""``/readyz``: is every enabled source polled successfully, and is nothing stuck in the outbox?

Ready means: each enabled source had a successful poll within ``[operator] stale_hours``
and has not failed ``failure_threshold`` polls in a row, and no channel has alerts that
have been due, or failing, for longer than ``delivery_stuck_minutes``.  A source never
polled yet is not ready.  Alerts that failed for good are not "stuck" — they wait for a
person (``retry-failed``) and show on the status page and in ``/metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection

from ..config import Settings
from ..store import ops
from ..store import outbox as outbox_store


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # "source" | "channel"
    name: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "detail": self.detail}


def readiness(settings: Settings, conn: Connection, now: datetime) -> list[Problem]:
    """What keeps the monitor from being ready; empty when it is."""
    problems: list[Problem] = []
    op = settings.operator
    stale = timedelta(hours=op.stale_hours)
    for source in settings.enabled_sources():
        h = ops.health(conn, source)
        if h.last_success is None:
            problems.append(Problem("source", source, "no successful poll yet"))
        elif now - h.last_success > stale:
            hours = (now - h.last_success).total_seconds() / 3600
            problems.append(
                Problem("source", source, f"last successful poll {hours:.1f} h ago (limit {op.stale_hours:g} h)")
            )
        if h.consecutive_failures >= op.failure_threshold:
            problems.append(Problem("source", source, f"{h.consecutive_failures} failed polls in a row"))
    before = now - timedelta(minutes=op.delivery_stuck_minutes)
    for channel, n in sorted(outbox_store.stuck(conn, before).items()):
        problems.append(
            Problem("channel", channel, f"{n} alert(s) due or failing for over {op.delivery_stuck_minutes:g} min")
        )
    return problems
