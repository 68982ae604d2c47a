"""Downloading a letter for enrichment through the shared :class:`~monitor.http.Fetcher`.

Small on purpose: the Fetcher owns timeouts, pacing and the size cap; this module refuses
any link that is not under one of ``[enrichment] allowed_urls`` (the links come from the
sources' answers: hostile input, never followed off the configured hosts), picks the
Accept header, refuses files whose size does not match what the Tweede Kamer announced
(a truncated or substituted download), and hands the bytes to a parser.
Fetch failures stay :class:`~monitor.http.SourceError`; unusable content is
:class:`EnrichError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ..http import Fetcher
from ..models import LetterDetails
from ..textcut import shorten
from ..urls import within
from .errors import EnrichError
from .html import HTML_MAX_BYTES, parse_publication_html
from .letter import DOCX_TYPE, PDF_TYPE, document_kind, parse_document

SOURCE_PUBLICATION: Final = "ob-publication"
SOURCE_TK_FILE: Final = "tk-document"
HTML_ACCEPT: Final = "text/html, application/xhtml+xml;q=0.9"
FILE_ACCEPT: Final = f"{PDF_TYPE}, {DOCX_TYPE};q=0.9, */*;q=0.1"


def check_allowed(source: str, url: str, allowed: Sequence[str]) -> None:
    """Raise :class:`EnrichError` (this version is not asked for again) unless ``url`` is under an allowed URL."""
    if not any(within(url, base) for base in allowed):
        where = ", ".join(allowed)
        raise EnrichError(f"{source}: refused {shorten(url)!r}: not under [enrichment] allowed_urls ({where})")


def enrich_from_publication(fetcher: Fetcher, html_url: str, allowed: Sequence[str]) -> LetterDetails:
    """Fetch a kamerstuk page from officiële bekendmakingen and read it."""
    check_allowed(SOURCE_PUBLICATION, html_url, allowed)
    # Capped at what the parser accepts, so an oversized page is not downloaded in full.
    limit = min(HTML_MAX_BYTES, fetcher.settings.max_bytes)
    result = fetcher.get(
        SOURCE_PUBLICATION,
        html_url,
        accept=HTML_ACCEPT,
        expect_xml=False,
        max_bytes=limit,
        base=_base(html_url, allowed),
    )
    return parse_publication_html(result.content)


def enrich_from_tk_file(
    fetcher: Fetcher, file_url: str, content_type: str | None, content_length: int | None, allowed: Sequence[str]
) -> LetterDetails | None:
    """Fetch a Tweede Kamer Document file (PDF or DOCX) and read it.

    Returns None, without downloading, when the announced type is neither PDF, DOCX nor
    a generic type (those are sniffed after download).  ``content_length`` is the
    Document's announced size; a positive value must match the download exactly.
    """
    if document_kind(content_type) is None:
        return None
    check_allowed(SOURCE_TK_FILE, file_url, allowed)
    cap = fetcher.settings.max_bytes
    if content_length is not None and content_length > cap:
        raise EnrichError(f"{SOURCE_TK_FILE}: announced size {content_length} bytes exceeds the {cap}-byte cap")
    result = fetcher.get(SOURCE_TK_FILE, file_url, accept=FILE_ACCEPT, expect_xml=False, base=_base(file_url, allowed))
    if content_length is not None and content_length > 0 and len(result.content) != content_length:
        raise EnrichError(
            f"{SOURCE_TK_FILE}: downloaded {len(result.content)} bytes but {content_length} were announced ({file_url})"
        )
    return parse_document(result.content, content_type)


def _base(url: str, allowed: Sequence[str]) -> str:
    """The allowed URL ``url`` is under: redirects are followed within it only."""
    return next(base for base in allowed if within(url, base))
