"""What ``status`` and ``list`` print: text for people, JSON for scripts, and the ``status --check`` verdict.

The JSON documents are a stable interface for scripts (documented in the README): keys
are only ever added, and ``"schema": 1`` changes if one is removed or changes meaning.
Times are UTC ISO 8601 strings, dates ``YYYY-MM-DD``, absent values ``null``.

``status --check`` follows the monitoring-plugins convention: exit 0 OK, 1 WARNING,
2 CRITICAL, and one line ``KAMERMONITOR <STATE> - <summary>``.  CRITICAL means nobody is
being alerted: no database yet, a source failing ``failure_threshold`` polls in a row or
never polled for a long time, or alerts that failed for good.  WARNING is everything that
needs a look but still alerts: a source that failed its last polls, an active operator
warning, alerts retrying.  This module reads the store only; it never writes.

``status --check --healthz`` asks the running service instead, when ``[web] listen`` is
set: OK when its ``/healthz`` answers 200, CRITICAL otherwise (the container health check
uses it, so a hung or stopped service is unhealthy whatever the database says).

The plain ``status`` and ``list`` text (:func:`status_lines`, :func:`list_lines`) is for
people and may change wording; scripts use the JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .config import Settings
from .sources import SOURCES
from .store import letters as letter_store
from .store import ops
from .store import outbox as outbox_store
from .store.letters import Listed

JSON_SCHEMA = 1
OK, WARNING, CRITICAL = 0, 1, 2
STATE_NAMES = {OK: "ok", WARNING: "warning", CRITICAL: "critical"}
DELIVERY_STATES = ("pending", "retrying", "sending", "failed", "sent")
# A source not attempted for this many intervals (and at least MIN_SILENCE) means the
# service is not running, or a timer that runs ``poll --once`` has stopped.
SILENT_INTERVALS = 3
MIN_SILENCE = timedelta(minutes=15)


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, slots=True)
class Verdict:
    code: int
    problems: tuple[str, ...]  # the worst first
    summary: str

    @property
    def state(self) -> str:
        return STATE_NAMES[self.code]

    def line(self) -> str:
        """``KAMERMONITOR WARNING - <source> failed 2 polls in a row``."""
        return f"KAMERMONITOR {self.state.upper()} - {self.summary}"


def status_document(settings: Settings, conn: Connection | None, now: datetime, *, database: str) -> dict[str, Any]:
    """The ``status --json`` document; ``conn`` None means there is no database yet."""
    doc: dict[str, Any] = {
        "schema": JSON_SCHEMA,
        "generated_at": now.isoformat(),
        "database": {"url": database, "exists": conn is not None},
        "sources": [],
        "watches": [],
        "channels": [],
        "failures": [],
        "warnings": [],
    }
    health = {h.source: h for h in ops.all_health(conn)} if conn is not None else {}
    for name in settings.sources:
        cfg = settings.sources[name]
        h = health.get(name) or ops.Health(name)
        doc["sources"].append({
            "name": name, "enabled": cfg.enabled, "interval_seconds": cfg.interval_seconds,
            "last_attempt": _iso(h.last_attempt), "last_success": _iso(h.last_success),
            "last_new_data": _iso(h.last_new_data), "consecutive_failures": h.consecutive_failures,
            "last_error": h.last_error, "not_before": _iso(h.not_before),
        })  # fmt: skip
    counts = letter_store.count_matches(conn) if conn is not None else {}
    for w in settings.watches:
        doc["watches"].append({
            "name": w.name, "dossiers": [str(d) for d in w.dossiers], "keywords": list(w.keywords),
            "kinds": list(w.kinds), "channels": list(w.channels), "letters": counts.get(w.name, 0),
        })  # fmt: skip
    deliveries = outbox_store.counts(conn) if conn is not None else {}
    for ch in settings.channels:
        c = deliveries.get(ch.name, {})
        doc["channels"].append({"name": ch.name, "type": ch.type, **{k: c.get(k, 0) for k in DELIVERY_STATES}})
    if conn is not None:
        doc["failures"] = [
            {"channel": channel, "status": state, "error": error, "target": target}
            for channel, state, error, target in outbox_store.failures(conn, 10)
        ]
        doc["warnings"] = [
            {"key": key, "since": _iso(since), "detail": detail} for key, since, detail in ops.active_conditions(conn)
        ]
    verdict = judge(settings, doc, now)
    doc["check"] = {"state": verdict.state, "code": verdict.code, "summary": verdict.summary}
    return doc


def judge(settings: Settings, doc: dict[str, Any], now: datetime) -> Verdict:
    """The ``status --check`` verdict of a status document."""
    critical: list[str] = []
    warning: list[str] = []
    if not doc["database"]["exists"]:
        critical.append("no database yet: the monitor has never run")
    threshold = settings.operator.failure_threshold
    enabled = [s for s in doc["sources"] if s["enabled"]]
    for s in enabled:
        name, failures = s["name"], s["consecutive_failures"]
        if failures >= threshold:
            critical.append(f"{name} failed {failures} polls in a row: {s['last_error']}")
        elif failures:
            warning.append(f"{name} failed {_polls(failures)} in a row: {s['last_error']}")
        if doc["database"]["exists"]:
            silence = max(MIN_SILENCE, timedelta(seconds=SILENT_INTERVALS * s["interval_seconds"]))
            last = datetime.fromisoformat(s["last_attempt"]) if s["last_attempt"] else None
            if last is None:
                warning.append(f"{name} has not been polled yet")
            elif now - last > silence:
                critical.append(f"{name} not polled for {_minutes(now - last)} (is the service running?)")
    failed = sum(c["failed"] for c in doc["channels"])
    if failed:
        names = ", ".join(c["name"] for c in doc["channels"] if c["failed"])
        critical.append(f"{failed} alert(s) failed for good ({names}); fix the cause, then retry-failed")
    retrying = sum(c["retrying"] for c in doc["channels"])
    if retrying:
        warning.append(f"{retrying} alert(s) retrying")
    covered = ("source-failing:", "channel-failed:")  # already said above, in more detail
    warning += [w["detail"] or w["key"] for w in doc["warnings"] if not w["key"].startswith(covered)]
    if critical:
        return Verdict(CRITICAL, (*critical, *warning), "; ".join([*critical, *warning]))
    if warning:
        return Verdict(WARNING, tuple(warning), "; ".join(warning))
    letters = sum(w["letters"] for w in doc["watches"])
    summary = (
        f"{len(enabled)} source(s) polling, {len(doc['watches'])} watch(es), {letters} letter(s) on record, "
        f"{sum(c['sent'] for c in doc['channels'])} alert(s) sent"
    )
    return Verdict(OK, (), summary)


def _polls(n: int) -> str:
    return "1 poll" if n == 1 else f"{n} polls"


def _minutes(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() // 60)} min"


def list_document(recent: Mapping[str, Sequence[Listed]]) -> dict[str, Any]:
    """The ``list --json`` document: per watch, its letters newest first."""
    return {
        "schema": JSON_SCHEMA,
        "watches": [{"name": name, "letters": [_letter(x) for x in letters]} for name, letters in recent.items()],
    }


def _letter(x: Listed) -> dict[str, Any]:
    return {
        "id": x.id, "dossiers": list(x.dossiers), "number": x.number, "citation": x.citation, "kind": x.kind,
        "date": _iso(x.date), "subject": x.subject, "document_nummer": x.document_nummer,
        "ob_identifier": x.ob_identifier,
        "links": {"tweedekamer": x.tk_url, "publication_html": x.ob_html_url, "publication_pdf": x.ob_pdf_url},
    }  # fmt: skip


def web_address(settings: Settings) -> str:
    """``host:port`` to reach the ``[web]`` surface from this machine (a wildcard means loopback)."""
    host = settings.web.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"[{host}]:{settings.web.port}" if ":" in host else f"{host}:{settings.web.port}"


def healthz_verdict(settings: Settings, timeout: float = 10.0) -> Verdict:
    """Ask ``/healthz`` of the ``[web]`` surface: OK on 200, CRITICAL on anything else."""
    import urllib.error
    import urllib.request

    url = f"http://{web_address(settings)}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (a local http URL)
            body = resp.read(200).decode("utf-8", "replace").strip()
            return Verdict(OK, (), f"{url} answers {resp.status} {body}")
    except urllib.error.HTTPError as exc:
        problem = f"{url} answers {exc.code} {exc.read(200).decode('utf-8', 'replace').strip()}"
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        problem = f"{url} does not answer: {reason}"
    return Verdict(CRITICAL, (problem,), problem)


# --- text for people ------------------------------------------------------------------


def fmt(value: object) -> str:
    """A date or time as ``2025-06-27 10:00:00 UTC``; None as ``-``."""
    if value is None:
        return "-"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if hasattr(value, "hour") else str(value)
    return str(value)


def list_lines(recent: Mapping[str, Sequence[Listed]]) -> list[str]:
    """``list``: per watch, its letters newest first, with their links."""
    lines = []
    for name, letters in recent.items():
        lines.append(f"== {name}")
        if not letters:
            lines.append("   (no letters on record yet)")
        for x in letters:
            ident = x.citation or x.document_nummer or x.ob_identifier or f"#{x.id}"
            lines.append(f"   {fmt(x.date)}  {ident}  {x.kind or '?'}: {x.subject or '(no subject)'}")
            lines += [f"      {link}" for link in (x.tk_url, x.ob_html_url, x.ob_pdf_url) if link]
    return lines


def _count(n: int, one: str, many: str) -> str:
    """``1 letter``, ``2 letters``, ``0 letters``."""
    return f"{n} {one if n == 1 else many}"


def _position(source: str, cursors: dict[str, str]) -> str:
    """Where a source has read up to, in its own terms (internal bookkeeping cursors are left out)."""
    return SOURCES[source].position(cursors) if source in SOURCES else ""


def status_lines(settings: Settings, conn: Connection, channels: Mapping[str, str]) -> list[str]:
    """``status``: sources, watches, channels (``channels``: name → its description) and warnings."""
    lines = []
    cursors = ops.all_cursors(conn)
    lines.append("Sources:")
    for h in ops.all_health(conn):
        failures = _count(h.consecutive_failures, "failure", "failures") + " in a row"
        lines.append(
            f"  {h.source}: last success {fmt(h.last_success)}; "
            f"{failures if h.consecutive_failures else 'no failures'}; "
            f"last new data {fmt(h.last_new_data)}{_position(h.source, cursors)}"
        )
        if h.last_error:
            lines.append(f"    last error: {h.last_error}")
    counts = letter_store.count_matches(conn)
    lines.append("Watches:")
    lines += [f"  {w.name}: {_count(counts.get(w.name, 0), 'letter', 'letters')} on record" for w in settings.watches]
    lines.append("Channels:")
    deliveries = outbox_store.counts(conn)
    messages = outbox_store.messages_sent(conn)
    for name, description in channels.items():
        c = deliveries.get(name, {})
        per_target = messages.get(name, {})
        # What one reader got: a digest is one message, however many letters it names.
        sent = max(per_target.values(), default=0)
        lines.append(
            f"  {name}: {description}; {_count(sent, 'message', 'messages')} sent; "
            f"deliveries (one per letter and recipient): pending {c.get('pending', 0)}, "
            f"retrying {c.get('retrying', 0)}, failed {c.get('failed', 0)}, sent {c.get('sent', 0)}"
        )
        if len(set(per_target.values())) > 1:  # recipients added later got fewer
            lines.append("    messages per recipient: " + ", ".join(f"{t}: {n}" for t, n in per_target.items()))
    for channel, state, error, target in outbox_store.failures(conn, 10):
        lines.append(f"    {state} {channel}{' → ' + target if target else ''}: {error}")
    active = ops.active_conditions(conn)
    lines.append("Warnings:" if active else "Warnings: none")
    lines += [f"  since {fmt(since)}: {detail or key}" for key, since, detail in active]
    return lines
