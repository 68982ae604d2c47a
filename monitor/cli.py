"""Command line: the only module that reads ``sys.argv`` or configures logging.

Exit codes: 0 success, 1 an operation failed (e.g. a test alert was refused),
2 the configuration is invalid.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from . import __version__
from .config import ConfigError, Settings, channel_problems, default_config_path, load

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .context import Context
    from .notify.base import Channel

# Commands that only read the store (or re-queue rows in it) open it without a Context:
# they import neither the HTTP client, nor the matcher, nor the templates, nor the
# scheduler, so that they answer quickly.  Every other import waits for its command.
STORE_COMMANDS = ("list", "status", "retry-failed")

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
    sub.add_parser("serve", help="only the HTTP surface of [web], reading the database (next to a running instance)")
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
    pv.add_argument("--days", type=_days, default=30, help="letters published in the last N days (30)")
    pv.add_argument("--html", type=Path, metavar="FILE", help="also write the e-mail HTML to FILE")
    pv.add_argument("--no-enrich", action="store_true", help="do not read the publications (sender, summary, ...)")
    return p


def _days(text: str) -> int:
    from .preview import days_argument

    return days_argument(text)


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
    command = args.command or "run"
    if command in STORE_COMMANDS or command == "check-config":
        with _gc_paused():
            return _main(args, command, stdout or sys.stdout)
    return _main(args, command, stdout or sys.stdout)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a short command.

    Importing SQLAlchemy and reading thousands of rows allocate enough objects to trigger
    collections that sweep every object alive (30-60 ms of a ``status`` or ``list``);
    what these commands allocate is freed by reference counting, or with the process.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _main(args: argparse.Namespace, command: str, out: TextIO) -> int:
    _setup_logging(args.verbose)
    try:
        settings = load(args.config or default_config_path(), database=args.database)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"config error: {line}", file=sys.stderr)
        return 2
    if command == "check-config":
        return _check_config(settings, out)
    if command == "preview":  # reads the sources only: no database, no channels
        from .preview import run as preview_run

        return preview_run(settings, args.watch, args.days, html=args.html, enrich=not args.no_enrich, out=out)
    from .store import guard

    try:
        return _with_database(command, args, settings, out)
    except Exception as exc:
        if not guard.is_database_error(exc):
            raise
        # A read-only, corrupt or full database: the file and the cause, not a traceback.
        print(f"error: {guard.describe(settings.database, exc)}", file=sys.stderr)
        return 1


def _with_database(command: str, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    if command in STORE_COMMANDS:
        return _store_command(command, args, settings, out)
    if command == "serve":
        return _serve(settings)
    from .context import Context
    from .store.guard import lock_instance
    from .store.schema import SchemaTooNew

    if command in ("run", "poll"):
        lock_instance(settings.database)  # SQLite: one instance per file
    try:
        ctx = Context.create(settings)
    except SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _dispatch(command, args, ctx, out)
    finally:
        ctx.close()


def _store_command(command: str, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
    """``list``, ``status``, ``retry-failed``: the store alone, opened (and migrated) as a Context would."""
    from .store import open_engine
    from .store.schema import SchemaTooNew

    try:
        engine = open_engine(settings.database)
    except SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if command == "list":
            return _list(settings, engine, out, args.watch, args.limit)
        if command == "status":
            return _status(settings, engine, out)
        return _retry_failed(engine, out, args.channel)
    finally:
        engine.dispose()


def _dispatch(command: str, args: argparse.Namespace, ctx: Context, out: TextIO) -> int:
    from .deliver import Deliverer
    from .notify.registry import build_channels

    channels = build_channels(ctx.settings, stream=out)
    if command == "test-alert":
        return _test_alert(ctx, channels, args.channel, out)
    deliverer = Deliverer(ctx, channels)
    if command == "poll":
        from .poll import run_cycle

        result = run_cycle(ctx, deliverer, args.source)
        failed = [name for name, ok in result.ok.items() if not ok]
        if failed:
            logger.warning("poll finished; failing source(s): %s", ", ".join(failed))
        return 0
    from .service import Service
    from .web.server import WebError

    try:
        Service(ctx, deliverer).start()
    except WebError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _serve(settings: Settings) -> int:
    """``serve``: the HTTP surface alone, read-only, until SIGTERM or Ctrl-C.

    It opens the database read-only and takes no lock, so it runs next to ``run`` on the
    same SQLite file, or as a replica of a fleet sharing PostgreSQL.  It neither polls nor
    delivers: ``/healthz`` is 200 while it serves, and ``/metrics`` has the store's figures
    only (the event counters belong to the ``run`` processes).
    """
    import signal

    from .web.server import WebError, open_surface

    if not settings.web.enabled:
        print("error: serve needs [web] listen in the configuration", file=sys.stderr)
        return 2
    try:
        server = open_surface(settings, alive=lambda: True)
    except WebError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def stop(signum: int, _frame: object) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        server.interrupt()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    try:
        server.serve_forever()
    finally:
        server.stop()
    logger.info("kamermonitor serve stopped")
    return 0


def _check_config(settings: Settings, out: TextIO) -> int:
    problems = channel_problems(settings)
    if not problems:
        # The same construction start-up does: what it would refuse is refused here.
        from .notify.registry import UnusableChannel, build_channels

        for name, ch in build_channels(settings, stream=out).items():
            if isinstance(ch, UnusableChannel):
                problems.append(f"channel {name}: {ch.reason}")
    for line in problems:
        print(f"config error: {line}", file=sys.stderr)
    if problems:
        return 2
    lines = [f"configuration OK ({settings.source_path or 'built-in defaults'})"]
    for w in settings.watches:
        what = ", ".join(str(d) for d in w.dossiers) or "-"
        lines.append(f"  watch {w.name}: dossiers {what}; kinds {', '.join(w.kinds)}; "
                     f"keywords {', '.join(w.keywords) or '-'}; channels {', '.join(w.channels)}")  # fmt: skip
    _write(out, lines)
    return 0


def _test_alert(ctx: Context, channels: dict[str, Channel], name: str, out: TextIO) -> int:
    ch = channels.get(name)
    if ch is None:
        print(f"error: no channel named {name!r} (configured: {', '.join(channels)})", file=sys.stderr)
        return 1
    from .models import Alert
    from .notify.base import DeliveryError

    # No text of its own: each channel's rendering says what a test message means, once.
    alert = Alert(event="test", created_at=ctx.now())
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


def _retry_failed(engine: Engine, out: TextIO, channel: str | None) -> int:
    from .store import outbox as outbox_store
    from .store import utcnow

    with engine.begin() as conn:
        n = outbox_store.retry_failed(conn, utcnow(), channel)
    print(f"re-queued {n} failed deliveries", file=out)
    return 0


def _write(out: TextIO, lines: list[str]) -> None:
    """One write for the whole output: thousands of print() calls cost more than the query."""
    if lines:
        out.write("\n".join(lines) + "\n")


def _list(settings: Settings, engine: Engine, out: TextIO, only: str | None, limit: int) -> int:
    from .store import letters as letter_store

    watches = [w for w in settings.watches if only is None or w.name == only]
    if not watches:
        print(f"error: no watch named {only!r}", file=sys.stderr)
        return 1
    with engine.connect() as conn:
        recent = letter_store.recent_listed(conn, [w.name for w in watches], limit)
    lines = []
    for w in watches:
        lines.append(f"== {w.name}")
        letters = recent[w.name]
        if not letters:
            lines.append("   (no letters on record yet)")
        for x in letters:
            ident = x.citation or x.document_nummer or x.ob_identifier or f"#{x.id}"
            lines.append(f"   {_fmt(x.date)}  {ident}  {x.kind or '?'}: {x.subject or '(no subject)'}")
            lines += [f"      {link}" for link in (x.tk_url, x.ob_html_url, x.ob_pdf_url) if link]
    _write(out, lines)
    return 0


def _count(n: int, one: str, many: str) -> str:
    """``1 letter``, ``2 letters``, ``0 letters``."""
    return f"{n} {one if n == 1 else many}"


def _position(source: str, cursors: dict[str, str]) -> str:
    """Where a source has read up to, in its own terms (internal bookkeeping cursors are left out)."""
    if source == "syncfeed" and "syncfeed:Document" in cursors:
        return f"; read up to skiptoken {cursors['syncfeed:Document']} of the Document feed"
    if source == "sru" and "sru:since" in cursors:
        return f"; publications read up to {cursors['sru:since']}"
    return ""


def _status(settings: Settings, engine: Engine, out: TextIO) -> int:
    from .notify.registry import build_channels
    from .store import letters as letter_store
    from .store import ops
    from .store import outbox as outbox_store

    channels = build_channels(settings, stream=out)
    lines = []
    with engine.connect() as conn:
        cursors = ops.all_cursors(conn)
        lines.append("Sources:")
        for h in ops.all_health(conn):
            failures = _count(h.consecutive_failures, "failure", "failures") + " in a row"
            lines.append(
                f"  {h.source}: last success {_fmt(h.last_success)}; "
                f"{failures if h.consecutive_failures else 'no failures'}; "
                f"last new data {_fmt(h.last_new_data)}{_position(h.source, cursors)}"
            )
            if h.last_error:
                lines.append(f"    last error: {h.last_error}")
        counts = letter_store.count_matches(conn)
        lines.append("Watches:")
        lines += [
            f"  {w.name}: {_count(counts.get(w.name, 0), 'letter', 'letters')} on record" for w in settings.watches
        ]
        lines.append("Channels:")
        deliveries = outbox_store.counts(conn)
        messages = outbox_store.messages_sent(conn)
        for name, ch in channels.items():
            c = deliveries.get(name, {})
            per_target = messages.get(name, {})
            # What one reader got: a digest is one message, however many letters it names.
            sent = max(per_target.values(), default=0)
            lines.append(
                f"  {name}: {ch.describe()}; {_count(sent, 'message', 'messages')} sent; "
                f"deliveries (one per letter and recipient): pending {c.get('pending', 0)}, "
                f"retrying {c.get('retrying', 0)}, failed {c.get('failed', 0)}, sent {c.get('sent', 0)}"
            )
            if len(set(per_target.values())) > 1:  # recipients added later got fewer
                lines.append("    messages per recipient: " + ", ".join(f"{t}: {n}" for t, n in per_target.items()))
        for channel, state, error, target in outbox_store.failures(conn, 10):
            lines.append(f"    {state} {channel}{' → ' + target if target else ''}: {error}")
        active = ops.active_conditions(conn)
        lines.append("Warnings:" if active else "Warnings: none")
        lines += [f"  since {_fmt(since)}: {detail or key}" for key, since, detail in active]
    _write(out, lines)
    return 0
