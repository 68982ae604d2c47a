"""New matches and follow-ups → outbox rows, inside the caller's transaction.

One row per (letter, channel, recipient): a letter matched by two watches that share a
channel is queued for that channel once.  ``batch`` names the poll that found them
(``<source>:<time>``): a burst of new letters for one watch in one
poll goes out as one digest (:mod:`monitor.notify.deliver`).  The poll passes it; a
follow-up queued by a delivery has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from .schedule import IMMEDIATE, release
from .store import letters as letter_store
from .store import outbox as outbox_store

if TYPE_CHECKING:
    from .config import WatchConfig
    from .context import Context
    from .detect import NewMatch


def _rows(ctx: Context, watch: WatchConfig, now: datetime) -> list[tuple[str, str, datetime, str]]:
    """(channel, target, send-at, hold) for every recipient of the watch's channels."""
    out = []
    for name in watch.channels:
        channel = ctx.settings.channel(name)
        if channel is None:
            continue
        when, hold = release(watch.schedule or channel.schedule or IMMEDIATE, now, ctx.tz)
        out += [(name, target, when, hold) for target in channel.targets()]
    return out


def enqueue(ctx: Context, conn: Connection, matches: Sequence[NewMatch], batch: str) -> int:
    """Queue a first alert per (letter, channel, recipient) for the new matches of the poll ``batch``."""
    now = ctx.now()
    rows = [
        {
            "idem_key": f"new:{m.letter_id}:{name}:{target}", "event": "new", "channel": name, "target": target,
            "letter_id": m.letter_id, "batch": batch, "watch": m.watch.name, "reason": m.reason,
            "next_attempt_at": when, "hold": hold,
        }
        for m in matches
        for name, target, when, hold in _rows(ctx, m.watch, now)
    ]  # fmt: skip
    return outbox_store.enqueue(conn, rows, now)


def enqueue_followups(ctx: Context, conn: Connection, events: Sequence[tuple[int, str, str]], batch: str = "") -> int:
    """Queue follow-ups for letters already alerted: (letter id, kind, discriminator).

    ``kind`` is "published" or "attachments"; the discriminator makes each event
    once-only, and for an attachment it is the attachment's ref, kept in the row's
    ``reason`` so the follow-up names exactly the attachments it announces.

    Only to channels whose first alert has gone out: one still waiting in the outbox
    will carry the news itself, since alerts are rendered when they are sent.
    """
    if not events:
        return 0
    now = ctx.now()
    alerted = letter_store.alerted_watches(conn, {lid for lid, _, _ in events})
    watches = {w.name: w for w in ctx.settings.watches if w.followups}
    rows: list[dict[str, Any]] = []
    for letter_id, kind, discriminator in dict.fromkeys(events):
        for watch in (watches[n] for n in alerted.get(letter_id, ()) if n in watches):
            for name, target, when, hold in _rows(ctx, watch, now):
                rows.append({
                    "idem_key": f"followup:{kind}:{letter_id}:{discriminator}:{name}:{target}"[:255],
                    "event": "followup",
                    "channel": name, "target": target, "letter_id": letter_id, "batch": batch,
                    "watch": watch.name, "text": kind, "reason": discriminator, "next_attempt_at": when,
                    "hold": hold,
                    "first": f"new:{letter_id}:{name}:{target}",
                })  # fmt: skip
    sent = outbox_store.statuses(conn, [r.pop("first") for r in rows])
    rows = [r for r, s in zip(rows, sent, strict=True) if s == "sent"]
    return outbox_store.enqueue(conn, rows, now)
