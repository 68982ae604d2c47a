"""A local Tweede Kamer SyncFeed for tests and benchmarks, speaking the real Atom format.

``TkFeedServer`` listens on 127.0.0.1 (a free port) in a daemon thread and serves
``/SyncFeed/2.0/Feed``, ``/Entiteiten/<guid>`` and ``/Resources/<guid>`` from an in-memory,
append-only list of entity states with one global, monotone skiptoken.  ``fail_next``
injects the failures the monitor must survive (5xx, 429, HTML, truncated or hostile XML,
hangs, dropped connections, gzip bombs, endless bodies).
"""

from __future__ import annotations

import functools
import gzip
import sys
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from lxml import etree

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
FAULT_MODES = frozenset(_SIMPLE_FAULTS) | {"truncated", "hang", "drop", "gzipbomb", "endless"}


@dataclass
class _Entry:
    token: int
    term: str  # lowerCamel category, e.g. "document"
    guid: str
    state: dict[str, Any]
    updated: datetime
    deleted: bool = False


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
        self.endless_limit = endless_limit
        self.requests: list[str] = []
        self.bytes_sent = 0
        self._next_token = first_token
        self._clock = start_time
        self._entries: list[_Entry] = []
        self._latest: dict[str, _Entry] = {}
        self._files: dict[str, tuple[bytes, str]] = {}  # guid -> (content, content type)
        self._faults: list[str] = []
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

    def _entity(self, e: _Entry) -> etree._Element:
        el = etree.Element(f"{{{TK}}}{e.term}", nsmap={None: TK, "tk": TK})
        el.set("id", e.guid)
        local = (e.updated + timedelta(hours=2)).replace(tzinfo=None)  # #37: bijgewerkt is naive local time
        el.set(f"{{{TK}}}bijgewerkt", local.strftime("%Y-%m-%dT%H:%M:%S.0000000"))
        el.set(f"{{{TK}}}verwijderd", "true" if e.deleted else "false")
        if e.deleted:
            return el
        if e.term == "document":
            content, ctype = self._files[e.guid]
            el.set(f"{{{TK}}}contentType", ctype)
            el.set(f"{{{TK}}}contentLength", str(len(content)))
        for key, value in e.state.items():
            for ref in value if isinstance(value, list) else ():  # relations: <zaak ref="..."/>
                etree.SubElement(el, f"{{{TK}}}{key}", ref=str(ref))
            if value is not None and not isinstance(value, list):
                etree.SubElement(el, f"{{{TK}}}{key}").text = str(value)
        return el

    def _feed_href(self, category: str, token: int) -> str:
        return f"{self.base_url}/Feed?category={category}&skiptoken={token}"

    def _entry(self, e: _Entry) -> etree._Element:
        entry = etree.Element(f"{{{ATOM}}}entry", nsmap={None: ATOM})
        _atom(entry, "title", e.guid)
        _atom(entry, "id", f"{self.base_url}/Entiteiten/{e.guid}")
        _atom(_atom(entry, "author"), "name", AUTHOR)
        _atom(entry, "updated", e.updated.strftime("%Y-%m-%dT%H:%M:%SZ"))
        _atom(entry, "category", term=e.term)
        _atom(entry, "link", rel="next", href=self._feed_href(e.term[0].upper() + e.term[1:], e.token))
        if e.term == "document" and not e.deleted:
            _atom(entry, "link", rel="enclosure", href=f"{self.base_url}/Resources/{e.guid}")
        _atom(entry, "content", type="application/xml").append(self._entity(e))
        return entry

    def feed_xml(self, category: str, skiptoken: int) -> bytes:
        term = category[:1].lower() + category[1:]
        with self._lock:
            after = self._entries[bisect_right([x.token for x in self._entries], skiptoken) :]
            matching = [x for x in after if x.term == term]
            page, more = matching[: self.page_size], len(matching) > self.page_size
        feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
        _atom(feed, "title", f"SyncFeed {category}")
        _atom(feed, "id", self._feed_href(category, skiptoken))
        _atom(feed, "updated", self._clock.strftime("%Y-%m-%dT%H:%M:%SZ"))
        if more:
            _atom(feed, "link", rel="next", href=self._feed_href(category, page[-1].token))
        for e in page:
            feed.append(self._entry(e))
        return etree.tostring(feed, xml_declaration=True, encoding="utf-8")


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
            fault = tk._faults.pop(0) if tk._faults else None
        code, body, ctype = self._route(tk)
        if fault is None:
            self._send(code, body, ctype)
        elif fault in _SIMPLE_FAULTS:
            code, ctype, body = _SIMPLE_FAULTS[fault]
            self._send(code, body, ctype, **({"Retry_After": "7"} if fault == "503" else {}))
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

    def _route(self, tk: TkFeedServer) -> tuple[int, bytes, str]:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == f"{PREFIX}/Feed":
            token = int(query.get("skiptoken", "0") or 0)
            return 200, tk.feed_xml(query.get("category", ""), token), "application/atom+xml"
        kind, _, guid = url.path.removeprefix(PREFIX + "/").partition("/")
        with tk._lock:
            entry, doc = tk._latest.get(guid), tk._files.get(guid)
        if kind == "Entiteiten" and entry is not None:
            return 200, etree.tostring(tk._entry(entry), xml_declaration=True, encoding="utf-8"), "application/xml"
        if kind == "Resources" and doc is not None:
            return 200, *doc
        return 404, b"<Error><Message>Not found</Message></Error>", "application/xml"

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


def _atom(parent: etree._Element, name: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ATOM}}}{name}", attrib)
    el.text = text
    return el


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
