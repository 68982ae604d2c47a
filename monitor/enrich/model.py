"""The enrichment result (:class:`LetterDetails`), its JSON form, and :class:`EnrichError`.

Plain data, no parsing of letters: the extractors in this package fill it, the store
keeps ``to_json()`` in a TEXT column and reads it back with ``from_json()``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Final, Literal, cast

Source = Literal["html", "pdf", "docx"]
SOURCES: Final[frozenset[str]] = frozenset({"html", "pdf", "docx"})
SUMMARY_MAX: Final = 600
_JSON_VERSION: Final = 1


class EnrichError(Exception):
    """A letter could not be read (broken, unsafe or mismatched file); ``str()`` is one line."""


@dataclass(frozen=True, slots=True)
class Signatory:
    """One signer: either part may be missing (``De Staatssecretaris van …`` without a name)."""

    name: str | None
    office: str | None


@dataclass(frozen=True, slots=True)
class LetterDetails:
    """What one letter says about itself; every field is optional because layouts vary."""

    subject: str | None = None  # "Betreft" line (PDF/DOCX) or documenttitel (HTML)
    letter_date: date | None = None
    place_date_line: str | None = None  # "Den Haag, 27 juni 2025"
    sender_office: str | None = None  # "Minister van Economische Zaken"
    summary: str | None = None  # at most SUMMARY_MAX characters, whole words
    signatories: tuple[Signatory, ...] = ()
    cited: tuple[str, ...] = ()  # cited Kamerstukken, "26643-1265", "36600-VII-5"
    source: Source = "html"

    def to_json(self) -> str:
        """A compact, stable JSON object (keys sorted, dates ISO, non-ASCII kept)."""
        payload: dict[str, Any] = {
            "v": _JSON_VERSION,
            "subject": self.subject,
            "letter_date": self.letter_date.isoformat() if self.letter_date else None,
            "place_date_line": self.place_date_line,
            "sender_office": self.sender_office,
            "summary": self.summary,
            "signatories": [{"name": s.name, "office": s.office} for s in self.signatories],
            "cited": list(self.cited),
            "source": self.source,
        }
        return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> LetterDetails:
        """Read what :meth:`to_json` wrote; raise ValueError for anything else.

        Unknown keys are ignored and missing ones default, so rows written by an older
        or newer version stay readable.
        """
        try:
            raw = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"letter details are not JSON: {exc}") from exc
        if not isinstance(raw, dict):
            raise ValueError("letter details JSON is not an object")
        source = raw.get("source", "html")
        if source not in SOURCES:
            raise ValueError(f"letter details: unknown source {source!r}")
        day = _opt_str(raw, "letter_date")
        try:
            letter_date = date.fromisoformat(day) if day else None
        except ValueError as exc:
            raise ValueError(f"letter details: bad letter_date {day!r}") from exc
        signatories = raw.get("signatories") or []
        cited = raw.get("cited") or []
        if not isinstance(signatories, list) or not all(isinstance(s, dict) for s in signatories):
            raise ValueError("letter details: signatories must be a list of objects")
        if not isinstance(cited, list) or not all(isinstance(c, str) for c in cited):
            raise ValueError("letter details: cited must be a list of strings")
        return cls(
            subject=_opt_str(raw, "subject"),
            letter_date=letter_date,
            place_date_line=_opt_str(raw, "place_date_line"),
            sender_office=_opt_str(raw, "sender_office"),
            summary=_opt_str(raw, "summary"),
            signatories=tuple(Signatory(_opt_str(s, "name"), _opt_str(s, "office")) for s in signatories),
            cited=tuple(cited),
            source=cast(Source, source),
        )


def _opt_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"letter details: {key} must be a string or null, not {type(value).__name__}")
