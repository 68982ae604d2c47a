"""The order deliveries go out in: pacing one channel never holds back the others; a row is sent by its owner only."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from monitor.models import Alert
from monitor.notify.deliver import Deliverer
from monitor.store import outbox as outbox_store
from monitor.store.outbox import Delivery
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Clock, Harness, settings_for


@dataclass
class Recording:
    """A channel that accepts everything and notes when, like a far end would."""

    name: str
    min_interval: float
    log: list[tuple[float, str, str]]
    kind: str = "console"
    targets: tuple[str, ...] = field(default=("",))

    def send(self, alert: Alert, target: str) -> None:
        self.log.append((time.monotonic(), self.name, alert.letters[0].subject or ""))


def test_a_paced_slack_webhook_does_not_hold_back_email_queued_behind_it(tk: TkFeedServer, sqlite_db: str) -> None:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    settings = settings_for(
        sqlite_db, syncfeed_url=tk.base_url,
        channels=[{"name": "slack", "type": "console"}, {"name": "mail", "type": "console"}],
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": ["slack", "mail"]}],
    )  # fmt: skip
    h = Harness(settings)
    try:
        h.cycle()  # first start
        log: list[tuple[float, str, str]] = []
        h.deliverer = Deliverer(h.ctx, {"slack": Recording("slack", 1.0, log), "mail": Recording("mail", 0.0, log)})
        for n in (1, 2):
            tk.add_document(
                f"aa000000-0000-4000-8000-{n:012d}", f"2025D5{n:04d}", "Brief regering", f"Brief {n}", ICT,
                date.today(), "2025-2026", -1, [DOSSIER_26643],
            )  # fmt: skip
        h.cycle()
    finally:
        h.close()
    sent = {(channel, subject): at for at, channel, subject in log}
    assert len(log) == 4 and len(sent) == 4
    # Both e-mails went out before the second Slack message, which waited for its second.
    assert max(sent["mail", "Brief 1"], sent["mail", "Brief 2"]) < sent["slack", "Brief 2"]
    first_slack = min(sent["slack", "Brief 1"], sent["slack", "Brief 2"])
    assert sent["slack", "Brief 2"] - first_slack >= 0.95 or sent["slack", "Brief 1"] - first_slack >= 0.95
    # Each channel keeps the letters' order.
    assert [s for _, c, s in log if c == "slack"] == [s for _, c, s in log if c == "mail"]


def test_rows_another_instance_took_over_after_the_lease_ran_out_are_not_sent_twice(
    tk: TkFeedServer, sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    clock = Clock(datetime.now(UTC))
    settings = settings_for(
        sqlite_db, syncfeed_url=tk.base_url, channels=[{"name": "mail", "type": "console"}],
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": ["mail"]}],
    )  # fmt: skip
    h = Harness(settings, now=clock)
    try:
        h.cycle()  # first start
        log: list[tuple[float, str, str]] = []
        h.deliverer = Deliverer(h.ctx, {"mail": Recording("mail", 0.0, log)})
        build = h.deliverer._alert

        def slow_then_taken_over(unit: list[Delivery]) -> Alert:
            # The drain took long (enrichment, Slack pacing): the lease ran out and another
            # instance claimed the rows before this one got to send them.
            clock.advance(seconds=settings.delivery.lease_seconds + 1)
            with h.ctx.engine.begin() as conn:
                assert outbox_store.claim(conn, "other-instance", clock(), settings.delivery.lease_seconds)
            return build(unit)

        monkeypatch.setattr(h.deliverer, "_alert", slow_then_taken_over)
        tk.add_document(
            "aa000000-0000-4000-8000-000000000001", "2025D50001", "Brief regering", "Brief 1", ICT,
            date.today(), "2025-2026", -1, [DOSSIER_26643],
        )  # fmt: skip
        h.cycle()
        [row] = h.deliveries()
    finally:
        h.close()
    assert log == []  # not sent here: the other instance owns it now
    assert (row["status"], row["locked_by"]) == ("sending", "other-instance")
