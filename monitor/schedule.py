"""When an alert may go out: immediately, in a daily or weekly digest, or after quiet hours.

Pure functions of a clock, so digests and quiet hours are tested with a fixed ``now``.
Alerts held for the same moment share a ``hold`` key; the outbox sends all rows with
one key as one message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DAYS = {
    "monday": 0, "maandag": 0, "tuesday": 1, "dinsdag": 1, "wednesday": 2, "woensdag": 2, "thursday": 3,
    "donderdag": 3, "friday": 4, "vrijdag": 4, "saturday": 5, "zaterdag": 5, "sunday": 6, "zondag": 6,
}  # fmt: skip
MODES = ("immediate", "daily", "weekly")


@dataclass(frozen=True, slots=True)
class Schedule:
    mode: str = "immediate"
    at: time = time(8, 0)  # daily/weekly digest time, local
    day: int = 0  # weekly digest weekday (Monday = 0)
    quiet: tuple[time, time] | None = None  # immediate alerts wait until the end


IMMEDIATE = Schedule()


def parse_time(text: str) -> time:
    m = re.fullmatch(r"(\d{1,2})[:.](\d{2})", text.strip())
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise ValueError(f"not a time of day (HH:MM): {text!r}")
    return time(int(m[1]), int(m[2]))


def parse_quiet(text: str) -> tuple[time, time]:
    parts = text.split("-")
    if len(parts) != 2:
        raise ValueError(f"not a time range (HH:MM-HH:MM): {text!r}")
    start, end = parse_time(parts[0]), parse_time(parts[1])
    if start == end:
        raise ValueError(f"empty quiet hours: {text!r}")
    return start, end


def _in_quiet(local: datetime, quiet: tuple[time, time]) -> bool:
    start, end, now = quiet[0], quiet[1], local.time()
    return start <= now < end if start < end else (now >= start or now < end)


def _next_at(local: datetime, at: time, *, weekday: int | None = None) -> datetime:
    candidate = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    days = 0 if weekday is None else (weekday - local.weekday()) % 7
    candidate += timedelta(days=days)
    if candidate <= local:
        candidate += timedelta(days=7 if weekday is not None else 1)
    # Rebuild from the wall-clock date so a DST change in between keeps the local time.
    return datetime.combine(candidate.date(), at, tzinfo=local.tzinfo)


def release(schedule: Schedule, now: datetime, tz: ZoneInfo) -> tuple[datetime, str]:
    """(when the alert may be sent, hold key) for an alert queued at ``now``."""
    local = now.astimezone(tz)
    if schedule.mode == "daily":
        when = _next_at(local, schedule.at)
    elif schedule.mode == "weekly":
        when = _next_at(local, schedule.at, weekday=schedule.day)
    elif schedule.quiet and _in_quiet(local, schedule.quiet):
        when = _next_at(local, schedule.quiet[1])
    else:
        return now, ""
    return when.astimezone(
        now.tzinfo
    ), f"{schedule.mode if schedule.mode != 'immediate' else 'quiet'}:{when.isoformat()}"
