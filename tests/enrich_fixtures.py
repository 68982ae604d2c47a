"""Letter fixtures built at test time: PDFs from the text templates, DOCX files, a corrupt PDF.

Binary fixtures are not committed; they are rendered from ``tests/fixtures/letters/*.txt``
so a reviewer can read exactly what the PDF says.  Template syntax, one PDF text line per
template line:

* a blank line is an empty line of vertical space (a paragraph gap, as in the real letter);
* ``a || b`` puts ``b`` in a second column (``|| b`` alone: only the right column), and
  more ``||`` make table columns;
* a leading tab indents the line under the value of ``Betreft``;
* ``{1}`` is a superscript footnote marker after the preceding word;
* ``<<notes>>`` moves to the foot of the page in a smaller font (footnotes, page number);
* ``<<page>>`` starts a new page.

DOCX templates (``docx_letter.txt``): one paragraph per line; ``| a | b`` is a table row.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from fpdf import FPDF

LETTERS = Path(__file__).parent / "fixtures" / "letters"

_TOP = 25.0
_LINE = 5.0
_NOTES_TOP = 262.0
_LEFT = 20.0
_TWO_COLUMNS = (_LEFT, 110.0)
_TABLE_COLUMNS = (_LEFT, 75.0, 130.0)
_MARKER = re.compile(r"\{(\d+)\}")


def template(name: str) -> str:
    return (LETTERS / name).read_text(encoding="utf-8")


def html(name: str) -> bytes:
    return (LETTERS / name).read_bytes()


def letter_pdf(name: str) -> bytes:
    """Render ``tests/fixtures/letters/<name>`` (see the module docstring) as an A4 PDF."""
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_auto_page_break(False)
    pdf.add_page()
    size, y = 10.0, _TOP
    for raw in template(name).splitlines():
        if raw == "<<page>>":
            pdf.add_page()
            size, y = 10.0, _TOP
            continue
        if raw == "<<notes>>":
            size, y = 8.0, _NOTES_TOP
            continue
        if raw.strip():
            cells = [c.strip() for c in raw.split("||")] if "||" in raw else [raw]
            xs = _TWO_COLUMNS if len(cells) == 2 else _TABLE_COLUMNS
            for x, cell in zip(xs, cells, strict=False):
                if cell.startswith("\t"):
                    pdf.set_font("Helvetica", size=size)
                    x += pdf.get_string_width("Betreft ")
                _draw(pdf, x, y, cell.strip(), size)
        y += _LINE if size >= 10 else _LINE * 0.8
    return bytes(pdf.output())


def _draw(pdf: FPDF, x: float, y: float, text: str, size: float) -> None:
    """Draw one line, with ``{n}`` markers as raised small digits glued to the word before."""
    parts = _MARKER.split(text)
    for i, part in enumerate(parts):
        is_marker = i % 2 == 1
        pdf.set_font("Helvetica", size=6 if is_marker else size)
        if part:
            pdf.text(x, y - 1.6 if is_marker else y, part)
            x += pdf.get_string_width(part)


def corrupt_pdf() -> bytes:
    """A real letter PDF cut off in the middle (a failed download): header but no xref, no EOF."""
    good = letter_pdf("single_signatory.txt")
    return good[: len(good) // 2]


# --- DOCX ------------------------------------------------------------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"'
    ' Target="word/document.xml"/></Relationships>'
)


def _paragraph(text: str) -> str:
    return f'<w:p><w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r></w:p>'


def _table(rows: list[list[str]]) -> str:
    body = "".join("<w:tr>" + "".join(f"<w:tc>{_paragraph(c)}</w:tc>" for c in row) + "</w:tr>" for row in rows)
    return f"<w:tbl>{body}</w:tbl>"


def document_xml(name: str = "docx_letter.txt") -> bytes:
    """``word/document.xml`` for a DOCX template: paragraphs, and ``| a | b`` rows as one table."""
    parts: list[str] = []
    rows: list[list[str]] = []
    for line in template(name).splitlines():
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
            continue
        if rows:
            parts.append(_table(rows))
            rows = []
        if line.strip():
            parts.append(_paragraph(line))
    if rows:
        parts.append(_table(rows))
    xml = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'
    return (xml + "".join(parts) + "<w:sectPr/></w:body></w:document>").encode("utf-8")


def docx(document: bytes | None = None) -> bytes:
    """A minimal DOCX package around ``document`` (default: the ``docx_letter.txt`` letter)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("word/document.xml", document if document is not None else document_xml())
    return out.getvalue()
