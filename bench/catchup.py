"""§2 Catch-up throughput: a backlog of Document entries drained by one SyncFeed poll.

The local SyncFeed (page size 250) holds the watched and other dossiers.  A child
process starts the monitor with 1,000 watches and runs one cycle (first start: dossiers
mirrored, watches baselined, cursors at the feed's end).  Then the backlog is appended
to the feed and the child runs one ``poll_source(ctx, "syncfeed")`` — the function the
service's poll job calls — with ``max_pages_per_poll`` raised so that one poll drains it
and ``related_every = 1`` so the poll reads the new Zaken before the Documents that
name them (as every 5th poll does).  SRU is disabled.  CPU time and memory are the
child's own; the server runs here.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import MB, Child, Section, sources, sqlite_url
from bench.data import make_world, publish_backlog, publish_dossiers, watches_for
from monitor.sources.syncfeed import poll as tkpoll
from tests.fakes.tk_server import TkFeedServer


def drain(
    workdir: Path,
    name: str,
    *,
    documents: int,
    watches: int,
    related_every: int = 1,
    pause: float | None = None,
    **poll: Any,
) -> dict[str, Any]:
    """With ``pause``: the settings as shipped (20 pages a poll, related feeds every 5th poll) at that pause,
    and polls one after another while the last stopped at its page limit, as the service does."""
    shipped = pause is not None
    world = make_world(watches, other=500)
    with TkFeedServer(first_token=20_000_000, page_size=250) as tk:
        publish_dossiers(tk, world)
        child = Child(stderr=workdir / f"{name}.log")
        db = workdir / f"{name}.db"
        if shipped:
            extra = {**sources(tk.base_url, None), "http": {"pause_seconds": pause}}
        else:
            extra = sources(tk.base_url, None, {"max_pages_per_poll": 100_000, "related_every": related_every})
        try:
            child.call("open", database=sqlite_url(db), watches=watches_for(world), extra=extra)
            child.call("cycle", n=1)
            size_before = _db_size(db)
            t0, before_backlog = time.perf_counter(), tk.last_token or 0
            stats = publish_backlog(tk, world, documents, today=date.today())
            publish_s = time.perf_counter() - t0
            # The server renders an entry once and then serves it from its cache: time the
            # first render of the backlog's first page (which the poll then gets from the cache).
            t0 = time.perf_counter()
            tk.feed_xml("Document", before_backlog)
            render_s = time.perf_counter() - t0
            n_req, n_bytes = len(tk.requests), tk.bytes_sent
            result = child.call("drain" if shipped else "poll", source="syncfeed", **poll)
            result.update(
                server_requests=len(tk.requests) - n_req,
                server_bytes=tk.bytes_sent - n_bytes,
                lookups=sum("/Entiteiten/" in p for p in tk.requests[n_req:]),
                publish_s=publish_s,
                render_s=render_s,
                stats=stats,
                counts=child.call("count"),
                db=str(db),
                size_before=size_before,
                watches=watches_for(world),
            )
        finally:
            child.close()
    result["size_after"] = _db_size(db)
    return result


def _reference_seconds() -> float:
    """CPU seconds of a fixed piece of pure-Python work, to show how fast the machine was just then."""
    t0 = time.process_time()
    total = 0
    for i in range(REFERENCE_LOOP):
        total += i
    return time.process_time() - t0


REFERENCE_LOOP = 5_000_000
SHIPPED_PAUSE = 0.5  # [http] pause_seconds as shipped


def _db_size(db: Path) -> int:
    """Main file plus write-ahead log, as they are on disk."""
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists())


def run(workdir: Path, *, smoke: bool, artifacts: dict[str, Any]) -> Section:
    sec = Section("2", "Catch-up throughput")
    documents, watches = (300, 30) if smoke else (20_000, 1000)
    # The same poll's CPU time has varied by up to a third between back-to-back runs on this
    # shared machine, so the full run drains the backlog three times (each on a fresh
    # database and server) and reports the run with the median CPU time, with the range.
    runs = []
    for i in range(1 if smoke else 3):
        reference = _reference_seconds()
        runs.append({**drain(workdir, f"catchup{i}", documents=documents, watches=watches), "reference": reference})
    runs.sort(key=lambda run: run["cpu"])
    r = runs[len(runs) // 2]
    st = r["stats"]
    for key, name, note in (
        ("wall", "Document entries per second (wall, through the local feed)", ""),
        ("cpu", "Document entries per second of the monitor's CPU time",
         "what a source that answered instantly would allow"),
    ):  # fmt: skip
        if len(runs) > 1:
            each = ", ".join(f"{st.documents / x[key]:,.0f}" for x in runs)
            note = "; ".join(filter(None, (note, f"median run of {len(runs)} (by CPU time); all runs: {each}")))
        why = (
            f"the monitor's own work per entry bounds it: {r['cpu'] / st.documents * 1000:.2f} ms of CPU per Document "
            "entry (parsing, identity lookups, storing each letter with its keys and mirror rows in SQLite), which "
            f"moves with the machine: a fixed loop took {r['reference'] * 1000:.0f} ms of CPU here, 154 ms on "
            "2026-11-28, when this figure was 4,363 entries/CPU-s; storing less per document was not taken (below)"
        )
        if key == "wall":
            why += "; the wall figure adds waiting for the local server, which runs in the bench process"
        sec.check(name, st.documents / r[key], "entries/s", 5000, below=False, note=note, why=why)
    sec.add(
        "All entries per second (Documents + Zaken, wall)", (st.documents + st.zaken) / r["wall"], "entries/s",
        note=f"{st.zaken:,} Zaak entries read in the same poll",
    )  # fmt: skip
    sec.add("Wall time of the poll", r["wall"], "s", digits=1)
    sec.add("CPU time of the poll (process time)", r["cpu"], "s", digits=1,
            note=f"{r['cpu'] / st.documents * 1000:.2f} ms per document; user {r['cpu_user']:.1f} s, "
            f"system {r['cpu_system']:.1f} s")  # fmt: skip
    sec.add("Resident memory before the poll", r["rss_before_mb"], "MB", digits=1)
    sec.add(
        "Peak resident memory (ru_maxrss)",
        r["peak_rss_mb"],
        "MB",
        digits=1,
        note=f"+{r['peak_rss_mb'] - r['rss_before_mb']:.1f} MB over the resident memory before the poll",
    )
    sec.add("Requests (server)", r["server_requests"], "", note=f"{r['lookups']} of them entity lookups")
    sec.add("Bytes received (client)", r["syncfeed"][1] / MB, "MB", digits=1,
            note=f"server sent {r['server_bytes'] / MB:,.1f} MB")  # fmt: skip
    c = r["counts"]
    sec.add("Letters on record after the poll", c["letters"], "",
            note=f"{c['matches']:,} watch matches, {c['outbox']:,} alerts queued")  # fmt: skip
    refs = ", ".join(f"{x['reference'] * 1000:.0f}" for x in runs)
    sec.notes += [
        f"Machine speed: a fixed loop of {REFERENCE_LOOP:,} additions took {refs} ms of CPU just before each run "
        "— compare it across runs of the bench: on a shared machine the catch-up's CPU time moves with it.",
        f"Backlog: {st.documents:,} Document entries ({st.watched_docs:,} in one of the {watches:,} watched "
        f"dossiers, {st.via_zaak_only:,} of those linked only through their Zaak) and {st.zaken:,} Zaak entries, "
        "generated by `bench/data.py`: Brief regering, Motie, Bijlage (pointing at its letter), Amendement, "
        "schriftelijke vragen, agendas…, Dutch subjects with diacritics, dates over the last 60 days.",
        f"Watches: {watches:,} `[[watch]]` tables, one dossier each, default kinds (`Brief*`), console channel "
        "(alerts are queued, not sent, in this measurement).",
        'One `poll_source(ctx, "syncfeed")` in a child process after one warm-up cycle; `max_pages_per_poll` = '
        "100,000, `related_every` = 1, SRU off. The poll reads the next pages in a second thread while it "
        f"stores one, and stores pages that have already arrived together (up to {tkpoll.PAGES_PER_TRANSACTION} "
        "per transaction). *Wall* includes waiting for the local server, which runs in the parent process "
        f"(it renders each entry once: the first page of 250 Documents took {r['render_s'] * 1000:.1f} ms, timed "
        "before the poll); *CPU time* is the child's "
        f"process time (both of its threads), the monitor's own work. Publishing the backlog into the fake took "
        f"{r['publish_s']:.1f} s beforehand and is not counted.",
    ]
    sec.notes.append(
        "Not taken: storing less for kinds no watch asks for (with a first-seen column). A document of any kind "
        "can become a watched letter later — a watch added or edited is baselined against what is on record, a "
        "later version may change its kind, and an SRU record of it links by its `kst:`/`subj:` keys — so every "
        "document would still need its identity keys and first sighting stored; the saving would be part of the "
        "per-document work (not measured separately here), against a second, weaker path to the "
        '"already known" answer that every alert depends on.'
    )
    _shipped(sec, workdir, smoke)
    artifacts["catchup_db"] = r["db"]
    artifacts["catchup_letters"] = c["letters"]
    artifacts["catchup_growth"] = (r["size_after"] - r["size_before"], c["letters"])
    artifacts["catchup_watches"] = r["watches"]
    return sec


def _shipped(sec: Section, workdir: Path, smoke: bool) -> None:
    """A 7-day backlog drained at the shipped settings, poll after poll, as the service drains it."""
    documents = 300 if smoke else 25_000
    pause = 0.0 if smoke else SHIPPED_PAUSE  # the smoke run in CI: the same polls, without the waits
    r = drain(workdir, "catchup-shipped", documents=documents, watches=30 if smoke else 1000, pause=pause)
    st = r["stats"]
    sec.check(
        f"Shipped settings: a backlog of {st.documents:,} Documents + {st.zaken:,} Zaken drained, wall", r["wall"] / 60,
        "min", 10, digits=1,
        note=f"{r['polls']} polls one after another, {r['server_requests']} requests at a pause of "
        f"{pause:g} s: {st.documents / r['wall']:,.0f} Document entries/s; CPU {r['cpu']:.1f} s",
        why=f"{r['server_requests']} requests, one per {pause:g} s on average, and {r['cpu']:.1f} s of the monitor's "
        "CPU between them",
    )  # fmt: skip
    sec.notes.append(
        f"Shipped settings: `pause_seconds` = {pause:g}, `max_pages_per_poll` = 20, `related_every` = 5; "
        f"{st.documents:,} Document entries (the Tweede Kamer publishes about 3,500 a day: 7 days) and their Zaken, "
        "published at once after the first start; `poll_source` is called again as long as the last poll stopped "
        "at its page limit (what the service's poll job does), and the wall time of all those polls is the figure."
    )
