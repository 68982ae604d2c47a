"""What one running monitor shares between its polls: settings, database, HTTP, clock, identity, metrics.

Handles only: turning matches into outbox rows is :mod:`monitor.alerts`' business, and
which poll queued them is passed to it, not kept here.
"""

from __future__ import annotations

import gc
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from .config import Settings
from .detect import Matcher
from .http import Fetcher, make_client
from .metrics import Recorder
from .retry import set_max_wait
from .store import letters as letter_store
from .store import open_engine


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

    def __post_init__(self) -> None:
        self.matcher = Matcher(self.settings.watches)

    @property
    def stopping(self) -> threading.Event:
        """Set on SIGTERM: requests in flight end, and no new step starts."""
        return self.fetcher.stop

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], None] = time.sleep,
        stop: threading.Event | None = None,
    ) -> Context:
        """``stop``: the "stopping" flag to use, when a signal may already have set it (``run``'s start-up)."""
        set_max_wait(settings.max_wait_seconds)  # every Retry-After and backoff is clamped to it
        fetcher = Fetcher(make_client(settings.http), settings.http, stop)
        return cls(settings, open_engine(settings.database), fetcher, now=now, sleep=sleep)

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
