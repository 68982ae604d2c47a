"""§5 First start: finding the end of a feed whose skiptokens span 30 million positions.

The local SyncFeed holds about 7,500 dossiers (the Kamerstukdossier category is "about
30 pages"), Zaken and Documents, with tokens spread from 1,000 to over 30,000,000 by
pruned holes.  Measured twice: ``SyncFeedClient.find_feed_end("Document")`` alone, with a
fresh :class:`~monitor.http.Fetcher`; and the whole first start on an empty database:
``run_cycle`` (what ``kamermonitor poll --once`` runs, both sources; SRU holds the watched
dossier's history, which the first poll backfills) repeated at the shipped settings until
the monitor is primed, every cycle of it counted; then once more on a new database with
both local servers answering gzip (as the real ones might: not recorded).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import MB, FetchTap, Section, sources, sqlite_url
from bench.data import World, make_world, publish_backlog
from monitor.config import HttpConfig
from monitor.http import Fetcher, make_client
from monitor.sources.syncfeed.client import SyncFeedClient
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import Harness, settings_for

SPAN = 30_000_000
SHIPPED_PAUSE = 0.5  # [http] pause_seconds as shipped
MAX_CYCLES = 12


def _fill(tk: TkFeedServer, world: World, *, dossiers: int, documents: int, today: date) -> None:
    """Dossiers first, then documents with their zaken, holes in between up to ``SPAN``."""
    known = world.watched + world.other
    for i in range(dossiers):
        if i < len(known):
            d = known[i]
            tk.add_dossier(d.guid, d.nummer, d.titel, d.toevoeging)
        else:
            tk.add_dossier(world.guid(), 10_000 + i, world.title("Brief regering")[:60])
        tk.skip_tokens(SPAN // 3 // dossiers)
    steps = max(1, documents // 250)
    for _ in range(steps):
        tk.skip_tokens((SPAN * 2 // 3) // steps)
        publish_backlog(tk, world, documents // steps, today=today)


def _by_category(paths: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in paths:
        key = p.split("category=")[1].split("&")[0] if "category=" in p else p.split("/")[3]
        out[key] = out.get(key, 0) + 1
    return out


def _prime(h: Harness, tk: TkFeedServer, sru: SruServer) -> list[dict[str, Any]]:
    """Cycles until one is steady with every cursor set: the first start, however many cycles it takes."""
    from monitor.store import ops

    out: list[dict[str, Any]] = []
    for _ in range(MAX_CYCLES):
        n0, b0, s0, sb0 = len(tk.requests), tk.bytes_sent, len(sru.requests), sru.bytes_sent
        t0 = time.perf_counter()
        h.cycle()
        wall = time.perf_counter() - t0
        paths = tk.requests[n0:]
        with h.ctx.engine.connect() as conn:
            cursors = ops.all_cursors(conn)
        primed = all(f"syncfeed:{c}" in cursors for c in ("Document", "Zaak", "Kamerstukdossier")) and any(
            k.startswith("sru:backfill:") for k in cursors
        )
        steady = len(paths) == 1 and "category=Document" in paths[0] and len(sru.requests) - s0 == 1
        if primed and steady and out:
            return out
        out.append({
            "requests": len(paths), "server_bytes": tk.bytes_sent - b0, "by": _by_category(paths),
            "sru_requests": len(sru.requests) - s0, "sru_bytes": sru.bytes_sent - sb0, "wall": wall,
        })  # fmt: skip
    raise RuntimeError(f"the first start was not done after {MAX_CYCLES} cycles")


def _first_start(
    db: Path, tk: TkFeedServer, sru: SruServer, dossier: str, pause: float
) -> tuple[list[dict[str, Any]], dict[str, tuple[int, ...]], str | None]:
    """The cycles of a first start on a new database, the client's counts per source, and the Document cursor."""
    from monitor.store import ops

    h = Harness(
        settings_for(sqlite_url(db), watches=[{"dossiers": [dossier]}],
                     extra={**sources(tk.base_url, sru.base_url), "http": {"pause_seconds": pause}}),
    )  # fmt: skip
    try:
        tap = FetchTap(h.ctx.fetcher)
        cycles = _prime(h, tk, sru)
        with h.ctx.engine.connect() as conn:
            cursor = ops.get_cursor(conn, "syncfeed:Document")
        return cycles, tap.snapshot(), cursor
    finally:
        h.close()


def run(workdir: Path, *, smoke: bool) -> Section:
    sec = Section("5", "First start")
    today = date.today()
    n_dossiers, n_docs, n_sru = (300, 500, 120) if smoke else (7500, 5000, 1500)
    world = make_world(1, other=50)
    watched = world.watched[0]
    with TkFeedServer(first_token=1000) as tk, SruServer() as sru:
        _fill(tk, world, dossiers=n_dossiers, documents=n_docs, today=today)
        last = tk.last_token or 0
        last_doc = max(e.token for e in tk._entries if e.term == "document")
        for i in range(n_sru):  # the watched dossier's publications, for the first SRU backfill
            sru.add_record(
                f"kst-{watched.ref}-{i + 1}", dossier=watched.ref, document_title=world.title("Brief regering"),
                dossier_title=watched.titel, date=today - timedelta(days=3 * i + 30),
            )  # fmt: skip
        # 1. find_feed_end alone
        http = HttpConfig(pause_seconds=0, read_timeout=5, connect_timeout=2)
        fetcher = Fetcher(make_client(http), http)
        n0, b0 = len(tk.requests), tk.bytes_sent
        end = SyncFeedClient(fetcher, tk.base_url).find_feed_end("Document")
        fetcher.client.close()
        fe: dict[str, Any] = {
            "requests": len(tk.requests) - n0, "server_bytes": tk.bytes_sent - b0,
            "client_requests": fetcher.stats.requests, "wire": fetcher.stats.bytes_wire,
            "body": fetcher.stats.bytes_body,
        }  # fmt: skip
        # 2. the first start as a user runs it: cycles until the monitor is primed, at the shipped pause;
        # then again on a new database with both servers answering gzip, as the real ones might
        pause = 0.0 if smoke else SHIPPED_PAUSE  # the smoke run in CI: the same requests, without the waits
        cycles, client, cursor = _first_start(workdir / "first.db", tk, sru, watched.ref, pause)
        tk.compress = sru.compress = True
        gz_cycles, gz_client, _ = _first_start(workdir / "first-gzip.db", tk, sru, watched.ref, pause)
    sec.add("Feed: skiptoken span", last, "", note=f"tokens 1,000 … {last:,}")
    sec.add(
        '`find_feed_end("Document")`: found skiptoken',
        end,
        "",
        note="= the last Document's token" if end == last_doc else f"the last Document's token is {last_doc:,}",
    )
    sec.check("`find_feed_end`: requests (server)", fe["requests"], "", 60)
    sec.check("`find_feed_end`: bytes received (client)", fe["wire"] / MB, "MB", 20, digits=3,
              note=f"server wrote {fe['server_bytes'] / MB:.2f} MB (it writes whole pages; the client stops "
              "reading at the first `<entry`)")  # fmt: skip
    first = cycles[0]
    by = ", ".join(f"{k} {v}" for k, v in sorted(first["by"].items()))
    sec.add("First cycle: SyncFeed requests (server)", first["requests"], "", note=by)
    sec.add("First cycle: SRU requests (server)", first["sru_requests"], "",
            note=f"{first['sru_bytes'] / MB:.2f} MB; backfill of the watched dossier ({n_sru:,} publications) + "
            "the window query")  # fmt: skip
    total_req = sum(c["requests"] + c["sru_requests"] for c in cycles)
    sf, sr = client.get("syncfeed", (0,) * 5), client.get("sru", (0,) * 5)
    total_bytes = sf[1] + sf[3] + sr[1] + sr[3]
    per_cycle = "; ".join(
        f"{i}: {c['requests']} + {c['sru_requests']} ({', '.join(f'{k} {v}' for k, v in sorted(c['by'].items()))})"
        for i, c in enumerate(cycles, start=1)
    )
    sec.check(
        "Whole first start until primed: requests (SyncFeed + SRU)",
        total_req,
        "",
        100,
        note=f"{len(cycles)} cycle(s) before the first steady one; SyncFeed + SRU per cycle: {per_cycle}",
    )
    gz_sf, gz_sr = gz_client.get("syncfeed", (0,) * 5), gz_client.get("sru", (0,) * 5)
    gz_bytes = gz_sf[1] + gz_sf[3] + gz_sr[1] + gz_sr[3]
    why = (
        f"two things are read whole, once: the Kamerstukdossier feed ({n_dossiers:,} dossiers: Documents name their "
        "dossier by GUID only, so every GUID's number must be known) and the watched dossier's history in SRU "
        f"({n_sru:,} publications, recorded silently so that they are known and listed, not alerted), uncompressed "
        f"from the local servers; answered with gzip the same start takes {gz_bytes / MB:.2f} MB (next row), and "
        "whether the real services compress is not recorded"
    )
    sec.check("Whole first start until primed: bytes received, heads included (client)", total_bytes / MB, "MB", 10,
              digits=2, why=why,
              note=f"SyncFeed {(sf[1] + sf[3]) / MB:.2f} MB (the whole Kamerstukdossier mirror and two end searches), "
              f"SRU {(sr[1] + sr[3]) / MB:.2f} MB (the silent backfill of the watched dossier's "
              f"{n_sru:,} publications, the XML the monitor needs to know them); bodies as sent, plus request and "
              "response heads, uncompressed (the monitor asks for gzip; whether the real services give it is not "
              "recorded: the next row is the same start with both answering gzip)")  # fmt: skip
    gz_req = sum(c["requests"] + c["sru_requests"] for c in gz_cycles)
    gz_tk, gz_ob = (gz_sf[1] + gz_sf[3]) / MB, (gz_sr[1] + gz_sr[3]) / MB
    sec.add("Whole first start until primed, the services answering gzip: bytes received, heads included (client)",
            gz_bytes / MB, "MB", digits=2,
            note=f"{gz_req} requests; SyncFeed {gz_tk:.2f} MB, SRU {gz_ob:.2f} MB ({(gz_sf[2] + gz_sr[2]) / MB:.2f} MB "
            "after decompression: the end searches stop at the first entry of what they have inflated, which is "
            "more of each page than they read uncompressed). The target is checked on the row above")  # fmt: skip
    sec.add(
        "Whole first start until primed: wall time at the shipped pause",
        sum(c["wall"] for c in cycles),
        "s",
        digits=1,
        note=f"`pause_seconds` = {SHIPPED_PAUSE} between two requests to the same host",
    )
    sec.notes += [
        f"Feed: {n_dossiers:,} Kamerstukdossier entries, then {n_docs:,} Documents with their Zaken, with pruned "
        f"holes (`skip_tokens`) so that the tokens span {last:,} positions. The watched dossier is among them.",
        "`find_feed_end` runs with a fresh `Fetcher` (no pause). The first start is `run_cycle` on an empty SQLite "
        "database with one watch, at the shipped settings (`pause_seconds` = 0.5, `max_pages_per_poll` = 20), "
        "repeated until a cycle is steady (it reads only the Document feed's caught-up page and SRU's window "
        "query) with every feed's cursor set and the watched dossier backfilled: mirroring the Kamerstukdossier "
        "feed from token 0, the end searches of the Zaak and Document feeds, the SRU backfill. Those cycles are "
        f"counted, the steady one is not. The Document cursor is then {cursor}.",
    ]
    return sec
