"""How a Kamerbrief is written, as rules over plain text, shared by every format.

``html.py`` and ``pdftext.py`` turn their format into paragraphs and lines; the rules
that depend on the letter itself (docs/sources.md §6) live here, so HTML, PDF and DOCX
are read alike: Dutch dates, Kamerstuk citations, line-break repair, what counts as a
body paragraph, the summary, the signature block, and office-name capitalisation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from .model import SUMMARY_MAX, Signatory

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


def parse_dutch_date(text: str | None) -> date | None:
    """The first ``27 juni 2025`` in ``text`` as a date; None when there is none or it is impossible."""
    for m in _DATE.finditer(text or ""):
        try:
            return date(int(m[3]), MONTHS[m[2].lower()], int(m[1]))
        except ValueError:
            continue
    return None


def _words(text: str) -> frozenset[str]:
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

_SALUTATION = re.compile(r"^(?:geachte|hooggeachte|beste|zeer geachte)\b", re.IGNORECASE)
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
    if not text or is_heading(text) or _SALUTATION.match(text) or _ADDRESSEE.match(text):
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
_ABBREVIATIONS: Final = _words(
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


# --- offices and signatures ---------------------------------------------------------------

_OFFICE_START = re.compile(
    r"^(?:de\s+|het\s+)?(?:minister-?\s?president|vice-?minister-?president|ministers?|staatssecretaris(?:sen)?"
    r"|secretaris-generaal|directeur-generaal|voorzitter|(?:adjunct-)?griffier|commissaris)\b",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^(?:hoogachtend|met (?:vriendelijke|hartelijke) groet(?:en)?|namens (?:deze|dezen)|mede namens\b.*|w\.g\.)[,.]?$",
    re.IGNORECASE,
)
_PARTICLES: Final = _words("van de der den ter ten te het 't in op la le du di da von zu vander")
_INITIALS = re.compile(r"^(?:[A-Z][a-z]{0,2}\.)+$")
_NAME_WORD = re.compile(r"^\(?[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ’']+(?:-[A-Za-zÀ-ÖØ-öø-ÿ][a-zà-öø-ÿ’']*)*\)?$")
# A line ending in one of these continues on the next line ("… Cultuur en" / "Wetenschap").
_WRAP_END = re.compile(r"(?:\b(?:en|van|voor|der|de|het|met|belast|of)|-)\s*$", re.IGNORECASE)
_SPLIT_COLUMNS = re.compile(r"\S(?:.*?\S)?(?=\s{3,}|\t|$)")
_LOWER_WORDS: Final = _words("van voor de der den het en op in met tot bij aan of over te ter")
_KEEP_UPPER: Final = frozenset({"EU", "AI", "ICT", "BES", "NAVO", "VN", "OCW", "EZ"})


def is_office(line: str) -> bool:
    return bool(_OFFICE_START.match(line.strip()))


def is_name(line: str) -> bool:
    """A person's name as signed: ``Vincent Karremans``, ``E. van Marum``, ``V.P.G. Karremans``."""
    text = line.strip().rstrip(",")
    tokens = text.split()
    if not 2 <= len(tokens) <= 6 or len(text) > 60 or any(c.isdigit() for c in text) or is_office(text):
        return False
    named = 0
    for token in tokens:
        if token.lower() in _PARTICLES and not token[0].isupper():
            continue
        if _INITIALS.match(token):
            continue
        if not _NAME_WORD.match(token):
            return False
        named += 1
    return named >= 1


def is_signature_part(line: str) -> bool:
    """A line that can stand in a signature block: a name, an office, a closing or an office's tail."""
    for segment in split_columns(line):
        text = segment[1]
        if _CLOSING.match(text) or is_office(text) or is_name(text):
            continue
        if len(text.split()) > 8 or text.endswith((".", "!", "?", ":", ";")) or any(c.isdigit() for c in text):
            return False
    return True


def split_columns(line: str) -> list[tuple[int, str]]:
    """Text segments of a line separated by runs of 3+ spaces (or tabs), with their start offsets."""
    return [(m.start(), m.group()) for m in _SPLIT_COLUMNS.finditer(line) if m.group().strip()]


def normalise_office(text: str) -> str:
    """``De Minister van Economische Zaken,`` → ``Minister van Economische Zaken``."""
    text = squash(text).rstrip(",;:. ")
    text = re.sub(r"^(?:de|het)\s+", "", text, flags=re.IGNORECASE)
    return text[:1].upper() + text[1:]


def office_from_caps(text: str) -> str:
    """``MINISTER VAN ONDERWIJS, CULTUUR EN WETENSCHAP`` → ``Minister van Onderwijs, Cultuur en Wetenschap``."""
    words: list[str] = []
    for i, word in enumerate(squash(text).split(" ")):
        parts = []
        for part in word.split("-"):
            core = part.strip(",;:()")
            if core.upper() in _KEEP_UPPER:
                parts.append(part.upper())
            elif i > 0 and core.lower() in _LOWER_WORDS:
                parts.append(part.lower())
            else:
                parts.append(part[:1].upper() + part[1:].lower())
        words.append("-".join(parts))
    return normalise_office(" ".join(words))


_BRIEF_VAN = re.compile(r"^brief\s+van\s+(?:de|het)\s+(.+)$", re.IGNORECASE)


def sender_from_title(title: str | None) -> str | None:
    """The sender in a Kamerstuk title: ``Brief van de staatssecretaris van …`` → ``Staatssecretaris van …``.

    The published page prints the title in capitals, the TK file as a sentence.
    """
    m = _BRIEF_VAN.match(squash(title or ""))
    if not m:
        return None
    office = m[1].rstrip(" .,;:")
    return office_from_caps(office) if office.isupper() else normalise_office(office)


@dataclass(slots=True)
class _Signer:
    row: int
    column: int
    name: str | None = None
    office_lines: list[str] | None = None

    def office(self) -> str | None:
        if not self.office_lines:
            return None
        joined = ""
        for line in self.office_lines:
            line = line.strip().rstrip(",")
            if not joined:
                joined = line
            # A wrapped line continues the phrase; a new capitalised phrase after a complete
            # one is a second part of the title ("… Binnenlandse Zaken" / "Herstel Groningen, …").
            elif _WRAP_END.search(joined) or not line[:1].isupper():
                joined = f"{joined} {line}"
            else:
                joined = f"{joined}, {line}"
        return normalise_office(joined)


def parse_signatures(lines: Sequence[str]) -> tuple[Signatory, ...]:
    """Signatories from the lines of a signature block, in reading order.

    Handles one or two columns (two names on one line, separated by many spaces),
    blank lines anywhere, offices over several lines, and both orders: name then office
    (the PDF) and office then name (``De Minister van …,`` then the name, the published page).
    """
    columns = _columns(lines)
    signers: list[_Signer] = []
    for column, col_lines in enumerate(columns):
        signers += _read_column(col_lines, column)
    signers.sort(key=lambda s: (s.row, s.column))
    return tuple(Signatory(s.name, s.office()) for s in signers if s.name or s.office_lines)


def _columns(lines: Sequence[str]) -> list[list[tuple[int, str]]]:
    """Split lines into one or two columns of (row, text), keeping each line's row number."""
    segments = [split_columns(line.rstrip()) for line in lines]
    second_starts = [segs[1][0] for segs in segments if len(segs) >= 2]
    if not second_starts:
        return [[(row, segs[0][1]) for row, segs in enumerate(segments) if segs]]
    threshold = min(second_starts) - 2  # layout text may be off by a column or two
    left: list[tuple[int, str]] = []
    right: list[tuple[int, str]] = []
    for row, segs in enumerate(segments):
        for start, text in segs:
            (right if start >= threshold else left).append((row, text))
    return [left, right]


def _read_column(items: Sequence[tuple[int, str]], column: int) -> list[_Signer]:
    items = [(row, text) for row, text in items if not _CLOSING.match(text)]
    if not items:
        return []
    name_first = not is_office(items[0][1])
    signers: list[_Signer] = []
    current: _Signer | None = None
    for i, (row, text) in enumerate(items):
        following = items[i + 1][1] if i + 1 < len(items) else None
        if current is None:
            current = (
                _start(signers, row, column, office=text)
                if is_office(text)
                else _start(signers, row, column, name=text)
            )
            continue
        if name_first:
            current = _name_first_step(current, signers, row, column, text, following)
        else:
            current = _office_first_step(current, signers, row, column, text)
    return signers


def _name_first_step(
    current: _Signer, signers: list[_Signer], row: int, column: int, text: str, following: str | None
) -> _Signer:
    """Name, then office lines; a name-like line is the next signer only when an office follows it."""
    if current.office_lines is None:
        # Names without offices (co-signers under a motion: "Inge van Dijk" / "Grinwis").
        if (is_name(text) or _NAME_WORD.match(text.rstrip(","))) and not is_office(text):
            return _start(signers, row, column, name=text)
        current.office_lines = [text]
        return current
    starts_next = is_name(text) and (following is None or is_office(following))
    if starts_next and not _WRAP_END.search(current.office_lines[-1]):
        return _start(signers, row, column, name=text)
    current.office_lines.append(text)
    return current


def _office_first_step(current: _Signer, signers: list[_Signer], row: int, column: int, text: str) -> _Signer:
    """Office lines, then the name; a new office starts the next signer."""
    wrapped = bool(current.office_lines) and bool(_WRAP_END.search((current.office_lines or [""])[-1]))
    if is_office(text) and (current.name is not None or not wrapped):
        return _start(signers, row, column, office=text)
    if current.name is not None:
        # After the name only another name can follow (co-signers without offices).
        return _start(signers, row, column, name=text) if is_name(text) else current
    # A surname alone ("Wingelaar") counts as the name right under an office ending in a comma.
    surname = bool(_NAME_WORD.match(text)) and (current.office_lines or [""])[-1].rstrip().endswith(",")
    if (is_name(text) or surname) and not wrapped:
        current.name = text.rstrip(",")
    else:
        current.office_lines = [*(current.office_lines or []), text]
    return current


def _start(
    signers: list[_Signer], row: int, column: int, *, name: str | None = None, office: str | None = None
) -> _Signer:
    signer = _Signer(row, column, name=name.rstrip(",") if name else None, office_lines=[office] if office else None)
    signers.append(signer)
    return signer


# Four signatories laid out one line per paragraph take about a dozen blocks; the cap keeps
# a page of nothing but short lines from being read as one endless signature.
_MAX_SIGNATURE_BLOCKS: Final = 40


def signature_start(blocks: Sequence[Sequence[str]]) -> int:
    """Index of the first block of the trailing signature; ``len(blocks)`` when there is none.

    Walks back from the end over blocks made only of names, offices, closings and short
    office tails, then drops leading blocks that name nobody (a closing, a list tail).
    """
    start = len(blocks)
    floor = max(0, len(blocks) - _MAX_SIGNATURE_BLOCKS)
    while start > floor and _is_signature_block(blocks[start - 1]):
        start -= 1
    while start < len(blocks) and not any(_names_someone(line) for line in blocks[start]):
        start += 1
    return start


def _is_signature_block(block: Sequence[str]) -> bool:
    lines = [line for line in block if line.strip()]
    return 0 < len(lines) <= 12 and all(is_signature_part(line) for line in lines)


def _names_someone(line: str) -> bool:
    return any(is_office(text) or is_name(text) for _, text in split_columns(line))
