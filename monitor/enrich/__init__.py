"""Letter enrichment: what a Kamerbrief says about itself, read from the letter.

This package owns reading one letter's own text (the officiële-bekendmakingen HTML
page, or the PDF/DOCX file the Tweede Kamer publishes before that page exists) into
:class:`LetterDetails`: subject, date, sender office, signatories, a short summary and
the Kamerstukken it cites.  It never decides what is new, stores anything or alerts;
callers attach the details (``LetterDetails.to_json()``) to a letter they already know.

Layouts follow ``shared/reference/letter-anatomy.md`` and ``ob-sru.md`` §5.  Every
byte is untrusted: parsing failures become :class:`EnrichError`, fetch failures stay
:class:`~monitor.http.SourceError`.
"""

from __future__ import annotations

from .fetch import enrich_from_publication, enrich_from_tk_file
from .html import parse_publication_html
from .model import EnrichError, LetterDetails, Signatory
from .pdftext import extract_pdf_text, parse_document, parse_letter_text

__all__ = [
    "EnrichError",
    "LetterDetails",
    "Signatory",
    "enrich_from_publication",
    "enrich_from_tk_file",
    "extract_pdf_text",
    "parse_document",
    "parse_letter_text",
    "parse_publication_html",
]
