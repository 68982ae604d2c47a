"""Long work says how far it is, at most every few seconds; short work says nothing extra."""

from __future__ import annotations

import io
import logging
import re

import pytest

from monitor.progress import Progress
from monitor.sources.syncfeed.client import SyncFeedClient
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "monitor.progress"]


def test_short_work_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger="monitor"):
        p = Progress("syncfeed: catching up Document", clock=clock, bar=False)
        for _ in range(10):
            clock.now += 0.4
            p.advance(250)
        p.finish()
    assert messages(caplog) == []


def test_long_work_logs_at_most_every_few_seconds_with_rate_position_and_time_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FakeClock()
    asked: list[int] = []

    def end() -> int:
        asked.append(1)
        return 30_100_000

    with caplog.at_level(logging.INFO, logger="monitor"):
        p = Progress(
            "syncfeed: catching up Document", start=30_000_000, end=end, position_name="skiptoken", clock=clock,
            bar=False,
        )  # fmt: skip
        position = 30_000_000
        for _ in range(40):  # 40 pages, one per second
            clock.now += 1.0
            position += 1_000
            p.advance(250, position)
        p.finish()
    lines = messages(caplog)
    assert len(lines) == 40 // 5 + 1  # one line per 5 s, and one at the end
    assert lines[0] == (
        "syncfeed: catching up Document: 1,250 entries read, 250/s, skiptoken 30,005,000 of ~30,100,000, "
        "about 2 min to go"
    )
    assert lines[-1] == "syncfeed: catching up Document: done, 10,000 entries read in 40 s"
    assert asked == [1]  # the end (which costs requests) is asked for once, when the first line is due


def test_a_known_total_gives_the_time_left(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger="monitor"):
        p = Progress("sru: backfilling dossier 26643", "records read", total=1_000, clock=clock, bar=False)
        clock.now += 5
        p.advance(100)
    assert messages(caplog) == ["sru: backfilling dossier 26643: 100 records read of 1,000, 20/s, about 45 s to go"]


def test_on_a_terminal_a_progress_bar_is_drawn_instead(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    monkeypatch.setattr("sys.stderr", screen)
    clock = FakeClock()
    with caplog.at_level(logging.INFO, logger="monitor"):
        p = Progress("sru: backfilling dossier 26643", "records read", total=1_000, clock=clock, bar=True)
        clock.now += 6
        p.advance(300)
        p.finish()
    assert "sru: backfilling dossier 26643" in screen.getvalue() and "300/1000" in screen.getvalue()
    assert messages(caplog) == ["sru: backfilling dossier 26643: done, 300 records read in 6 s"]


def test_a_catch_up_of_the_syncfeed_reports_its_progress(
    tk: TkFeedServer, sqlite_db: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real catch-up over the local feed: 3 pages behind, the clock forced to say "report now"."""
    monkeypatch.setattr("monitor.progress.EVERY_SECONDS", 0.0)
    tk.page_size = 10
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    settings = settings_for(
        sqlite_db, syncfeed_url=tk.base_url, extra={"sources": {"syncfeed": {"start_skiptoken": 30_000_000}}}
    )
    h = Harness(settings)
    try:
        for n in range(25):
            tk.add_document(
                f"dd000000-0000-4000-8000-{n:012d}", f"2025D6{n:04d}", "Brief regering", f"Brief {n}", ICT,
                "2025-06-23", "2024-2025", -1, [DOSSIER_26643],
            )  # fmt: skip
        end = SyncFeedClient(h.ctx.fetcher, tk.base_url).find_feed_end("Document")
        with caplog.at_level(logging.INFO, logger="monitor"):
            assert h.cycle(["syncfeed"]).ok == {"syncfeed": True}
    finally:
        h.close()
    # The first poll also mirrors the related feeds (their lines come first): the Document feed's lines.
    lines = [m for m in messages(caplog) if m.startswith("syncfeed: catching up Document")]
    # Pages that arrive together are stored (and counted) together: 10 or 20 entries by the first line.
    assert lines and re.match(r"syncfeed: catching up Document: [12]0 entries read, [\d,]+/s, skiptoken ", lines[0])
    assert f"of ~{end:,}" in lines[0]
    assert lines[-1].startswith("syncfeed: catching up Document: done, 25 entries read")
