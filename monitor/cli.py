"""Command line: the only module that reads ``sys.argv`` or configures logging.

Exit codes: 0 success, 1 an operation failed (e.g. a test alert was refused),
2 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from . import __version__
from .config import ConfigError, Settings, channel_problems, default_config_path, load
from .context import Context
from .deliver import Deliverer
from .models import Alert
from .notify.base import Channel, DeliveryError
from .notify.registry import build_channels
from .poll import run_cycle
from .preview import days_argument
from .preview import run as preview_run
from .store import letters as letter_store
from .store import ops
from .store import outbox as outbox_store
from .store.schema import SchemaTooNew

logger = logging.getLogger("monitor")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kamermonitor",
        description="Alerts when a new letter is filed in a Kamerstuk dossier. Without a command: run.",
    )
    p.add_argument(
        "--config", "-c", type=Path, help="TOML config (default: $KAMERMONITOR_CONFIG or ./kamermonitor.toml)"
    )
    p.add_argument("--database", help="SQLAlchemy URL (default: sqlite:///kamermonitor.db or $KAMERMONITOR_DATABASE)")
    p.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    p.add_argument("--version", action="version", version=f"kamermonitor {__version__}")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="run the service (the default)")
    poll = sub.add_parser("poll", help="poll the sources")
    poll.add_argument("--once", action="store_true", required=True, help="one cycle of every source, then exit")
    poll.add_argument("--source", action="append", choices=["syncfeed", "sru"], help="only this source")
    lst = sub.add_parser("list", help="recent letters per watch, newest first")
    lst.add_argument("--watch", help="only this watch")
    lst.add_argument("--limit", type=int, default=10)
    sub.add_parser("status", help="sources, watches, deliveries and warnings")
    sub.add_parser("check-config", help="validate the configuration and exit")
    ta = sub.add_parser("test-alert", help="send a clearly marked test message through one channel")
    ta.add_argument("channel")
    rf = sub.add_parser("retry-failed", help="re-queue failed deliveries after fixing their cause")
    rf.add_argument("--channel", help="only this channel")
    pv = sub.add_parser("preview", help="show the messages a watch would have sent for recent letters; sends nothing")
    pv.add_argument("--watch", required=True, help="the watch's name")
    pv.add_argument("--days", type=days_argument, default=30, help="letters published in the last N days (30)")
    pv.add_argument("--html", type=Path, metavar="FILE", help="also write the e-mail HTML to FILE")
    pv.add_argument("--no-enrich", action="store_true", help="do not read the publications (sender, summary, ...)")
    return p


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S%z",
        stream=sys.stderr,
    )
    for noisy in ("apscheduler", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = stdout or sys.stdout
    _setup_logging(args.verbose)
    try:
        settings = load(args.config or default_config_path(), database=args.database)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"config error: {line}", file=sys.stderr)
        return 2
    command = args.command or "run"
    if command == "check-config":
        return _check_config(settings, out)
    if command == "preview":  # reads the sources only: no database, no channels
        return preview_run(settings, args.watch, args.days, html=args.html, enrich=not args.no_enrich, out=out)
    try:
        ctx = Context.create(settings)
    except SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _dispatch(command, args, ctx, out)
    finally:
        ctx.close()


def _dispatch(command: str, args: argparse.Namespace, ctx: Context, out: TextIO) -> int:
    if command == "list":
        return _list(ctx, out, args.watch, args.limit)
    if command == "status":
        return _status(ctx, out)
    if command == "retry-failed":
        with ctx.engine.begin() as conn:
            n = outbox_store.retry_failed(conn, ctx.now(), args.channel)
        print(f"re-queued {n} failed deliveries", file=out)
        return 0
    channels = build_channels(ctx.settings, stream=out)
    if command == "test-alert":
        return _test_alert(ctx, channels, args.channel, out)
    deliverer = Deliverer(ctx, channels)
    if command == "poll":
        result = run_cycle(ctx, deliverer, args.source)
        failed = [name for name, ok in result.ok.items() if not ok]
        if failed:
            logger.warning("poll finished; failing source(s): %s", ", ".join(failed))
        return 0
    from .service import Service

    Service(ctx, deliverer).start()
    return 0


def _check_config(settings: Settings, out: TextIO) -> int:
    problems = channel_problems(settings)
    for line in problems:
        print(f"config error: {line}", file=sys.stderr)
    if problems:
        return 2
    print(f"configuration OK ({settings.source_path or 'built-in defaults'})", file=out)
    for w in settings.watches:
        what = ", ".join(str(d) for d in w.dossiers) or "-"
        print(f"  watch {w.name}: dossiers {what}; kinds {', '.join(w.kinds)}; "
              f"keywords {', '.join(w.keywords) or '-'}; channels {', '.join(w.channels)}", file=out)  # fmt: skip
    return 0


def _test_alert(ctx: Context, channels: dict[str, Channel], name: str, out: TextIO) -> int:
    ch = channels.get(name)
    if ch is None:
        print(f"error: no channel named {name!r} (configured: {', '.join(channels)})", file=sys.stderr)
        return 1
    alert = Alert(event="test", text="Dit is een testbericht van kamermonitor: dit kanaal werkt.", created_at=ctx.now())
    failed = False
    for target in ch.targets:
        where = f"{name}" + (f" → {target}" if target else "")
        try:
            ch.send(alert, target)
        except DeliveryError as exc:
            kind = "permanent" if exc.permanent else "transient"
            print(f"FAILED {where}: {exc} ({kind})", file=out)
            failed = True
        else:
            print(f"ok {where}: test message accepted ({ch.describe()})", file=out)
    return 1 if failed else 0


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if hasattr(value, "hour") else str(value)
    return str(value)


def _list(ctx: Context, out: TextIO, only: str | None, limit: int) -> int:
    watches = [w for w in ctx.settings.watches if only is None or w.name == only]
    if not watches:
        print(f"error: no watch named {only!r}", file=sys.stderr)
        return 1
    with ctx.engine.connect() as conn:
        recent = letter_store.recent(conn, [w.name for w in watches], limit)
        for w in watches:
            print(f"== {w.name}", file=out)
            letters = recent[w.name]
            if not letters:
                print("   (no letters on record yet)", file=out)
            for x in letters:
                ident = x.citation or x.document_nummer or x.ob_identifier or f"#{x.id}"
                print(f"   {_fmt(x.date)}  {ident}  {x.kind or '?'}: {x.subject or '(no subject)'}", file=out)
                for link in (x.tk_url, x.ob_html_url, x.ob_pdf_url):
                    if link:
                        print(f"      {link}", file=out)
    return 0


def _status(ctx: Context, out: TextIO) -> int:
    channels = build_channels(ctx.settings, stream=out)
    with ctx.engine.connect() as conn:
        cursors = ops.all_cursors(conn)
        print("Sources:", file=out)
        for h in ops.all_health(conn):
            cur = ", ".join(f"{k.split(':', 1)[1]}={v}" for k, v in cursors.items() if k.startswith(f"{h.source}:"))
            print(f"  {h.source}: last success {_fmt(h.last_success)}; failures in a row {h.consecutive_failures}; "
                  f"last new data {_fmt(h.last_new_data)}; cursor {cur or '-'}", file=out)  # fmt: skip
            if h.last_error:
                print(f"    last error: {h.last_error}", file=out)
        counts = letter_store.count_matches(conn)
        print("Watches:", file=out)
        for w in ctx.settings.watches:
            print(f"  {w.name}: {counts.get(w.name, 0)} letters on record", file=out)
        print("Channels:", file=out)
        deliveries = outbox_store.counts(conn)
        for name, ch in channels.items():
            c = deliveries.get(name, {})
            print(f"  {name}: {ch.describe()}; pending {c.get('pending', 0)}, retrying {c.get('retrying', 0)}, "
                  f"failed {c.get('failed', 0)}, sent {c.get('sent', 0)}", file=out)  # fmt: skip
        for channel, state, error, target in outbox_store.failures(conn, 10):
            print(f"    {state} {channel}{' → ' + target if target else ''}: {error}", file=out)
        active = ops.active_conditions(conn)
        print("Warnings:" if active else "Warnings: none", file=out)
        for key, since, detail in active:
            print(f"  since {_fmt(since)}: {detail or key}", file=out)
    return 0
