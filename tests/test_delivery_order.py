"""Pacing one channel (Slack's one message a second) never holds back the others."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date

from monitor.deliver import Deliverer
from monitor.models import Alert
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for


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
