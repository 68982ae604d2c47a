"""What every measurement shares: figures, process probes, the fetcher tap, child processes."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]

from monitor.http import Fetcher, FetchResult

ROOT = Path(__file__).resolve().parent.parent
KB = 1024
MB = 1024 * 1024


@dataclass(slots=True)
class Figure:
    """One measured number, with its target when it has one."""

    name: str
    value: float
    unit: str
    target: str = ""  # human text, e.g. "≤ 1"
    met: bool | None = None  # None: no target
    digits: int = 0
    note: str = ""
    why: str = ""  # why a target is not met (said only when it is not)

    def shown(self) -> str:
        if self.digits == 0:
            return f"{self.value:,.0f} {self.unit}".strip()
        return f"{self.value:,.{self.digits}f} {self.unit}".strip()


@dataclass(slots=True)
class Section:
    key: str  # "1" .. "6"
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)  # (header, rows)
    extra: list[str] = field(default_factory=list)  # preformatted blocks (profiles)
    seconds: float = 0.0  # wall time the measurement took
    load: str = ""  # load average when it started

    def add(
        self,
        name: str,
        value: float,
        unit: str,
        target: str = "",
        met: bool | None = None,
        digits: int = 0,
        note: str = "",
    ) -> Figure:
        fig = Figure(name, float(value), unit, target, met, digits, note)
        self.figures.append(fig)
        return fig

    def check(
        self,
        name: str,
        value: float,
        unit: str,
        limit: float,
        *,
        digits: int = 0,
        below: bool = True,
        target: str | None = None,
        note: str = "",
        why: str = "",
    ) -> Figure:
        """A figure whose target is an upper (``below``, strict) or a lower (inclusive) bound.

        ``why``: what keeps the figure from its target, from what this run measured; the
        report says it when the target is missed.
        """
        met = value < limit if below else value >= limit
        if target is None:
            shown = f"{limit:,.{digits}f}" if digits else f"{limit:,.0f}"
            target = f"{'<' if below else '≥'} {shown} {unit}".strip()
        figure = self.add(name, value, unit, target, met, digits, note)
        figure.why = "" if met else why
        return figure


def rss_mb(pid: int | None = None) -> float:
    return float(psutil.Process(pid).memory_info().rss) / MB


def open_fds(pid: int | None = None) -> int:
    return int(psutil.Process(pid).num_fds())


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class FetchTap:
    """Counts requests and bytes per source by wrapping ``Fetcher.get`` (which still does the work).

    ``Fetcher.stats`` keeps totals and per-source request counts only; this splits the
    byte counts by source, from the same counters.  Per source: requests, bytes as received
    (bodies, compressed), bodies after decompression, request and response heads (request
    line, status line, headers: both directions), and 304 answers.
    """

    COLUMNS = ("requests", "wire", "body", "head", "not_modified")

    def __init__(self, fetcher: Fetcher) -> None:
        self.per_source: dict[str, list[int]] = {}
        inner = fetcher.get
        stats = fetcher.stats

        def counters() -> tuple[int, int, int, int]:
            return stats.bytes_wire, stats.bytes_body, stats.bytes_head, stats.not_modified

        def get(source: str, url: str, *args: Any, **kwargs: Any) -> FetchResult:
            before = counters()
            try:
                return inner(source, url, *args, **kwargs)
            finally:
                row = self.per_source.setdefault(source, [0] * len(self.COLUMNS))
                row[0] += 1
                for i, (a, b) in enumerate(zip(counters(), before, strict=True), start=1):
                    row[i] += a - b

        fetcher.get = get  # type: ignore[method-assign]

    def snapshot(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v) for k, v in self.per_source.items()}


def diff(after: dict[str, tuple[int, ...]], before: dict[str, tuple[int, ...]], source: str) -> list[int]:
    """Per-source counters between two snapshots: [requests, wire, body, head, not_modified]."""
    zero = (0,) * len(FetchTap.COLUMNS)
    a, b = after.get(source, zero), before.get(source, zero)
    return [x - y for x, y in zip(a, b, strict=True)]


class Child:
    """``python -m bench.worker`` with a JSON line protocol on stdin/stdout.

    The monitor runs alone in the child, so its CPU time and memory are not mixed with
    the local servers' (which stay in this process).
    """

    def __init__(self, stderr: Path | None = None) -> None:
        self._err = open(stderr, "wb") if stderr else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._err,
            cwd=ROOT,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))},
        )

    def call(self, op: str, **kwargs: Any) -> dict[str, Any]:
        self.send({"op": op, **kwargs})
        return self.receive()

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait(timeout=30)
            raise RuntimeError(f"bench worker ended (exit {code}) without an answer")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                self.call("close")
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            if self._err is not subprocess.DEVNULL:
                self._err.close()  # type: ignore[union-attr]


def timed(fn: Callable[[], Any]) -> float:
    import time

    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def sources(
    syncfeed_url: str | None,
    sru_url: str | None,
    syncfeed: dict[str, Any] | None = None,
    sru: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``extra`` for ``settings_for`` that sets source keys.

    ``settings_for``'s ``extra`` replaces a whole source table, so the URL and ``enabled``
    flag are repeated here; a disabled source points at a closed local port.
    """
    off = "http://127.0.0.1:9"
    return {
        "sources": {
            "syncfeed": {"enabled": syncfeed_url is not None, "base_url": syncfeed_url or off, **(syncfeed or {})},
            "sru": {"enabled": sru_url is not None, "base_url": sru_url or off, **(sru or {})},
        }
    }
