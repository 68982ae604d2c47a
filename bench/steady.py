"""§4 Steady state: resident memory and open file descriptors over many idle cycles.

A child process runs the monitor with one watch against both local sources and runs
idle cycles back to back (``run_cycle``, no sleeping).  Its RSS (psutil) and open file
descriptors are read after the 10th and the 1,000th idle cycle, and in between.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bench.common import Child, Section, sources, sqlite_url
from bench.data import make_world, publish_backlog, publish_dossiers, publish_sru_background, watches_for
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer

NOISE_MB = 5.0


def run(workdir: Path, *, smoke: bool) -> Section:
    sec = Section("4", "Steady state")
    checkpoints = (10, 30) if smoke else (10, 100, 250, 500, 1000)
    today = date.today()
    world = make_world(1, other=60)
    points: list[tuple[int, float, int]] = []
    with TkFeedServer(first_token=30_000_000) as tk, SruServer() as sru:
        publish_dossiers(tk, world)
        publish_backlog(tk, world, 300, today=today)
        publish_sru_background(sru, world, today=today, per_day=20, days=7)
        child = Child(stderr=workdir / "steady.log")
        try:
            start = child.call(
                "open", database=sqlite_url(workdir / "steady.db"), watches=watches_for(world),
                extra=sources(tk.base_url, sru.base_url),
            )  # fmt: skip
            child.call("cycle", n=1)  # first start
            child.call("backfill")
            done, cpu, wall = 0, 0.0, 0.0
            for point in checkpoints:
                r = child.call("cycle", n=point - done, sru_every=5)
                done, cpu, wall = point, cpu + r["cpu"], wall + r["wall"]
                points.append((point, r["rss_mb"], r["fds"]))
            tk_requests = len(tk.requests)
        finally:
            child.close()
    first, last = points[0], points[-1]
    sec.check(f"Resident memory after {first[0]:,} idle cycles", first[1], "MB", 100, digits=1)
    sec.check(f"Resident memory after {last[0]:,} idle cycles", last[1], "MB", 100, digits=1)
    sec.check(
        f"Resident memory growth, cycle {first[0]:,} → {last[0]:,}", last[1] - first[1], "MB", NOISE_MB, digits=1,
        note=f"after opening the store: {start['rss_mb']:.1f} MB",
    )  # fmt: skip
    sec.add(f"Open file descriptors after {first[0]:,} idle cycles", first[2], "")
    sec.check(f"Open file descriptors after {last[0]:,} idle cycles", last[2], "", first[2] + 0.5,
              target=f"≤ {first[2]} (no growth)")  # fmt: skip
    sec.add("CPU time per idle cycle (mean)", cpu / done * 1000, "ms", digits=1,
            note=f"wall {wall / done * 1000:.1f} ms; {tk_requests:,} SyncFeed requests in all")  # fmt: skip
    sec.tables.append((["idle cycles", "RSS MB", "open fds"], [[f"{n:,}", f"{m:.1f}", str(f)] for n, m, f in points]))
    sec.notes += [
        "One watch (one dossier), SyncFeed and SRU on (SRU with 20 publications a day of other dossiers), console "
        "channel; the child first runs the first-start cycle and the SRU backfill, then idle cycles back to back "
        "(`run_cycle`: prepare watches, poll, announce, deliver). SRU is polled in every 5th cycle, as its default "
        "interval (600 s) is five times the SyncFeed's (120 s). "
        "RSS is psutil's `memory_info().rss` of the child (which runs only the monitor; the servers are in the "
        "parent), read without forcing a garbage collection.",
        f"*No growth beyond noise* is taken as less than {NOISE_MB:.0f} MB of RSS and no extra file descriptor "
        "between the first and the last reading.",
    ]
    return sec
