"""Letter enrichment: what a Kamerbrief says about itself, read from the letter.

This package owns reading one letter's own text (the officiële-bekendmakingen HTML
page, or the PDF/DOCX file the Tweede Kamer publishes before that page exists) into
:class:`LetterDetails`: subject, date, sender office, signatories, a short summary and
the Kamerstukken it cites.  It never decides what is new, stores anything or alerts;
callers attach the details (``LetterDetails.to_json()``) to a letter they already know.

Layouts are described in ``docs/sources.md`` (§6, "The letter's text").  Every
byte is untrusted: parsing failures become :class:`EnrichError`, fetch failures stay
:class:`~monitor.http.SourceError`.

The modules are imported by what needs them (``monitor.enrich.fetch``, ``.html``,
``.pdftext``): BeautifulSoup and pypdf are only loaded when a letter is actually read,
so commands such as ``kamermonitor status`` start quickly.
"""
