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
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from . import __version__, commands, logsetup
from .config import Settings, default_config_path, load
from .configread import ConfigError
from .logsetup import LOG_FORMATS, LogFormat
from .sources import SOURCES

if TYPE_CHECKING:
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


# Set by a SIGTERM that comes while ``run`` is starting; it becomes the context's "stopping"
# flag, so the service sees it and never starts its scheduler.
_STOP_DURING_START_UP = threading.Event()


def _stopped_during_start_up(signum: int, _frame: object) -> None:
    # ``run`` installs its own handler once it is set up.  Before that, a SIGTERM only sets a
    # flag: raising SystemExit here could land inside an import's machinery, which swallows
    # it, and the process would carry on as if never asked to stop.
    _STOP_DURING_START_UP.set()


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
        return commands.check_config(settings, out)
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
        return commands.store_command(command, args, settings, out)
    if command == "serve":
        return commands.serve(settings)
    if command == "test-alert":  # sends through a channel; needs no database
        return commands.test_alert(settings, args.channel, out)
    if command == "doctor":  # reads the sources, channels and database; changes nothing
        from .doctor import run as doctor_run

        return doctor_run(settings, out, send=args.send)
    from .context import Context
    from .store.guard import lock_instance
    from .store.schema import SchemaTooNew

    if command in ("run", "poll"):
        lock_instance(settings.database)  # SQLite: one instance per file
    try:
        ctx = Context.create(settings, stop=_STOP_DURING_START_UP if command == "run" else None)
    except SchemaTooNew as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return _dispatch(command, args, ctx, out)
    finally:
        ctx.close()


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
