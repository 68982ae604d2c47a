"""The published kamerstuk page (officiële bekendmakingen HTML) read into :class:`LetterDetails`.

This module owns the page structure of ob-sru.md §5: ``<meta>`` tags mirroring
metadata.xml (``OVERHEIDop.documenttitel``, ``DC.title``, ``DC.identifier``),
``div#broodtekst`` with ``h1.stuktitel`` ("Nr. 143 BRIEF VAN DE MINISTER VAN …"),
``p.kamerstukdatum`` ("Den Haag, 27 juni 2025"), body paragraphs, footnotes in
``div#noten`` and the signature paragraphs at the end.  The page has no "Betreft" line:
the subject is the documenttitel.  Scripts, styles and site navigation are dropped
before any text is read, so nothing in them can reach the details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final

from bs4 import BeautifulSoup, Tag

from .model import EnrichError, LetterDetails
from .text import (
    choose_summary,
    find_citations,
    is_body_paragraph,
    office_from_caps,
    parse_dutch_date,
    parse_signatures,
    signature_start,
    squash,
)

_BR: Final = "\ue000"  # stands in for <br>: source newlines inside a <p> are not line breaks
# Never read: scripts and styles can carry any text, the rest is site furniture.
_NOISE_TAGS: Final = [
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "nav",
    "aside",
    "form",
    "button",
    "select",
]
_NOISE_SELECTORS: Final = (
    "header, footer, #sidebar, #extrainfo, #kopregel, #voetregel, #inhoudsopgave, .breadcrumb, [role=navigation]"
)
_NOTE_SELECTORS: Final = "#noten, .noten, .voetnoten, .tabelnoten, div.voet, div.noot"
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")
_STUK_BRIEF = re.compile(r"^BRIEF\s+VAN\s+(?:DE|HET)\s+(.+)$", re.IGNORECASE)
_PLACE_DATE = re.compile(r"^[A-Z][\w'’ -]{1,40},\s+\d{1,2}\s+[a-z]+\s+\d{4}$")
_NOTE_MARKER = re.compile(r"^\s*[\d*]{1,3}\s*\)?$")


@dataclass(frozen=True, slots=True)
class _Item:
    """One block of the body in reading order: a paragraph, heading or table."""

    kind: str  # "p" | "heading" | "table"
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def parse_publication_html(data: bytes) -> LetterDetails:
    """Read a kamerstuk page (bytes, any declared encoding) into :class:`LetterDetails`.

    Raises :class:`EnrichError` only when the bytes are not markup at all.
    """
    soup = _soup(data)
    meta = _meta(soup)
    for tag in soup(_NOISE_TAGS):
        tag.decompose()
    for tag in soup.select(_NOISE_SELECTORS):
        tag.decompose()
    root = _root(soup)
    for br in root.find_all("br"):
        br.replace_with(_BR)

    stuk_title = _stuk_title(soup)
    place_date = _place_date(root)
    note_text = _take_notes(soup)
    for sup in root.find_all("sup"):  # footnote markers would glue digits onto words
        if sup.select_one(".nootnum") is not None or _NOTE_MARKER.match(sup.get_text()):
            sup.decompose()
    signed = _take_structured_signatures(root)

    items = _items(root)
    blocks = [list(item.lines) for item in items]
    sig_from = len(items) if signed else _trailing_signature(items, blocks)
    body, tail = items[:sig_from], items[sig_from:]
    signatories = parse_signatures(signed or [line for item in tail for line in item.lines])

    own = _own_reference(meta)
    links = " ".join(str(a.get("href", "")) for a in root.find_all("a") if "kst-" in str(a.get("href", "")))
    cited = [c for c in find_citations(" ".join([*(i.text for i in body), note_text, links])) if c != own]

    office_match = _STUK_BRIEF.match(stuk_title or "")
    sender = office_from_caps(office_match[1]) if office_match else None
    return LetterDetails(
        subject=_subject(meta),
        letter_date=parse_dutch_date(place_date) or _meta_date(meta),
        place_date_line=place_date,
        sender_office=sender or (signatories[0].office if signatories else None),
        summary=choose_summary([i.text for i in body if i.kind == "p"]),
        signatories=signatories,
        cited=tuple(cited),
        source="html",
    )


def _soup(data: bytes) -> BeautifulSoup:
    if b"<" not in data[:4096]:
        raise EnrichError("not an HTML page (no markup in the first 4 KB)")
    # lxml's HTML parser mishandles an XML declaration before XHTML (and bs4 warns about it);
    # drop it, but keep the encoding it declares.
    encoding = None
    declaration = _XML_DECLARATION.match(data)
    if declaration:
        found = _DECLARED_ENCODING.search(declaration.group())
        encoding = found[1].decode("ascii") if found else None
        data = data[declaration.end() :]
    return BeautifulSoup(data, "lxml", from_encoding=encoding)


def _meta(soup: BeautifulSoup) -> dict[str, list[str]]:
    meta: dict[str, list[str]] = {}
    for tag in soup.find_all("meta"):
        name, content = tag.get("name"), tag.get("content")
        if isinstance(name, str) and isinstance(content, str) and content.strip():
            meta.setdefault(name.strip().lower(), []).append(squash(content))
    return meta


def _root(soup: BeautifulSoup) -> Tag:
    for selector in ("div#broodtekst", "div.stuk", "article", "main", "body"):
        found = soup.select_one(selector)
        if found is not None:
            return found
    return soup


def _stuk_title(soup: BeautifulSoup) -> str | None:
    """``BRIEF VAN DE MINISTER VAN …`` without the ``Nr. 143`` in front."""
    h1 = soup.select_one("h1.stuktitel")
    if h1 is None:
        return None
    number = h1.select_one(".stuknummer")
    if number is not None:
        number.extract()
    return squash(h1.get_text(" ").replace(_BR, " ")) or None


def _place_date(root: Tag) -> str | None:
    """``Den Haag, 27 juni 2025`` from ``p.kamerstukdatum``, else from a paragraph shaped like it."""
    found = root.select_one("p.kamerstukdatum")
    if found is None:
        found = next((p for p in root.find_all("p") if _PLACE_DATE.match(squash(p.get_text(" ")))), None)
    if found is None:
        return None
    text = squash(found.get_text(" ").replace(_BR, " ")).replace(" ,", ",")
    found.decompose()
    return text or None


def _take_notes(soup: BeautifulSoup) -> str:
    """The footnotes' text (for citations), removed from the page so they never read as body."""
    texts = []
    for note in soup.select(_NOTE_SELECTORS):
        if note.parent is None or note.decomposed:  # already removed with an enclosing container
            continue
        texts.append(squash(note.get_text(" ").replace(_BR, " ")))
        note.decompose()
    return " ".join(texts)


def _take_structured_signatures(root: Tag) -> list[str]:
    """Lines of ``p.ondertekening`` blocks (office and name in spans or lines), removed from the body."""
    lines: list[str] = []
    for block in root.select(".ondertekening"):
        spans = block.select(".functie, .naam")
        parts = [s.get_text(" ") for s in spans] if spans else block.get_text(" ").split(_BR)
        lines += [squash(p.replace(_BR, " ")) for p in parts if squash(p.replace(_BR, " "))]
        block.decompose()
    return lines


def _items(root: Tag) -> list[_Item]:
    items: list[_Item] = []
    for el in root.find_all(["p", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "table"]):
        if any(parent.name in ("table", "li") for parent in el.parents) or el.find_parent(["dd", "dt"]):
            continue  # read as part of its table or list item
        if el.name == "li" and el.find("p") is not None:
            items += [_item("p", p) for p in el.find_all("p")]
            continue
        kind = "table" if el.name == "table" else "heading" if el.name in ("h2", "h3", "h4", "h5", "h6") else "p"
        item = _item(kind, el)
        if item.lines:
            items.append(item)
    return items


def _item(kind: str, el: Tag) -> _Item:
    lines = (squash(part) for part in el.get_text(" ").split(_BR))
    return _Item(kind, tuple(line for line in lines if line))


def _trailing_signature(items: list[_Item], blocks: list[list[str]]) -> int:
    """Where the signature paragraphs at the end start (``len(items)`` when there are none)."""
    start = signature_start(blocks)
    # A table or heading can never be part of it, nor can running text.
    while start < len(items) and (items[start].kind != "p" or is_body_paragraph(items[start].text)):
        start += 1
    if any(item.kind != "p" for item in items[start:]):
        return len(items)
    return start


def _subject(meta: dict[str, list[str]]) -> str | None:
    """The documenttitel; else the third part of ``DC.title`` ("dossiertitel; soort; documenttitel")."""
    for value in meta.get("overheidop.documenttitel", []):
        return value
    for value in meta.get("dc.title", []):
        parts = [p.strip() for p in value.split(";")]
        if len(parts) >= 3 and "; ".join(parts[2:]):
            return "; ".join(parts[2:])
    return None


def _meta_date(meta: dict[str, list[str]]) -> date | None:
    for name in ("overheidop.datumbrief", "dcterms.issued", "dc.date"):
        for value in meta.get(name, []):
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def _own_reference(meta: dict[str, list[str]]) -> str | None:
    """This page's own Kamerstuk (``kst-26643-1342`` → ``26643-1342``), so it is not listed as cited."""
    for value in meta.get("dc.identifier", []):
        refs = find_citations(value)
        if refs:
            return refs[0]
    return None
