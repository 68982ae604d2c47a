"""The published kamerstuk page (officiële bekendmakingen HTML) read into :class:`LetterDetails`.

This module owns the published page structure (docs/sources.md §6): ``<meta>`` tags mirroring
metadata.xml (``OVERHEIDop.documenttitel``, ``DC.title``, ``DC.identifier``),
``div#broodtekst`` with ``h1.stuktitel`` ("Nr. 143 BRIEF VAN DE MINISTER VAN …"),
``p.kamerstukdatum`` ("Den Haag, 27 juni 2025"), body paragraphs, footnotes in
``div#noten`` and the signature paragraphs at the end.  The page has no "Betreft" line:
the subject is the documenttitel.  Scripts, styles and site navigation are dropped
before any text is read, so nothing in them can reach the details.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Final

from bs4 import BeautifulSoup, Tag

from ..models import LetterDetails
from .errors import EnrichError
from .signature import parse_signatures, sender_from_title, signature_start
from .text import PLACE_DATE, choose_summary, find_citations, is_body_paragraph, parse_dutch_date, squash

_BR: Final = "\ue000"  # stands in for <br>: source newlines inside a <p> are not line breaks
# Never read: scripts and styles can carry any text, the rest is site furniture.
_NOISE_TAGS: Final = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "nav", "aside", "form"}
    | {"button", "select", "header", "footer"}
)
_NOISE_IDS: Final = frozenset({"sidebar", "extrainfo", "kopregel", "voetregel", "inhoudsopgave"})
_NOISE_CLASSES: Final = frozenset({"breadcrumb", "skiplinks"})
_NOTE_IDS: Final = frozenset({"noten"})
_NOTE_CLASSES: Final = frozenset({"noten", "voetnoten", "tabelnoten"})
# A letter's page is far below this; bigger pages (whole budgets) are not letters, and
# parsing them would cost seconds per megabyte.
HTML_MAX_BYTES: Final = 4 * 1024 * 1024
_XML_DECLARATION = re.compile(rb"^\s*<\?xml[^>]*?>", re.IGNORECASE)
_DECLARED_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([A-Za-z0-9._-]{1,40})[\"']")
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

    Raises :class:`EnrichError` only when the bytes are not markup at all or exceed
    :data:`HTML_MAX_BYTES`.
    """
    soup = _soup(data)
    meta = _meta(soup)
    _take(soup, _is_noise)
    root = _root(soup)
    for br in root.find_all("br"):
        br.replace_with(_BR)

    stuk_title = _stuk_title(soup)
    place_date = _place_date(root)
    note_text = " ".join(f"{_text(note)} {_kst_links(note)}" for note in _take(soup, _is_note))
    _take(root, _is_note_marker)  # footnote markers would glue digits onto words
    signed = [line for block in _take(root, _is_signature) for line in _signature_lines(block)]

    items = _items(root)
    blocks = [list(item.lines) for item in items]
    sig_from = len(items) if signed else _trailing_signature(items, blocks)
    body, tail = items[:sig_from], items[sig_from:]
    signatories = parse_signatures(signed or [line for item in tail for line in item.lines])

    own = _own_reference(meta)
    cited_text = " ".join([*(i.text for i in body), note_text, _kst_links(root)])
    cited = [c for c in find_citations(cited_text) if c != own]

    sender = sender_from_title(stuk_title)
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
    if len(data) > HTML_MAX_BYTES:
        raise EnrichError(f"HTML page of {len(data)} bytes is too large to read as a letter (cap {HTML_MAX_BYTES})")
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
    for found in (
        soup.find("div", id="broodtekst"),
        soup.find("div", class_="stuk"),
        soup.find("article"),
        soup.find("main"),
        soup.body,
    ):
        if isinstance(found, Tag):
            return found
    return soup


def _take(scope: Tag, wanted: Callable[[Tag], bool]) -> list[Tag]:
    """Detach and return the outermost tags under ``scope`` that are ``wanted``, in document order.

    One iterative pass (CSS selectors cost far more per element; recursion would break
    on deeply nested markup); matches are detached only after the walk.
    """
    found: list[Tag] = []
    stack = [iter(scope.children)]
    while stack:
        el = next(stack[-1], None)
        if el is None:
            stack.pop()
        elif isinstance(el, Tag):
            if wanted(el):
                found.append(el)
            else:
                stack.append(iter(el.children))
    for tag in found:
        tag.extract()
    return found


def _attr(tag: Tag, name: str) -> set[str]:
    value = tag.get(name)
    if value is None:
        return set()
    return set(value) if isinstance(value, list) else set(str(value).split())


def _is_noise(tag: Tag) -> bool:
    return (
        tag.name in _NOISE_TAGS
        or not _attr(tag, "id").isdisjoint(_NOISE_IDS)
        or not _attr(tag, "class").isdisjoint(_NOISE_CLASSES)
        or "navigation" in _attr(tag, "role")
    )


def _is_note(tag: Tag) -> bool:
    """The footnotes (``div#noten``, ``div.voet.noot``): read for citations, never as body."""
    classes = _attr(tag, "class")
    return (
        not _attr(tag, "id").isdisjoint(_NOTE_IDS)
        or not classes.isdisjoint(_NOTE_CLASSES)
        or (tag.name == "div" and bool(classes & {"voet", "noot"}))
    )


def _is_note_marker(tag: Tag) -> bool:
    return tag.name == "sup" and (tag.find(class_="nootnum") is not None or bool(_NOTE_MARKER.match(tag.get_text())))


def _is_signature(tag: Tag) -> bool:
    return "ondertekening" in _attr(tag, "class")


def _text(tag: Tag) -> str:
    return squash(tag.get_text(" ").replace(_BR, " "))


def _kst_links(tag: Tag) -> str:
    """Link targets naming a Kamerstuk (``…/kst-26643-1330.html``): citations the text may not spell out."""
    hrefs = (str(a.get("href") or "") for a in tag.find_all("a"))
    return " ".join(h for h in hrefs if "kst-" in h)


def _stuk_title(soup: BeautifulSoup) -> str | None:
    """``BRIEF VAN DE MINISTER VAN …`` without the ``Nr. 143`` in front."""
    h1 = soup.find("h1", class_="stuktitel")
    if not isinstance(h1, Tag):
        return None
    number = h1.find(class_="stuknummer")
    if number is not None:
        number.extract()
    return _text(h1) or None


def _place_date(root: Tag) -> str | None:
    """``Den Haag, 27 juni 2025`` from ``p.kamerstukdatum``, else from a paragraph shaped like it."""
    found = root.find("p", class_="kamerstukdatum")
    if not isinstance(found, Tag):
        found = next((p for p in root.find_all("p") if PLACE_DATE.match(_text(p))), None)
    if found is None:
        return None
    text = _text(found).replace(" ,", ",")
    found.decompose()
    return text or None


def _signature_lines(block: Tag) -> list[str]:
    """Lines of a ``p.ondertekening``: its ``span.functie``/``span.naam``, else its ``<br>`` lines."""
    spans = block.find_all(class_=["functie", "naam"])
    parts = [_text(s) for s in spans] if spans else [squash(p) for p in block.get_text(" ").split(_BR)]
    return [p for p in parts if p]


_BLOCKS: Final = frozenset({"p", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "table"})
_HEADINGS: Final = frozenset({"h2", "h3", "h4", "h5", "h6"})


def _items(root: Tag) -> list[_Item]:
    """Body blocks in reading order; a block's own descendants are read as part of it.

    Iterative, so deeply nested markup costs neither recursion depth nor repeated
    walks up the tree.
    """
    items: list[_Item] = []
    stack = [iter(root.children)]
    while stack:
        el = next(stack[-1], None)
        if el is None:
            stack.pop()
            continue
        if not isinstance(el, Tag):
            continue
        if el.name not in _BLOCKS or (el.name == "li" and el.find("p") is not None):
            stack.append(iter(el.children))  # a container, or a list item made of paragraphs
            continue
        kind = "table" if el.name == "table" else "heading" if el.name in _HEADINGS else "p"
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
