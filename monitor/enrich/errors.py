"""The one error enrichment raises for a letter it cannot read.

Fetch failures stay :class:`~monitor.http.SourceError` (a later attempt may work); an
:class:`EnrichError` means this version of the letter is unusable and is not asked for again.
The result types (:class:`~monitor.models.LetterDetails`, :class:`~monitor.models.Signatory`)
live in :mod:`monitor.models` with the other data.
"""

from __future__ import annotations


class EnrichError(Exception):
    """A letter could not be read (broken, unsafe or mismatched file); ``str()`` is one line."""


_MAX_PROBLEM = 200


def problem(what: str, exc: BaseException) -> str:
    """``what`` plus the exception's type and first line, bounded: a parser's message is hostile too."""
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return f"{what}: {type(exc).__name__}{': ' + detail if detail else ''}"[:_MAX_PROBLEM]
