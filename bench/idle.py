"""§1 Idle poll cost: requests and bytes per poll cycle when nothing is new for the watches.

For each size a child process runs the monitor (``run_cycle``, both sources) against
the local SyncFeed and SRU servers.  It first warms up: the first start (finding the
feed's end, mirroring the dossiers, baselining the watches) and polls of SRU until
every newly watched dossier has had its silent backfill.  Then it runs measured cycles,
one at a time, while this process reads the servers' own counters between cycles:
first with nothing published in SRU at all, then with the background of other
dossiers' publications that a query by modification date always returns.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import KB, Child, Section, sources, sqlite_url
from bench.data import make_world, publish_backlog, publish_dossiers, publish_sru_background, watches_for
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer

CLAUSES = 25  # [sources.sru] max_dossier_clauses as shipped


@dataclass(frozen=True, slots=True)
class Case:
    dossiers: int
    one_watch: bool = False

    @property
    def label(self) -> str:
        if self.one_watch:
            return f"1 watch × {self.dossiers:,} dossiers"
        return "1 watch" if self.dossiers == 1 else f"{self.dossiers:,} watches"


@dataclass(slots=True)
class Cycle:
    related: bool
    tk_requests: int
    tk_bytes: int
    sru_requests: int
    sru_bytes: int
    client: dict[str, list[int]]
    wall: float
    cpu: float


@dataclass(slots=True)
class Result:
    case: Case
    background: bool
    cycles: list[Cycle]

    @property
    def steady(self) -> list[Cycle]:
        return [c for c in self.cycles if not c.related] or self.cycles

    def mean(self, attr: str) -> float:
        return float(statistics.mean(getattr(c, attr) for c in self.cycles))

    def steady_max(self, attr: str) -> float:
        return float(max(getattr(c, attr) for c in self.steady))

    def client_mean(self, source: str, column: int) -> float:
        return statistics.mean(c.client[source][column] for c in self.cycles)

    def wire(self, source: str, cycles: list[Cycle] | None = None) -> list[int]:
        """Bytes received and sent per cycle, heads included (client side: body as sent + both heads)."""
        return [c.client[source][1] + c.client[source][3] for c in (cycles or self.cycles)]


def _measure(child: Child, tk: TkFeedServer, sru: SruServer, n: int) -> list[Cycle]:
    out: list[Cycle] = []
    for _ in range(n):
        tk_n, tk_b, sru_n, sru_b = len(tk.requests), tk.bytes_sent, len(sru.requests), sru.bytes_sent
        r = child.call("cycle", n=1)
        paths = tk.requests[tk_n:]
        out.append(
            Cycle(
                related=any("category=Zaak" in p for p in paths),
                tk_requests=len(paths),
                tk_bytes=tk.bytes_sent - tk_b,
                sru_requests=len(sru.requests) - sru_n,
                sru_bytes=sru.bytes_sent - sru_b,
                client={"syncfeed": r["syncfeed"], "sru": r["sru"]},
                wall=r["wall"],
                cpu=r["cpu"],
            )
        )
    return out


def run_case(case: Case, workdir: Path, *, cycles: int, sru_per_day: int, other: int) -> dict[str, Any]:
    today = date.today()
    world = make_world(case.dossiers, other=other)
    name = f"idle-{case.dossiers}{'-one' if case.one_watch else ''}"
    with TkFeedServer(first_token=30_000_000) as tk, SruServer() as sru:
        publish_dossiers(tk, world)
        publish_backlog(tk, world, 300, today=today)  # some history before the monitor starts
        child = Child(stderr=workdir / f"{name}.log")
        try:
            child.call(
                "open", database=sqlite_url(workdir / f"{name}.db"),
                watches=watches_for(world, one_watch=case.one_watch), extra=sources(tk.base_url, sru.base_url),
            )  # fmt: skip
            first = child.call("cycle", n=1)
            # Backfilling 1,000 dossiers at 3 per poll takes 334 polls (about 2 minutes here): batched.
            backfill = child.call("backfill", per_poll=1000 if case.dossiers > 100 else None)
            child.call("cycle", n=1)  # settles: every watch announced
            empty = _measure(child, tk, sru, cycles)
            publish_sru_background(sru, world, today=today, per_day=sru_per_day, days=7)
            child.call("cycle", n=1)  # records the background once (other dossiers: no alerts)
            busy = _measure(child, tk, sru, cycles)
        finally:
            child.close()
    return {
        "first": first,
        "backfill": backfill,
        "results": [Result(case, False, empty), Result(case, True, busy)],
    }


def run(
    workdir: Path,
    *,
    smoke: bool,
    extended: bool = False,
    artifacts: dict[str, Any] | None = None,
    sizes: list[int] | None = None,
) -> Section:
    """``sizes``: only these numbers of watches (§8 asks for 1 and 100 when run without §1)."""
    sec = Section("1", "Idle poll cost")
    per_day = 5 if smoke else 80
    n_cycles = 5 if smoke else 10
    other = 60 if smoke else 500
    if sizes is not None:
        cases = [Case(n) for n in sizes]
    elif smoke:
        cases = [Case(30)]
    else:
        cases = [Case(1), Case(100), Case(1000)]
        if extended:
            cases.append(Case(1000, one_watch=True))
    means = artifacts.setdefault("idle_means", {}) if artifacts is not None else {}
    rows: list[list[str]] = []
    for case in cases:
        out = run_case(case, workdir, cycles=n_cycles, sru_per_day=per_day, other=other)
        for res in out["results"]:
            rows.append(_row(res))
        res = out["results"][1]  # with the SRU background: the realistic one
        label = case.label
        if not case.one_watch:
            means[case.dossiers] = {
                "tk_requests": res.mean("tk_requests"), "tk_bytes": statistics.mean(res.wire("syncfeed")),
                "sru_requests": res.mean("sru_requests"), "sru_bytes": statistics.mean(res.wire("sru")),
            }  # fmt: skip
        every = 5  # related_every as shipped
        related = sum(c.related for c in res.cycles)
        sec.check(f"{label}: SyncFeed requests, steady idle cycle", res.steady_max("tk_requests"), "", 1.5, target="1")
        sec.add(
            f"{label}: SyncFeed requests, mean of {n_cycles} cycles", res.mean("tk_requests"), "",
            f"≤ {1 + 2 / every:.1f}", res.mean("tk_requests") <= 1 + 2 / every + 1e-9, digits=1,
            note=f"whole blocks of `related_every` = {every} polls: {related} of {n_cycles} cycles also read Zaak + "
            "Kamerstukdossier, so the floor is 1 + 2/5",
        )  # fmt: skip
        steady_wire = max(res.wire("syncfeed", res.steady)) / KB
        sec.check(f"{label}: SyncFeed bytes, heads included, steady idle cycle", steady_wire, "KB", 10, digits=2,
                  note=f"{res.steady_max('tk_bytes') / KB:.2f} KB of body")  # fmt: skip
        sec.check(
            f"{label}: SyncFeed bytes, heads included, mean of {n_cycles} cycles",
            statistics.mean(res.wire("syncfeed")) / KB, "KB", 10, digits=2,
            note=f"{res.mean('tk_bytes') / KB:.2f} KB of body; "
            f"{sum(c.client['syncfeed'][4] for c in res.cycles)} of {sum(c.tk_requests for c in res.cycles)} "
            "requests answered 304",
        )  # fmt: skip
        n_queries = -(-case.dossiers // CLAUSES)
        sec.check(f"{label}: SRU requests, steady idle cycle", res.steady_max("sru_requests"), "", n_queries + 0.5,
                  target=f"≤ {n_queries}" if n_queries > 1 else "1",
                  note=f"⌈{case.dossiers:,} / {CLAUSES}⌉ dossier-filtered queries")  # fmt: skip
        sru_limit = 5 if case.dossiers <= CLAUSES else 100
        sec.check(
            f"{label}: SRU bytes, heads included, mean of {n_cycles} cycles", statistics.mean(res.wire("sru")) / KB,
            "KB", sru_limit, digits=2,
            note=f"{res.mean('sru_bytes') / KB:.2f} KB of body; {sum(c.client['sru'][4] for c in res.cycles)} of "
            f"{sum(c.sru_requests for c in res.cycles)} requests answered 304",
        )  # fmt: skip
        bf = out["backfill"]
        if bf["polls"] and case.dossiers <= 100:
            sec.add(
                f"{label}: SRU polls until every new dossier is backfilled", bf["polls"], "polls",
                note=f"{bf['sru'][0]:,} SRU requests ({bf['sru'][0] / bf['polls']:.1f} per poll) before the "
                f"first steady cycle ({bf['per_poll']} backfills per poll)",
            )  # fmt: skip
        elif bf["polls"]:
            sec.notes.append(
                f"{label}: {bf['pending']:,} dossiers awaited their SRU backfill after the first cycle; at "
                f"{bf['per_poll']} per poll that is {-(-bf['pending'] // bf['per_poll']):,} more polls. The warm-up "
                f"ran them all in {bf['polls']} poll ({bf['sru'][0]:,} SRU requests, {bf['wall']:.0f} s) by raising "
                "`srupoll.BACKFILLS_PER_POLL` for the warm-up only."
            )
        first = out["first"]
        sec.notes.append(
            f"{label}: the first cycle (first start) made {first['syncfeed'][0]} SyncFeed and {first['sru'][0]} SRU "
            "requests (see §5)."
        )
    sec.tables.append(
        (
            [
                "watches", "SRU index", "SyncFeed req steady / mean", "SyncFeed body KB steady / mean (server)",
                "SyncFeed KB mean, heads included (client)", "SRU req steady / mean",
                "SRU body KB mean (server) / KB heads included (client)", "304 answers (SyncFeed / SRU)",
                "cycle CPU ms (median)",
            ],
            rows,
        )
    )  # fmt: skip
    sec.notes[:0] = [
        "Each size runs in its own child process with a fresh SQLite database; the local servers count requests and "
        "response-body bytes (`TkFeedServer.requests`/`bytes_sent`, `SruServer.requests`/`bytes_sent`); the client "
        "side is `Fetcher.stats`, split by source: bodies as received plus the request line, status line and "
        "headers of both directions (*heads included*); targets are on the client's figure. Conditional requests "
        "(`If-None-Match`) are answered 304 by the local servers when nothing changed, as the real ones might.",
        "Shipped settings: the idle figures are counts per poll, which `pause_seconds`, `jitter_seconds` and "
        "`max_pages_per_poll` do not change (an idle poll reads one page per feed); they only move when a poll "
        "runs and how long it waits between requests.",
        "*N watches* = N `[[watch]]` tables with one dossier each; *1 watch × N dossiers* = one watch listing N "
        "dossiers. Every dossier is in the Kamerstukdossier feed; 300 documents of history precede the first start.",
        f"SRU index *busy*: {per_day} Kamerstuk publications per day of *other* dossiers, modified in the last 7 days "
        "(officiële bekendmakingen keeps modifying records, so a query by modification date is never empty); "
        "*empty*: no records at all. Targets are checked on *busy*.",
        f"Measured cycles ({n_cycles} per row) follow the warm-up: first start, SRU polls until every newly watched "
        "dossier has had its silent backfill, one settling cycle. A *steady idle cycle* is one whose SyncFeed poll "
        "reads only the Document feed (the worst such cycle is shown); every 5th poll (`related_every`) also reads "
        "the Zaak and Kamerstukdossier feeds.",
    ]
    return sec


def _row(res: Result) -> list[str]:
    return [
        res.case.label,
        "busy" if res.background else "empty",
        f"{res.steady_max('tk_requests'):.0f} / {res.mean('tk_requests'):.1f}",
        f"{res.steady_max('tk_bytes') / KB:.2f} / {res.mean('tk_bytes') / KB:.2f}",
        f"{statistics.mean(res.wire('syncfeed')) / KB:.2f}",
        f"{res.steady_max('sru_requests'):.0f} / {res.mean('sru_requests'):.1f}",
        f"{res.mean('sru_bytes') / KB:,.1f} / {statistics.mean(res.wire('sru')) / KB:,.1f}",
        f"{sum(c.client['syncfeed'][4] for c in res.cycles)} / {sum(c.client['sru'][4] for c in res.cycles)}",
        f"{statistics.median(c.cpu for c in res.cycles) * 1000:.0f}",
    ]
