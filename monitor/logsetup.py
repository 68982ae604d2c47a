"""Log output: text or one JSON object per line, always in UTC, third-party loggers quieted.

Only the CLI calls :func:`setup`.  Both formats stamp each record with UTC ISO 8601 time
(``2026-12-06T20:31:07.412Z``): the monitor's schedule lives in Europe/Amsterdam, but a
log read next to other services' logs must not depend on the host's zone.  Records of
every library go through the same handler, so they get the same format and clock; the
libraries that chatter at INFO or WARNING about things the monitor already reports in
its own words (APScheduler's "maximum number of running instances reached" for a poll
still running, pypdf's "EOF marker not found" for a PDF it reads anyway) are raised to a
level where only real trouble shows.

A record may carry ``source``, ``watch`` or ``channel`` (``logger.info(..., extra=...)``):
the JSON format gives them their own fields, for filtering; the text already names them.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
CONTEXT_FIELDS = ("source", "watch", "channel")

# Library loggers and the lowest level of theirs worth showing.
QUIETED = {
    "apscheduler": logging.ERROR,  # skipped runs and missed run times are expected: polls never overlap
    "pypdf": logging.ERROR,  # malformed-but-readable PDFs; a letter that cannot be read is reported by us
    "httpx": logging.WARNING,  # one INFO line per request
    "httpcore": logging.WARNING,
    "mail.log": logging.WARNING,  # aiosmtpd, when it shares the process in tests
    "py.warnings": logging.WARNING,  # warnings.warn() from libraries, in the same format
}


def utc_iso(created: float) -> str:
    """``time.time()`` seconds → ``2026-12-06T20:31:07.412Z``."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{whole}.{int(created * 1000) % 1000:03d}Z"


def _context(record: logging.LogRecord) -> dict[str, str]:
    return {f: str(v) for f in CONTEXT_FIELDS if (v := getattr(record, f, None)) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-12-06T20:31:07.412Z INFO message``; a library's record names the library."""

    def format(self, record: logging.LogRecord) -> str:
        who = "" if record.name == "monitor" or record.name.startswith("monitor.") else f"{record.name}: "
        line = f"{utc_iso(record.created)} {record.levelname} {who}{record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the stream given, else to whatever ``sys.stderr`` is when a record comes."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self._fixed or sys.stderr
        super().emit(record)


def setup(log_format: LogFormat = "text", *, verbose: bool = False, stream: TextIO | None = None) -> None:
    """(Re)configure the root logger; safe to call again once the config file is read."""
    root = logging.getLogger()
    for old in root.handlers[:]:
        if isinstance(old, _Handler):
            root.removeHandler(old)
    handler = _Handler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name, level in QUIETED.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(True)
