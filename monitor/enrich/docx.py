"""A DOCX letter file to plain text shaped like a PDF's, with every size bounded.

Paragraphs become blocks separated by blank lines and table rows lines whose cells are
separated by wide gaps, as PDF extraction gives them, so :mod:`.letter` reads both alike.
The zip is hostile input: its entry count, declared and actual sizes are capped, and
every failure is an :class:`~.errors.EnrichError`.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Iterator
from typing import Final

from lxml import etree

from ..http import SourceError
from ..xmlsafe import child, local, parse_xml
from .errors import EnrichError, problem
from .text import squash

# word/document.xml of a long letter is well under 1 MB; the cap stops zip bombs, whose
# declared size is not trusted either (the read itself is capped).
DOCX_MAX_XML_BYTES: Final = 10 * 1024 * 1024
DOCX_MAX_ENTRIES: Final = 2000


def extract_docx_text(data: bytes) -> str:
    """Paragraphs of ``word/document.xml`` separated by blank lines; table rows become
    lines with cells separated by wide gaps, as a PDF table would extract."""
    xml = _docx_document_xml(data)
    try:
        root = parse_xml(xml, "docx")
    except SourceError as exc:
        raise EnrichError(f"DOCX word/document.xml: {exc.problem}") from exc
    body = child(root, "body")
    if body is None:
        raise EnrichError("DOCX word/document.xml has no body")
    return "\n\n".join(_docx_blocks(body))


def _docx_document_xml(data: bytes) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > DOCX_MAX_ENTRIES:
                raise EnrichError(f"DOCX with {len(infos)} zip entries rejected")
            try:
                info = zf.getinfo("word/document.xml")
            except KeyError:
                raise EnrichError("DOCX without word/document.xml") from None
            if info.file_size > DOCX_MAX_XML_BYTES:
                raise EnrichError(f"DOCX word/document.xml declares {info.file_size} bytes (cap {DOCX_MAX_XML_BYTES})")
            with zf.open(info) as fh:
                xml = fh.read(DOCX_MAX_XML_BYTES + 1)
    except EnrichError:
        raise
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
        raise EnrichError(problem("unreadable DOCX", exc)) from exc
    if len(xml) > DOCX_MAX_XML_BYTES:
        raise EnrichError(f"DOCX word/document.xml inflates past {DOCX_MAX_XML_BYTES} bytes")
    return xml


_DOCX_SKIP: Final = frozenset({"sectPr", "del", "delText", "instrText", "Fallback", "footnoteReference"})


def _docx_blocks(parent: etree._Element) -> Iterator[str]:
    for el in parent:
        name = local(el)
        if name == "p":
            extra: list[str] = []
            yield _docx_paragraph(el, extra)
            yield from extra
        elif name == "tbl":
            yield "\n".join(_docx_rows(el))
        elif name not in _DOCX_SKIP:  # sdt, sdtContent, customXml … wrap paragraphs
            yield from _docx_blocks(el)


def _docx_paragraph(p: etree._Element, textboxes: list[str]) -> str:
    """A paragraph's text (``w:br`` as a line break); text boxes inside it go to ``textboxes``."""
    out: list[str] = []

    def walk(el: etree._Element) -> None:
        for node in el:
            name = local(node)
            if name in _DOCX_SKIP:
                continue
            if name == "txbxContent":  # a frame such as the margin column: its own paragraphs
                textboxes.extend(_docx_blocks(node))
            elif name == "t":
                out.append(node.text or "")
            elif name == "tab":
                out.append("\t")
            elif name in ("br", "cr"):
                out.append("\n")
            else:
                walk(node)

    walk(p)
    return "".join(out)


def _docx_rows(table: etree._Element) -> Iterator[str]:
    for row in table.iter():
        if local(row) != "tr":
            continue
        cells = []
        for cell in row:
            if local(cell) == "tc":
                cells.append(squash(" ".join(_docx_blocks(cell))))
        line = "     ".join(c for c in cells if c)
        if line:
            yield line
