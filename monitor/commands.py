"""What the commands do, apart from the service: the store commands, check-config, test-alert, serve.

:mod:`monitor.cli` parses the arguments, sets up logging and loads the configuration, then
calls one of these: each takes the settings and the output stream and returns the exit
code (0 done, 1 an operation failed, 2 unusable configuration or database).  The store
commands (``list``, ``status``, ``retry-failed``) open the store alone, without a Context,
and their output is :mod:`monitor.reports`'s.  Imports wait for their command, so each
answers quickly.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

from .config import Settings
from .configread import channel_problems

if TYPE_CHECKING:
    from sqlalchemy import Engine

logger = logging.getLogger("monitor")


def store_command(command: str, args: argparse.Namespace, settings: Settings, out: TextIO) -> int:
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


def _list(settings: Settings, engine: Engine, out: TextIO, only: str | None, limit: int, *, as_json: bool) -> int:
    from .reports import list_document, list_lines
    from .store import letters as letter_store

    watches = [w for w in settings.watches if only is None or w.name == only]
    if not watches:
        print(f"error: no watch named {only!r}", file=sys.stderr)
        return 1
    with engine.connect() as conn:
        recent = letter_store.recent_listed(conn, [w.name for w in watches], limit)
    if as_json:
        _print_json(out, list_document(recent))
    else:
        _write(out, list_lines(recent))
    return 0


def _status(settings: Settings, engine: Engine, out: TextIO) -> int:
    from .notify.registry import build_channels
    from .reports import status_lines

    channels = {name: ch.describe() for name, ch in build_channels(settings, stream=out).items()}
    with engine.connect() as conn:
        _write(out, status_lines(settings, conn, channels))
    return 0


def _retry_failed(engine: Engine, out: TextIO, channel: str | None) -> int:
    from .store import outbox as outbox_store
    from .store import utcnow

    with engine.begin() as conn:
        n = outbox_store.retry_failed(conn, utcnow(), channel)
    print(f"re-queued {n} failed deliveries", file=out)
    return 0


def check_config(settings: Settings, out: TextIO) -> int:
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


def test_alert(settings: Settings, name: str | None, out: TextIO) -> int:
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


def serve(settings: Settings) -> int:
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


def _write(out: TextIO, lines: list[str]) -> None:
    """One write for the whole output: thousands of print() calls cost more than the query."""
    if lines:
        out.write("\n".join(lines) + "\n")
