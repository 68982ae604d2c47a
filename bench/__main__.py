"""``python -m bench [--smoke] [--out BENCHMARKS.md]``: run every measurement and write the report."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import catchup, firststart, idle, latency, steady, store
from bench.common import Section
from bench.report import render
from bench.servers import no_nagle


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--smoke", action="store_true", help="a few seconds, small sizes (for CI)")
    p.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="report file (default BENCHMARKS.md)")
    p.add_argument("--keep", type=Path, help="keep databases and logs in this directory")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    no_nagle()
    artifacts: dict[str, Any] = {}
    smoke = args.smoke
    plan: list[tuple[str, Callable[[Path], Section]]] = [
        ("idle poll cost", lambda d: idle.run(d, smoke=smoke)),
        ("catch-up", lambda d: catchup.run(d, smoke=smoke, artifacts=artifacts)),
        ("latency", lambda d: latency.run(d, smoke=smoke)),
        ("steady state", lambda d: steady.run(d, smoke=smoke)),
        ("first start", lambda d: firststart.run(d, smoke=smoke)),
        ("store", lambda d: store.run(d, smoke=smoke, artifacts=artifacts)),
    ]
    started = time.perf_counter()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="kamermonitor-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for name, step in plan:
            t0 = time.perf_counter()
            print(f"bench: {name} …", file=sys.stderr, flush=True)
            section = step(workdir)
            section.seconds = time.perf_counter() - t0
            print(f"bench: {name} done in {section.seconds:.1f} s", file=sys.stderr, flush=True)
            sections.append(section)
    sections.sort(key=lambda s: s.key)
    command = "python -m bench" + (" --smoke" if smoke else "")
    text = render(sections, mode="smoke" if smoke else "full", command=command, seconds=time.perf_counter() - started)
    args.out.write_text(text, encoding="utf-8")
    print(f"bench: wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
