"""Daily and weekly digests and quiet hours, with a fixed clock (no sleeping)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.config import parse
from monitor.configread import ConfigError
from monitor.schedule import Schedule, release
from tests.fakes.slack_server import SlackServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Clock, Harness, settings_for

AMS = ZoneInfo("Europe/Amsterdam")


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=AMS).astimezone(UTC)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlackServer]:
    with SlackServer() as server:
        monkeypatch.setenv("KM_TEST_SLACK", server.url_for("goodhook"))
        yield server


def make(tk: TkFeedServer, sru: SruServer, db: str, clock: Clock, **schedule: str) -> Harness:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    settings = settings_for(
        db, syncfeed_url=tk.base_url, sru_url=sru.base_url,
        channels=[{"name": "slack", "type": "slack", "webhook_url_env": "KM_TEST_SLACK"}],
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": ["slack"], **schedule}],
    )  # fmt: skip
    return Harness(settings, now=clock)


def publish(tk: TkFeedServer, n: int, day: date) -> None:
    tk.add_document(
        f"aa000000-0000-4000-8000-{n:012d}", f"2025D4{n:04d}", "Brief regering", f"Digestbrief {n}", ICT,
        day, "2024-2025", -1, [DOSSIER_26643],
    )  # fmt: skip


def test_daily_digest_holds_letters_until_the_set_time_and_sends_one_message(
    tk: TkFeedServer, sru: SruServer, sqlite_db: str, slack: SlackServer
) -> None:
    clock = Clock(local(2025, 6, 23, 10))
    h = make(tk, sru, sqlite_db, clock, mode="daily", digest_time="08:00")
    h.cycle()
    publish(tk, 1, date(2025, 6, 23))
    h.cycle()
    clock.now = local(2025, 6, 23, 15)
    publish(tk, 2, date(2025, 6, 23))
    h.cycle()
    clock.now = local(2025, 6, 24, 7, 59)
    h.cycle()
    assert slack.messages == []
    clock.now = local(2025, 6, 24, 8, 0)
    h.cycle()
    [digest] = slack.messages
    assert "Digestbrief 1" in str(digest) and "Digestbrief 2" in str(digest)
    clock.now = local(2025, 6, 25, 8, 0)
    h.cycle()
    assert len(slack.messages) == 1  # nothing new, nothing sent


def test_weekly_digest_goes_out_on_the_set_day(
    tk: TkFeedServer, sru: SruServer, sqlite_db: str, slack: SlackServer
) -> None:
    clock = Clock(local(2025, 6, 24, 10))  # Tuesday
    h = make(tk, sru, sqlite_db, clock, mode="weekly", digest_day="vrijdag", digest_time="16:30")
    h.cycle()
    publish(tk, 1, date(2025, 6, 24))
    h.cycle()
    clock.now = local(2025, 6, 27, 16, 29)
    h.cycle()
    assert slack.messages == []
    clock.now = local(2025, 6, 27, 16, 30)
    h.cycle()
    assert len(slack.messages) == 1


def test_quiet_hours_hold_alerts_and_release_them_as_one_message(
    tk: TkFeedServer, sru: SruServer, sqlite_db: str, slack: SlackServer
) -> None:
    clock = Clock(local(2025, 6, 23, 21))
    h = make(tk, sru, sqlite_db, clock, quiet_hours="22:00-07:00")
    h.cycle()
    publish(tk, 1, date(2025, 6, 23))
    h.cycle()
    assert len(slack.messages) == 1  # before quiet hours: immediate
    clock.now = local(2025, 6, 23, 23, 15)
    publish(tk, 2, date(2025, 6, 23))
    h.cycle()
    clock.now = local(2025, 6, 24, 2, 40)
    publish(tk, 3, date(2025, 6, 24))
    h.cycle()
    assert len(slack.messages) == 1
    clock.now = local(2025, 6, 24, 7, 0)
    h.cycle()
    assert len(slack.messages) == 2
    held = str(slack.messages[1])
    assert "Digestbrief 2" in held and "Digestbrief 3" in held


def test_release_times_cross_midnight_weekends_and_dst() -> None:
    daily = Schedule("daily", time(8, 0))
    when, key = release(daily, local(2025, 10, 25, 9), AMS)  # DST ends the next night
    assert when == local(2025, 10, 26, 8) and key.startswith("daily:2025-10-26T08:00")
    assert when - local(2025, 10, 25, 9) == timedelta(hours=24)  # 23 h of wall clock + the extra hour
    quiet = Schedule(quiet=(time(22, 0), time(7, 0)))
    assert release(quiet, local(2025, 6, 23, 12), AMS)[1] == ""
    assert release(quiet, local(2025, 6, 23, 6, 59), AMS)[0] == local(2025, 6, 23, 7)


def test_bad_schedule_keys_name_the_key() -> None:
    with pytest.raises(ConfigError) as err:
        parse({"watch": [{"dossiers": ["26643"], "mode": "hourly", "quiet_hours": "22-7", "digest_day": "funday"}]})
    text = str(err.value)
    assert "watch[0].mode" in text and "watch[0].quiet_hours" in text and "watch[0].digest_day" in text
