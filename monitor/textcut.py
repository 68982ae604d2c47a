"""Cutting a text from outside (a URL, a server's reply) to a length fit for an error message or a log line."""

from __future__ import annotations


def shorten(text: str, limit: int = 120) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and "…" (``limit`` in all)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
