"""A local SRU 2.0 server shaped like repository.overheid.nl, for tests and benchmarks.

It answers ``GET /sru?operation=searchRetrieve&version=2.0&query=…`` from a mutable list
of records, with responses in the shape of the recorded payloads (tests/fixtures/recorded/sru/).  The
CQL it understands is what ``monitor.sources.sru.search.build_query`` writes (AND/OR/NOT,
parentheses, equality on a few indexes, date comparison on ``dt.modified``); anything
else is answered, like the real service, with an SRU diagnostic 1/22 and HTTP 200.
``fail_next`` injects the failures seen or reported for the real service.

The records link to their manifestations under this server (``/frbr/…``, as the real ones
do under https://repository.overheid.nl), never to the internet: it serves the HTML page
of a record whose page was given to ``publish`` and answers 404 for every other document.
``publication_base`` moves those links elsewhere (a test routing a real host to loopback).
"""

from __future__ import annotations

import gzip
import re
import socket
import struct
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lxml import etree

from tests.fakes import conditional

# The prefixes and declaration order of the recorded responses.
NSMAP = {
    "overheidwetgeving": "http://standaarden.overheid.nl/wetgeving/",
    "dcterms": "http://purl.org/dc/terms/",
    "cd": "http://standaarden.overheid.nl/cup/data",
    "sru": "http://docs.oasis-open.org/ns/search-ws/sruResponse",
    "gzd": "http://standaarden.overheid.nl/sru",
    "diag": "http://docs.oasis-open.org/ns/search-ws/diagnostic",
    "facet": "http://docs.oasis-open.org/ns/search-ws/facetedResults",
    "c": "http://standaarden.overheid.nl/collectie/",
}
OW, DC, CD, SRU, GZD, DIAG, _, C = NSMAP.values()
Day = date  # FakeRecord has a field called "date"
FAULT_MODES = ("diagnostic", "500", "503", "html", "malformed", "truncated", "soft404", "hang", "reset")
# Parameters KOOP's front-end accepts under 2.0; others get diagnostic 1/8.
_PARAMS = {"operation", "version", "query", "startRecord", "maximumRecords", "recordSchema", "sortKeys"}
_PARAMS |= {"recordXMLEscaping", "httpAccept", "resultSetTTL", "x-connection"}
_STRING_INDEXES = {"dt.identifier": "identifier", "dt.type": "doc_type", "w.publicatienaam": "publication"}
_STRING_INDEXES |= {f"w.{name}": name for name in ("documentstatus", "ondernummer", "vergaderjaar", "hoofddocument")}
_SORTS = ("dt.modified/sort.descending", "dt.modified/descending")
_TOKEN = re.compile(r'\s*(\(|\)|[^\s()"]+"[^"]*"|[^\s()]+)')
_CLAUSE = re.compile(r'([A-Za-z][\w.\-]*)(==|>=|<=|<>|=|>|<)"?([^"]*)"?')
_HTML = b"<!DOCTYPE html><html><head><title>Storing</title></head><body><h1>Storing</h1></body></html>"
_MALFORMED = f'<sru:searchRetrieveResponse xmlns:sru="{SRU}"><sru:version>2.0</sru:x>'.encode()


@dataclass(frozen=True)
class FakeRecord:
    """One publication; ``SruServer.add_record`` takes these fields as keywords."""

    identifier: str
    dossier: str = "26643"  # "36600-VII", or several joined by ";"
    ondernummer: str | None = None  # None: the tail of a kst-<dossier>-<nr> identifier
    subtype: str | None = "Brief regering"  # None for bijlagen: no subrubriek, plain title
    document_title: str = "Verzamelbrief digitalisering"
    dossier_title: str = "Informatie- en communicatietechnologie (ICT)"
    date: Day = Day(2025, 8, 28)
    available: Day | None = None  # None: same as date
    modified: Day | None = None  # None: same as available
    indieners: tuple[str, ...] = ()
    documentstatus: str = "Opgemaakt"
    doc_type: str = "Kamerstuk"
    hoofddocument: str | None = None
    vergaderjaar: str = "2024-2025"
    publication: str = "Kamerstuk"  # bijlagen are published under "Kamerstuk" too

    def __post_init__(self) -> None:
        first = re.escape(self.dossier.split(";")[0].strip())
        match = re.fullmatch(rf"kst-{first}-(\w+)", self.identifier)
        if self.ondernummer is None and match:
            object.__setattr__(self, "ondernummer", match[1])
        object.__setattr__(self, "available", self.available or self.date)
        object.__setattr__(self, "modified", self.modified or self.available)
        object.__setattr__(self, "indieners", tuple(self.indieners))

    @property
    def is_bijlage(self) -> bool:
        return self.doc_type == "Bijlage"

    @property
    def changed(self) -> Day:
        assert self.modified is not None  # set in __post_init__
        return self.modified


class CqlError(ValueError):
    """The query uses CQL this fake does not understand (the real service: 1/22)."""


Predicate = Callable[[FakeRecord], bool]


class _Cql:
    """Recursive descent over tokens: or := and (OR and)*; and := atom ((AND|NOT) atom)*."""

    def __init__(self, query: str) -> None:
        self.tokens: list[str] = _TOKEN.findall(query)
        self.pos = 0

    def parse(self) -> Predicate:
        predicate = self._or()
        if self.pos != len(self.tokens):
            raise CqlError(f"unexpected {self.tokens[self.pos]!r}")
        return predicate

    def _take(self, *words: str) -> str | None:
        word = self.tokens[self.pos].lower() if self.pos < len(self.tokens) else None
        if word is None or (words and word not in words):
            return None
        self.pos += 1
        return self.tokens[self.pos - 1]

    def _or(self) -> Predicate:
        parts = [self._and()]
        while self._take("or"):
            parts.append(self._and())
        return lambda r: any(p(r) for p in parts)

    def _and(self) -> Predicate:
        parts, negated = [self._atom()], [False]
        while op := self._take("and", "not"):  # CQL's NOT is binary: "A NOT B"
            negated.append(op.lower() == "not")
            parts.append(self._atom())
        return lambda r: all(p(r) != neg for p, neg in zip(parts, negated, strict=True))

    def _atom(self) -> Predicate:
        if self._take("("):
            inner = self._or()
            if not self._take(")"):
                raise CqlError("missing ')'")
            return inner
        token = self._take()
        if token is None or token == ")":
            raise CqlError("query ends early" if token is None else "unexpected ')'")
        return _clause(token)


def _clause(token: str) -> Predicate:
    match = _CLAUSE.fullmatch(token)
    if not match:
        raise CqlError(f"not a search clause: {token!r}")
    index, relation, value = match[1], match[2], match[3]
    if index == "dt.modified":
        return _date_clause(relation, value)
    if relation not in ("==", "="):
        raise CqlError(f"relation {relation} not supported on {index}")
    if index == "c.product-area":
        return lambda r: value == "officielepublicaties"
    if index == "w.dossiernummer":
        return lambda r: value.lower() in (d.strip().lower() for d in r.dossier.split(";"))
    if index in _STRING_INDEXES:
        return lambda r: (getattr(r, _STRING_INDEXES[index]) or "").lower() == value.lower()
    raise CqlError(f"unsupported index {index}")


def _date_clause(relation: str, value: str) -> Predicate:
    try:
        y, m, d = (int(p) for p in value.split("-"))
        day = date(y, m, d)
    except ValueError:
        raise CqlError(f"bad date {value!r}") from None
    # Written from the record's side: "modified >= day" is "day <= modified".
    compare = {"==": day.__eq__, "=": day.__eq__, ">=": day.__le__, ">": day.__lt__}
    compare |= {"<=": day.__ge__, "<": day.__gt__, "<>": day.__ne__}
    return lambda r: bool(compare[relation](r.changed))


def _int(value: str | None, default: int) -> int:
    try:
        return default if value is None else int(value)
    except ValueError:
        return -1


def _el(parent: etree._Element, ns: str, tag: str, value: object = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib)
    if value is not None:
        element.text = str(value)
    return element


def diagnostic_xml(code: str, message: str, details: str | None = None, *, bare: bool = True) -> bytes:
    """A 2.0 diagnostic: a bare ``<diagnostics>`` root with default namespaces, as KOOP's code
    writes it, or ``diagnostics`` inside a searchRetrieveResponse in the default namespace, as
    recorded (tests/fixtures/recorded/sru/diag_default_ns_reported_live_2026.xml)."""
    if bare:
        holder = root = etree.Element(f"{{{SRU}}}diagnostics", nsmap={None: SRU})
        diag = etree.SubElement(holder, f"{{{DIAG}}}diagnostic", nsmap={None: DIAG})
    else:  # as recorded from the live service: the default namespace, diagnostic elements as ns3
        root = etree.Element(f"{{{SRU}}}searchRetrieveResponse", nsmap={None: SRU, "ns3": DIAG})
        _el(root, SRU, "version", "2.0")
        diag = _el(_el(root, SRU, "diagnostics"), DIAG, "diagnostic")
    _el(diag, DIAG, "uri", f"info:srw/diagnostic/{code}")
    if details:
        _el(diag, DIAG, "details", details)
    _el(diag, DIAG, "message", message)
    return _serialize(root)


def _serialize(root: etree._Element) -> bytes:
    # Sample A's declaration (double quotes) and indentation.
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _area(rec: FakeRecord) -> str:
    """``kst/26643`` for formatted ids, ``blg/onopgemaakt`` for serial ones."""
    kind, first = rec.identifier.split("-", 1)[0], rec.dossier.split(";")[0].strip()
    return f"{kind}/{first if rec.identifier.startswith(f'{kind}-{first}-') else 'onopgemaakt'}"


def _frbr(origin: str, rec: FakeRecord, manifestation: str, filename: str) -> str:
    base = f"{origin}/frbr/officielepublicaties/{_area(rec)}/{rec.identifier}/1"
    return f"{base}/{manifestation}/{filename}"


def _record_xml(parent: etree._Element, rec: FakeRecord, position: int, origin: str) -> None:
    record = _el(parent, SRU, "record")
    _el(record, SRU, "recordSchema", "http://standaarden.overheid.nl/sru/")
    _el(record, SRU, "recordPacking", "xml")
    gzd = _el(_el(record, SRU, "recordData"), GZD, "gzd")
    meta = _el(_el(gzd, GZD, "originalData"), OW, "meta")
    blocks = {name: _el(meta, OW, name) for name in ("owmskern", "owmsmantel", "tpmeta")}
    for block, ns, tag, value, attrib in _meta_fields(rec):
        if value is not None:
            _el(blocks[block], ns, tag, value, **attrib)
    enriched = _el(gzd, GZD, "enrichedData")
    if rec.is_bijlage:  # as recorded (blg-936562): the PDF is the main manifestation, no html or xml
        _el(enriched, GZD, "url", _frbr(origin, rec, "pdf", f"{rec.identifier}.pdf"))
        _el(enriched, GZD, "preferredUrl", f"https://zoek.officielebekendmakingen.nl/{rec.identifier}.html")
        for kind, name in [("metadata", "metadata.xml"), ("metadataowms", "metadata_owms.xml")]:
            _el(enriched, GZD, "itemUrl", _frbr(origin, rec, kind, name), manifestation=kind)
        _el(enriched, GZD, "itemUrl", _frbr(origin, rec, "pdf", rec.identifier + ".pdf"), manifestation="pdf")
    else:
        _el(enriched, GZD, "url", _frbr(origin, rec, "xml", f"{rec.identifier}.xml"))
        _el(enriched, GZD, "preferredUrl", f"https://zoek.officielebekendmakingen.nl/{rec.identifier}.html")
        for kind, name in [("html", rec.identifier + ".html"), ("metadata", "metadata.xml")]:
            _el(enriched, GZD, "itemUrl", _frbr(origin, rec, kind, name), manifestation=kind)
        for kind, name in [("pdf", rec.identifier + ".pdf"), ("xml", rec.identifier + ".xml")]:
            _el(enriched, GZD, "itemUrl", _frbr(origin, rec, kind, name), manifestation=kind)
    _el(enriched, GZD, "timestamp", f"{rec.changed.isoformat()}T10:00:05.123456+02:00")
    _el(record, SRU, "recordPosition", position)


def _meta_fields(rec: FakeRecord) -> list[tuple[str, str, str, object, dict[str, str]]]:
    """(block, namespace, tag, value, attributes) in Sample A's order; None values are left out.

    A Bijlage has what the recorded ``blg-936562`` has: its title only in ``dcterms:title``,
    no issued date, documenttitel, dossiertitel, subrubriek or change timestamps.
    """
    shaped = rec.subtype and not rec.is_bijlage
    title = f"{rec.dossier_title}; {rec.subtype}; {rec.document_title}" if shaped else rec.document_title
    page = f"https://zoek.officielebekendmakingen.nl/{rec.identifier}.html"
    changed = None if rec.is_bijlage else f"{rec.changed.isoformat()}T10:00:00.1234567+02:00"  # 7 digits
    own = None if rec.is_bijlage else rec  # the fields a Bijlage record does not carry
    kern, mantel, tp = "owmskern", "owmsmantel", "tpmeta"
    return [
        (kern, DC, "identifier", rec.identifier, {}),
        (kern, DC, "title", title, {}),
        (kern, DC, "language", "nl", {}),
        (kern, DC, "type", rec.doc_type, {"scheme": "OVERHEIDop.Parlementair"}),
        (kern, DC, "creator", "Tweede Kamer der Staten-Generaal", {"scheme": "OVERHEID.StatenGeneraal"}),
        (kern, DC, "modified", rec.changed.isoformat(), {}),
        (mantel, DC, "available", (rec.available or rec.date).isoformat(), {}),
        (mantel, DC, "date", rec.date.isoformat(), {}),
        (mantel, DC, "hasVersion", 1, {"resourceIdentifier": page}),
        (mantel, DC, "issued", own and own.date.isoformat(), {}),
        (tp, C, "product-area", "officielepublicaties", {}),
        (tp, C, "content-area", f"officielepublicaties/{_area(rec)}", {}),
        (tp, OW, "documentstatus", rec.documentstatus, {}),
        (tp, OW, "documenttitel", own and own.document_title, {}),
        (tp, OW, "dossiertitel", own and own.dossier_title, {}),
        *[(tp, OW, "indiener", name, {}) for name in rec.indieners],
        (tp, OW, "hoofddocument", rec.hoofddocument, {}),
        (tp, OW, "ondernummer", rec.ondernummer, {}),
        (tp, OW, "organisatietype", "staten generaal", {"scheme": "OVERHEID.Organisatietype"}),
        (tp, OW, "publicatienaam", rec.publication, {}),
        (tp, OW, "vergaderjaar", rec.vergaderjaar, {}),
        (tp, OW, "dossiernummer", rec.dossier, {}),
        (tp, OW, "subrubriek", own and own.subtype, {"scheme": "OVERHEIDop.KamerstukTypen"}),
        (tp, CD, "datumTijdstipWijzigingWork", changed, {}),
        (tp, CD, "datumTijdstipWijzigingExpression", changed, {}),
    ]


_DIAGNOSTIC_1_6 = diagnostic_xml("1/6", "Unsupported parameter value", "x-connection")  # as in issue S6
# Faults answered with a fixed response: (status, content type, body, headers).
_CANNED: dict[str, tuple[int, str, bytes, dict[str, str]]] = {
    "diagnostic": (200, "application/xml", _DIAGNOSTIC_1_6, {}),
    "500": (500, "text/html", b"<html><body>Internal Server Error</body></html>", {}),
    "503": (503, "text/plain", b"Service Unavailable", {"Retry-After": "7"}),
    "html": (200, "text/html; charset=utf-8", _HTML, {}),
    "malformed": (200, "text/xml", _MALFORMED, {}),
    "soft404": (302, "text/plain", b"", {"Location": "/fout404.html"}),  # then 200 on the error page
}


class _Handler(BaseHTTPRequestHandler):
    # Answer head and body without waiting for the ACK of the first write (~40 ms on loopback).
    disable_nagle_algorithm = True

    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end on their own
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        fake, url = self.server.fake, urlsplit(self.path)
        if url.path.endswith("/fout404.html"):
            return self.send(200, _HTML, "text/html; charset=utf-8")
        if url.path.startswith("/frbr/"):
            page = fake.publications.get(url.path.rsplit("/", 1)[-1].removesuffix(".html"))
            if page is None or not url.path.endswith(".html"):
                return self.send(404, b"not found", "text/plain")
            return self.send(200, page, "text/html; charset=utf-8")
        if url.path != "/sru":
            return self.send(404, b"not found", "text/plain")
        mode = fake._take(url.query)
        body = fake.respond({k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()})
        if mode is None:
            modified = fake.first_served(body)
            headers = conditional.validators(body, modified)
            if conditional.unchanged(self.headers, body, modified):
                with fake._lock:
                    fake.not_modified += 1
                return self.send(304, b"", fake.content_type, headers)
            return self.send(200, body, fake.content_type, headers)
        if mode in _CANNED:
            status, content_type, canned, headers = _CANNED[mode]
            return self.send(status, canned, content_type, headers)
        getattr(self, "fault_" + mode)(body)

    def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        if status == 200 and body and self.server.fake.compress and "gzip" in self.headers.get("Accept-Encoding", ""):
            body, headers = gzip.compress(body, compresslevel=6), {**(headers or {}), "Content-Encoding": "gzip"}
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.server.fake._count(len(body))

    def fault_truncated(self, body: bytes) -> None:
        # No Content-Length and Connection: close, so the cut looks like a complete body.
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body[: len(body) // 2])
        self.server.fake._count(len(body) // 2)

    def fault_hang(self, body: bytes) -> None:
        self.server.fake._stopping.wait(self.server.fake.hang_seconds)
        self.send(200, body, self.server.fake.content_type)

    def fault_reset(self, _: bytes) -> None:
        # SO_LINGER 0 turns close() into a TCP RST, as reported for parallel requests.
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for stream in (self.rfile, self.wfile, self.connection):
            stream.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: SruServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or were reset on purpose are expected; anything else is a bug.
        if not isinstance(sys.exc_info()[1], OSError | ValueError):
            super().handle_error(request, client_address)


class SruServer:
    """The fake service: ``with SruServer() as srv: srv.add_record(...); srv.base_url``."""

    def __init__(self, *, hang_seconds: float = 3.0, content_type: str = "application/xml; charset=UTF-8") -> None:
        self.hang_seconds = hang_seconds
        self.content_type = content_type  # tests may set a wrong charset on purpose
        self.requests: list[str] = []  # raw query strings of /sru requests, in order
        self.bytes_sent = 0
        self.not_modified = 0  # searches answered 304 (conditional, unchanged)
        self.compress = False  # answer gzip to a client that asks for it, as the real service might
        self._served: dict[str, datetime] = {}  # ETag -> when that body was first served (Last-Modified)
        self._records: dict[str, FakeRecord] = {}
        self.publications: dict[str, bytes] = {}  # identifier → its HTML page, served under /frbr/
        self.publication_base: str | None = None  # where the records' /frbr/ links point; None: here
        self._faults: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("SruServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/sru"

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: the records' document links point here (no port when not started)."""
        return self.base_url.removesuffix("/sru") if self._httpd is not None else "http://127.0.0.1"

    def publish(self, identifier: str, page: bytes) -> None:
        """Serve ``page`` as the HTML manifestation of record ``identifier``."""
        with self._lock:
            self.publications[identifier] = page

    @property
    def queries(self) -> list[str]:
        """The CQL ``query`` parameter of each request, in order."""
        return [parse_qs(q).get("query", [""])[0] for q in list(self.requests)]

    def start(self) -> SruServer:
        self._stopping.clear()
        httpd = self._httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.fake = self
        # A short poll interval keeps stop() (and so each test's teardown) quick.
        threading.Thread(target=httpd.serve_forever, args=(0.02,), name="fake-sru", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SruServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_record(self, identifier: str, **fields: Any) -> FakeRecord:
        """Add a record; ``fields`` are FakeRecord's (dossier, subtype, date, modified, ...)."""
        rec = FakeRecord(identifier, **fields)
        with self._lock:
            if identifier in self._records:
                raise ValueError(f"record {identifier} already exists")
            self._records[identifier] = rec
        return rec

    def update_record(self, identifier: str, **changes: Any) -> FakeRecord:
        with self._lock:
            rec = self._records[identifier] = replace(self._records[identifier], **changes)
        return rec

    def remove_record(self, identifier: str) -> None:
        with self._lock:
            del self._records[identifier]

    @property
    def records(self) -> list[FakeRecord]:
        with self._lock:
            return list(self._records.values())

    def fail_next(self, count: int = 1, mode: str = "500") -> None:
        """Answer the next ``count`` /sru requests with the failure ``mode`` (see FAULT_MODES)."""
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; choose from {FAULT_MODES}")
        with self._lock:
            self._faults.extend([mode] * count)

    def respond(self, params: dict[str, str]) -> bytes:
        """The body for a searchRetrieve request: results or a diagnostic (always HTTP 200)."""
        unknown = sorted(set(params) - _PARAMS)
        if unknown:
            return diagnostic_xml("1/8", "Unsupported Parameter", unknown[0], bare=False)
        if params.get("operation", "searchRetrieve") != "searchRetrieve" or params.get("version") != "2.0":
            return diagnostic_xml("1/5", "Unsupported version", params.get("version"), bare=False)
        if "query" not in params:
            return diagnostic_xml("1/7", "Mandatory parameter not supplied", "query", bare=False)
        start, maximum = _int(params.get("startRecord"), 1), _int(params.get("maximumRecords"), 50)
        if start < 1 or maximum < 0:
            return diagnostic_xml("1/6", "Unsupported parameter value", "startRecord", bare=False)
        try:
            matches = self._search(params["query"])
        except CqlError as exc:
            return diagnostic_xml("1/22", "Query syntax error", str(exc), bare=False)
        return self._results(matches, start, min(maximum, 5000), params["query"])

    def _search(self, query: str) -> list[FakeRecord]:
        where, *sort = re.split(r"\s+sortby\s+", query.strip(), maxsplit=1, flags=re.IGNORECASE)
        if sort and sort[0].strip() not in _SORTS:
            raise CqlError(f"unsupported sort {sort[0].strip()!r}")
        predicate = _Cql(where).parse()
        # Newest first; the real service always adds "identifier asc" as the tie-breaker.
        return sorted((r for r in self.records if predicate(r)), key=lambda r: (-r.changed.toordinal(), r.identifier))

    def _results(self, matches: list[FakeRecord], start: int, maximum: int, query: str) -> bytes:
        root = etree.Element(f"{{{SRU}}}searchRetrieveResponse", nsmap=NSMAP)
        _el(root, SRU, "version", "2.0")
        _el(root, SRU, "numberOfRecords", len(matches))
        page = matches[start - 1 : start - 1 + maximum]
        if page:
            records = _el(root, SRU, "records")
            for offset, rec in enumerate(page):
                _record_xml(records, rec, start + offset, self.publication_base or self.origin)
        if start - 1 + len(page) < len(matches):
            _el(root, SRU, "nextRecordPosition", start + len(page))
        echo = _el(root, SRU, "echoedSearchRetrieveRequest")
        for tag, value in [("query", query), ("startRecord", start), ("maximumRecords", maximum)]:
            _el(echo, SRU, tag, value)
        _el(echo, SRU, "recordXMLEscaping", "xml")
        _el(echo, SRU, "recordSchema", "http://standaarden.overheid.nl/sru/")
        _el(root, SRU, "resultCountPrecision", "info:srw/vocabulary/resultCountPrecision/1/estimate")
        return _serialize(root)

    def _take(self, query_string: str) -> str | None:
        with self._lock:
            self.requests.append(query_string)
            return self._faults.pop(0) if self._faults else None

    def first_served(self, body: bytes) -> datetime:
        """When this exact answer was first given: its ``Last-Modified``."""
        tag = conditional.etag(body)
        with self._lock:
            if len(self._served) > 10_000:  # a long bench run asks many distinct queries
                self._served.clear()
            return self._served.setdefault(tag, datetime.now(UTC))

    def _count(self, size: int) -> None:
        with self._lock:
            self.bytes_sent += size
