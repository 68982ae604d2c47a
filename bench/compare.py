"""§8 The same job done by a page-diff monitor: fetch the dossier page every poll, compare it.

A local web server serves a dossier page of about 300 KB of HTML (a list of the dossier's
documents, as the Tweede Kamer's dossier pages have) three ways: *plain* (no compression,
no validators), *gzip* (``Content-Encoding: gzip``) and *ETag* (gzip, an ``ETag``, and
``304 Not Modified`` for a matching ``If-None-Match``).  A page-diff monitor fetches one
page per watched dossier per poll, through the same bounded fetcher as the monitor, so
the bytes are counted the same way: bodies as received plus the request and response
heads.  The monitor's own figures are its idle cycles of §1 in the same run (SyncFeed
every poll, SRU every 5th, as their default intervals of 120 s and 600 s have it).
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import KB, MB, Section
from bench.data import make_world
from monitor.config import HttpConfig
from monitor.http import Fetcher, make_client

PAGE_BYTES = 300 * 1024
POLLS_PER_DAY = 24 * 3600 // 120  # a poll every 120 s
SRU_EVERY = 5  # SRU's default interval (600 s) is five SyncFeed polls
IDLE_POLLS = 5


def dossier_page(size: int = PAGE_BYTES) -> bytes:
    """HTML like a dossier page: a header, then one row per document, until ``size`` bytes."""
    world = make_world(1, other=0)
    d = world.watched[0]
    head = (
        f'<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8"><title>Kamerstukdossier {d.ref} — '
        f'{d.titel}</title><link rel="stylesheet" href="/assets/site.css"></head><body><header><nav>'
        + "".join(f'<a href="/menu/{i}">Menu-item {i}</a>' for i in range(40))
        + f'</nav></header><main><h1>{d.titel}</h1><table class="documenten">'
    )
    rows: list[str] = []
    day, n = date(2025, 6, 27), 0
    while len(head) + sum(map(len, rows)) < size - 200:
        kind = ("Brief regering", "Motie", "Amendement", "Verslag", "Nota")[n % 5]
        rows.append(
            f'<tr class="document"><td class="datum">{day - timedelta(days=3 * n):%d-%m-%Y}</td>'
            f'<td class="soort">{kind}</td><td class="titel"><a href="/kamerstukken/detail?id=2025D{20000 + n}'
            f'&amp;did=2025D{20000 + n}">{world.title(kind)}</a></td><td class="nummer">Kamerstuk {d.ref}-{n + 1}'
            "</td></tr>\n"
        )
        n += 1
    return (
        head + "".join(rows) + "</table></main><footer>Tweede Kamer der Staten-Generaal</footer></body></html>"
    ).encode()


class _Page(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        plain, packed, tag = self.server.page
        variant = self.path.strip("/").split("/")[0]
        headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache"}
        body = plain
        if variant in ("gzip", "etag") and "gzip" in self.headers.get("Accept-Encoding", ""):
            body, headers["Content-Encoding"] = packed, "gzip"
        status = 200
        if variant == "etag":
            headers["ETag"] = tag
            if self.headers.get("If-None-Match") == tag:
                status, body = 304, b""
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def page_server() -> Iterator[str]:
    plain = dossier_page()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    httpd.daemon_threads = True
    httpd.page = (plain, gzip.compress(plain, 6), '"' + hashlib.sha256(plain).hexdigest()[:32] + '"')  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def page_diff(base: str, variant: str) -> tuple[float, float]:
    """(requests, bytes) of one idle poll of one dossier page, the mean of IDLE_POLLS after the first."""
    settings = HttpConfig(pause_seconds=0)
    fetcher = Fetcher(make_client(settings), settings)
    url = f"{base}/{variant}/kamerstukdossier"
    try:
        fetcher.remember(fetcher.get("page", url, expect_xml=False, conditional=True))  # the first poll: the whole page
        before = fetcher.stats.bytes_wire + fetcher.stats.bytes_head, fetcher.stats.requests
        for _ in range(IDLE_POLLS):
            fetcher.remember(fetcher.get("page", url, expect_xml=False, conditional=True))
        spent = fetcher.stats.bytes_wire + fetcher.stats.bytes_head - before[0]
        return (fetcher.stats.requests - before[1]) / IDLE_POLLS, spent / IDLE_POLLS
    finally:
        fetcher.client.close()


def run(workdir: Path, *, smoke: bool, artifacts: dict[str, Any]) -> Section:
    sec = Section("8", "Comparison: a page-diff monitor")
    sizes = (30,) if smoke else (1, 100)  # §1's sizes
    idle_runs: dict[int, dict[str, float]] = artifacts.get("idle_means") or {}
    if not all(n in idle_runs for n in sizes):
        from bench import idle

        idle.run(workdir, smoke=smoke, artifacts=artifacts, sizes=list(sizes))
        idle_runs = artifacts["idle_means"]
    with page_server() as base:
        pages = {v: page_diff(base, v) for v in ("plain", "gzip", "etag")}
    size = len(dossier_page())
    rows: list[list[str]] = []
    ours: dict[int, float] = {}
    for n in sizes:
        m = idle_runs[n]
        # Per SyncFeed poll: its own cost, plus a fifth of an SRU poll (SRU polls every 600 s).
        req = m["tk_requests"] + m["sru_requests"] / SRU_EVERY
        byt = m["tk_bytes"] + m["sru_bytes"] / SRU_EVERY
        ours[n] = byt
        rows.append([f"kamermonitor, {n} dossier{'s' if n > 1 else ''}", f"{req:.2f}", f"{byt / KB:.2f}",
                     f"{req * POLLS_PER_DAY:,.0f}", f"{byt * POLLS_PER_DAY / MB:.2f}"])  # fmt: skip
        for variant, (preq, pbytes) in pages.items():
            rows.append([f"page diff ({variant}), {n} dossier{'s' if n > 1 else ''}", f"{preq * n:.0f}",
                         f"{pbytes * n / KB:,.2f}", f"{preq * n * POLLS_PER_DAY:,.0f}",
                         f"{pbytes * n * POLLS_PER_DAY / MB:,.2f}"])  # fmt: skip
    sec.tables.append((["monitor", "requests per idle poll", "KB per idle poll", "requests per day", "MB per day"],
                       rows))  # fmt: skip
    for n in sizes:
        for variant, (_, pbytes) in pages.items():
            sec.add(f"{n} dossier{'s' if n > 1 else ''}: page diff ({variant}) ÷ kamermonitor, bytes per idle poll",
                    pbytes * n / ours[n], "×", digits=1)  # fmt: skip
    sec.notes += [
        f"The page: {size / KB:,.0f} KB of HTML ({len(gzip.compress(dossier_page(), 6)) / KB:,.0f} KB gzipped), served "
        "locally in three variants; a page-diff monitor asks for each watched dossier's page once per poll, "
        f"conditionally in the ETag variant (after the first poll every answer is a 304). Mean of {IDLE_POLLS} "
        "idle polls after the first.",
        "kamermonitor: the mean idle cycle of §1 with the SRU background (*busy*), in the same run: its SyncFeed "
        f"poll every cycle and one SRU poll every {SRU_EVERY} cycles (so a fifth of §1's SRU figure per cycle). "
        f"Per day: {POLLS_PER_DAY} polls at a 120 s interval.",
        "Bytes everywhere: bodies as received (compressed where the server compressed) plus request line, status "
        "line and headers of both directions, counted by the same `Fetcher`.",
    ]
    return sec
