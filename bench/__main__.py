"""``python -m bench [--smoke] [--out BENCHMARKS.md]``: run every measurement and write the report."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import catchup, compare, firststart, idle, latency, steady, store, web
from bench.common import Section
from bench.report import load, render


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="a few seconds, small sizes (for CI)")
    p.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="report file (default BENCHMARKS.md)")
    p.add_argument("--keep", type=Path, help="keep databases and logs in this directory")
    p.add_argument("--extended", action="store_true", help="also one watch with 1,000 dossiers in §1 (+1 minute)")
    p.add_argument(
        "--only", action="append", metavar="SECTION",
        help="run only this section (repeatable): idle poll cost, steady state, first start, catch-up, latency, "
        "store, web, compare; the report then has only those",
    )  # fmt: skip
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    artifacts: dict[str, Any] = {}
    smoke = args.smoke
    # Steps in one group run at the same time.  §1 (request and byte counts, per-process CPU
    # time), §4 (memory and descriptors of its own child process) and §5 (request and byte
    # counts) do not depend on each other's load; the timed steps (§2, §3, §6) run alone.
    # That keeps the full run within five minutes on two cores.
    plan: list[list[tuple[str, Callable[[Path], Section]]]] = [
        [
            ("idle poll cost", lambda d: idle.run(d, smoke=smoke, extended=args.extended, artifacts=artifacts)),
            ("steady state", lambda d: steady.run(d, smoke=smoke)),
            ("first start", lambda d: firststart.run(d, smoke=smoke)),
        ],
        [("catch-up", lambda d: catchup.run(d, smoke=smoke, artifacts=artifacts))],
        [("latency", lambda d: latency.run_both(d, smoke=smoke))],
        [("store", lambda d: store.run(d, smoke=smoke, artifacts=artifacts))],
        [("web", lambda d: web.run(d, smoke=smoke, artifacts=artifacts))],
        [("compare", lambda d: compare.run(d, smoke=smoke, artifacts=artifacts))],
    ]
    if args.only:
        unknown = set(args.only) - {name for group in plan for name, _ in group}
        if unknown:
            p.error(f"unknown section(s): {', '.join(sorted(unknown))}")
        plan = [kept for group in plan if (kept := [(n, step) for n, step in group if n in args.only])]
    started, load_before = time.perf_counter(), load()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="kamermonitor-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for group in plan:
            with ThreadPoolExecutor(len(group)) as pool:
                futures = [pool.submit(_timed, name, step, workdir) for name, step in group]
                sections += [f.result() for f in futures]
    sections.sort(key=lambda s: s.key)
    command = "python -m bench" + (" --smoke" if smoke else "") + "".join(f" --only '{n}'" for n in args.only or ())
    text = render(
        sections,
        mode="smoke" if smoke else "full",
        command=command,
        seconds=time.perf_counter() - started,
        load_before=load_before,
    )
    args.out.write_text(text, encoding="utf-8")
    print(f"bench: wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


def _timed(name: str, step: Callable[[Path], Section], workdir: Path) -> Section:
    t0, load_at_start = time.perf_counter(), load()
    print(f"bench: {name} …", file=sys.stderr, flush=True)
    section = step(workdir)
    section.seconds, section.load = time.perf_counter() - t0, load_at_start
    print(f"bench: {name} done in {section.seconds:.1f} s", file=sys.stderr, flush=True)
    return section


if __name__ == "__main__":
    sys.exit(main())
