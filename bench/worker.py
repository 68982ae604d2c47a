"""The monitor side of a measurement, run in a child process: ``python -m bench.worker harness``.

It reads one JSON command per line on stdin and answers one JSON line on stdout.  Every
command drives the real monitor code through :class:`tests.harness.Harness`
(``run_cycle``) or the functions the service calls (``poll_source``), so CPU time and
memory measured here belong to the monitor alone; the local servers run in the parent.

Commands: ``open`` (settings as :func:`tests.harness.settings_for` takes them), ``cycle``
(run N cycles), ``poll`` (one ``poll_source``, optionally under tracemalloc or a
profiler), ``backfill`` (poll SRU until every watched dossier is backfilled),
``count`` (rows per table), ``close``.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from bench.common import FetchTap, diff, open_fds, peak_rss_mb, rss_mb
from monitor.context import freeze_startup_heap
from monitor.poll import behind, poll_source, prepare_watches
from monitor.sources.sru import backfill_cursor
from monitor.sources.sru import poll as srupoll
from monitor.store import ops, schema
from tests.harness import Harness, settings_for


class Worker:
    def __init__(self) -> None:
        self.h: Harness | None = None
        self.tap: FetchTap | None = None
        self.cycles = 0
        self.web: Any = None  # monitor.web.server.WebServer once op_web ran

    @property
    def harness(self) -> Harness:
        assert self.h is not None, "open first"
        return self.h

    def op_open(self, msg: dict[str, Any]) -> dict[str, Any]:
        settings = settings_for(
            msg["database"],
            syncfeed_url=msg.get("syncfeed_url"),
            sru_url=msg.get("sru_url"),
            watches=msg.get("watches"),
            channels=msg.get("channels"),
            extra=msg.get("extra"),
        )
        self.h = Harness(settings)
        freeze_startup_heap()  # as the service does once it is set up
        self.tap = FetchTap(self.h.ctx.fetcher)
        return {"rss_mb": rss_mb(), "fds": open_fds()}

    def _measure(self, fn: Any) -> dict[str, Any]:
        assert self.tap is not None
        before = self.tap.snapshot()
        t0, c0, r0 = time.perf_counter(), time.process_time(), os.times()
        fn()
        wall, cpu, r1 = time.perf_counter() - t0, time.process_time() - c0, os.times()
        after = self.tap.snapshot()
        return {
            "wall": wall,
            "cpu": cpu,
            "cpu_user": r1.user - r0.user,
            "cpu_system": r1.system - r0.system,
            "syncfeed": diff(after, before, "syncfeed"),
            "sru": diff(after, before, "sru"),
        }

    def op_cycle(self, msg: dict[str, Any]) -> dict[str, Any]:
        n = int(msg.get("n", 1))
        h = self.harness
        sru_every = int(msg.get("sru_every", 1))  # > 1: SRU only every Nth cycle, as its longer interval does

        def run() -> None:
            for _ in range(n):
                self.cycles += 1
                h.cycle(msg.get("sources") if sru_every == 1 or self.cycles % sru_every == 0 else ["syncfeed"])

        profiler = _Profile.start(msg)
        out = self._measure(run)
        if profiler is not None:
            out["profile"] = profiler.stop()
        if msg.get("gc"):
            gc.collect()
        out.update(rss_mb=rss_mb(), fds=open_fds(), peak_rss_mb=peak_rss_mb())
        return out

    def op_poll(self, msg: dict[str, Any]) -> dict[str, Any]:
        """One poll of one source, as the service's poll job does it (watches prepared first)."""
        h, source = self.harness, msg["source"]
        prepare_watches(h.ctx)
        gc.collect()
        rss_before = rss_mb()
        profiler = _Profile.start(msg)
        if msg.get("tracemalloc"):
            tracemalloc.start()
        ok: list[bool] = []
        out = self._measure(lambda: ok.append(poll_source(h.ctx, source)))
        if msg.get("tracemalloc"):
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            out["tracemalloc_peak_mb"] = peak / (1024 * 1024)
        if profiler is not None:
            out["profile"] = profiler.stop()
        out.update(ok=ok[0], rss_before_mb=rss_before, rss_mb=rss_mb(), peak_rss_mb=peak_rss_mb())
        return out

    def op_drain(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Polls of one source one after another while the last stopped at its page limit (the service's loop)."""
        h, source = self.harness, msg["source"]
        prepare_watches(h.ctx)
        polls = 0

        def run() -> None:
            nonlocal polls
            while polls < int(msg.get("limit", 1000)):
                poll_source(h.ctx, source)
                polls += 1
                if not behind(h.ctx, source):
                    return

        rss_before = rss_mb()
        out = self._measure(run)
        out.update(polls=polls, rss_before_mb=rss_before, rss_mb=rss_mb(), peak_rss_mb=peak_rss_mb())
        return out

    def op_backfill(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Poll SRU (as the service would, source by source) until no watched dossier awaits its backfill."""
        h = self.harness
        polls = 0

        def pending() -> int:
            with h.ctx.engine.connect() as conn:
                done = ops.all_cursors(conn)
            return sum(backfill_cursor(d) not in done for d in srupoll.watched_dossiers(h.ctx))

        def run() -> None:
            nonlocal polls
            prepare_watches(h.ctx)
            while pending() and polls < int(msg.get("limit", 10_000)):
                poll_source(h.ctx, "sru")
                polls += 1

        # "per_poll" batches the warm-up: every pending backfill in one poll (the same queries,
        # through the same code); the constant is restored before anything is measured.
        saved = srupoll.BACKFILLS_PER_POLL
        srupoll.BACKFILLS_PER_POLL = int(msg.get("per_poll") or saved)
        try:
            before = pending()
            out = self._measure(run)
        finally:
            srupoll.BACKFILLS_PER_POLL = saved
        out.update(polls=polls, pending=before, per_poll=saved)
        return out

    def op_count(self, msg: dict[str, Any]) -> dict[str, Any]:
        counts: dict[str, int] = {}
        with self.harness.ctx.engine.connect() as conn:
            for table in (schema.letters, schema.matches, schema.outbox, schema.tk_documents, schema.letter_keys):
                counts[table.name] = int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)
            counts["cursor_document"] = int(ops.get_cursor(conn, "syncfeed:Document") or 0)
        return counts

    def op_web(self, msg: dict[str, Any]) -> dict[str, Any]:
        """Start the HTTP surface of ``[web]`` in this process, as ``kamermonitor run`` does."""
        from monitor.web.server import open_surface

        h = self.harness
        self.web = open_surface(h.settings, alive=lambda: True, recorder=h.ctx.metrics, stats=h.ctx.fetcher.stats)
        self.web.start()
        return {"address": self.web.address, "rss_mb": rss_mb(), "fds": open_fds()}

    def op_close(self, msg: dict[str, Any]) -> dict[str, Any]:
        if self.web is not None:
            self.web.stop()
        if self.h is not None:
            self.h.close()
        return {"closed": datetime.now(UTC).isoformat()}


class _Profile:
    """A profiler the command asked for: ``profile`` = true (pyinstrument's call tree) or "cprofile".

    cProfile's table of own time per function complements pyinstrument's tree: it shows
    what is spent inside SQLAlchemy and lxml, which the tree folds away.
    """

    def __init__(self, kind: str, show_all: bool) -> None:
        self.kind, self.show_all = kind, show_all
        self.impl: Any
        if kind == "cprofile":
            import cProfile

            self.impl = cProfile.Profile()
            self.impl.enable()
        else:
            from pyinstrument import Profiler

            self.impl = Profiler(interval=0.001)
            self.impl.start()

    @classmethod
    def start(cls, msg: dict[str, Any]) -> _Profile | None:
        kind = msg.get("profile")
        if not kind:
            return None
        return cls("cprofile" if kind == "cprofile" else "pyinstrument", bool(msg.get("show_all")))

    def stop(self) -> str:
        if self.kind == "cprofile":
            import io
            import pstats

            self.impl.disable()
            buf = io.StringIO()
            stats = pstats.Stats(self.impl, stream=buf)
            stats.sort_stats("tottime").print_stats(60)
            stats.sort_stats("cumulative").print_stats("monitor", 60)
            return buf.getvalue()
        self.impl.stop()
        return str(self.impl.output_text(unicode=True, color=False, show_all=self.show_all))


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    worker = Worker()
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        answer = getattr(worker, "op_" + msg["op"])(msg)
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if msg["op"] == "close":
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
