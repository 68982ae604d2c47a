"""How a Kamerbrief is written, as rules over plain text, shared by every format.

``html.py`` and ``letter.py`` turn their format into paragraphs and lines; the rules
that depend on the letter itself (docs/sources.md §6) live here, so HTML, PDF and DOCX
are read alike: Dutch dates (and the ``Den Haag, 13 mei 2025`` line), the salutation,
Kamerstuk citations, line-break repair, what counts as a body paragraph, the summary and
footnote markers.  Signature blocks and office names are :mod:`.signature`'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

from ..models import SUMMARY_MAX

MONTHS: Final = {
    "januari": 1,
    "februari": 2,
    "maart": 3,
    "april": 4,
    "mei": 5,
    "juni": 6,
    "juli": 7,
    "augustus": 8,
    "september": 9,
    "oktober": 10,
    "november": 11,
    "december": 12,
}
_DATE = re.compile(r"\b(\d{1,2})\s+(" + "|".join(MONTHS) + r")\s+(\d{4})\b", re.IGNORECASE)
# The place-and-date line of a Kamerstuk ("Den Haag, 13 mei 2025"), in every format.
PLACE_DATE: Final = re.compile(r"^[A-Z][\w'’ -]{1,40},\s+\d{1,2}\s+[a-z]+\s+\d{4}$")


def parse_dutch_date(text: str | None) -> date | None:
    """The first ``27 juni 2025`` in ``text`` as a date; None when there is none or it is impossible."""
    for m in _DATE.finditer(text or ""):
        try:
            return date(int(m[3]), MONTHS[m[2].lower()], int(m[1]))
        except ValueError:
            continue
    return None


def word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


def squash(text: str) -> str:
    """Collapse every run of whitespace (including no-break spaces) into one space."""
    return " ".join(text.split())


# --- citations ------------------------------------------------------------------------

# "26643, nr. 1265", "26 643, nr. 271", "26643 nr. 713", "36 600 VII, nr. 5", "21501-33, nr. 1079",
# "nrs. 12 en 13".  Five digits (optionally printed "26 643") keep years such as "2024/25, nr. 80"
# (Handelingen) and amounts out; the vergaderjaar before the dossier is simply not part of the match.
_CITATION = re.compile(
    r"(?<![\w./-])(?P<dossier>\d{2} ?\d{3})"
    r"(?:\s*-\s*(?P<suffix>[IVXLCDM]+|[A-Z]{1,3}|\d{1,3})\b|\s(?P<roman>[IVXLCDM]+)\b)?"
    r",?\s+(?P<label>nrs?)\.?\s*(?P<first>\d{1,4})(?P<more>(?:\s*(?:,|en)\s*\d{1,4}\b)*)"
)
_KST_ID = re.compile(r"\bkst-(\d{4,6})(?:-([IVXLCDM]+|[A-Z]{1,3}|\d{1,3}))?-(\d{1,4})\b", re.IGNORECASE)


def find_citations(text: str) -> list[str]:
    """Cited Kamerstukken in reading order, normalised to ``26643-1265`` / ``36600-VII-5``."""
    found: list[tuple[int, str]] = []
    for m in _CITATION.finditer(text):
        base = m["dossier"].replace(" ", "")
        suffix = m["suffix"] or m["roman"]
        prefix = f"{base}-{suffix.upper()}" if suffix else base
        numbers = [m["first"]]
        if m["label"] == "nrs" and m["more"]:
            numbers += re.findall(r"\d+", m["more"])
        found += [(m.start(), f"{prefix}-{int(n)}") for n in numbers]
    for m in _KST_ID.finditer(text):
        suffix = f"-{m[2].upper()}" if m[2] else ""
        found.append((m.start(), f"{m[1]}{suffix}-{int(m[3])}"))
    return unique(ref for _, ref in sorted(found, key=lambda item: item[0]))


def unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


# --- line breaks ------------------------------------------------------------------------

_COORDINATORS: Final = frozenset({"en", "of", "tot", "en/of", "als"})
# Dutch keeps the hyphen where joining would merge two vowels into one sound
# ("data-analyse", "auto-onderdelen", "zee-egel"), so a break there is a real hyphen.
_VOWEL_CLASH: Final = frozenset(
    {"aa", "ae", "ai", "au", "ee", "ei", "eu", "ie", "ii", "oe", "oi", "oo", "ou", "ui", "uu"}
)


def join_lines(lines: Iterable[str]) -> str:
    """Rejoin lines broken by the layout into one paragraph, repairing end-of-line hyphens.

    ``Rijks-`` + ``bijdrage`` gives ``Rijksbijdrage`` but ``AI-`` + ``fabriek`` keeps its
    hyphen, as does ``Regio-`` + ``en Rijksbijdrage`` (an elided compound).
    """
    parts: list[str] = []  # appended pieces, so long blocks stay linear
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        last = parts[-1] if parts else ""
        if not parts:
            parts.append(line)
        elif last.endswith("\u00ad"):  # soft hyphen: always a layout break
            parts[-1] = last[:-1]
            parts.append(line)
        elif last.endswith("-") and len(last) > 1 and not last[-2].isspace():
            before = last.rsplit(None, 1)[-1][:-1]
            if line.split()[0].lower() in _COORDINATORS:
                parts.append(" " + line)
            elif keeps_hyphen(before, line):
                parts.append(line)
            else:
                parts[-1] = last[:-1]
                parts.append(line)
        else:
            parts.append(" " + line)
    return squash("".join(parts))


def keeps_hyphen(before: str, after: str) -> bool:
    """True when ``before-`` / ``after`` was a real hyphenated compound, not a word split by layout."""
    part = re.split(r"[-/]", before.lstrip("(\"'‘“"))[-1]
    if not part or not after:
        return True
    if not part[-1].isalpha() or not after[0].isalpha():  # "2025-", "COVID-" + "19", "(-"
        return True
    if part.isupper() or after[0].isupper():  # "AI-fabriek", "ICT-", "Noord-Brabant"
        return True
    return (part[-1] + after[0]).lower() in _VOWEL_CLASH


# --- paragraphs -------------------------------------------------------------------------

# "Geachte Voorzitter,": where the header ends and the body begins.
SALUTATION: Final = re.compile(r"^(?:geachte|hooggeachte|zeer geachte|beste)\b", re.IGNORECASE)
_ADDRESSEE = re.compile(r"^(?:aan\s+)?de\s+voorzitter\s+van\s+de\s+(?:tweede|eerste)\s+kamer", re.IGNORECASE)
_PURPOSE = re.compile(
    r"^(?:met|in|via)\s+(?:deze|dit|onderhavige|voorliggende)\s+(?:\w*brief|schrijven)\b"
    r"|^hierbij\s+(?:informeer|informeren|stuur|sturen|zend|zenden|bied|bieden|ontvangt)\b",
    re.IGNORECASE,
)
_COLUMN_GAP = re.compile(r"\S(?:\s{3,}|\t)\S")


def is_heading(text: str) -> bool:
    """A stand-alone section heading: short, capitalised, no closing punctuation."""
    words = text.split()
    return 0 < len(words) <= 8 and len(text) <= 80 and text[0].isupper() and text[-1] not in ".,;:!?"


def looks_like_table(lines: Sequence[str]) -> bool:
    """Text laid out in columns (a table or a form), judged on the unjoined lines."""
    gapped = sum(1 for line in lines if _COLUMN_GAP.search(line.strip()))
    return gapped >= 2 and gapped * 2 >= len(lines)


def is_body_paragraph(text: str) -> bool:
    """A paragraph of running text: not a heading, salutation, addressee or a fragment."""
    if not text or is_heading(text) or SALUTATION.match(text) or _ADDRESSEE.match(text):
        return False
    if len(text.split()) < 6 or not any(c.islower() for c in text):
        return False
    return text[-1] in ".!?:;)\"'”’" or len(text) >= 150


def choose_summary(paragraphs: Sequence[str], *, look_ahead: int = 5) -> str | None:
    """The paragraph saying what the letter is for ("Met deze brief informeren wij u …")
    when one of the first ``look_ahead`` body paragraphs is one, else the first body
    paragraph; cut to at most 600 characters at a sentence end."""
    body = [p for p in paragraphs if is_body_paragraph(p)]
    if not body:
        return None
    chosen = next((p for p in body[:look_ahead] if _PURPOSE.match(p)), body[0])
    return cut_summary(chosen)


# Words that end in a full stop without ending a sentence (Dutch officialese).
_ABBREVIATIONS: Final = word_set(
    "nr nrs no art artt lid jl ca o.a d.w.z bijv bv m.b.t t.a.v i.v.m i.c.m e.d e.a c.q resp "
    "incl excl mln mld mrd dhr mevr mr dr drs ir ing prof st blz pag p vs z.s.m m.i.v t.z.t p.m "
    "a.s j.l stb stcrt"
)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*(?=\s+[\"'“‘(]?[A-ZÀ-ÖØ-Þ]|\s*$)")


def cut_summary(text: str, limit: int = SUMMARY_MAX) -> str:
    """``text`` whole if it fits, else up to its last sentence end within ``limit``;
    with no sentence end in reach, up to the last whole word plus "…"."""
    text = squash(text)
    if len(text) <= limit:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, limit + 1) if not _is_abbreviation(text, m.start())]
    ends = [e for e in ends if e <= limit]
    if ends:
        return text[: ends[-1]]
    cut = text.rfind(" ", 0, limit)
    return (text[:cut] if cut > 0 else text[: limit - 1]).rstrip(" ,;:-") + "…"


def _is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    word = text[:dot].rsplit(maxsplit=1)[-1].lstrip("(\"'‘“").lower() if text[:dot].strip() else ""
    # A single letter is an initial ("E. van Marum"); "o.a" and "d.w.z" are lettered abbreviations.
    return word in _ABBREVIATIONS or len(word) == 1 or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


# --- footnote markers -------------------------------------------------------------------


# A footnote number glued to a word or to its closing punctuation: "brieven1", "(AI)1",
# "gereserveerd.2" (but not "2.5" or "COVID-19"); and to a year: "januari 20251".
_GLUED_NOTE = re.compile(r"^(.*[^\W\d_][.,;:!?]?[)\]”’\"]?)(\d{1,2})([.,;:)]*)$")
_GLUED_YEAR_NOTE = re.compile(r"^((?:19|20)\d\d)(\d{1,2})([.,;:)]*)$")


def strip_note_markers(text: str, numbers: Iterable[int]) -> str:
    """Remove footnote numbers glued to words by text extraction (``januari 20251`` → ``januari 2025``).

    Only numbers of footnotes actually found are removed, so real figures survive, and a
    year only after a month name, so five-digit dossier numbers such as 19637 survive.
    """
    notes = {str(n) for n in numbers}
    if not notes:
        return text
    out: list[str] = []
    for token in text.split(" "):  # token by token: linear, whatever the text
        glued = _GLUED_NOTE.match(token)
        year = _GLUED_YEAR_NOTE.match(token) if out and out[-1].lower() in MONTHS else None
        found = glued or year
        if found and found[2] in notes:
            token = found[1] + found[3]
        out.append(token)
    return " ".join(out)
