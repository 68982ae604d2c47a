"""Riding through outages and telling the operator: once per condition, and on recovery."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fakes.slack_server import SlackServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Clock, Harness, settings_for

MONDAY_10H = datetime(2025, 6, 23, 8, 0, tzinfo=UTC)  # 10:00 in Amsterdam


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


def make(
    tk: TkFeedServer,
    sru: SruServer,
    db: str,
    clock: Clock,
    *,
    channels: list[dict[str, object]] | None = None,
    watch_channels: list[str] | None = None,
    extra: dict[str, object] | None = None,
) -> Harness:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    settings = settings_for(
        db, syncfeed_url=tk.base_url, sru_url=sru.base_url, channels=channels,
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": watch_channels or ["console"]}],
        extra={"operator": {"channels": ["console"], "failure_threshold": 3, "stale_hours": 6}, **(extra or {})},
    )  # fmt: skip
    return Harness(settings, now=clock)


def letter(tk: TkFeedServer, n: int, day: date = date(2025, 6, 23)) -> None:
    tk.add_document(
        f"aa000000-0000-4000-8000-{n:012d}", f"2025D3{n:04d}", "Brief regering", f"Brief nummer {n}", ICT,
        day, "2024-2025", -1, [DOSSIER_26643],
    )  # fmt: skip


def operator_texts(h: Harness) -> list[str]:
    return [r["text"] for r in h.deliveries("operator")]


def test_source_failing_is_announced_once_after_the_threshold_and_recovery_too(
    tk: TkFeedServer, sru: SruServer, database: str
) -> None:
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock)
    h.cycle()
    tk.fail_next(6, "500")
    for _ in range(6):
        clock.advance(minutes=2)
        h.cycle()
    texts = operator_texts(h)
    assert len(texts) == 1 and "syncfeed has failed 3 polls in a row" in texts[0] and "HTTP 500" in texts[0]
    clock.advance(minutes=2)
    h.cycle()
    texts = operator_texts(h)
    assert len(texts) == 2 and "syncfeed is reachable again" in texts[1]
    assert all(r["status"] == "sent" for r in h.deliveries("operator"))


def test_one_failing_source_does_not_stop_the_other_nor_move_its_cursor(
    tk: TkFeedServer, sru: SruServer, database: str
) -> None:
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock)
    h.cycle()
    letter(tk, 1)
    sru.add_record("kst-26643-1400", document_title="Alleen in SRU", date=date(2025, 6, 23), modified=date(2025, 6, 23))
    tk.fail_next(1, "truncated")
    result = h.cycle()
    assert result.ok == {"syncfeed": False, "sru": True}
    assert len(h.deliveries()) == 1  # the SRU letter
    result = h.cycle()
    assert result.ok["syncfeed"] and len(h.deliveries()) == 2  # the TK letter was not skipped


@pytest.mark.parametrize("mode", ["500", "html", "truncated", "malformed", "dtd", "hang", "drop", "gzipbomb"])
def test_every_broken_syncfeed_answer_is_one_clear_line_and_loses_nothing(
    tk: TkFeedServer, sru: SruServer, database: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock, extra={"http": {"max_response_mb": 5}})
    h.cycle()
    letter(tk, 1)
    tk.fail_next(1, mode)
    caplog.clear()
    h.cycle()
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "syncfeed" in r.getMessage()]
    assert line.startswith("syncfeed: ") and "\n" not in line
    h.cycle()
    assert len(h.deliveries()) == 1


@pytest.mark.parametrize("mode", ["diagnostic", "500", "html", "malformed", "truncated", "soft404", "reset"])
def test_every_broken_sru_answer_is_one_clear_line(
    tk: TkFeedServer, sru: SruServer, database: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock)
    h.cycle()
    sru.add_record("kst-26643-1400", document_title="Nieuw", date=date(2025, 6, 23), modified=date(2025, 6, 23))
    sru.fail_next(1, mode)
    caplog.clear()
    h.cycle()
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.getMessage().startswith("sru")]
    assert "\n" not in line
    h.cycle()
    assert len(h.deliveries()) == 1


def test_retry_after_from_a_source_is_honoured(tk: TkFeedServer, sru: SruServer, database: str) -> None:
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock)
    h.cycle()
    tk.fail_next(1, "503")  # Retry-After: 7
    h.cycle()
    before = len(tk.requests)
    clock.advance(seconds=3)
    h.cycle()
    assert len(tk.requests) == before  # still inside Retry-After
    clock.advance(seconds=5)
    h.cycle()
    assert len(tk.requests) == before + 1


def test_letter_after_a_short_retry_after_is_alerted_by_the_next_poll(
    tk: TkFeedServer, sru: SruServer, database: str
) -> None:
    """500, then 503 with ``Retry-After: 1``, then recovered with a new letter.

    ``poll --once`` runs follow each other in well under a second, so the next one starts
    while the source's window is still open; it must wait the rest of that second and
    poll, not drop the source until a later run.
    """
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock)
    h.cycle()
    tk.fail_next(1, "500")
    clock.advance(seconds=1)
    assert not h.cycle().ok["syncfeed"]
    tk.retry_after = "1"
    tk.fail_next(1, "503")
    clock.advance(seconds=1)
    assert not h.cycle().ok["syncfeed"]
    failed_at, before = clock.now, len(tk.requests)
    letter(tk, 1)  # the source is back, with a letter linked to dossier 26643
    clock.advance(seconds=0.4)  # the next run starts inside the window
    result = h.cycle()
    assert result.ok["syncfeed"]
    assert [r["status"] for r in h.deliveries()] == ["sent"]
    assert len(tk.requests) > before and clock.now >= failed_at + timedelta(seconds=1)  # the window was honoured


def test_stale_syncfeed_is_announced_once_during_working_hours(tk: TkFeedServer, sru: SruServer, database: str) -> None:
    clock = Clock(datetime(2025, 6, 23, 6, 0, tzinfo=UTC))  # Monday 08:00 in Amsterdam
    h = make(tk, sru, database, clock)
    h.cycle()
    letter(tk, 1)
    h.cycle()
    for _ in range(4):
        clock.advance(hours=2)
        h.cycle()
    texts = operator_texts(h)
    assert len(texts) == 1 and "produced no new documents for 8 h" in texts[0]  # first poll past 6 h
    letter(tk, 2)
    clock.advance(minutes=2)
    h.cycle()
    assert len(operator_texts(h)) == 2 and "produces new documents again" in operator_texts(h)[1]


def test_stale_is_not_announced_at_night_or_weekends(tk: TkFeedServer, sru: SruServer, database: str) -> None:
    clock = Clock(datetime(2025, 6, 27, 14, 0, tzinfo=UTC))  # Friday 16:00
    h = make(tk, sru, database, clock)
    h.cycle()
    letter(tk, 1)
    h.cycle()
    polls = 0
    while True:
        clock.advance(hours=1)  # through Friday evening, the weekend, Monday early morning
        local = clock.now.astimezone(ZoneInfo("Europe/Amsterdam"))
        if local.weekday() == 0 and local.hour >= 8:
            break
        h.cycle()
        polls += 1
    assert polls > 60 and operator_texts(h) == []
    h.cycle()  # Monday 08:00: silent for 64 h, in working hours
    assert len(operator_texts(h)) == 1


def test_permanent_delivery_failure_is_announced_once(
    tk: TkFeedServer, sru: SruServer, database: str, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KM_TEST_SLACK", slack.url_for("archived"))
    clock = Clock(MONDAY_10H)
    channels = [{"name": "slack", "type": "slack", "webhook_url_env": "KM_TEST_SLACK"}]
    h = make(tk, sru, database, clock, channels=channels, watch_channels=["slack"])
    h.cycle()
    letter(tk, 1)
    h.cycle()
    letter(tk, 2)
    clock.advance(minutes=2)
    h.cycle()
    texts = operator_texts(h)
    assert len(texts) == 1 and "channel slack" in texts[0] and "channel_is_archived" in texts[0]
    assert slack.url_for("archived") not in texts[0]


def test_delivery_retrying_for_over_an_hour_is_announced_once_and_recovery_too(
    tk: TkFeedServer, sru: SruServer, database: str, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KM_TEST_SLACK", slack.url_for("goodhook"))
    clock = Clock(MONDAY_10H)
    channels = [{"name": "slack", "type": "slack", "webhook_url_env": "KM_TEST_SLACK"}]
    h = make(
        tk, sru, database, clock, channels=channels, watch_channels=["slack"],
        extra={"delivery": {"max_attempts": 100, "backoff_base_seconds": 60, "backoff_cap_seconds": 600}},
    )  # fmt: skip
    h.cycle()
    slack.fail_next(1000, "500")
    letter(tk, 1)
    h.cycle()
    for _ in range(8):
        clock.advance(minutes=11)
        h.cycle()
    texts = operator_texts(h)
    assert len(texts) == 1 and "retrying for over 60 min" in texts[0] and "500" in texts[0]
    slack.clear_faults()
    clock.advance(minutes=11)
    h.cycle()
    assert len(slack.messages) == 1
    assert "delivering again" in operator_texts(h)[-1]


def test_burst_after_an_outage_arrives_as_one_digest_per_channel(
    tk: TkFeedServer, sru: SruServer, database: str, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KM_TEST_SLACK", slack.url_for("goodhook"))
    clock = Clock(MONDAY_10H)
    channels = [{"name": "slack", "type": "slack", "webhook_url_env": "KM_TEST_SLACK"}]
    h = make(tk, sru, database, clock, channels=channels, watch_channels=["slack", "console"])
    h.cycle()
    tk.fail_next(3, "500")
    for n in range(12):
        letter(tk, n)
    for _ in range(3):
        h.cycle()
    assert h.deliveries() == []
    h.cycle()
    rows = h.deliveries()
    assert len(rows) == 24 and all(r["status"] == "sent" for r in rows)
    [digest] = slack.messages
    assert "12" in digest["text"]
    for n in range(12):
        assert f"Brief nummer {n}" in h.output.getvalue()


def test_page_limit_leaves_the_rest_for_the_next_poll(tk: TkFeedServer, sru: SruServer, database: str) -> None:
    tk.page_size = 3
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock, extra={"sources": {"syncfeed": {"max_pages_per_poll": 2}}})
    h.cycle()
    for n in range(10):
        letter(tk, n)
    h.cycle()
    assert len(h.deliveries()) == 6
    h.cycle()
    assert len(h.deliveries()) == 10


def test_sru_no_longer_returning_a_dossier_is_announced_even_when_the_poll_before_failed(
    tk: TkFeedServer, sru: SruServer, database: str
) -> None:
    """The daily liveness probe runs after the window and counts as done only once it has run."""
    clock = Clock(MONDAY_10H)
    for n in (1336, 1384):
        sru.add_record(f"kst-26643-{n}", date=date(2025, 5, 13), modified=date(2025, 5, 13))
    h = make(tk, sru, database, clock)
    h.cycle()  # first start: the two publications are recorded silently; the probe finds them
    assert not [t for t in operator_texts(h) if "returns no records" in t]
    for n in (1336, 1384):  # the search silently stops returning the dossier
        sru.remove_record(f"kst-26643-{n}")
    clock.advance(hours=25)
    sru.fail_next(1, "500")  # this poll's window query fails, so its probe never runs
    assert h.cycle().ok["sru"] is False
    clock.advance(minutes=10)
    h.cycle()  # the probe, not done yet today, runs now
    texts = [t for t in operator_texts(h) if "returns no records" in t]
    assert len(texts) == 1 and "dossier 26643, which has 2 publications on record" in texts[0]
    clock.advance(minutes=10)
    h.cycle()  # once per condition, and not probed again the same day
    assert len([t for t in operator_texts(h) if "returns no records" in t]) == 1


def test_status_speaks_plainly_and_counts_messages_as_the_reader_sees_them(
    tk: TkFeedServer, sru: SruServer, database: str, tmp_path: Path
) -> None:
    import io

    from monitor.cli import main

    config = tmp_path / "km.toml"
    config.write_text('[[watch]]\nname = "ict"\ndossiers = ["26643"]\n', encoding="utf-8")
    status = ["--config", str(config), "--database", database, "status"]
    clock = Clock(MONDAY_10H)
    h = make(tk, sru, database, clock)
    h.cycle()
    letter(tk, 1)
    clock.advance(minutes=2)
    h.cycle()  # one alert
    for n in range(2, 8):
        letter(tk, n)
    clock.advance(minutes=2)
    h.cycle()  # six letters in one poll: one digest
    out = io.StringIO()
    assert main(status, stdout=out) == 0
    text = out.getvalue()
    assert "ict: 7 letters on record" in text
    assert "syncfeed: last success" in text and "; no failures;" in text
    assert "read up to skiptoken" in text and "publications read up to 2025-06-23" in text
    for internal in ("backfill", "liveness", "polls=", "cursor"):
        assert internal not in text, internal
    [console] = [line for line in text.splitlines() if line.startswith("  console:")]
    assert "2 messages sent" in console and "sent 7" in console
    tk.fail_next(1, "500")
    clock.advance(minutes=2)
    h.cycle()
    out = io.StringIO()
    main(status, stdout=out)
    assert "; 1 failure in a row;" in out.getvalue()
