"""The enrichment error; the result types live in :mod:`monitor.models` with the other data.

:class:`LetterDetails` and :class:`Signatory` are re-exported here so the extractors
keep one import place.
"""

from __future__ import annotations

from ..models import SOURCES, SUMMARY_MAX, LetterDetails, Signatory, Source

__all__ = ["SOURCES", "SUMMARY_MAX", "EnrichError", "LetterDetails", "Signatory", "Source"]


class EnrichError(Exception):
    """A letter could not be read (broken, unsafe or mismatched file); ``str()`` is one line."""
