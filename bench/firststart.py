"""§5 First start: finding the end of a feed whose skiptokens span 30 million positions.

The local SyncFeed holds about 7,500 dossiers (the Kamerstukdossier category is "about
30 pages"), Zaken and Documents, with tokens spread from 1,000 to over 30,000,000 by
pruned holes.  Measured twice: ``SyncFeedClient.find_feed_end("Document")`` alone, with a
fresh :class:`~monitor.http.Fetcher`; and a first ``run_cycle`` on an empty database,
which is what ``kamermonitor poll --once`` runs (both sources; SRU holds the watched
dossier's history, which the first poll backfills).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.common import MB, FetchTap, Section, sources, sqlite_url
from bench.data import World, make_world, publish_backlog
from monitor.http import Fetcher, HttpSettings, make_client
from monitor.sources.syncfeed.client import SyncFeedClient
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import Harness, settings_for

SPAN = 30_000_000


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
        http = HttpSettings(pause_seconds=0, read_timeout=5, connect_timeout=2)
        fetcher = Fetcher(make_client(http), http)
        n0, b0 = len(tk.requests), tk.bytes_sent
        end = SyncFeedClient(fetcher, tk.base_url).find_feed_end("Document")
        fetcher.client.close()
        fe: dict[str, Any] = {
            "requests": len(tk.requests) - n0, "server_bytes": tk.bytes_sent - b0,
            "client_requests": fetcher.stats.requests, "wire": fetcher.stats.bytes_wire,
            "body": fetcher.stats.bytes_body,
        }  # fmt: skip
        # 2. a real first cycle
        h = Harness(
            settings_for(sqlite_url(workdir / "first.db"), watches=[{"dossiers": [watched.ref]}],
                         extra=sources(tk.base_url, sru.base_url)),
        )  # fmt: skip
        tap = FetchTap(h.ctx.fetcher)
        n0, b0, s0, sb0 = len(tk.requests), tk.bytes_sent, len(sru.requests), sru.bytes_sent
        h.cycle()
        paths = tk.requests[n0:]
        cyc: dict[str, Any] = {"requests": len(paths), "server_bytes": tk.bytes_sent - b0, "by": _by_category(paths),
               "sru_requests": len(sru.requests) - s0, "sru_bytes": sru.bytes_sent - sb0}  # fmt: skip
        client = tap.snapshot()
        with h.ctx.engine.connect() as conn:
            from monitor.store import ops

            cursor = ops.get_cursor(conn, "syncfeed:Document")
        h.close()
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
    by = ", ".join(f"{k} {v}" for k, v in sorted(cyc["by"].items()))
    sec.check("First `poll --once` cycle: SyncFeed requests (server)", cyc["requests"], "", 60, note=by)
    sec.check("First `poll --once` cycle: SyncFeed bytes received (client)",
              client.get("syncfeed", (0, 0, 0))[1] / MB, "MB", 20, digits=2,
              note=f"server wrote {cyc['server_bytes'] / MB:.2f} MB")  # fmt: skip
    sec.add("First `poll --once` cycle: SRU requests", cyc["sru_requests"], "",
            note=f"{cyc['sru_bytes'] / MB:.2f} MB; backfill of the watched dossier ({n_sru:,} publications) + "
            "the window query")  # fmt: skip
    sec.notes += [
        f"Feed: {n_dossiers:,} Kamerstukdossier entries, then {n_docs:,} Documents with their Zaken, with pruned "
        f"holes (`skip_tokens`) so that the tokens span {last:,} positions. The watched dossier is among them.",
        "`find_feed_end` runs with a fresh `Fetcher` (no pause). The cycle is `run_cycle` on an empty SQLite "
        "database with one watch: it mirrors the Kamerstukdossier feed from token 0 (up to `max_pages_per_poll` = "
        "20 pages), searches the end of the Zaak and of the Document feed, and reads one page of each; "
        f"the Document cursor is then {cursor}.",
    ]
    return sec
