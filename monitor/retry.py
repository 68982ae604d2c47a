"""Waiting times from outside, made safe: ``Retry-After`` and every backoff, clamped.

A ``Retry-After`` is written by a server we do not control: ``inf`` or ``1e12`` once
overflowed date arithmetic (every poll crashed), and ``99999999999`` silenced a source
until the year 5195.  Every wait the monitor takes from outside, or computes, therefore
passes through :func:`clamp`: at least :data:`MIN_WAIT` and at most ``[monitor]
max_wait_seconds`` (:data:`MAX_WAIT`, 6 h, by default).  A value that had to be clamped is
logged, once per server and value.
"""

from __future__ import annotations

import logging
import math
import threading
import time

logger = logging.getLogger(__name__)

MIN_WAIT = 1.0
MAX_WAIT = 6 * 3600.0  # the default of ``[monitor] max_wait_seconds``

_max_wait = MAX_WAIT
_logged: set[tuple[str, str]] = set()
_lock = threading.Lock()


def set_max_wait(seconds: float) -> None:
    """The process-wide upper bound (``[monitor] max_wait_seconds``), set once at start-up."""
    global _max_wait
    _max_wait = min(max(seconds, MIN_WAIT), MAX_WAIT)


def clamp(seconds: float, who: str = "", raw: str | None = None, *, minimum: float = MIN_WAIT) -> float:
    """``seconds`` within [minimum, MAX_WAIT]; NaN counts as the minimum.

    ``minimum`` is lowered only for waits the monitor computes from its own (validated)
    configuration, such as a test's 50 ms backoff; a server's word never goes below 1 s.
    """
    if math.isnan(seconds):
        seconds = minimum
    out = min(max(seconds, minimum), _max_wait)
    if out != seconds and who and raw is not None and seconds > _max_wait:
        key = (who, raw[:40])
        with _lock:
            first = key not in _logged and len(_logged) < 1000
            _logged.add(key)
        if first:
            logger.warning(
                "%s asked to wait %r; waiting %.0f s instead (the most the monitor waits)", who, raw[:40], out
            )
    return out


def parse_retry_after(value: str | None, who: str = "") -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), clamped; None if absent or junk."""
    if not value:
        return None
    text = value.strip()[:100]
    try:
        seconds = float(text)
    except ValueError:
        try:
            from email.utils import parsedate_to_datetime  # only for the rare HTTP-date form

            when = parsedate_to_datetime(text)
            seconds = when.timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    if math.isnan(seconds):
        return None
    return clamp(seconds, who, text)
