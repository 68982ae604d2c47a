"""A local Tweede Kamer SyncFeed for tests and benchmarks, speaking the real Atom format.

``TkFeedServer`` listens on 127.0.0.1 (a free port) in a daemon thread and serves
``/SyncFeed/2.0/Feed``, ``/Entiteiten/<guid>`` and ``/Resources/<guid>`` from an in-memory,
append-only list of entity states with one global, monotone skiptoken.  ``fail_next``
injects the failures the monitor must survive (5xx, 429, HTML, truncated or hostile XML,
hangs, dropped connections, gzip bombs, endless bodies).

Serving a page costs O(log n + page size), like an indexed store: entries are kept per
category with their (increasing) tokens, and each entry's XML is rendered once, by string
formatting, and cached; the output is byte for byte what lxml would serialize for the
same tree (tests/test_tk_server.py checks that against an lxml rendering).
"""

from __future__ import annotations

import functools
import gzip
import re
import sys
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from lxml import etree

from tests.fakes import conditional

ATOM = "http://www.w3.org/2005/Atom"
TK = "http://www.tweedekamer.nl/xsd/tkData/v1-0"
PREFIX = "/SyncFeed/2.0"
AUTHOR = "Tweede Kamer der Staten-Generaal"
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_LOLS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
_BOMB = f'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY lol0 "lol">{_LOLS}]><feed>&lol9;</feed>'.encode()
# add_document's keyword names -> the XML element names they are stored under.
_STATE_NAMES = dict(nummer="documentNummer", dossier_guids="kamerstukdossier", zaak_guids="zaak")
_REF_NAMES = frozenset({"kamerstukdossier", "zaak", "bronDocument"})
_SIMPLE_FAULTS = {  # mode -> (status, content type, body)
    "500": (500, "application/xml", b"<Error><Message>An error has occurred.</Message></Error>"),
    "503": (503, "application/xml", b"<Error><Message>Service Unavailable</Message></Error>"),
    "429": (429, "text/plain", b"Too Many Requests"),
    "html": (200, "text/html", b"<!DOCTYPE html><html><body><h1>Onderhoud</h1></body></html>"),
    "malformed": (200, "application/atom+xml", b"<feed><entry><title>x</titel></entry></feed>"),
    "dtd": (200, "application/atom+xml", _BOMB),
}
FAULT_MODES = frozenset(_SIMPLE_FAULTS) | {"truncated", "hang", "drop", "gzipbomb", "endless", "drip", "foreign"}
ELSEWHERE = "http://elsewhere.invalid" + PREFIX  # where a "foreign" page's next links point
_XML_DECL = b"<?xml version='1.0' encoding='utf-8'?>\n"
_ENTRY_OPEN = b"<entry>"  # as an entry is serialized inside a feed, which declares the Atom namespace
_ENTRY_OPEN_NS = f'<entry xmlns="{ATOM}">'.encode()  # as a document of its own (Entiteiten)
_FEED_CLOSE = b"</feed>"
# What lxml refuses to put in a document (it raises ValueError); lone surrogates fail in encode().
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Whatever a value must be checked or escaped for; most values have none of it.
_SPECIAL = re.compile('[\x00-\x1f&<>"\ufffe\uffff]')


@dataclass
class _Entry:
    token: int
    term: str  # lowerCamel category, e.g. "document"
    guid: str
    state: dict[str, Any]
    updated: datetime
    deleted: bool = False
    # (what it was rendered for, the entry's XML as it appears in a feed).  The entry never
    # changes, but what it is rendered for may: the base URL, a document's content type and length.
    rendered: tuple[tuple[object, ...], bytes] | None = field(default=None, compare=False, repr=False)


class TkFeedServer:
    """Fake SyncFeed.  ``with TkFeedServer(first_token=30_000_000) as tk: tk.base_url ...``"""

    def __init__(
        self,
        first_token: int = 1000,
        token_step: int = 1,
        page_size: int = 250,
        hang_seconds: float = 3.0,
        endless_limit: int = 200 * 1024 * 1024,
        start_time: datetime = datetime(2025, 5, 14, 15, 13, tzinfo=UTC),
    ) -> None:
        self.page_size = page_size
        self.token_step = token_step  # > 1 leaves holes, like pruning does on the real feed
        self.hang_seconds = hang_seconds
        self.retry_after = "7"  # the Retry-After header of a "503" fault
        # Answer gzip to a client that asks for it, as the real service might (not recorded):
        # the bench measures a first start both ways.
        self.compress = False
        self.endless_limit = endless_limit
        self.requests: list[str] = []
        self.bytes_sent = 0
        self.not_modified = 0  # feed requests answered 304 (conditional, unchanged)
        self._next_token = first_token
        self._clock = start_time
        self._entries: list[_Entry] = []
        # Per category term: its entries and their tokens, both in feed (= token) order.
        self._term_entries: dict[str, list[_Entry]] = {}
        self._term_tokens: dict[str, list[int]] = {}
        self._latest: dict[str, _Entry] = {}
        self._files: dict[str, tuple[bytes, str]] = {}  # guid -> (content, content type)
        self.missing_files: set[str] = set()  # Resources/<guid> answers 500, as reported for files not there yet
        self._faults: list[str] = []
        self._file_faults: list[str] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None

    def start(self) -> TkFeedServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases "hang" handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> TkFeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{PREFIX}"

    def _append(self, term: str, guid: str, state: dict[str, Any], deleted: bool = False) -> int:
        with self._lock:
            token = self._next_token
            self._next_token += self.token_step
            self._clock += timedelta(minutes=1)
            entry = _Entry(token, term, guid, dict(state), self._clock, deleted)
            self._entries.append(entry)
            self._term_entries.setdefault(term, []).append(entry)
            self._term_tokens.setdefault(term, []).append(token)  # tokens only grow: stays sorted
            self._latest[guid] = entry
            return token

    def skip_tokens(self, count: int) -> None:
        """Leave a hole of ``count`` tokens (entries pruned from the feed)."""
        with self._lock:
            self._next_token += count

    @property
    def last_token(self) -> int | None:
        with self._lock:
            return self._entries[-1].token if self._entries else None

    def add_dossier(self, guid: str, nummer: int, titel: str, toevoeging: str | None = None) -> int:
        return self._append("kamerstukdossier", guid, {"nummer": nummer, "titel": titel, "toevoeging": toevoeging})

    def add_zaak(self, guid: str, nummer: str, soort: str, onderwerp: str, dossier_guids: Any = ()) -> int:
        state = dict(nummer=nummer, soort=soort, onderwerp=onderwerp, kamerstukdossier=list(dossier_guids))
        return self._append("zaak", guid, state)

    def add_document(
        self,
        guid: str,
        nummer: str,
        soort: str,
        onderwerp: str,
        titel: str,
        datum: date | str,
        vergaderjaar: str,
        volgnummer: int = -1,
        dossier_guids: Any = (),
        zaak_guids: Any = (),
        bron_document_guid: str | None = None,
        content: bytes = b"%PDF-1.4\n%fake\n",
        content_type: str = "application/pdf",
    ) -> int:
        state: dict[str, Any] = dict(
            soort=soort, documentNummer=nummer, onderwerp=onderwerp, titel=titel, datum=_datum(datum)
        )
        state.update(vergaderjaar=vergaderjaar, volgnummer=volgnummer, kamerstukdossier=list(dossier_guids))
        state.update(zaak=list(zaak_guids), bronDocument=[bron_document_guid] if bron_document_guid else [])
        with self._lock:
            self._files[guid] = (content, content_type)
            return self._append("document", guid, state)

    def update_document(self, guid: str, **changes: Any) -> int:
        """Append a new version carrying the full current state plus ``changes``."""
        with self._lock:
            prev, (content, ctype) = self._latest[guid], self._files[guid]
            self._files[guid] = (changes.pop("content", content), changes.pop("content_type", ctype))
            if "datum" in changes:
                changes["datum"] = _datum(changes["datum"])
            if "bron_document_guid" in changes:
                changes["bronDocument"] = [g for g in [changes.pop("bron_document_guid")] if g]
            state = dict(prev.state)
            for key, value in changes.items():
                name = _STATE_NAMES.get(key, key)
                state[name] = list(value) if name in _REF_NAMES else value
            return self._append(prev.term, guid, state)

    def delete(self, guid: str) -> int:
        with self._lock:
            return self._append(self._latest[guid].term, guid, {}, deleted=True)

    def fail_next(self, count: int, mode: str) -> None:
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}")
        if mode == "gzipbomb":
            _gzip_bomb()  # build it now (~0.5 s), not while a client's read timeout runs
        with self._lock:
            self._faults.extend([mode] * count)

    def fail_files_next(self, count: int, mode: str) -> None:
        """Like ``fail_next``, for the next ``count`` requests of a letter's file (``Resources``) only."""
        if mode not in _SIMPLE_FAULTS:
            raise ValueError(f"unknown file fault mode {mode!r}")
        with self._lock:
            self._file_faults.extend([mode] * count)

    def _feed_href(self, category: str, token: int) -> str:
        return f"{self.base_url}/Feed?skiptoken={token}&category={category}"  # the order the real feed writes

    def _entry_key(self, e: _Entry, base: str) -> tuple[object, ...]:
        """What an entry's XML depends on besides the entry itself."""
        if e.term == "document" and not e.deleted:
            content, ctype = self._files[e.guid]
            return (base, ctype, len(content))
        return (base,)

    def _entry_xml(self, e: _Entry, base: str) -> bytes:
        """The entry as serialized inside a feed (``<entry>...</entry>``), from the cache if current."""
        key, cached = self._entry_key(e, base), e.rendered
        if cached is not None and cached[0] == key:
            return cached[1]
        xml = _render_entry(e, key)
        e.rendered = (key, xml)  # one assignment: handler threads never see a key with another's XML
        return xml

    def entry_xml(self, guid: str) -> bytes | None:
        """The ``Entiteiten/<guid>`` answer: the latest entry as an Atom document, or None."""
        with self._lock:
            entry, base = self._latest.get(guid), self.base_url
        if entry is None:
            return None
        body = self._entry_xml(entry, base)
        return _XML_DECL + _ENTRY_OPEN_NS + body[len(_ENTRY_OPEN) :]

    def feed_xml(self, category: str, skiptoken: int) -> bytes:
        term = category[:1].lower() + category[1:]
        with self._lock:
            entries, tokens = self._term_entries.get(term, []), self._term_tokens.get(term, [])
            start = bisect_right(tokens, skiptoken)
            page = entries[start : start + self.page_size]
            more = len(entries) > start + self.page_size
            updated, base = self._clock, self.base_url
        feed = feed_header(self._feed_href(category, skiptoken), category, updated)
        if more:
            feed.insert(2, _atom_el("link", rel="next", href=self._feed_href(category, page[-1].token)))
        head = etree.tostring(feed, xml_declaration=True, encoding="utf-8")
        assert head.endswith(_FEED_CLOSE)  # the header always has children, so never <feed/>
        return b"".join([head[: -len(_FEED_CLOSE)], *(self._entry_xml(e, base) for e in page), _FEED_CLOSE])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: TkFeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # resets by clients that stopped reading
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    # Answer head and body without waiting for the ACK of the first write (~40 ms on loopback).
    disable_nagle_algorithm = True

    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/atom+xml", **headers: str) -> None:
        if code == 200 and body and self.server.owner.compress and "gzip" in self.headers.get("Accept-Encoding", ""):
            body, headers = gzip.compress(body, compresslevel=6), {**headers, "Content_Encoding": "gzip"}
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", headers.pop("length", str(len(body))))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self._write(body)

    def _write(self, data: bytes) -> bool:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client stopped reading (probes, size limits): expected
            self.close_connection = True
            return False
        with self.server.owner._lock:
            self.server.owner.bytes_sent += len(data)
        return True

    def do_GET(self) -> None:
        tk = self.server.owner
        with tk._lock:
            tk.requests.append(self.path)
            if "/Resources/" in self.path and tk._file_faults:
                fault: str | None = tk._file_faults.pop(0)
            else:
                fault = tk._faults.pop(0) if tk._faults else None
        code, body, ctype = self._route(tk)
        if fault is None and code == 200 and self.path.startswith(f"{PREFIX}/Feed"):
            with tk._lock:
                modified = tk._clock
            if conditional.unchanged(self.headers, body, modified):
                with tk._lock:
                    tk.not_modified += 1
                self._send(304, b"", ctype, **_underscored(conditional.validators(body, modified)))
            else:
                self._send(code, body, ctype, **_underscored(conditional.validators(body, modified)))
        elif fault is None:
            self._send(code, body, ctype)
        elif fault in _SIMPLE_FAULTS:
            code, ctype, body = _SIMPLE_FAULTS[fault]
            self._send(code, body, ctype, **({"Retry_After": tk.retry_after} if fault == "503" else {}))
        elif fault == "truncated":  # a complete response whose XML stops mid-element
            self._send(200, body[: len(body) * 2 // 3], ctype)
        elif fault == "hang":
            tk._stopping.wait(tk.hang_seconds)
            self._send(code, body, ctype)
        elif fault == "drop":  # promise more than is sent, then hang up
            self._send(200, body[: len(body) // 2], ctype, length=str(len(body) + 100_000))
            self.close_connection = True
        elif fault == "gzipbomb":
            self._send(200, _gzip_bomb(), Content_Encoding="gzip")
        elif fault == "endless":
            self._endless()
        elif fault == "drip":  # the real answer, a few bytes at a time: only a total deadline ends it
            self._drip(code, body, ctype)
        elif fault == "foreign":  # next links to another server, carrying a token it chose
            foreign = body.replace(tk.base_url.encode(), ELSEWHERE.encode()).replace(b"skiptoken=", b"skiptoken=9")
            self._send(code, foreign, ctype)

    def _route(self, tk: TkFeedServer) -> tuple[int, bytes, str]:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == f"{PREFIX}/Feed":
            token = int(query.get("skiptoken", "0") or 0)
            return 200, tk.feed_xml(query.get("category", ""), token), "application/atom+xml"
        kind, _, guid = url.path.removeprefix(PREFIX + "/").partition("/")
        if kind == "Entiteiten" and (body := tk.entry_xml(guid)) is not None:
            return 200, body, "application/xml"
        with tk._lock:
            doc = tk._files.get(guid)
        if kind == "Resources" and guid in tk.missing_files:
            return 500, b"<Error><Message>An error has occurred.</Message></Error>", "application/xml"
        if kind == "Resources" and doc is not None:
            return 200, *doc
        return 404, b"<Error><Message>Not found</Message></Error>", "application/xml"

    def _drip(self, code: int, body: bytes, ctype: str) -> None:
        """Headers at once, then the body 8 bytes every 0.25 s, for at most ``hang_seconds * 4``."""
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        tk = self.server.owner
        deadline = time.monotonic() + tk.hang_seconds * 4
        for i in range(0, len(body), 8):
            if time.monotonic() > deadline or tk._stopping.wait(0.25) or not self._write(body[i : i + 8]):
                break
        self.close_connection = True

    def _endless(self) -> None:
        """A chunked feed of comments that stops only at ``endless_limit`` bytes or after 60 s."""
        self.send_response(200)
        self.send_header("Content-Type", "application/atom+xml")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = f'<?xml version="1.0"?><feed xmlns="{ATOM}"><!-- {"x" * 65_000} -->'.encode()
        sent, deadline = 0, time.monotonic() + 60
        while sent < self.server.owner.endless_limit and time.monotonic() < deadline:
            if not self._write(b"%x\r\n%s\r\n" % (len(chunk), chunk)):
                return
            sent, chunk = sent + len(chunk), b"<!-- " + b"x" * 65_000 + b" -->\n"
        self._write(b"0\r\n\r\n")


def _underscored(headers: dict[str, str]) -> dict[str, str]:
    """``_send`` takes header names as keywords, with ``_`` for ``-``."""
    return {name.replace("-", "_"): value for name, value in headers.items()}


def feed_header(self_href: str, category: str, updated: datetime) -> etree._Element:
    """A feed element with the recorded header: title, self link, updated (local, 7 digits),
    author with uri and email, rights, id.  A ``next`` link goes in at index 2."""
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _atom(feed, "title", f"Gegevensmagazijn SyncFeed (category: {category})")
    _atom(feed, "link", rel="self", href=self_href)
    _atom(feed, "updated", seven_digits(updated.astimezone(_AMSTERDAM)))
    author = _atom(feed, "author")
    _atom(author, "name", AUTHOR)
    _atom(author, "uri", "https://opendata.tweedekamer.nl")
    _atom(author, "email", "opendata@tweedekamer.nl")
    _atom(feed, "rights", "Disclaimer: https://opendata.tweedekamer.nl/disclaimer")
    _atom(feed, "id", self_href)
    return feed


def seven_digits(when: datetime) -> str:
    """``2026-09-28T20:38:30.2700284+02:00`` / ``…Z``: the service writes seven fractional digits."""
    stamp = when.replace(tzinfo=None).isoformat(timespec="microseconds") + "0"
    offset = when.utcoffset()
    if offset is None or not offset:
        return stamp + "Z"
    return stamp + when.isoformat()[-6:]


def _atom_el(name: str, **attrib: str) -> etree._Element:
    return etree.Element(f"{{{ATOM}}}{name}", attrib)


def _atom(parent: etree._Element, name: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ATOM}}}{name}", attrib)
    el.text = text
    return el


def _render_entry(e: _Entry, key: tuple[object, ...]) -> bytes:
    """``e`` as lxml serializes the tree the fake describes (utf-8, inside a feed), built as a string.

    ``key`` is :meth:`TkFeedServer._entry_key`: the base URL, then a document's content type and length.
    """
    base, category = str(key[0]), e.term[0].upper() + e.term[1:]
    guid = _attr(e.guid)
    # isoformat is strftime at a fifth of the cost; UTC with seven fractional digits, as recorded.
    updated = e.updated.replace(tzinfo=None).isoformat(timespec="microseconds") + "0"
    bijgewerkt = (e.updated + timedelta(hours=2)).replace(tzinfo=None)  # #37: bijgewerkt is naive local time
    entity = [
        f'<{e.term} xmlns="{TK}" xmlns:tk="{TK}" id="{guid}"',
        f' tk:bijgewerkt="{bijgewerkt.isoformat(timespec="seconds")}.0000000"',
        f' tk:verwijderd="{"true" if e.deleted else "false"}"',
    ]
    if len(key) == 3:  # a document that is not deleted
        entity.append(f' tk:contentType="{_attr(str(key[1]))}" tk:contentLength="{key[2]}"')
    children: list[str] = []
    if not e.deleted:
        for name, value in e.state.items():
            if isinstance(value, list):  # relations: <zaak ref="..."/>
                children.extend(f'<{name} ref="{_attr(str(ref))}"/>' for ref in value)
            elif value is not None:
                children.append(f"<{name}>{_text(str(value))}</{name}>")
    entity.append(f">{''.join(children)}</{e.term}>" if children else "/>")
    parts = [
        f"<entry><title>{_text(e.guid)}</title><id>{_text(f'{base}/Entiteiten/{e.guid}')}</id>",
        f"<author><name>{AUTHOR}</name></author><updated>{updated}Z</updated>",
        f'<category term="{_attr(e.term)}"/>',
        f'<link rel="next" href="{_attr(f"{base}/Feed?skiptoken={e.token}&category={category}")}"/>',
    ]
    if e.term == "document" and not e.deleted:
        parts.append(f'<link rel="enclosure" href="{_attr(f"{base}/Resources/{e.guid}")}"/>')
    parts += ['<content type="application/xml">', *entity, "</content></entry>"]
    return "".join(parts).encode()


def _text(value: str) -> str:
    """Character data escaped as libxml2 writes it."""
    if _SPECIAL.search(value) is None:
        return value
    if _NOT_XML.search(value):
        raise ValueError("All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters")
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _attr(value: str) -> str:
    """An attribute value (in double quotes) escaped as libxml2 writes it."""
    if _SPECIAL.search(value) is None:
        return value
    value = _text(value).replace('"', "&quot;")
    return value.replace("\n", "&#10;").replace("\t", "&#9;")


def _datum(day: date | str) -> str:
    """The service writes a date as local midnight with its offset: 2025-05-13T00:00:00+02:00."""
    if isinstance(day, str):
        return day
    return datetime(day.year, day.month, day.day, tzinfo=_AMSTERDAM).isoformat()


@functools.cache
def _gzip_bomb() -> bytes:
    """~100 KB of gzip that inflates to 101 MB; built once per process."""
    head = f'<?xml version="1.0"?><feed xmlns="{ATOM}">'.encode()
    return gzip.compress(head + b" " * (101 * 1024 * 1024), compresslevel=6)
