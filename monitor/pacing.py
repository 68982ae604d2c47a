"""Rate limits with a short burst: one request per ``interval`` on average, ``burst`` at once.

Used for the requests to each source host (``[http] pause_seconds``) and for the messages
to each paced channel (a Slack webhook takes "about one message per second, short bursts
allowed").  A plain pause between every two requests makes the third of three letters
seen by one poll wait two pauses before its file is read and its alert sent; a bucket of a
few requests lets such a handful go at once while the long-run rate stays exactly one per
interval, the politeness the pause was for.

The algorithm is GCRA (the "virtual scheduling" form of a token bucket): per key, the
theoretical time at which the next request would be on schedule.  A request may go when
that time is at most ``(burst - 1) × interval`` ahead of now; going moves it one interval
on.  With ``burst = 1`` this is the plain pause.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable


class Pacer:
    """Thread-safe per-key pacing: :meth:`reserve` a slot, then sleep the returned seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._due: dict[Hashable, float] = {}  # key → theoretical time of its next request
        self._lock = threading.Lock()

    def wait(self, key: Hashable, interval: float, burst: int = 1) -> float:
        """Seconds until a request for ``key`` may go (0 when it may go now); reserves nothing."""
        if interval <= 0:
            return 0.0
        with self._lock:
            return self._wait(key, interval, burst, self._clock())

    def reserve(self, key: Hashable, interval: float, burst: int = 1) -> float:
        """Take ``key``'s next slot; return how long to wait before using it.

        The slot is taken before the caller sleeps, so two threads asking at once get two
        slots one interval apart, and another key is never held up.
        """
        if interval <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            wait = self._wait(key, interval, burst, now)
            self._due[key] = max(self._due.get(key, now), now) + interval
            return wait

    def _wait(self, key: Hashable, interval: float, burst: int, now: float) -> float:
        due = self._due.get(key)
        if due is None:
            return 0.0
        return max(0.0, due - now - (max(1, burst) - 1) * interval)
