"""Operational warnings: said once per condition, and once more when it clears.

Each condition (a source failing, a source stale, a channel failing or stuck) has a key.
Raising an active condition again does nothing, so warnings never repeat while nothing
changes.  Warnings always go to the log; when ``[operator] channels`` names channels,
they are also queued in the outbox for those channels.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Connection

from .context import Context
from .store import ops
from .store import outbox as outbox_store

logger = logging.getLogger(__name__)


def _send(ctx: Context, conn: Connection, key: str, message: str, now: datetime) -> None:
    rows = []
    for name in ctx.settings.operator.channels:
        channel = ctx.settings.channel(name)
        if channel is None:
            continue
        for target in channel.targets():
            rows.append({
                "idem_key": f"op:{key}:{now.isoformat()}:{name}:{target}"[:255], "event": "operator",
                "channel": name, "target": target, "text": message,
            })  # fmt: skip
    outbox_store.enqueue(conn, rows, now)


def raise_condition(ctx: Context, conn: Connection, key: str, message: str) -> bool:
    """Warn about ``key`` unless it is already active; True when a warning went out."""
    now = ctx.now()
    if not ops.condition_on(conn, key, now, message):
        return False
    logger.warning("%s", message)
    _send(ctx, conn, key, message, now)
    return True


def clear_condition(ctx: Context, conn: Connection, key: str, message: str) -> bool:
    """Announce recovery if ``key`` was active; True when an announcement went out."""
    now = ctx.now()
    since = ops.condition_off(conn, key)
    if since is None:
        return False
    text = f"{message} (after {_duration(now - since)})"
    logger.warning("%s", text)
    _send(ctx, conn, f"{key}:clear", text, now)
    return True


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days {hours % 24} h"


def in_working_hours(ctx: Context, when: datetime) -> bool:
    local = when.astimezone(ctx.tz)
    return local.weekday() < 5 and 8 <= local.hour < 18


def check_source(
    ctx: Context,
    conn: Connection,
    source: str,
    ok: bool,
    error: str | None,
    *,
    foreign: bool = False,
    stalls: str | None = None,
) -> None:
    """After a poll: warn when failures reach the threshold, announce recovery, watch staleness.

    A link or redirect off the configured base URL (``foreign``) is told at once: it is a
    hostile or misconfigured server, not an outage that may pass by itself.  Staleness is
    watched only for a source that declares what its silence means (``stalls``, the end of
    the warning); for the others days without news are normal.
    """
    health = ops.health(conn, source)
    key = f"source-failing:{source}"
    if foreign:
        raise_condition(
            ctx, conn, f"source-foreign:{source}",
            f"{error}; the cursor stays where it was until the source links within its base URL",
        )  # fmt: skip
    if ok:
        clear_condition(ctx, conn, f"source-foreign:{source}", f"{source} links within its base URL again")
        clear_condition(ctx, conn, f"source-held-back:{source}", f"{source} is polled again")
        clear_condition(ctx, conn, key, f"{source} is reachable again")
    elif health.consecutive_failures >= ctx.settings.operator.failure_threshold:
        raise_condition(
            ctx, conn, key,
            f"{source} has failed {health.consecutive_failures} polls in a row; last error: {error}",
        )  # fmt: skip
    if stalls is None or not ok:
        return
    stale = f"source-stale:{source}"
    limit = timedelta(hours=ctx.settings.operator.stale_hours)
    now = ctx.now()
    if health.last_new_data is not None and now - health.last_new_data > limit:
        if in_working_hours(ctx, now):
            raise_condition(
                ctx, conn, stale,
                f"{source} answers but has produced no new documents for {_duration(now - health.last_new_data)}"
                f" during working hours; {stalls}",
            )  # fmt: skip
    else:
        clear_condition(ctx, conn, stale, f"{source} produces new documents again")


def check_held_back(ctx: Context, conn: Connection, health: ops.Health) -> None:
    """Warn once when a source's ``Retry-After`` keeps it unpolled for longer than ``stale_hours``."""
    if health.not_before is None:
        return
    since = health.last_success or health.last_attempt or ctx.now()
    if health.not_before - since > timedelta(hours=ctx.settings.operator.stale_hours):
        raise_condition(
            ctx, conn, f"source-held-back:{health.source}",
            f"{health.source} asked the monitor to wait; it is not polled until "
            f"{health.not_before.astimezone(ctx.tz):%Y-%m-%d %H:%M} ({_duration(health.not_before - since)} "
            f"since {'its last success' if health.last_success else 'the first failure'})",
        )  # fmt: skip


def check_deliveries(ctx: Context, conn: Connection) -> None:
    """Warn once per channel about permanent failures and about deliveries stuck in retry."""
    now = ctx.now()
    counts = outbox_store.counts(conn)
    for channel, c in counts.items():
        key = f"channel-failed:{channel}"
        if c.get("failed"):
            errors = [e for ch, s, e, _ in outbox_store.failures(conn, 50) if ch == channel and s == "failed"]
            raise_condition(
                ctx, conn, key,
                f"channel {channel}: {c['failed']} alert(s) could not be delivered: {errors[0] if errors else '?'}"
                " — fix the cause, then run `kamermonitor retry-failed`",
            )  # fmt: skip
        else:
            clear_condition(ctx, conn, key, f"channel {channel}: no failed deliveries any more")
    cutoff = now - timedelta(minutes=ctx.settings.operator.delivery_stuck_minutes)
    stuck: dict[str, str | None] = {}
    for _, channel, error in outbox_store.retrying_since(conn, cutoff):
        stuck.setdefault(channel, error)
    for channel in counts:
        key = f"channel-retrying:{channel}"
        if channel in stuck:
            raise_condition(
                ctx, conn, key,
                f"channel {channel}: alerts have been retrying for over "
                f"{ctx.settings.operator.delivery_stuck_minutes:.0f} min; last error: {stuck[channel]}",
            )  # fmt: skip
        else:
            clear_condition(ctx, conn, key, f"channel {channel}: delivering again")
