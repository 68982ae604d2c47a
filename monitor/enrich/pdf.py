"""A PDF letter file to plain text, bounded in pages and in drawing work.

pypdf's layout mode keeps the blank lines between paragraphs and the wide gaps between
signature columns that :mod:`.letter` relies on.  Anything that is not a readable PDF
with a text layer raises :class:`~.errors.EnrichError`; no pypdf exception escapes.
"""

from __future__ import annotations

import io
import logging

from pypdf import PageObject, PdfReader

from .errors import EnrichError, problem

logger = logging.getLogger(__name__)


def extract_pdf_text(data: bytes, *, max_pages: int = 20) -> str:
    """Text of the first ``max_pages`` pages, laid out (blank lines and column gaps kept).

    Raises :class:`EnrichError` for anything that is not a readable PDF with a text layer.
    """
    if b"%PDF-" not in data[:1024]:
        raise EnrichError(f"not a PDF (starts with {data[:16]!r})")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise EnrichError("encrypted PDF that needs a password")
        count = min(len(reader.pages), max_pages)
        pages = _pages_text(reader, count)
    except EnrichError:
        raise
    except Exception as exc:  # pypdf raises many types on malformed input; none may escape as a crash
        raise EnrichError(problem("unreadable PDF", exc)) from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise EnrichError("PDF has no extractable text (a scan, or damaged)")
    return text


# Layout extraction costs time in proportion to a page's drawing operations: a 17 KB file
# can hold minutes of them.  A letter page's content is 5-50 KB; anything far larger is
# skipped (charts, or hostile input), and reading stops after a total budget.
MAX_PAGE_CONTENT = 256 * 1024
MAX_TOTAL_CONTENT = 1024 * 1024


def _pages_text(reader: PdfReader, count: int) -> list[str]:
    pages: list[str] = []
    total = 0
    for i in range(count):
        page = reader.pages[i]
        contents = page.get_contents()
        size = len(contents.get_data()) if contents is not None else 0
        if size > MAX_PAGE_CONTENT:
            logger.info("PDF page %d skipped: %d bytes of drawing operations", i + 1, size)
            continue
        total += size
        if total > MAX_TOTAL_CONTENT:
            logger.info("PDF read stopped at page %d: content budget spent", i + 1)
            break
        pages.append(_page_text(page))
    return pages


def _page_text(page: PageObject) -> str:
    try:
        return page.extract_text(extraction_mode="layout")
    except Exception as exc:  # layout mode is stricter about fonts; plain mode still gives the words
        logger.debug("layout extraction failed (%s), using plain mode", exc)
        return page.extract_text()
