"""§7 The HTTP surface (``[web]``): what serving it costs the monitor, and how fast it answers a large store.

1. Idle cycles with ``[web]`` off and on: two child processes like §4's (one watch, both
   sources), the second also serving the HTTP surface in its own threads, as ``run``
   does (scraped a few times before the measured cycles, so its lazily imported modules
   are in memory).  CPU and wall time per idle cycle, SyncFeed requests per cycle, resident
   memory and open file descriptors afterwards.
2. Detection-to-delivery latency with ``[web]`` off and on: §3's measurement (the real
   ``kamermonitor run``) twice, the second time serving ``[web]`` and scraped once a
   second (``/metrics`` and ``/``) while letters arrive.
3. Response times at 100,000 letters: §6's replicated store (or one built the same way
   when this section runs alone) served in this process with the 1,000-watch configuration
   of §2; each URL is fetched over HTTP with keep-alive, after warming up.
"""

from __future__ import annotations

import shutil
import socket
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from bench import catchup, latency
from bench import store as store_section
from bench.common import Child, Section, sources, sqlite_url
from bench.data import make_world, publish_backlog, publish_dossiers, publish_sru_background, watches_for
from monitor.config import load
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer

TARGET_MS = 50.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(workdir: Path, *, smoke: bool, artifacts: dict[str, Any]) -> Section:
    sec = Section("7", "HTTP surface ([web])")
    _idle(sec, workdir, smoke)
    _latency(sec, workdir, smoke)
    _response_times(sec, workdir, smoke, artifacts)
    return sec


def _idle_child(workdir: Path, mode: str, cycles: int, tk: TkFeedServer, sru: SruServer, world: Any) -> dict[str, Any]:
    child = Child(stderr=workdir / f"web-idle-{mode}.log")
    extra = sources(tk.base_url, sru.base_url)
    if mode == "on":
        extra["web"] = {"listen": f"127.0.0.1:{_free_port()}"}
    try:
        child.call("open", database=sqlite_url(workdir / f"web-idle-{mode}.db"), watches=watches_for(world),
                   extra=extra)  # fmt: skip
        child.call("cycle", n=1)  # first start
        child.call("backfill")
        if mode == "on":
            address = child.call("web")["address"]
            with httpx.Client(timeout=10) as client:
                for _ in range(3):
                    for path in ("/metrics", "/", "/healthz", "/readyz"):
                        client.get(f"http://{address}{path}")
        child.call("cycle", n=10, sru_every=5)  # settle
        r = child.call("cycle", n=cycles, sru_every=5)
    finally:
        child.close()
    return r


def _idle(sec: Section, workdir: Path, smoke: bool) -> None:
    cycles = 30 if smoke else 300
    world = make_world(1, other=60)
    today = date.today()
    results: dict[str, dict[str, Any]] = {}
    with TkFeedServer(first_token=30_000_000) as tk, SruServer() as sru:
        publish_dossiers(tk, world)
        publish_backlog(tk, world, 300, today=today)
        publish_sru_background(sru, world, today=today, per_day=20, days=7)
        for mode in ("off", "on"):
            results[mode] = _idle_child(workdir, mode, cycles, tk, sru, world)
    rows = []
    for mode, r in results.items():
        label = f"[web] {mode}"
        sec.add(f"{label}: CPU time per idle cycle (mean of {cycles})", r["cpu"] / cycles * 1000, "ms", digits=2,
                note=f"wall {r['wall'] / cycles * 1000:.2f} ms")  # fmt: skip
        sec.add(f"{label}: SyncFeed requests per idle cycle", r["syncfeed"][0] / cycles, "", digits=2)
        sec.add(f"{label}: resident memory after the cycles", r["rss_mb"], "MB", digits=1)
        sec.add(f"{label}: open file descriptors after the cycles", r["fds"], "")
        rows.append([mode, f"{r['cpu'] / cycles * 1000:.2f}", f"{r['wall'] / cycles * 1000:.2f}",
                     f"{r['syncfeed'][0] / cycles:.2f}", f"{r['rss_mb']:.1f}", str(r["fds"])])  # fmt: skip
    sec.tables.append((["[web]", "CPU ms / cycle", "wall ms / cycle", "SyncFeed req / cycle", "RSS MB", "fds"], rows))


def _latency(sec: Section, workdir: Path, smoke: bool) -> None:
    letters = 5 if smoke else 100
    for mode in ("off", "on"):
        measured = latency.run(
            workdir, smoke=smoke, letters=letters, web_port=_free_port() if mode == "on" else None,
            name=f"web-latency-{mode}",
        )  # fmt: skip
        for fig in measured.figures:
            if fig.name.endswith(("p99", "median")) or fig.name.startswith("Scrapes"):
                sec.add(f"[web] {mode}: latency, {fig.name}", fig.value, fig.unit, digits=fig.digits, note=fig.note)


def _response_times(sec: Section, workdir: Path, smoke: bool, artifacts: dict[str, Any]) -> None:
    target = 5_000 if smoke else 100_000
    if "store_db" not in artifacts:  # this section alone: build §6's store the same way
        if "catchup_db" not in artifacts:
            catchup.run(workdir, smoke=smoke, artifacts=artifacts)
        db = workdir / "web-store.db"
        shutil.copy(artifacts["catchup_db"], db)
        store_section.replicate(db, target)
        artifacts["store_db"] = str(db)
    db = Path(artifacts["store_db"])
    cfg = workdir / "web-store.toml"
    store_section._toml(cfg, artifacts["catchup_watches"])
    cfg.write_text(f'[web]\nlisten = "127.0.0.1:{_free_port()}"\n\n' + cfg.read_text(encoding="utf-8"))
    settings = load(cfg, database=sqlite_url(db))
    busiest = artifacts.get("busiest_watch") or store_section._busiest_watch(artifacts["catchup_db"])
    from monitor.web.server import open_surface

    server = open_surface(settings, alive=lambda: True)
    server.start()
    runs = 5 if smoke else 21
    try:
        with httpx.Client(timeout=30, base_url=f"http://{server.address}") as client:
            letters = _letters(client)
            feed = client.get(f"/feeds/{busiest}.atom")
            urls = {
                "/metrics": {}, "/": {}, f"/watch/{busiest}": {}, f"/feeds/{busiest}.atom": {},
                f"/feeds/{busiest}.atom (conditional, 304)": {"If-None-Match": feed.headers["etag"]},
            }  # fmt: skip
            for label, headers in urls.items():
                path = label.split(" ")[0]
                times, size, status = _timed_gets(client, path, headers, runs)
                median = statistics.median(times) * 1000
                spread = f"min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f} ms"
                note = f"HTTP {status}, {size / 1024:.1f} KB; {spread}"
                name = f"`GET {label}` at {letters:,} letters, median of {runs}"
                if path in ("/metrics", "/"):
                    why = (
                        f"each request reads the store ({letters:,} letters: every watch's count, the newest "
                        f"letters) and renders the whole answer anew ({size / 1024:.0f} KB), on a waitress thread "
                        "of the bench process, whose client shares Python's interpreter lock with it"
                    )
                    sec.check(name, median, "ms", TARGET_MS, digits=1, note=note, why=why)
                else:
                    sec.add(name, median, "ms", digits=1, note=note)
    finally:
        server.stop()
    sec.notes += [
        f"Idle cycles: as §4 (one watch, SyncFeed and SRU, SRU every 5th cycle), {30 if smoke else 300} cycles "
        "after 10 settling ones, in two child processes one after the other; *on* serves `[web]` from the start of "
        "the measured cycles, idle (nothing scrapes it during them).",
        "Latency: §3's measurement with "
        f"{5 if smoke else 100} letters each time (fewer than §3's, to keep two runs within the budget).",
        f"Response times: the store of §6 ({letters:,} letters), the {len(settings.watches):,} watches of §2; the "
        f"server runs in the bench process (waitress, 4 threads, read-only engine); each URL is fetched twice to "
        f"warm up, then {runs} times with one keep-alive connection. The watch and feed are of `{busiest}`, the "
        "watch with the most letters. `/` shows the first 20 watches with their newest 5 letters and one line for "
        "each other watch.",
    ]


def _letters(client: httpx.Client) -> int:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("kamermonitor_letters_recorded "):
            return int(float(line.split()[1]))
    return 0


def _timed_gets(client: httpx.Client, path: str, headers: dict[str, str], runs: int) -> tuple[list[float], int, int]:
    for _ in range(2):
        client.get(path, headers=headers)
    times: list[float] = []
    size = status = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        resp = client.get(path, headers=headers)
        times.append(time.perf_counter() - t0)
        size, status = len(resp.content), resp.status_code
    return times, size, status
