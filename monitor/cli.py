"""Command line: the only module that reads ``sys.argv`` or configures logging.

Exit codes: 0 success, 1 an operation failed (a test alert was refused, a source failed
during ``poll --once``), 2 the configuration is invalid.  ``status --check`` and ``doctor``
use 0 / 1 / 2 for ok / warning / critical.  Global options (``--config``, ``--database``,
``-v``, ``--log-format``) are accepted before or after the command.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from . import __version__, logsetup
from .config import Settings, channel_problems, default_config_path, load
from .configread import ConfigError
from .logsetup import LOG_FORMATS, LogFormat
from .sources import SOURCES

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .context import Context

# Commands that only read the store (or re-queue rows in it) open it without a Context:
# they import neither the HTTP client, nor the matcher, nor the templates, nor the
# scheduler, so that they answer quickly.  Every other import waits for its command.
STORE_COMMANDS = ("list", "status", "retry-failed")
COMPLETION_SHELLS = ("bash", "zsh", "fish")

logger = logging.getLogger("monitor")


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default in its help, unless there is none worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "%(default)" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _global_options(p: argparse.ArgumentParser) -> None:
    """Options every command takes, before or after its name.

    The defaults are SUPPRESS on every parser, so a value given after the command is not
    overwritten by the top-level parser's default (see :func:`_option`).
    """
    g = p.add_argument_group("global options")
    g.add_argument(
        "--config", "-c", type=Path, default=argparse.SUPPRESS,
        help="TOML config (default: $KAMERMONITOR_CONFIG, else ./kamermonitor.toml if present, else built-in defaults)",
    )  # fmt: skip
    g.add_argument(
        "--database", default=argparse.SUPPRESS,
        help="SQLAlchemy URL (default: $KAMERMONITOR_DATABASE, else [monitor] database, else sqlite:///kamermonitor.db)",
    )  # fmt: skip
    g.add_argument("--verbose", "-v", action="store_true", default=argparse.SUPPRESS, help="debug logging")
    g.add_argument(
        "--log-format", choices=LOG_FORMATS, default=argparse.SUPPRESS,
        help="log lines as text or one JSON object per line (default: $KAMERMONITOR_LOG_FORMAT, else [monitor] "
        "log_format, else text)",
    )  # fmt: skip


def _option(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name, None)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kamermonitor",
        description="Alerts when a new letter is filed in a Kamerstuk dossier. Without a command: run.",
        formatter_class=_HelpFormatter,
    )
    _global_options(p)
    p.add_argument("--version", action="version", version=f"kamermonitor {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, summary: str, description: str) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=summary, description=description, formatter_class=_HelpFormatter)
        _global_options(cmd)
        return cmd

    command(
        "run", "run the service (the default)",
        "Run the service: poll each source on its interval and deliver alerts until SIGTERM or Ctrl-C "
        "(and serve the HTTP surface when [web] listen is set).",
    )  # fmt: skip
    command(
        "serve", "only the HTTP surface of [web], reading the database (next to a running instance)",
        "Serve only the HTTP surface of [web] (health, metrics, feeds, status page), reading the database; "
        "it neither polls nor delivers. Runs next to `run` on the same database.",
    )  # fmt: skip
    poll = command(
        "poll", "poll the sources once",
        "One cycle of every enabled source, then deliver what it found. Exit 0 when every source polled "
        "succeeded, 1 when one failed (for cron and systemd timers).",
    )  # fmt: skip
    poll.add_argument("--once", action="store_true", required=True, help="one cycle of every source, then exit")
    poll.add_argument("--source", action="append", choices=list(SOURCES), help="only this source (repeatable)")
    lst = command(
        "list", "recent letters per watch, newest first",
        "Recent letters per watch, newest first, with number, date, subject and links. Read-only.",
    )  # fmt: skip
    lst.add_argument("--watch", help="only this watch")
    lst.add_argument("--limit", type=int, default=10, help="letters per watch")
    lst.add_argument("--json", action="store_true", help="print one JSON document (schema in the README)")
    st = command(
        "status", "sources, watches, deliveries and warnings",
        "Per source: last success and failures; per watch: letters on record; per channel: deliveries; "
        "active warnings. Read-only.",
    )  # fmt: skip
    st.add_argument("--json", action="store_true", help="print one JSON document (schema in the README)")
    st.add_argument(
        "--check", action="store_true",
        help="one line in the monitoring-plugins convention; exit 0 OK, 1 WARNING, 2 CRITICAL",
    )  # fmt: skip
    st.add_argument(
        "--healthz", action="store_true",
        help="with --check and [web] listen set: ask the running service's /healthz instead of the database",
    )  # fmt: skip
    command("check-config", "validate the configuration and exit",
            "Validate the configuration; exit 2 with one line per problem, naming the key.")  # fmt: skip
    ta = command(
        "test-alert", "send a clearly marked test message through one channel",
        "Send a clearly marked test message through CHANNEL and report success or the exact failure. "
        "Without CHANNEL: list the configured channels.",
    )  # fmt: skip
    ta.add_argument("channel", nargs="?", help="the channel's name")
    rf = command("retry-failed", "re-queue failed deliveries after fixing their cause",
                 "Re-queue deliveries that failed for good, after their cause has been fixed.")  # fmt: skip
    rf.add_argument("--channel", help="only this channel")
    pv = command(
        "preview", "show the messages a watch would have sent for recent letters; sends nothing",
        "Ask the official publications for a watch's letters of the last N days and print what each channel "
        "would get. Sends nothing; the database is not touched.",
    )  # fmt: skip
    pv.add_argument("--watch", required=True, help="the watch's name")
    pv.add_argument("--days", type=_days, default=30, help="letters published in the last N days")
    pv.add_argument("--html", type=Path, metavar="FILE", help="also write the e-mail HTML to FILE")
    pv.add_argument("--channel", metavar="NAME", help="only this channel, each message as the payload it would send")
    pv.add_argument("--no-enrich", action="store_true", help="do not read the publications (sender, summary, ...)")
    dr = command(
        "doctor", "check the live sources, channels and database without changing anything",
        "Check everything the configuration names, one line per item: DNS, TLS and HTTP of each source and "
        "the shape of its answer; SMTP connect, EHLO, STARTTLS and AUTH without sending; the webhook URL; "
        "the database. Moves no cursor and queues nothing. Exit 0 ok, 1 warning, 2 error.",
    )  # fmt: skip
    dr.add_argument("--send", action="store_true", help="also send a test message through each webhook channel")
    comp = command(
        "completion", "print a shell completion script",
        "Print the completion script for SHELL; e.g. `kamermonitor completion bash > "
        "/etc/bash_completion.d/kamermonitor`, or `source <(kamermonitor completion zsh)`.",
    )  # fmt: skip
    comp.add_argument("shell", choices=COMPLETION_SHELLS, help="the shell")
    return p


def _days(text: str) -> int:
    from .preview import days_argument

    return days_argument(text)


def _log_format(args: argparse.Namespace, settings: Settings | None) -> LogFormat:
    """``--log-format``, else ``$KAMERMONITOR_LOG_FORMAT``, else the config's, else text."""
    chosen = _option(args, "log_format") or os.environ.get("KAMERMONITOR_LOG_FORMAT", "").strip().lower()
    if chosen in LOG_FORMATS:
        return cast(LogFormat, chosen)
    return settings.log_format if settings is not None else "text"


def main(argv: Sequence[str] | None = None, *, stdout: TextIO | None = None) -> int:
    parser = _parser()
    if "_ARGCOMPLETE" in os.environ:  # a shell asks for completions (scripts from `completion`)
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    command = args.command or "run"
    if command == "completion":
        return _completion(args.shell, stdout or sys.stdout)
    if command in STORE_COMMANDS or command == "check-config":
        with _gc_paused():
            return _main(args, command, stdout or sys.stdout)
    return _main(args, command, stdout or sys.stdout)


def _completion(shell: str, out: TextIO) -> int:
    from argcomplete.shell_integration import shellcode

    out.write(shellcode(["kamermonitor"], shell=shell))
    return 0


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


def _stopped_during_start_up(signum: int, _frame: object) -> None:
    # ``run`` installs its own handler once it is set up; before that, a SIGTERM just ends
    # the process cleanly (nothing has been polled or sent yet).
    raise SystemExit(0)


def _main(args: argparse.Namespace, command: str, out: TextIO) -> int:
    if command == "run":
        signal.signal(signal.SIGTERM, _stopped_during_start_up)
    verbose = bool(_option(args, "verbose"))
    logsetup.setup(_log_format(args, None), verbose=verbose)
    try:
        settings = load(_option(args, "config") or default_config_path(), database=_option(args, "database"))
    except ConfigError as exc:
        for line in exc.problems:
            print(f"config error: {line}", file=sys.stderr)
        return 2
    if settings.log_format != "text":
        logsetup.setup(_log_format(args, settings), verbose=verbose)
    if command == "check-config":
        return _check_config(settings, out)
    if command == "preview":  # reads the sources only: no database, no channels
        from .preview import run as preview_run

        return preview_run(
            settings, args.watch, args.days, html=args.html, enrich=not args.no_enrich, out=out, channel=args.channel
        )
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
    if command == "test-alert":  # sends through a channel; needs no database
        return _test_alert(settings, args.channel, out)
    if command == "doctor":  # reads the sources, channels and database; changes nothing
        from .doctor import run as doctor_run

        return doctor_run(settings, out, send=args.send)
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
    from .store import NoDatabase, open_engine
    from .store.schema import SchemaTooNew

    if command == "status" and args.check and args.healthz and settings.web.enabled:
        from .reports import healthz_verdict

        verdict = healthz_verdict(settings)
        print(verdict.line(), file=out)
        return verdict.code
    try:
        engine = open_engine(settings.database, create=False)
    except SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except NoDatabase as exc:
        # A read-only command never creates the database: it says there is none yet.
        if command == "status" and (args.json or args.check):
            return _status_machine(settings, None, out, as_json=args.json, check=args.check)
        print(f"{exc}; `kamermonitor run` or `kamermonitor poll --once` creates it", file=sys.stderr)
        if command == "list" and args.json:
            from .reports import list_document

            _print_json(out, list_document({w.name: [] for w in settings.watches if args.watch in (None, w.name)}))
        return 0
    try:
        if command == "list":
            return _list(settings, engine, out, args.watch, args.limit, as_json=args.json)
        if command == "status":
            if args.json or args.check:
                return _status_machine(settings, engine, out, as_json=args.json, check=args.check)
            return _status(settings, engine, out)
        return _retry_failed(engine, out, args.channel)
    finally:
        engine.dispose()


def _print_json(out: TextIO, document: dict[str, Any]) -> None:
    import json

    out.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")


def _status_machine(settings: Settings, engine: Engine | None, out: TextIO, *, as_json: bool, check: bool) -> int:
    """``status --json`` and/or ``status --check``; with ``--check`` the exit code is the verdict's."""
    from sqlalchemy.engine import make_url

    from .reports import status_document
    from .store import utcnow

    shown = make_url(settings.database).render_as_string(hide_password=True)
    if engine is None:
        doc = status_document(settings, None, utcnow(), database=shown)
    else:
        with engine.connect() as conn:
            doc = status_document(settings, conn, utcnow(), database=shown)
    if as_json:
        _print_json(out, doc)
    if check:
        if not as_json:
            print(f"KAMERMONITOR {doc['check']['state'].upper()} - {doc['check']['summary']}", file=out)
        return int(doc["check"]["code"])
    return 0


def _dispatch(command: str, args: argparse.Namespace, ctx: Context, out: TextIO) -> int:
    from .notify.deliver import Deliverer
    from .notify.registry import build_channels

    channels = build_channels(ctx.settings, stream=out)
    deliverer = Deliverer(ctx, channels)
    if command == "poll":
        from .poll import run_cycle

        result = run_cycle(ctx, deliverer, args.source)
        failed = [name for name, ok in result.ok.items() if not ok]
        if failed:
            logger.warning("poll finished; failing source(s): %s", ", ".join(failed))
            return 1
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


def _test_alert(settings: Settings, name: str | None, out: TextIO) -> int:
    from .notify.registry import build_channels

    channels = build_channels(settings, stream=out)
    if name is None:  # nothing to send: say what could be named
        _write(out, ["configured channels (kamermonitor test-alert CHANNEL):"]
               + [f"  {n}: {ch.describe()}" for n, ch in channels.items()])  # fmt: skip
        return 0
    ch = channels.get(name)
    if ch is None:
        print(f"error: no channel named {name!r} (configured: {', '.join(channels)})", file=sys.stderr)
        return 1
    from .models import Alert
    from .notify.base import DeliveryError
    from .store import utcnow

    # No text of its own: each channel's rendering says what a test message means, once.
    alert = Alert(event="test", created_at=utcnow())
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


def _list(settings: Settings, engine: Engine, out: TextIO, only: str | None, limit: int, *, as_json: bool) -> int:
    from .store import letters as letter_store

    watches = [w for w in settings.watches if only is None or w.name == only]
    if not watches:
        print(f"error: no watch named {only!r}", file=sys.stderr)
        return 1
    with engine.connect() as conn:
        recent = letter_store.recent_listed(conn, [w.name for w in watches], limit)
    if as_json:
        from .reports import list_document

        _print_json(out, list_document(recent))
        return 0
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
    return SOURCES[source].position(cursors) if source in SOURCES else ""


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
