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


def run(workdir: Path, *, smoke: bool, extended: bool = False) -> Section:
    sec = Section("1", "Idle poll cost")
    per_day = 5 if smoke else 80
    n_cycles = 5 if smoke else 10
    if smoke:
        cases, other = [Case(30)], 60
    else:
        cases, other = [Case(1), Case(100), Case(1000)], 500
        if extended:
            cases.append(Case(1000, one_watch=True))
    rows: list[list[str]] = []
    for case in cases:
        out = run_case(case, workdir, cycles=n_cycles, sru_per_day=per_day, other=other)
        for res in out["results"]:
            rows.append(_row(res))
        res = out["results"][1]  # with the SRU background: the realistic one
        label = case.label
        sec.check(f"{label}: SyncFeed requests, steady idle cycle", res.steady_max("tk_requests"), "", 1.5, target="1")
        sec.add(
            f"{label}: SyncFeed requests, mean of {n_cycles} cycles", res.mean("tk_requests"), "", "1",
            res.mean("tk_requests") <= 1.0, digits=1,
            note=f"{sum(c.related for c in res.cycles)} of {n_cycles} cycles also read Zaak + Kamerstukdossier "
            "(`related_every` = 5, by design)",
        )  # fmt: skip
        sec.check(f"{label}: SyncFeed bytes, steady idle cycle", res.steady_max("tk_bytes") / KB, "KB", 10, digits=1)
        sec.check(f"{label}: SyncFeed bytes, mean of {n_cycles} cycles", res.mean("tk_bytes") / KB, "KB", 10, digits=1)
        sec.check(f"{label}: SRU requests, steady idle cycle", res.steady_max("sru_requests"), "", 1.5, target="1")
        sec.add(f"{label}: SRU bytes, mean of {n_cycles} cycles", res.mean("sru_bytes") / KB, "KB", digits=1)
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
                "watches", "SRU index", "SyncFeed req steady / mean", "SyncFeed KB steady / mean (server)",
                "SyncFeed KB mean (client)", "SRU req steady / mean", "SRU KB mean (server / client)",
                "cycle CPU ms (median)",
            ],
            rows,
        )
    )  # fmt: skip
    sec.notes[:0] = [
        "Each size runs in its own child process with a fresh SQLite database; the local servers count requests and "
        "response-body bytes (`TkFeedServer.requests`/`bytes_sent`, `SruServer.requests`/`bytes_sent`); the client "
        "side is `Fetcher.stats` (bytes as received, split by source). Headers are not counted.",
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
        f"{res.client_mean('syncfeed', 1) / KB:.2f}",
        f"{res.steady_max('sru_requests'):.0f} / {res.mean('sru_requests'):.1f}",
        f"{res.mean('sru_bytes') / KB:,.1f} / {res.client_mean('sru', 1) / KB:,.1f}",
        f"{statistics.median(c.cpu for c in res.cycles) * 1000:.0f}",
    ]
