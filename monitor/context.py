"""What one running monitor shares between its polls: settings, database, HTTP, watches.

The context also turns first-time matches into outbox rows, inside the caller's
transaction, one per (letter, channel, recipient) — so a letter matched by two watches
that share a channel is queued for that channel once.
"""

from __future__ import annotations

import gc
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from .config import Settings, WatchConfig
from .detect import Matcher, NewMatch
from .http import Fetcher, make_client, settings_from
from .metrics import Recorder
from .retry import set_max_wait
from .schedule import IMMEDIATE, release
from .store import letters as letter_store
from .store import open_engine
from .store import outbox as outbox_store


def new_owner() -> str:
    """This instance's identity: "host:pid:random", unique per start.

    Host and pid alone are not: instances in separate PID namespaces (containers) are all
    pid 1, and would share leases and each other's outbox rows.
    """
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` ("host:pid:random", or the older "host:pid") is a process on this host that no longer runs.

    Leases of owners on other hosts, of live processes, and of a pid equal to ours (another
    PID namespace, or us) are left to expire.
    """
    parts = owner.split(":")
    if len(parts) not in (2, 3):
        return False
    host, pid = parts[0], parts[1]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def freeze_startup_heap() -> None:
    """Keep what start-up built out of every later garbage collection.

    The configuration (a thousand watches), SQLAlchemy's compiled statements and the
    templates live as long as the process; without this, each full collection walks them
    all again, which cost about a tenth of a catch-up's CPU time (bench §2).  Called once the
    service is set up; the garbage of start-up itself is collected first.
    """
    gc.collect()
    gc.freeze()


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Context:
    settings: Settings
    engine: Engine
    fetcher: Fetcher
    now: Callable[[], datetime] = _utcnow
    sleep: Callable[[float], None] = time.sleep  # with ``now``: a test's clock moves both
    owner: str = field(default_factory=new_owner)
    matcher: Matcher = field(init=False)
    baselines: dict[str, datetime] = field(default_factory=dict)
    metrics: Recorder = field(default_factory=Recorder)  # this process's events, for /metrics
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def __post_init__(self) -> None:
        self.matcher = Matcher(self.settings.watches)

    @property
    def batch(self) -> str:
        """The poll that is queuing alerts on this thread (sources poll on threads of their own)."""
        return str(getattr(self._local, "batch", ""))

    @batch.setter
    def batch(self, value: str) -> None:
        self._local.batch = value

    @property
    def stopping(self) -> threading.Event:
        """Set on SIGTERM: requests in flight end, and no new step starts."""
        return self.fetcher.stop

    @classmethod
    def create(
        cls, settings: Settings, *, now: Callable[[], datetime] = _utcnow, sleep: Callable[[float], None] = time.sleep
    ) -> Context:
        set_max_wait(settings.max_wait_seconds)  # every Retry-After and backoff is clamped to it
        http = settings_from(settings.http)
        return cls(settings, open_engine(settings.database), Fetcher(make_client(http), http), now=now, sleep=sleep)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.timezone)

    def close(self) -> None:
        self.fetcher.client.close()
        self.engine.dispose()

    def refresh_baselines(self, conn: Connection) -> None:
        states = letter_store.watch_states(conn)
        self.baselines = {
            w.name: states[w.name].baselined_at
            for w in self.settings.watches
            if w.name in states and states[w.name].fingerprint == w.fingerprint()
        }

    def _rows(self, watch: WatchConfig, now: datetime) -> list[tuple[str, str, datetime, str]]:
        """(channel, target, send-at, hold) for every recipient of the watch's channels."""
        out = []
        for name in watch.channels:
            channel = self.settings.channel(name)
            if channel is None:
                continue
            when, hold = release(watch.schedule or channel.schedule or IMMEDIATE, now, self.tz)
            out += [(name, target, when, hold) for target in channel.targets()]
        return out

    def enqueue(self, conn: Connection, matches: Sequence[NewMatch]) -> int:
        """Queue a first alert per (letter, channel, recipient) for the new matches."""
        now = self.now()
        rows = [
            {
                "idem_key": f"new:{m.letter_id}:{name}:{target}", "event": "new", "channel": name, "target": target,
                "letter_id": m.letter_id, "batch": self.batch, "watch": m.watch.name, "reason": m.reason,
                "next_attempt_at": when, "hold": hold,
            }
            for m in matches
            for name, target, when, hold in self._rows(m.watch, now)
        ]  # fmt: skip
        return outbox_store.enqueue(conn, rows, now)

    def enqueue_followups(self, conn: Connection, events: Sequence[tuple[int, str, str]]) -> int:
        """Queue follow-ups for letters already alerted: (letter id, kind, discriminator).

        ``kind`` is "published" or "attachments"; the discriminator makes each event
        once-only, and for an attachment it is the attachment's ref, kept in the row's
        ``reason`` so the follow-up names exactly the attachments it announces.

        Only to channels whose first alert has gone out: one still waiting in the outbox
        will carry the news itself, since alerts are rendered when they are sent.
        """
        if not events:
            return 0
        now = self.now()
        alerted = letter_store.alerted_watches(conn, {lid for lid, _, _ in events})
        watches = {w.name: w for w in self.settings.watches if w.followups}
        rows: list[dict[str, Any]] = []
        for letter_id, kind, discriminator in dict.fromkeys(events):
            for watch in (watches[n] for n in alerted.get(letter_id, ()) if n in watches):
                for name, target, when, hold in self._rows(watch, now):
                    rows.append({
                        "idem_key": f"followup:{kind}:{letter_id}:{discriminator}:{name}:{target}"[:255],
                        "event": "followup",
                        "channel": name, "target": target, "letter_id": letter_id, "batch": self.batch,
                        "watch": watch.name, "text": kind, "reason": discriminator, "next_attempt_at": when,
                        "hold": hold,
                        "first": f"new:{letter_id}:{name}:{target}",
                    })  # fmt: skip
        sent = outbox_store.statuses(conn, [r.pop("first") for r in rows])
        rows = [r for r, s in zip(rows, sent, strict=True) if s == "sent"]
        return outbox_store.enqueue(conn, rows, now)
