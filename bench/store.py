"""§6 Store growth and the readers: database size per 10,000 letters; ``list`` and ``status`` times.

The size comes from §2's catch-up, where every letter was recorded through the real
path (feed → parse → ``detect.record`` → store).  For the read times the store must
hold 100,000 documents; recording that many through the real path takes minutes at the
rate §2 measures, so the catch-up database is copied and its rows replicated with SQL
(new ids and keys, same content) until it holds 100,000 letters.  ``kamermonitor list``
and ``kamermonitor status`` are then run with the same 1,000-watch configuration, both
in-process (``monitor.cli.main``) and as a subprocess (``python -m monitor``).
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# The read commands import the store and the channels when they run.  The in-process
# figures leave imports out (the subprocess figures include them), so they are done here.
import sqlalchemy.dialects.sqlite  # noqa: F401

import monitor.notify.registry  # noqa: F401
import monitor.store.letters  # noqa: F401
import monitor.store.ops  # noqa: F401
import monitor.store.outbox  # noqa: F401
from bench.common import MB, ROOT, Section, sqlite_url
from monitor import cli

# Tables whose rows belong to a letter, with the columns that must stay unique per copy.
_COPY: dict[str, tuple[str, ...]] = {
    "letter_keys": ("key",),
    "matches": (),
    "tk_documents": ("guid",),
    "tk_document_refs": ("doc_guid",),
    "outbox": ("idem_key",),
}


def _toml(path: Path, watches: list[dict[str, Any]]) -> None:
    lines = []
    for w in watches:
        dossiers = ", ".join(f'"{d}"' for d in w["dossiers"])
        lines += ["[[watch]]", f'name = "{w["name"]}"', f"dossiers = [{dossiers}]", ""]
    path.write_text("\n".join(lines), encoding="utf-8")


def replicate(db: Path, target: int) -> int:
    """Copy the letters (and their keys, matches, mirror rows, outbox rows) until ``target`` letters exist."""
    conn = sqlite3.connect(db)
    try:
        (max_id,) = conn.execute("SELECT max(id) FROM letters").fetchone()
        (count,) = conn.execute("SELECT count(*) FROM letters").fetchone()
        original, copy = count, 0
        while count < target:
            copy += 1
            offset = copy * (max_id + 1)
            limit = conn.execute(
                "SELECT id FROM letters WHERE id <= ? ORDER BY id LIMIT 1 OFFSET ?",
                (max_id, min(target - count, original) - 1),
            ).fetchone()[0]
            cols = [r[1] for r in conn.execute("PRAGMA table_info(letters)")]
            exprs = [f"id + {offset}" if c == "id" else c for c in cols]
            conn.execute(
                f"INSERT INTO letters ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM letters WHERE id <= ?",
                (limit,),
            )
            for table, unique in _COPY.items():
                cols = [
                    r[1]
                    for r in conn.execute(f"PRAGMA table_info({table})")
                    if not (table == "outbox" and r[1] == "id")
                ]
                if "letter_id" not in cols and table != "tk_document_refs":
                    continue
                exprs = [
                    f"letter_id + {offset}" if c == "letter_id" else f"{c} || '#{copy}'" if c in unique else c
                    for c in cols
                ]
                where = (
                    f"doc_guid IN (SELECT guid FROM tk_documents WHERE letter_id <= {limit} AND guid NOT LIKE '%#%')"
                    if table == "tk_document_refs"
                    else f"letter_id <= {limit} AND letter_id IS NOT NULL"
                )
                if table in ("letter_keys", "tk_documents", "outbox"):
                    where += f" AND {unique[0]} NOT LIKE '%#%'"
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(exprs)} FROM {table} WHERE {where}"
                )
            conn.commit()
            (count,) = conn.execute("SELECT count(*) FROM letters").fetchone()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(count)
    finally:
        conn.close()


def _in_process(argv: list[str], runs: int) -> tuple[float, float, int]:
    times = []
    out = ""
    for _ in range(runs):
        buf = io.StringIO()
        t0 = time.perf_counter()
        code = cli.main(argv, stdout=buf)
        times.append(time.perf_counter() - t0)
        if code != 0:
            raise RuntimeError(f"kamermonitor {' '.join(argv)} exited {code}")
        out = buf.getvalue()
    return times[0], statistics.median(times), len(out.splitlines())


def _python_env(pycache: Path | None) -> dict[str, str]:
    """The environment for a command's own Python process.

    With ``pycache``: compiled bytecode is written there and reused, as for an installed
    package (pip compiles at install time).  Without: no bytecode is written, so every start
    compiles the package's modules again (what ``PYTHONDONTWRITEBYTECODE=1`` does; some
    machines, this one included, set it).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if pycache is None:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    else:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    return env


def _subprocess(argv: list[str], runs: int, env: dict[str, str]) -> float:
    """Median wall time of ``runs`` starts, after one start that is not counted (it fills the bytecode cache)."""
    subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, capture_output=True, env=env)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, *argv], cwd=ROOT, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _against_sqlalchemy(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float]:
    """Median wall time of a command and of ``python -c "import sqlalchemy"``, started alternately.

    The ratio is what the figure reports: on a shared machine both move with the load, and
    SQLAlchemy's import is the floor every store command pays.
    """
    bare = [sys.executable, "-c", "import sqlalchemy"]
    for cmd in ([sys.executable, *argv], bare):  # fill the bytecode cache
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
    ours: list[float] = []
    floor: list[float] = []
    for _ in range(runs):
        for cmd, into in (([sys.executable, *argv], ours), (bare, floor)):
            t0 = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, env=env)
            into.append(time.perf_counter() - t0)
    return statistics.median(ours), statistics.median(floor)


def _import_times(argv: list[str], runs: int, env: dict[str, str]) -> tuple[float, float, float]:
    """Seconds a command spends importing: (everything, SQLAlchemy, the monitor's own modules), medians.

    From ``python -X importtime``: the cumulative times of the top-level imports, the
    cumulative time of ``sqlalchemy``, and the self times of ``monitor.*``.
    """
    totals: list[float] = []
    sqlalchemy: list[float] = []
    own: list[float] = []
    for _ in range(runs):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "monitor", *argv], cwd=ROOT, check=True, capture_output=True,
            text=True, env=env,
        )  # fmt: skip
        total = sqla = mine = 0
        for line in proc.stderr.splitlines():
            fields = line.removeprefix("import time:").split("|")
            if not line.startswith("import time:") or len(fields) != 3 or not fields[0].strip().isdigit():
                continue
            self_us, cumulative_us, name = int(fields[0]), int(fields[1]), fields[2].rstrip()[1:]
            if not name.startswith(" "):
                total += cumulative_us
            if name.strip() == "sqlalchemy":
                sqla = cumulative_us
            if name.strip().split(".")[0] == "monitor":
                mine += self_us
        totals.append(total / 1e6)
        sqlalchemy.append(sqla / 1e6)
        own.append(mine / 1e6)
    return statistics.median(totals), statistics.median(sqlalchemy), statistics.median(own)


def run(workdir: Path, *, smoke: bool, artifacts: dict[str, Any]) -> Section:
    sec = Section("6", "Store growth and readers")
    growth, letters = artifacts["catchup_growth"]
    sec.add("Database size per 10,000 letters (SQLite, catch-up of §2)", growth / letters * 10_000 / MB, "MB",
            digits=2, note=f"{growth / MB:.1f} MB for {letters:,} letters, with their mirror rows, keys, matches "
            "and queued alerts")  # fmt: skip
    target = 5_000 if smoke else 100_000
    db = workdir / "store-100k.db"
    shutil.copy(artifacts["catchup_db"], db)
    cfg = workdir / "store.toml"
    _toml(cfg, artifacts["catchup_watches"])
    base = ["--config", str(cfg), "--database", sqlite_url(db)]
    real = {name: _in_process(base + argv, 1) for name, argv in _commands(artifacts).items()}
    t0 = time.perf_counter()
    stored = replicate(db, target)
    replicate_s = time.perf_counter() - t0
    sec.add(
        "Letters stored for the read times",
        stored,
        "",
        note=f"{letters:,} recorded through the feed, the rest replicated with SQL in {replicate_s:.1f} s",
    )
    sec.add("Database size with them", db.stat().st_size / MB, "MB", digits=1,
            note=f"{db.stat().st_size / stored * 10_000 / MB:.2f} MB per 10,000")  # fmt: skip
    runs = 3
    for name, argv in _commands(artifacts).items():
        first, median, lines = _in_process(base + argv, runs)
        before = real[name][1] * 1000
        sec.check(
            f"`kamermonitor {name}` in-process, median of {runs}", median * 1000, "ms", 200,
            note=f"first run {first * 1000:.0f} ms; {lines:,} lines of output; {before:.0f} ms with the "
            f"{letters:,} letters before replication (one run)",
            why=f"{lines:,} lines from one query over every watch's matches and their letters, and a configuration "
            f"of {len(artifacts['catchup_watches']):,} watches read first",
        )  # fmt: skip
    if not smoke:  # each start of Python costs a few hundred milliseconds: full run only
        cached = _python_env(workdir / "pycache")
        in_process = {name: _in_process(base + argv, 1)[1] for name, argv in _commands(artifacts).items()}
        total, sqla_import, own = _import_times([*base, "status"], runs, cached)
        for name, argv in _commands(artifacts).items():
            median, sqla = _against_sqlalchemy(["-m", "monitor", *base, *argv], 5, cached)
            figure = sec.add(
                f"`kamermonitor {name}` as a subprocess, ÷ `python -c \"import sqlalchemy\"`", median / sqla, "×",
                "≤ 1.3×", median / sqla <= 1.3, digits=2,
                note=f"{median * 1000:.0f} ms against {sqla * 1000:.0f} ms, medians of 5 alternating starts; "
                "bytecode compiled once and reused, as for an installed package",
            )  # fmt: skip
            if not figure.met:
                figure.why = (
                    f"beyond SQLAlchemy's {sqla * 1000:.0f} ms the command does its own work, "
                    f"{in_process[name] * 1000:.0f} ms in-process (reading the configuration of "
                    f"{len(artifacts['catchup_watches']):,} watches, the store, writing its lines), and imports "
                    f"what `import sqlalchemy` alone does not: the monitor's own modules ({own * 1000:.0f} ms under "
                    "`-X importtime`), the SQLite dialect, the TOML parser and the rest of the standard library "
                    f"({(total - sqla_import - own) * 1000:.0f} ms); the measured ratio is what they add up to"
                )
        uncached = _subprocess(["-m", "monitor", *base, "status"], runs, _python_env(None))
        sec.add(f"`kamermonitor status` as a subprocess without a bytecode cache, median of {runs}",
                uncached * 1000, "ms", note="`PYTHONDONTWRITEBYTECODE=1`, which this machine sets: every start "
                "compiles the package's modules again")  # fmt: skip
        bare = _subprocess(["-c", "pass"], runs, cached)
        sec.add(f"Of which: starting Python (`python -c pass`), median of {runs}", bare * 1000, "ms")
        sec.add(
            f"Of which: imports of `kamermonitor status` (`python -X importtime`), median of {runs}", total * 1000,
            "ms", note=f"SQLAlchemy {sqla_import * 1000:.0f} ms, the monitor's own modules {own * 1000:.0f} ms, the "
            f"rest (standard library, TOML, sqlite3) {(total - sqla_import - own) * 1000:.0f} ms",
        )  # fmt: skip
    sec.notes += [
        f"Configuration: the {len(artifacts['catchup_watches']):,} watches of §2 (console channel). `list` without "
        "`--watch` prints up to 10 letters for every watch; `list --watch` one watch; `status` everything.",
        "In-process: `monitor.cli.main([...], stdout=io.StringIO())` in the bench process (imports already done); "
        "the subprocess figure adds starting Python and importing the package, which a user pays on every command. "
        "`list`, `status`, `check-config` and `retry-failed` import only the store and the configuration (not the "
        "HTTP client, the templates or the scheduler); `-X importtime` adds its own overhead to the import figure.",
        f"Replication: every letter of the catch-up database is copied with a new id, with its keys "
        f"(suffixed `#n`), matches, mirror rows and outbox rows; {', '.join(_COPY)} are copied, other tables are "
        "left as they were.",
    ]
    artifacts["store_db"] = str(db)
    return sec


def _busiest_watch(db: str) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT watch FROM matches GROUP BY watch ORDER BY count(*) DESC, watch LIMIT 1").fetchone()
    return str(row[0]) if row else "w0000"


def _commands(artifacts: dict[str, Any]) -> dict[str, list[str]]:
    one = artifacts.setdefault("busiest_watch", _busiest_watch(artifacts["catchup_db"]))
    return {"list": ["list"], f"list --watch {one}": ["list", "--watch", one], "status": ["status"]}
