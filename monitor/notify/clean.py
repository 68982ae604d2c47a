"""Untrusted text made fit to show: one line, free text, dates, links.

Every string that comes from a source (subjects, titles, senders, URLs, reasons,
operator text) is untrusted.  One-line fields lose control characters (newlines, ESC,
bidi overrides) and are trimmed, so nothing can break a mail header or a terminal; a
link is only kept when its scheme is http or https.  Each medium escapes for itself on
top of this (HTML through Jinja's autoescape, Slack in :mod:`monitor.notify.slack_render`).
"""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import quote, urlsplit

MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)

# C0/C1 controls (includes \t \n \r ESC), line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Zero-width and bidi-override characters: invisible, and able to disguise text.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")


def trim(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def oneline(text: str | None, limit: int = 1000) -> str:
    """A single line: no control or invisible characters, runs of whitespace collapsed."""
    if not text:
        return ""
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    return trim(_SPACES.sub(" ", text).strip(), limit)


def multiline(text: str | None, limit: int = 4000) -> str:
    """Free text that keeps its line breaks (operator messages) but nothing else invisible."""
    if not text:
        return ""
    lines = [oneline(line, limit) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    joined = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return trim(joined, limit)


def format_date(value: date | None) -> str:
    """``27 juni 2025``."""
    if value is None:
        return ""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL, percent-encoded where needed; else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > 2000 or _CONTROL.search(url) or _INVISIBLE.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    # Encodes space " < > \ ^ ` { | } and non-ASCII; keeps existing %XX escapes.
    return quote(url, safe="/:?#[]@!$&'()*+,;=%")


def trim_words(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"
