"""Drain the outbox: claim due rows, send each through its channel, then record the outcome.

Send first, mark after: a crash between the two re-sends (at-least-once) but never
loses an alert.  Transient failures are retried with exponential backoff and jitter
(never sooner than a ``Retry-After``); permanent ones are marked failed with the exact
reason at once.  When more than ``digest_threshold`` letters for one watch arrive in
one poll, a channel gets them as one digest instead of a storm of single alerts.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection

from .. import alerts
from ..context import Context, owner_is_dead
from ..enrich.run import enrich
from ..models import Alert
from ..pacing import Pacer
from ..retry import clamp
from ..store import attachments as attachment_store
from ..store import letters as letter_store
from ..store import outbox as outbox_store
from ..store.outbox import Delivery
from .base import Channel, DeliveryError, channel_secrets, redact

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class DrainResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def backoff(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt ``attempt + 1``: exponential, half-jittered, capped.

    Whatever the configuration or the far end's ``Retry-After`` say, the result stays
    at most :data:`~monitor.retry.MAX_WAIT` (6 h).
    """
    ceiling = min(cap, base * 2 ** min(attempt, 30))
    delay = random.uniform(ceiling / 2, ceiling)
    return clamp(max(delay, retry_after or 0.0), minimum=0.0)


def _latencies(unit: list[Delivery], alert: Alert, now: datetime) -> list[float]:
    """Seconds from first sighting to delivery of each letter of a first alert sent as soon as it could be.

    Alerts held for a digest or until quiet hours end are left out: their wait was chosen.
    """
    if unit[0].event != "new" or any(r.hold for r in unit):
        return []
    return [(now - x.first_seen).total_seconds() for x in alert.letters if x.first_seen is not None]


def _burst(channel: Channel) -> int:
    """How many messages a paced channel takes at once (Slack: "short bursts allowed"); 1 unless it says."""
    return int(getattr(channel, "burst", 1))


class Deliverer:
    """Sends due outbox rows; remembers per-channel pacing between drains."""

    def __init__(self, ctx: Context, channels: Mapping[str, Channel]) -> None:
        self.ctx = ctx
        self.channels = channels
        self._pacer = Pacer()  # per channel: its min_interval on average, after a burst of its own
        self._enrich_tried: set[tuple[int, str]] = set()  # per drain: see enrich.run.enrich

    def drain(self, max_rounds: int = 50) -> DrainResult:
        result = DrainResult()
        self._enrich_tried = set()
        with self.ctx.engine.begin() as conn:
            released = outbox_store.release_owners(conn, owner_is_dead)
        if released:
            logger.info("re-queued %d deliveries left in flight by a process that died", released)
        for _ in range(max_rounds):
            with self.ctx.engine.begin() as conn:
                claimed = outbox_store.claim(
                    conn, self.ctx.owner, self.ctx.now(), self.ctx.settings.delivery.lease_seconds
                )
            if not claimed:
                break
            units = self._in_turn(self._group(claimed))
            for unit in units:
                if self.ctx.stopping.is_set():
                    self._hand_back([r.id for u in [unit, *units] for r in u])
                    return result
                self._deliver(unit, result)
        return result

    def _hand_back(self, ids: list[int]) -> None:
        """Stopping: rows claimed but not begun go back to pending at once (not after their lease)."""
        with self.ctx.engine.begin() as conn:
            n = outbox_store.unclaim(conn, ids, self.ctx.owner)
        if n:
            logger.info("stopping: %d queued deliveries go out at the next start", n)

    def _in_turn(self, units: list[list[Delivery]]) -> Iterator[list[Delivery]]:
        """Messages oldest first, except that one whose channel must still wait lets ready channels go first.

        A Slack webhook takes about one message a second; without this, the wait for it
        held back every e-mail queued behind it.  Within one channel the order is kept (its
        messages all wait alike, and the oldest ready one is taken).
        """
        pending = list(units)
        while pending:
            waits = [self._wait(unit) for unit in pending]
            ready = next((i for i, wait in enumerate(waits) if wait <= 0), None)
            yield pending.pop(ready if ready is not None else waits.index(min(waits)))

    def _wait(self, unit: list[Delivery]) -> float:
        """Seconds until this message's channel may send again (0: now)."""
        channel = self.channels.get(unit[0].channel)
        if channel is None:
            return 0.0
        return self._pacer.wait(channel.name, channel.min_interval, _burst(channel))

    def _group(self, rows: Sequence[Delivery]) -> list[list[Delivery]]:
        """Rows → messages.

        Held rows (a daily/weekly digest, or the end of quiet hours) with one hold key go
        out together; a burst of new letters for one watch in one poll becomes a digest
        above ``digest_threshold``; attachment follow-ups for one letter from one poll
        make one message; everything else goes out on its own.
        """
        threshold = self.ctx.settings.delivery.digest_threshold
        groups: dict[tuple[str, ...], list[Delivery]] = {}
        units: list[list[Delivery]] = []
        for row in rows:
            if row.event == "new" and row.hold:
                groups.setdefault(("hold", row.channel, row.target, row.hold), []).append(row)
            elif row.event == "new" and row.batch:
                groups.setdefault(("burst", row.channel, row.target, row.batch, row.watch), []).append(row)
            elif row.event == "followup":
                key: tuple[str, ...] = ("followup", row.channel, row.target, row.batch, str(row.letter_id))
                groups.setdefault((*key, row.text or ""), []).append(row)
            else:
                units.append([row])
        for key, group in groups.items():
            together = key[0] != "burst" or len(group) > threshold
            units.extend([group] if together else [[r] for r in group])
        return sorted(units, key=lambda u: u[0].id)

    def _alert(self, unit: list[Delivery]) -> Alert:
        first = unit[0]
        if first.event not in ("new", "followup"):
            return Alert(event=first.event, text=first.text, delivery_id=first.id, created_at=first.created_at)
        ids = [r.letter_id for r in unit if r.letter_id is not None]
        enrich(self.ctx, ids, queued_at=min(r.created_at for r in unit), tried=self._enrich_tried)
        # A follow-up about attachments names only the ones it announces (their refs are in
        # ``reason``); every other message lists all the letter's attachments known now.
        only = [r.reason for r in unit] if first.event == "followup" and first.text == "attachments" else None
        with self.ctx.engine.connect() as conn:
            found = letter_store.load(conn, ids)
            extra = attachment_store.for_letters(conn, found, only)
            details = letter_store.details(conn, ids)
        found = {
            i: replace(x, attachments=extra.get(i, ()), details=letter_store.parse_details(details.get(i)))
            for i, x in found.items()
        }
        letters = sorted(found.values(), key=lambda x: (x.date is not None, x.date, x.id), reverse=True)
        if first.event == "followup":
            return Alert("followup", tuple(letters), (), (first.watch,), first.text, first.id, first.created_at)
        reasons = tuple(dict.fromkeys(r.reason for r in unit if r.reason))
        watches = tuple(dict.fromkeys(r.watch for r in unit if r.watch))
        return Alert("new", tuple(letters), reasons, watches, delivery_id=first.id, created_at=first.created_at)

    def _pace(self, channel: Channel) -> None:
        wait = self._pacer.reserve(channel.name, channel.min_interval, _burst(channel))
        if wait > 0:
            time.sleep(wait)

    def _deliver(self, unit: list[Delivery], result: DrainResult) -> None:
        first = unit[0]
        ids = [r.id for r in unit]
        channel = self.channels.get(first.channel)
        try:
            if channel is None:
                raise DeliveryError(f"no channel named {first.channel!r} in the configuration", permanent=True)
            alert = self._alert(unit)
            self._pace(channel)
            if not self._still_ours(ids):
                return
            channel.send(alert, first.target)
        except DeliveryError as exc:
            self._failed(unit, ids, exc, result)
            return
        except Exception as exc:  # a bug in a channel must not stop the other deliveries
            logger.exception("delivery %s via %s crashed", ids, first.channel, extra={"channel": first.channel})
            self._failed(unit, ids, DeliveryError(f"internal error: {type(exc).__name__}: {exc}"), result)
            return
        now = self.ctx.now()
        with self.ctx.engine.begin() as conn:
            outbox_store.mark_sent(conn, ids, self.ctx.owner, now)
            if alert.event == "new":
                self._published_meanwhile(conn, alert)
        result.sent += len(ids)
        self.ctx.metrics.delivered(first.channel, _latencies(unit, alert, now))
        logger.debug("delivered %s via %s", ids, first.channel)

    def _published_meanwhile(self, conn: Connection, alert: Alert) -> None:
        """Queue the publication follow-up for letters published after this alert was rendered.

        A poll that records a publication while this alert is in flight ('sending') queues no
        follow-up, since it cannot know whether the alert was rendered before or after; the
        delivery knows, and does it here, in the transaction that marks the alert sent.
        """
        unpublished = [x.id for x in alert.letters if not (x.ob_html_url or x.ob_pdf_url)]
        if not unpublished:
            return
        now = letter_store.load(conn, unpublished)
        news = [(i, "published", "") for i, x in now.items() if x.ob_html_url or x.ob_pdf_url]
        if news:
            alerts.enqueue_followups(self.ctx, conn, news)

    def _still_ours(self, ids: list[int]) -> bool:
        with self.ctx.engine.begin() as conn:
            ours = outbox_store.renew(
                conn, ids, self.ctx.owner, self.ctx.now(), self.ctx.settings.delivery.lease_seconds
            )
        if not ours:
            # Another instance took these rows over when our lease ran out; it sends them.
            logger.info("deliveries %s were taken over by another instance; not sending them here", ids)
        return ours

    def _failed(self, unit: list[Delivery], ids: list[int], exc: DeliveryError, result: DrainResult) -> None:
        # Channels redact their own secrets; this is the second lock on the door, since the
        # text goes to last_error, status, warnings and the log.
        channel = self.channels.get(unit[0].channel)
        exc = DeliveryError(
            redact(str(exc), channel_secrets(channel)), permanent=exc.permanent, retry_after=exc.retry_after
        )
        cfg = self.ctx.settings.delivery
        now = self.ctx.now()
        attempts = max(r.attempts for r in unit) + 1
        where = unit[0].channel + (f" to {unit[0].target}" if unit[0].target else "")
        with self.ctx.engine.begin() as conn:
            if exc.permanent or attempts >= cfg.max_attempts:
                why = str(exc) if exc.permanent else f"gave up after {attempts} attempts: {exc}"
                outbox_store.mark_failed(conn, ids, self.ctx.owner, now, why)
                result.failed += len(ids)
                self.ctx.metrics.failed(unit[0].channel, len(ids))
                logger.error("delivery via %s failed permanently: %s", where, why, extra={"channel": unit[0].channel})
            else:
                delay = backoff(attempts - 1, cfg.backoff_base_seconds, cfg.backoff_cap_seconds, exc.retry_after)
                outbox_store.mark_retry(conn, ids, self.ctx.owner, now, now + timedelta(seconds=delay), str(exc))
                result.retried += len(ids)
                self.ctx.metrics.retried(unit[0].channel, len(ids))
                logger.warning(
                    "delivery via %s failed (attempt %d), retrying in %.0fs: %s", where, attempts, delay, exc,
                    extra={"channel": unit[0].channel},
                )  # fmt: skip
