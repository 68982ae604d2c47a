"""Offices and signature blocks: who signed a Kamerbrief, and in which capacity.

This module owns reading the names and offices at the foot of a letter (one or two
columns, either order, offices over several lines), finding where that block starts,
normalising office names (``MINISTER VAN …`` → ``Minister van …``) and the sender in a
Kamerstuk title (``Brief van de staatssecretaris van …``).  Plain text in, no format
knowledge: ``html.py`` and ``letter.py`` hand it lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from ..models import Signatory
from .text import squash, word_set

_OFFICE_START = re.compile(
    r"^(?:de\s+|het\s+)?(?:minister-?\s?president|vice-?minister-?president|ministers?|staatssecretaris(?:sen)?"
    r"|secretaris-generaal|directeur-generaal|voorzitter|(?:adjunct-)?griffier|commissaris)\b",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^(?:hoogachtend|met (?:vriendelijke|hartelijke) groet(?:en)?|namens (?:deze|dezen)|mede namens\b.*|w\.g\.)[,.]?$",
    re.IGNORECASE,
)
_PARTICLES: Final = word_set("van de der den ter ten te het 't in op la le du di da von zu vander")
_INITIALS = re.compile(r"^(?:[A-Z][a-z]{0,2}\.)+$")
_NAME_WORD = re.compile(r"^\(?[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿ’']+(?:-[A-Za-zÀ-ÖØ-öø-ÿ][a-zà-öø-ÿ’']*)*\)?$")
# A line ending in one of these continues on the next line ("… Cultuur en" / "Wetenschap").
_WRAP_END = re.compile(r"(?:\b(?:en|van|voor|der|de|het|met|belast|of)|-)\s*$", re.IGNORECASE)
_SPLIT_COLUMNS = re.compile(r"\S(?:.*?\S)?(?=\s{3,}|\t|$)")
_LOWER_WORDS: Final = word_set("van voor de der den het en op in met tot bij aan of over te ter")
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
