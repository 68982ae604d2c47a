"""Officiële bekendmakingen through KOOP's SRU 2.0 service (repository.overheid.nl).

This module owns the SRU wire format and nothing else: it turns a
``searchRetrieveResponse`` (bytes) into :class:`SruPage` and
:class:`SruRecord`, and pages through a result set with the shared :class:`Fetcher`.
The CQL queries are built in :mod:`.query`.  Deciding what is new, what counts as a
letter and what to alert on happens elsewhere.

The rules it enforces (the format is described in docs/sources.md §2):

* diagnostics come back as HTTP 200, so every diagnostic is an error, never an empty
  result;
* elements are matched on local names, because the response namespace differs between
  SRU 2.0 and 1.2 and prefixes vary;
* bytes go to the XML parser, never decoded text, because the service's charset
  headers have misled other clients;
* one bad record is logged and skipped; it never costs the rest of the page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from urllib.parse import urlsplit

from lxml import etree

from ...http import Fetcher, FetchResult, SourceError
from ...models import DossierRef
from ...xmlsafe import attr, child, child_text, children, descendants, integer, local, parse_xml, text
from .models import SruPage, SruRecord

logger = logging.getLogger(__name__)

_DIAGNOSTIC_PREFIX = "info:srw/diagnostic/"
_REPRINT_ID = re.compile(r"-h\d+$", re.IGNORECASE)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_MAX_PROBLEM = 300  # keep operator messages to one readable line


# --- response --------------------------------------------------------------------------


def parse_response(data: bytes, source: str = "sru") -> SruPage:
    """Parse one searchRetrieve response; raise SourceError for diagnostics or junk."""
    root = parse_xml(data, source)
    name = local(root)
    if name == "diagnostics":
        raise _diagnostic_error(source, root)
    if name != "searchRetrieveResponse":
        raise SourceError(source, f"unexpected XML root <{name}>, not an SRU searchRetrieveResponse")
    diagnostics = child(root, "diagnostics")
    if diagnostics is not None and len(diagnostics):
        raise _diagnostic_error(source, diagnostics)
    container = child(root, "records")
    return SruPage(
        records=tuple(_parse_records(root, source)),
        number_of_records=integer(child_text(root, "numberOfRecords")),
        next_position=integer(child_text(root, "nextRecordPosition")),
        returned=0 if container is None else sum(1 for _ in children(container, "record")),
    )


def _diagnostic_error(source: str, container: etree._Element) -> SourceError:
    parts = [_describe_diagnostic(d) for d in children(container, "diagnostic")]
    summary = "; ".join(parts) or "empty diagnostics element"
    return SourceError(source, _one_line(f"SRU diagnostic {summary}"))


def _describe_diagnostic(diag: etree._Element) -> str:
    uri = child_text(diag, "uri") or "?"
    code = uri.removeprefix(_DIAGNOSTIC_PREFIX)  # "info:srw/diagnostic/1/22" -> "1/22"
    message = child_text(diag, "message")
    details = child_text(diag, "details")
    described = f"{code}: {message or 'no message'}"
    return f"{described} ({details})" if details else described


def _parse_records(root: etree._Element, source: str) -> Iterator[SruRecord]:
    container = child(root, "records")
    if container is None:
        return
    for position, element in enumerate(children(container, "record"), start=1):
        try:
            record = _parse_record(element)
        except (ValueError, TypeError, AttributeError) as exc:
            # Defensive: field helpers are lenient, but one odd record must not cost the page.
            logger.warning("%s: record %d skipped: %s", source, position, exc)
            continue
        if record is None:
            logger.warning("%s: record %d skipped: %s", source, position, _why_no_identifier(element))
            continue
        yield record


def _why_no_identifier(element: etree._Element) -> str:
    # A surrogate diagnostic stands in for a record the server could not render.
    diagnostic = _first_descendant(element, "diagnostic")
    if diagnostic is not None:
        return "surrogate diagnostic " + _describe_diagnostic(diagnostic)
    return "no dcterms:identifier"


class _Meta:
    """The three metadata blocks of one record, looked up by local name.

    Each field is read from the block the reference names first, then from the other
    two: the placement of some fields (notably the subtype) is only inferred.
    """

    def __init__(self, record: etree._Element) -> None:
        data = child(record, "recordData")
        scope = data if data is not None else record
        self.blocks = {name: _first_descendant(scope, name) for name in ("owmskern", "owmsmantel", "tpmeta")}
        self.enriched = _first_descendant(scope, "enrichedData")

    def elements(self, name: str, *, prefer: str = "tpmeta") -> list[etree._Element]:
        """Children called ``name`` of the preferred block, else of the first other block having any."""
        for block_name in [prefer] + [b for b in self.blocks if b != prefer]:
            block = self.blocks[block_name]
            found = list(children(block, name)) if block is not None else []
            if found:
                return found
        return []

    def everywhere(self, name: str, *, prefer: str = "tpmeta") -> list[etree._Element]:
        """Children called ``name`` of all three blocks, the preferred block first."""
        order = [prefer] + [b for b in self.blocks if b != prefer]
        blocks = [self.blocks[b] for b in order]
        return [e for block in blocks if block is not None for e in children(block, name)]

    def texts(self, name: str, *, prefer: str = "tpmeta") -> list[str]:
        return [t for t in (text(e) for e in self.elements(name, prefer=prefer)) if t]

    def first(self, name: str, *, prefer: str = "tpmeta") -> str | None:
        return next(iter(self.texts(name, prefer=prefer)), None)


def _parse_record(element: etree._Element) -> SruRecord | None:
    meta = _Meta(element)
    identifier = meta.first("identifier", prefer="owmskern")
    if identifier is None:
        return None
    full_title = meta.first("title", prefer="owmskern")
    dossier_title = meta.first("dossiertitel")
    doc_type = _typed(meta, "Parlementair")
    # A bijlage's title is its own free text, not "dossiertitel; soort; documenttitel".
    segments = _title_segments(full_title if doc_type != "Bijlage" else None, dossier_title)
    document_title = meta.first("documenttitel") or segments[2]
    links = _links(meta.enriched)
    return SruRecord(
        identifier=identifier,
        dossiers=_dossiers(meta.texts("dossiernummer")),
        ondernummer=meta.first("ondernummer"),
        vergaderjaar=meta.first("vergaderjaar"),
        subtype=_subtype(meta) or segments[1],
        document_title=document_title,
        full_title=full_title,
        dossier_title=dossier_title or segments[0],
        doc_type=doc_type,
        publication=meta.first("publicatienaam"),
        documentstatus=meta.first("documentstatus"),
        date=_day(meta.first("date", prefer="owmsmantel")) or _day(meta.first("issued", prefer="owmsmantel")),
        available=_day(meta.first("available", prefer="owmsmantel")),
        modified=_day(meta.first("modified", prefer="owmskern")),
        changed_at=_changed_at(meta),
        indieners=tuple(meta.texts("indiener")),
        hoofddocument=meta.first("hoofddocument"),
        preferred_url=links.get("preferred"),
        html_url=links.get("html"),
        pdf_url=links.get("pdf"),
        xml_url=links.get("xml"),
        is_reprint=_is_reprint(identifier, full_title, document_title),
    )


def _subtype(meta: _Meta) -> str | None:
    # tpmeta subrubriek is where the SRU record carries it [seen]; a KamerstukTypen
    # dcterms:type is where metadata.xml and one fixture carry it [reported].
    for element in meta.everywhere("subrubriek"):
        scheme = attr(element, "scheme")
        # Aanhangsel records use a subrubriek of another scheme (AanhangselTypen).
        if (scheme is None or scheme.endswith("KamerstukTypen")) and text(element):
            return text(element)
    return _typed(meta, "KamerstukTypen")


def _typed(meta: _Meta, scheme: str) -> str | None:
    """The first dcterms:type whose scheme ends in ``scheme`` (``OVERHEIDop.<scheme>``)."""
    for element in meta.everywhere("type", prefer="owmskern"):
        if (attr(element, "scheme") or "").endswith(scheme) and text(element):
            return text(element)
    return None


def _title_segments(full_title: str | None, dossier_title: str | None) -> tuple[str | None, ...]:
    """Split ``dossiertitel; soort; documenttitel``; (None, None, None) if it has no such shape."""
    if not full_title:
        return (None, None, None)
    # A dossier title may itself contain "; ", so strip a known one before splitting.
    if dossier_title and full_title.startswith(dossier_title + ";"):
        head, rest = dossier_title, full_title[len(dossier_title) + 1 :]
        tail = [p.strip() or None for p in rest.split(";", 1)]
        return (head, tail[0], tail[1]) if len(tail) == 2 else (None, None, None)
    parts = [p.strip() or None for p in full_title.split(";", 2)]
    return tuple(parts) if len(parts) == 3 else (None, None, None)


def _dossiers(values: Iterable[str]) -> tuple[DossierRef, ...]:
    found: list[DossierRef] = []
    for value in values:
        for piece in value.split(";"):  # several dossiers in one element
            if not piece.strip():
                continue
            try:
                ref = DossierRef.parse(piece)
            except ValueError:
                logger.info("unparseable dossiernummer %r ignored", piece)
                continue
            if ref not in found:
                found.append(ref)
    return tuple(found)


def _changed_at(meta: _Meta) -> datetime | None:
    candidates = [meta.first("datumTijdstipWijzigingExpression"), meta.first("datumTijdstipWijzigingWork")]
    if meta.enriched is not None:
        candidates.append(child_text(meta.enriched, "timestamp"))
    for value in candidates:
        parsed = _timestamp(value)
        if parsed is not None:
            return parsed
    return None


def _links(enriched: etree._Element | None) -> dict[str, str]:
    """preferred/html/pdf/xml URLs; anything that is not http(s) is dropped."""
    if enriched is None:
        return {}
    links: dict[str, str] = {}
    preferred = _http_url(child_text(enriched, "preferredUrl"))
    if preferred:
        links["preferred"] = preferred
    for item in children(enriched, "itemUrl"):
        kind, url = (attr(item, "manifestation") or "").lower(), _http_url(text(item))
        if kind in ("html", "pdf", "xml") and url and kind not in links:
            links[kind] = url
    # gzd:url is the main manifestation (xml, or pdf for unformatted items): a fallback.
    main = _http_url(child_text(enriched, "url"))
    kind = main.rsplit(".", 1)[-1].lower() if main else ""
    if main and kind in ("html", "pdf", "xml") and kind not in links:
        links[kind] = main
    return links


def _http_url(value: str | None) -> str | None:
    # A link we pass on ends up in an email or Slack message: only plain web links.
    if not value:
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return value if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _is_reprint(identifier: str, *titles: str | None) -> bool:
    if _REPRINT_ID.search(identifier):
        return True
    return any(t is not None and "herdruk" in t.casefold() for t in titles)


# --- small value parsers: lenient, None on anything odd ---------------------------------


def _first_descendant(scope: etree._Element, name: str) -> etree._Element | None:
    return next(descendants(scope, name), None)


def _day(value: str | None) -> date | None:
    """``YYYY-MM-DD``, also when followed by a time (``2021-07-09T11:23:39+02:00``)."""
    if not value or not _ISO_DAY.match(value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _timestamp(value: str | None) -> datetime | None:
    # Python 3.11's fromisoformat takes the service's 7 fractional digits and a "Z".
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _one_line(message: str) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= _MAX_PROBLEM else flat[: _MAX_PROBLEM - 1] + "…"


# --- client ----------------------------------------------------------------------------


class SruClient:
    """searchRetrieve requests against one SRU endpoint, through the shared Fetcher."""

    def __init__(self, fetcher: Fetcher, base_url: str, source: str = "sru", page_size: int = 100) -> None:
        if not 1 <= page_size <= 1000:  # the documented maximum is 1000
            raise ValueError(f"page_size must be 1..1000, not {page_size}")
        self.fetcher = fetcher
        self.base_url = base_url
        self.source = source
        self.page_size = page_size

    def fetch_page(self, query: str, start: int = 1) -> SruPage:
        """One page from 1-based ``start``; raise SourceError on any failure."""
        # No x-connection, recordSchema or httpAccept: KOOP's own harvester sends none,
        # and unknown parameters are answered with diagnostic 1/8.
        params: dict[str, str | int] = {
            "operation": "searchRetrieve",
            "version": "2.0",
            "startRecord": start,
            "maximumRecords": self.page_size,
            "query": query,
        }
        result = self.fetcher.get(self.source, self.base_url, params, accept="application/xml", base=self.base_url)
        return parse_response(result.content, self.source)

    def _conditional_page(self, query: str) -> tuple[SruPage, FetchResult]:
        params: dict[str, str | int] = {
            "operation": "searchRetrieve", "version": "2.0", "startRecord": 1, "maximumRecords": self.page_size,
            "query": query,
        }  # fmt: skip
        result = self.fetcher.get(
            self.source, self.base_url, params, accept="application/xml", base=self.base_url, conditional=True
        )
        if result.not_modified:
            # The same whole answer as the one remembered, every record of which was recorded.
            return SruPage(records=(), number_of_records=None, next_position=None, returned=0), result
        return parse_response(result.content, self.source), result

    def search(self, query: str, *, max_pages: int = 20) -> Iterator[SruPage]:
        """Pages in order until no ``nextRecordPosition`` is given or ``max_pages`` is reached.

        After ``max_pages`` the last page's ``next_position`` is still set: that is how a
        caller tells a cut-off result from a complete one.  An answer that fits one page is
        asked again conditionally; a 304 for it is a page with no records (all are on record).
        """
        start = 1
        for _ in range(max_pages):
            if start == 1:
                page, first = self._conditional_page(query)
            else:
                page = self.fetch_page(query, start)
            yield page
            if start == 1 and page.next_position is None:
                # The caller asked for the next page only after recording this one, so this
                # whole answer is on record: from now on a 304 for it means "nothing new".
                self.fetcher.remember(first)
            if page.next_position is not None and page.next_position <= start:
                # A server that does not advance would otherwise loop until max_pages.
                raise SourceError(self.source, f"nextRecordPosition {page.next_position} does not advance")
            claimed = page.number_of_records or 0
            if page.returned == 0 and claimed >= start:
                # "N records" with none in the answer is a broken server, not "nothing new":
                # failing the poll keeps its window from moving on.
                raise SourceError(
                    self.source, f"the answer claims {claimed} records but holds none from record {start}"
                )
            if page.next_position is None:
                return
            start = page.next_position
        logger.warning("%s: stopped after %d pages; more records remain", self.source, max_pages)
