"""Plain, typed data that crosses module boundaries: no I/O, no parsing of wire formats.

Sources turn wire formats into these objects; the store persists them; the poll loop
decides what is new; channels render them.  Dutch field names from the sources are
kept where they are the domain's own vocabulary (dossier, volgnummer, soort).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, Literal, cast

Day = date  # an alias, because some models have a field named "date"

# "26643", "26 643" (printed form), "36600-VII", "36600 VII", "21501-33".
_DOSSIER_RE = re.compile(r"(?P<num>\d{1,3}(?: \d{3})+|\d+)(?:\s*-\s*|\s+)?(?P<suffix>[IVXLCDM]+|[A-Z]{1,3}|\d{1,3})?")


@dataclass(frozen=True, slots=True, order=True)
class DossierRef:
    """A Kamerstuk dossier: its number and optional toevoeging (``36600-VII``)."""

    nummer: int
    toevoeging: str | None = None

    def __str__(self) -> str:
        return f"{self.nummer}-{self.toevoeging}" if self.toevoeging else str(self.nummer)

    @classmethod
    def parse(cls, text: str | int) -> DossierRef:
        """Parse a dossier number as people write it; raise ValueError otherwise."""
        if isinstance(text, int) and not isinstance(text, bool):
            if text <= 0:
                raise ValueError(f"not a dossier number: {text!r}")
            return cls(text)
        if not isinstance(text, str):
            raise ValueError(f"not a dossier number: {text!r}")
        m = _DOSSIER_RE.fullmatch(text.strip())
        if not m or int(m["num"].replace(" ", "")) <= 0:
            raise ValueError(f"not a dossier number: {text!r}")
        return cls(int(m["num"].replace(" ", "")), m["suffix"] or None)


@dataclass(frozen=True, slots=True)
class Attachment:
    """A bijlage of a letter: its title and where to read it (its PDF, else its page)."""

    title: str
    url: str | None = None
    ref: str = ""  # its own identity (ob:blg-936562, tk:<guid>); "" when not stored (previews)


@dataclass(frozen=True, slots=True)
class Letter:
    """One letter as the monitor knows it, merged from every source and version."""

    id: int
    dossiers: tuple[DossierRef, ...] = ()
    dossier_title: str | None = None
    number: str | None = None  # Kamerstuk ondernummer, once known
    kind: str | None = None  # "Brief regering"
    date: date | None = None
    subject: str | None = None
    vergaderjaar: str | None = None
    document_nummer: str | None = None  # TK DocumentNummer
    zaak_nummer: str | None = None
    tk_guid: str | None = None
    ob_identifier: str | None = None
    senders: tuple[str, ...] = ()
    tk_url: str | None = None
    tk_file_url: str | None = None
    ob_html_url: str | None = None
    ob_pdf_url: str | None = None
    deleted: bool = False
    first_seen: datetime | None = None
    attachments: tuple[Attachment, ...] = ()
    details: LetterDetails | None = None  # sender, summary, signatories (enrichment)

    @property
    def citation(self) -> str | None:
        """``Kamerstuk 26643, nr. 1384`` (``Kamerstukken 26643 en 32761, nr. 971``)."""
        return kamerstuk_citation([str(d) for d in self.dossiers], self.number)


def kamerstuk_citation(dossiers: Sequence[str], number: str | None) -> str | None:
    """How a letter is cited, from its dossiers (as ``str(DossierRef)``) and Kamerstuk number."""
    if not number or not dossiers:
        return None
    if len(dossiers) == 1:
        return f"Kamerstuk {dossiers[0]}, nr. {number}"
    return f"Kamerstukken {', '.join(dossiers[:-1])} en {dossiers[-1]}, nr. {number}"


@dataclass(frozen=True, slots=True)
class Alert:
    """What one channel is asked to deliver: letters plus why they matched.

    ``event`` is ``new`` (one or more new letters; more than one makes a digest),
    ``followup`` (a letter already alerted is now published, or got attachments: ``text``
    is ``published`` or ``attachments``), ``test`` (``kamermonitor test-alert``) or
    ``operator`` (an operational warning, carried in ``text``).
    """

    event: str
    letters: tuple[Letter, ...] = ()
    reasons: tuple[str, ...] = ()  # e.g. "u volgt dossier 26643"
    watches: tuple[str, ...] = ()
    text: str | None = None
    delivery_id: int | None = None  # outbox row id: stable Message-ID across resends
    created_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


# --- what a letter says about itself (filled by monitor.enrich) -----------------

Source = Literal["html", "pdf", "docx"]
SOURCES: Final[frozenset[str]] = frozenset({"html", "pdf", "docx"})
SUMMARY_MAX: Final = 600
_JSON_VERSION: Final = 1


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
    number: str | None = None  # "1336" from a Kamerstuk-layout "Nr. 1336 Brief van …" line

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
            "number": self.number,
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
            number=_opt_str(raw, "number"),
        )


def _opt_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"letter details: {key} must be a string or null, not {type(value).__name__}")
