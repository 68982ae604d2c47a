"""How far a long piece of work is: a first start's end search, a catch-up, a backfill.

Work that ends within :data:`EVERY_SECONDS` says nothing extra.  Longer work logs one
line at most every :data:`EVERY_SECONDS`: what was read, the rate, and — when the end
position is known — how far there is to go and about how long that takes.  On a terminal
(standard error is a TTY and the log format is text) a tqdm bar shows the same instead.

The end position may cost requests (a feed's catch-up may learn where the feed ends with a
bounded search), so it is asked for only when the first line is due, and only once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

EVERY_SECONDS = 5.0


def _terminal() -> bool:
    """A person watches: standard error is a terminal and the log lines are text."""
    from .logsetup import JsonFormatter

    root = logging.getLogger()
    json_logs = any(isinstance(h.formatter, JsonFormatter) for h in root.handlers)
    return not json_logs and sys.stderr.isatty()


class Progress:
    """``advance()`` after each step; ``finish()`` at the end (it says so if it said anything)."""

    def __init__(
        self,
        label: str,
        unit: str = "entries read",
        *,
        total: int | None = None,
        start: int | None = None,
        end: Callable[[], int | None] | None = None,
        position_name: str = "position",
        every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        bar: bool | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.label = label
        self.unit = unit
        self.total = total  # a known count of units (a search's record count)
        self.start = start  # the position work began at (a skiptoken)
        self.position = start
        self._end_fn = end
        self._end: int | None = None
        self.position_name = position_name
        self.every = EVERY_SECONDS if every is None else every
        self.clock = clock
        self.done = 0
        self.began = clock()
        self._next = self.began + self.every
        self._said = False
        self._bar_wanted = _terminal() if bar is None else bar
        self._bar: Any = None
        self.extra = extra or {}

    def advance(self, n: int, position: int | None = None) -> None:
        self.done += n
        if position is not None:
            self.position = position
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self.every
        if self._end_fn is not None and self._end is None:
            self._end = self._end_fn()
            self._end_fn = None
        if self._bar_wanted:
            self._show_bar()
        else:
            logger.info("%s", self.line(now), extra=self.extra)
        self._said = True

    def line(self, now: float | None = None) -> str:
        elapsed = max((now if now is not None else self.clock()) - self.began, 1e-9)
        rate = self.done / elapsed
        parts = [f"{self.done:,} {self.unit}" + (f" of {self.total:,}" if self.total else ""), f"{rate:,.0f}/s"]
        left = self._seconds_left(elapsed, rate)
        if self.position is not None:
            end = f" of ~{self._end:,}" if self._end is not None else ""
            parts.append(f"{self.position_name} {self.position:,}{end}")
        if left is not None:
            parts.append(f"about {_duration(left)} to go")
        return f"{self.label}: " + ", ".join(parts)

    def _seconds_left(self, elapsed: float, rate: float) -> float | None:
        if self.total and rate > 0:
            return max(0.0, (self.total - self.done) / rate)
        if self._end is not None and self.position is not None and self.start is not None:
            moved = self.position - self.start
            if moved > 0:
                return max(0.0, (self._end - self.position) / (moved / elapsed))
        return None

    def _show_bar(self) -> None:
        if self._bar is None:
            from tqdm import tqdm

            unit = " " + self.unit.split()[0]
            self._bar = tqdm(desc=self.label, total=self.total, unit=unit, file=sys.stderr, leave=False)
        self._bar.n = self.done
        if self.position is not None and self._end is not None:
            self._bar.set_postfix_str(f"{self.position_name} {self.position:,} of ~{self._end:,}", refresh=False)
        self._bar.refresh()

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
        if self._said:
            elapsed = self.clock() - self.began
            done = f"{self.done:,} {self.unit}"
            logger.info("%s: done, %s in %s", self.label, done, _duration(elapsed), extra=self.extra)


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
