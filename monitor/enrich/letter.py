"""The Tweede Kamer's own letter file (PDF or DOCX) to details, through its plain text.

This module owns the two plain-text layouts of docs/sources.md §6 and choosing the
reader for a file (:func:`parse_document`); ``pdf.py`` and ``docx.py`` turn the bytes
into text.  The letter layout: addressee block, ``Datum``, a ``Betreft`` that may wrap, ``Geachte
Voorzitter,``, body blocks separated by blank lines, footnotes where the page broke, and
the signature block (one or two columns).  The Kamerstuk layout of later TK versions:
``Nr. 1336 Brief van de …``, ``Aan de Voorzitter …``, ``Den Haag, …``, then the body.  PDF
text comes from pypdf's layout mode, which keeps the blank lines between paragraphs and
the wide gaps between signature columns that the parser relies on.  Broken, encrypted or
oversized files raise :class:`~.errors.EnrichError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Final

from ..models import LetterDetails, Source
from .docx import extract_docx_text
from .pdf import extract_pdf_text
from .signature import parse_signatures, sender_from_title, signature_start, split_columns
from .text import (
    PLACE_DATE,
    SALUTATION,
    choose_summary,
    find_citations,
    join_lines,
    looks_like_table,
    parse_dutch_date,
    squash,
    strip_note_markers,
)

PDF_TYPE: Final = "application/pdf"
DOCX_TYPE: Final = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_GENERIC_TYPES: Final = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/download"})
# About a hundred pages of text: the letter parts sit in the first and last pages, and a
# cap keeps a large document from costing seconds of parsing.
TEXT_MAX_CHARS: Final = 400_000
_HEADER_LINES: Final = 80  # Datum and Betreft sit on the first page, above the salutation

_LABEL = re.compile(r"^(datum|betreft|onderwerp)\b\s*:?\s*", re.IGNORECASE)
_OTHER_LABEL = re.compile(
    r"^(?:datum|betreft|onderwerp|ons kenmerk|uw kenmerk|kenmerk|uw brief|onze referentie|referentie"
    r"|bijlagen?|bijlage\(n\)|contactpersoon|geachte|aan)\b",
    re.IGNORECASE,
)
_PAGE_FURNITURE = re.compile(r"^(?:pagina\s+\d+\s+van\s+\d+|\d+\s*/\s*\d+|-\s*\d+\s*-)$", re.IGNORECASE)
_STUK_NUMBER = re.compile(r"^Nr\.\s*(\d{1,5})\b\s*(.*)$")
_TITLE_END = re.compile(r"^(?:aan\s+de\s+voorzitter|vastgesteld|voorgesteld)\b", re.IGNORECASE)
# The date of a committee report ("Vastgesteld 19 mei 2025") or a motion ("Voorgesteld 6 juli 2021").
_FIXED = re.compile(r"^(?:vastgesteld|voorgesteld)\s+\d{1,2}\s+[a-z]+\s+\d{4}$", re.IGNORECASE)
_FOOTNOTE = re.compile(r"^(\d{1,3})\s+(?=[A-Z\"“‘(]|https?:|www\.)")


# --- text → details -------------------------------------------------------------------


def parse_letter_text(text: str, *, source: Source = "pdf") -> LetterDetails:
    """Read a letter's extracted text (either layout of docs/sources.md §6) into :class:`LetterDetails`.

    Never raises on odd text: what cannot be found stays None or empty.
    """
    lines = _clean_lines(text[:TEXT_MAX_CHARS])
    # The header ends at "Geachte Voorzitter,": a body sentence starting "Onderwerp …" is no label.
    salutation = next((i for i, x in enumerate(lines[:_HEADER_LINES]) if SALUTATION.match(x.strip())), None)
    header = lines[: salutation if salutation is not None else _HEADER_LINES]
    date_at = _find_label(header, ("datum",))
    subject_at = _find_label(header, ("betreft", "onderwerp"))
    letter_date = parse_dutch_date(date_at[1]) if date_at else None
    subject, subject_end = _subject(header, subject_at) if subject_at else (None, -1)
    place_at = next((i for i, x in enumerate(header) if PLACE_DATE.match(x.strip())), None)
    place_date = squash(header[place_at]) if place_at is not None else None
    # Kamerstuk layout (later TK versions, like the publication): "Nr. 1336 Brief van de …",
    # "Aan de Voorzitter …", "Den Haag, 13 mei 2025", then the body; no Datum/Betreft lines.
    stuk = _stuk_title(header) if date_at is None and subject_at is None else None
    fixed = next((parse_dutch_date(x) for x in header if _FIXED.match(x.strip())), None)

    header_end = max(subject_end, date_at[0] if date_at else -1)
    if stuk is not None and salutation is None:
        header_end = max(stuk[2], place_at if place_at is not None else -1)
    body_start = salutation + 1 if salutation is not None else header_end + 1
    blocks = _blocks(lines[body_start:])

    notes = [b for b in blocks if _is_footnote_block(b)]
    blocks = _merge_broken(b for b in blocks if not _is_footnote_block(b))
    note_numbers = {int(m[1]) for b in notes for line in b if (m := _FOOTNOTE.match(line.strip()))}
    sig_from = signature_start(blocks)
    body, signature = blocks[:sig_from], blocks[sig_from:]

    paragraphs = [strip_note_markers(join_lines(b), note_numbers) for b in body if not looks_like_table(b)]
    signatories = parse_signatures([line for block in signature for line in [*block, ""]])
    cited_text = " ".join(join_lines(b) for b in [*body, *notes])
    title_sender = sender_from_title(stuk[1]) if stuk else None
    return LetterDetails(
        subject=subject or None,
        letter_date=letter_date or parse_dutch_date(place_date) or fixed,
        place_date_line=place_date,
        sender_office=title_sender or (signatories[0].office if signatories else None),
        summary=choose_summary(paragraphs),
        signatories=signatories,
        cited=tuple(find_citations(cited_text)),
        source=source,
        number=stuk[0] if stuk else None,
    )


def _stuk_title(header: Sequence[str]) -> tuple[str, str, int] | None:
    """(number, title, index of its last line) of a Kamerstuk title ``Nr. 1336 Brief van de …``.

    The title may wrap onto the next lines, up to the blank line that follows it.
    """
    for i, line in enumerate(header):
        m = _STUK_NUMBER.match(line.strip())
        if not m:
            continue
        parts, j = [m[2]], i + 1
        while j < len(header) and j <= i + 3 and header[j].strip() and not _TITLE_END.match(header[j].strip()):
            parts.append(header[j])
            j += 1
        return m[1], join_lines(parts), j - 1
    return None


def _clean_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n").replace("\u00a0", " ")
    return [line.rstrip() for line in text.split("\n") if not _PAGE_FURNITURE.match(line.strip())]


def _find_label(lines: Sequence[str], names: tuple[str, ...]) -> tuple[int, str, int] | None:
    """(line index, value, value column) of the first ``Datum …``/``Betreft …`` in the header."""
    for i, line in enumerate(lines[:_HEADER_LINES]):
        segments = split_columns(line)
        if not segments:
            continue
        start, first = segments[0]
        m = _LABEL.match(first)
        if not m or m[1].lower() not in names:
            continue
        value = first[m.end() :].strip()
        if value:
            return i, value, start + m.end()
        if len(segments) > 1:  # label and value in separate columns (a table row, a wide gap)
            return i, segments[1][1], segments[1][0]
        # Label and value extracted on separate lines (a form-like layout).
        for j in range(i + 1, min(i + 3, len(lines))):
            if lines[j].strip():
                nxt = split_columns(lines[j])[0][1]
                return (j, nxt, split_columns(lines[j])[0][0]) if not _OTHER_LABEL.match(nxt) else None
        return None
    return None


def _subject(lines: Sequence[str], found: tuple[int, str, int]) -> tuple[str, int]:
    """The Betreft value plus its wrapped continuation lines, and the index of its last line."""
    index, value, column = found
    parts = [value]
    j = index + 1
    while j < len(lines) and j <= index + 3 and lines[j].strip():
        start, text = split_columns(lines[j])[0]
        # A continuation is aligned under the value (or at the margin); text further right is another column.
        if start > column + 2 or _OTHER_LABEL.match(text) or SALUTATION.match(text):
            break
        parts.append(text)
        j += 1
    return join_lines(parts), j - 1


def _blocks(lines: Sequence[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    current: list[str] = []
    for line in lines:
        if line.strip():
            current.append(line)
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _is_footnote_block(block: Sequence[str]) -> bool:
    """``1 Kamerstuk 2024-2025, 26643, nr. 1265.`` and its neighbours, where the page broke."""
    first = block[0].strip()
    return len(block) <= 10 and bool(_FOOTNOTE.match(first)) and not first.endswith(",")


def _merge_broken(blocks: Iterator[list[str]] | Sequence[list[str]]) -> list[list[str]]:
    """Rejoin a paragraph that a page break (or a footnote block in between) cut in two."""
    merged: list[list[str]] = []
    for block in blocks:
        if merged and not merged[-1][-1].rstrip().endswith((".", "!", "?", ":", ";")):
            first = block[0].strip()
            if first[:1].islower():
                merged[-1].extend(block)
                continue
        merged.append(list(block))
    return merged


# --- dispatch --------------------------------------------------------------------------


def document_kind(content_type: str | None, data: bytes | None = None) -> str | None:
    """``"pdf"``, ``"docx"`` or None, from the content type; generic or missing types are
    decided by the file's magic bytes when ``data`` is given (``"unknown"`` without data)."""
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared == PDF_TYPE:
        return "pdf"
    if declared == DOCX_TYPE:
        return "docx"
    if declared not in _GENERIC_TYPES:
        return None
    if data is None:
        return "unknown"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        return "docx"
    return None


def parse_document(data: bytes, content_type: str | None) -> LetterDetails | None:
    """Details from a PDF or DOCX letter file; None for any other kind of file.

    Raises :class:`EnrichError` when the file claims to be PDF/DOCX but cannot be read.
    """
    kind = document_kind(content_type, data)
    if kind == "pdf":
        return parse_letter_text(extract_pdf_text(data), source="pdf")
    if kind == "docx":
        return parse_letter_text(extract_docx_text(data), source="docx")
    return None
