"""Letter enrichment: what a Kamerbrief says about itself, read from the letter.

This package owns reading one letter's own text (the officiële-bekendmakingen HTML
page, or the PDF/DOCX file the Tweede Kamer publishes before that page exists) into
:class:`~monitor.models.LetterDetails`: subject, date, sender office, signatories, a
short summary and the Kamerstukken it cites, and storing that once per version of the
letter just before it is alerted.  It never decides what is new or alerts.

- ``run.py``: which letters to read, when to give up, what is stored (the only module
  touching the database);
- ``fetch.py``: downloading a publication or TK file, only from allowed URLs;
- ``html.py`` (the publication page), ``pdf.py`` and ``docx.py`` (the TK file to text),
  ``letter.py`` (a letter's plain text to details, and picking the reader for a file);
- ``text.py`` (dates, citations, line breaks, paragraphs, summary) and ``signature.py``
  (signature blocks and office names): the rules every format shares;
- ``errors.py``: :class:`~.errors.EnrichError`.

Layouts are described in ``docs/sources.md`` (§6, "The letter's text").  Every
byte is untrusted: parsing failures become :class:`~.errors.EnrichError`, fetch
failures stay :class:`~monitor.http.SourceError`.

The parsing modules are imported by what needs them (``run.py`` imports ``fetch.py``
inside its functions): BeautifulSoup and pypdf are only loaded when a letter is
actually read, so commands such as ``kamermonitor status`` start quickly.
"""
