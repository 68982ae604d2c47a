"""``kamermonitor run``: the long-running service, driven by APScheduler 3.x.

One job per source at its interval (with a little jitter) and one job that drains the
outbox, started at once after every poll.  Each source polls on a thread of its own, so a
stalled source never delays the other; a poll never overlaps itself (``max_instances=1``).
Delivery has its own thread, so a slow mail server never delays a poll.  A missed run
after a pause or sleep is run once (``coalesce=True``, no misfire grace limit) instead of
being dropped.  With ``[web] listen`` set, the HTTP surface (``monitor/web``) is
bound before the first poll and served by threads of its own, reading through connections
of its own: it never waits for, nor delays, a poll.

SIGTERM and Ctrl-C end the process within :data:`STOP_SECONDS`: requests in flight are
abandoned (a poll is redone at the next start, its cursor never having moved), deliveries
claimed but not begun are handed back, and a message being sent at that moment is left
'sending' under its lease, to be sent again by the next start (the accept-then-stop window).

A database fault (read-only, full, corrupt) stops the service with one line and exit 1.

Under systemd (``Type=notify``) the service says ``READY=1`` once the scheduler runs,
``STOPPING=1`` on a stop signal, a ``STATUS=`` line after each poll, and, when the unit
has ``WatchdogSec=``, ``WATCHDOG=1`` from a scheduler job of its own — withheld while a
poll has been running for longer than :data:`POLL_HANG_SECONDS`, so systemd restarts a
monitor whose scheduler or poll thread hangs (see :mod:`monitor.sdnotify`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from apscheduler.events import EVENT_SCHEDULER_STARTED, SchedulerEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers import SchedulerNotRunningError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from . import sdnotify
from .context import Context, freeze_startup_heap
from .notify.deliver import Deliverer
from .poll import announce_watches, behind, deliver, enabled_sources, poll_source, prepare_watches
from .store import guard

if TYPE_CHECKING:
    from .web.server import WebServer

logger = logging.getLogger(__name__)

# After SIGTERM, steps in progress get this long to finish before the process exits anyway
# (systemd's default stop timeout is 90 s; the bound is 10 s).
STOP_SECONDS = 8.0
# A poll still running after this long is taken to hang: the watchdog pings stop.
POLL_HANG_SECONDS = 3600.0


class Service:
    def __init__(self, ctx: Context, deliverer: Deliverer) -> None:
        self.ctx = ctx
        self.deliverer = deliverer
        self._lock = threading.Lock()
        self._delivering = False
        self._again = False
        self._running = 0
        self._idle = threading.Condition()
        self._watch_lock = threading.Lock()
        self.fatal: str | None = None
        self._poll_since: dict[str, float] = {}  # source → when its poll in progress began
        self._signal: int | None = None  # the stop signal received, once one is
        # One thread per source: a stalled source never holds up the other.
        self.executor = ThreadPoolExecutor(max(1, len(enabled_sources(ctx))))
        # Sending has its own thread, so a slow mail server never delays the next poll.
        self.delivery_executor = ThreadPoolExecutor(1)
        self.scheduler = BlockingScheduler(
            timezone=ctx.settings.timezone,
            # The watchdog's own thread: a long poll must not delay its pings.
            executors={"default": self.executor, "delivery": self.delivery_executor, "watchdog": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def _step(self, work: Callable[[], None]) -> None:
        """Run one job's work, counted (for the stop) and with database faults ending the service."""
        with self._idle:
            if self.ctx.stopping.is_set():
                return
            self._running += 1
        try:
            work()
        except Exception as exc:
            if not guard.is_database_error(exc):
                raise
            self.fatal = guard.describe(self.ctx.settings.database, exc)
            logger.error("stopping: %s", self.fatal)
            self.ctx.stopping.set()  # the stopper thread stops the scheduler, as for a signal
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _poll_job(self, name: str) -> None:
        self._step(lambda: self._poll(name))

    def _poll(self, name: str) -> None:
        # A poll that stopped at its page limit is followed at once by the next (the fetcher
        # still paces the requests): a backlog drains at the source's pace, not one page
        # limit per interval.  The alerts of each poll go out meanwhile.
        while self._poll_once(name) and not self.ctx.stopping.is_set() and behind(self.ctx, name):
            logger.info("%s: more to read after the page limit; polling again now", name)

    def _poll_once(self, name: str) -> bool:
        self._poll_since[name] = time.monotonic()
        try:
            with self._watch_lock:  # the two sources' threads share the watches' bookkeeping
                prepare_watches(self.ctx)
            ok = poll_source(self.ctx, name)
        finally:
            self._poll_since.pop(name, None)
        sdnotify.notify(f"STATUS={name} {'polled' if ok else 'FAILED'} at {datetime.now(self.ctx.tz):%H:%M:%S}")
        if self.ctx.stopping.is_set():
            return ok
        with self._watch_lock:
            announce_watches(self.ctx)
        # The alert goes out right after the poll that saw it, on the delivery thread: a
        # drain in progress is asked to go round once more, else one is started now.
        with self._lock:
            if self._delivering:
                self._again = True
                return ok
        try:
            self.scheduler.modify_job("deliver", next_run_time=datetime.now(self.ctx.tz))
        except JobLookupError:
            # SIGTERM shut the scheduler down (removing its jobs) while this poll ran; what
            # the poll queued is in the outbox and goes out on the next start.
            logger.info("stopping: deliveries queued by the last poll go out on the next start")
        return ok

    def _deliver_job(self) -> None:
        self._step(self._deliver)

    def _deliver(self) -> None:
        with self._lock:
            self._delivering = True
        try:
            while True:
                deliver(self.ctx, self.deliverer)
                with self._lock:
                    if not self._again or self.ctx.stopping.is_set():
                        # Under the same lock as the check: a poll that finishes right now
                        # either set _again in time or sees no drain and starts one.
                        self._delivering = False
                        return
                    self._again = False
        finally:
            with self._lock:
                self._delivering = False

    def start(self) -> None:
        """Block until stopped by a signal.  Raises WebError when ``[web]`` cannot listen."""
        web = self._open_web() if self.ctx.settings.web.enabled else None
        # Rows another process left 'sending' are not simply taken back here: a drain takes
        # back those of a process on this host that has died, and every other row when its
        # lease runs out (another instance may still be sending it).
        now = datetime.now(self.ctx.tz)
        for name in enabled_sources(self.ctx):
            cfg = self.ctx.settings.sources[name]
            self.scheduler.add_job(
                self._poll_job, IntervalTrigger(seconds=cfg.interval_seconds, jitter=cfg.jitter_seconds),
                args=[name], id=f"poll-{name}", name=f"poll {name}", next_run_time=now,
            )  # fmt: skip
        self.scheduler.add_job(
            self._deliver_job, IntervalTrigger(seconds=self.ctx.settings.delivery.interval_seconds),
            id="deliver", name="deliver outbox", executor="delivery",
        )  # fmt: skip
        watchdog = sdnotify.watchdog_interval()
        if watchdog is not None:
            self.scheduler.add_job(
                self._watchdog_job, IntervalTrigger(seconds=watchdog), id="watchdog", name="systemd watchdog",
                executor="watchdog", next_run_time=now,
            )  # fmt: skip
        # A SIGTERM that lands between the check below and the scheduler's start finds no
        # scheduler to stop: the started listener stops it then.  (Not a one-off job: APScheduler
        # removes one after running it, and a shutdown from another thread at that moment made
        # the removal fail inside its main loop.)
        self.scheduler.add_listener(self._started, EVENT_SCHEDULER_STARTED)
        threading.Thread(target=self._stopper, name="stopper", daemon=True).start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        schedule = ", ".join(
            f"{n} every {self.ctx.settings.sources[n].interval_seconds:.0f}s" for n in enabled_sources(self.ctx)
        )
        database = self.ctx.engine.url.render_as_string(hide_password=True)
        logger.info(
            "kamermonitor running: %s; %d watch(es); database %s", schedule, len(self.ctx.settings.watches), database
        )
        freeze_startup_heap()
        if web is not None:
            web.start()
        try:
            if self.ctx.stopping.is_set():  # a SIGTERM during start-up: do not start at all
                logger.info("stopping: asked to stop while starting; nothing was polled or sent")
            else:
                self.scheduler.start()
            # The signal handler stopped the scheduling and asked every step in progress to
            # stop; they end here, before the database and HTTP client are closed under them.
            if not self._wait_idle(STOP_SECONDS):
                logger.warning(
                    "stopping now with %d step(s) unfinished: a poll is redone at the next start; "
                    "a message being sent is left to its lease and may be sent once more",
                    self._running,
                )
                logging.shutdown()
                os._exit(1 if self.fatal else 0)  # the threads still blocked would keep the process alive
            self.executor.shutdown(wait=True)
            self.delivery_executor.shutdown(wait=True)
        finally:
            if web is not None:
                web.stop()
        if self.fatal:
            raise guard.DatabaseFault(self.fatal)
        logger.info("kamermonitor stopped")

    def _wait_idle(self, seconds: float) -> bool:
        end = time.monotonic() + seconds
        with self._idle:
            while self._running:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _open_web(self) -> WebServer:
        """Bind the HTTP surface before anything starts, so a taken port stops ``run`` at once."""
        from .web.server import open_surface

        return open_surface(
            self.ctx.settings, alive=lambda: bool(self.scheduler.running), recorder=self.ctx.metrics,
            stats=self.ctx.fetcher.stats,
        )  # fmt: skip

    def _started(self, _event: SchedulerEvent) -> None:
        # Called on the main thread by the scheduler's start(), before its loop, holding no lock.
        if self.ctx.stopping.is_set():
            self._shutdown_scheduler()
            return
        sdnotify.notify("READY=1", "STATUS=running")

    def _watchdog_job(self) -> None:
        since = min(self._poll_since.values(), default=None)
        if since is not None and time.monotonic() - since > POLL_HANG_SECONDS:
            logger.error("a poll has been running for over %.0f s; no watchdog ping", POLL_HANG_SECONDS)
            return
        sdnotify.notify("WATCHDOG=1")

    def _shutdown_scheduler(self) -> None:
        # The stopper thread and the started listener may both try: the second finds it stopped.
        with contextlib.suppress(SchedulerNotRunningError):
            if self.scheduler.running:  # not yet running: start() sees the flag and never starts it
                self.scheduler.shutdown(wait=False)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of the main thread, which may be holding
        # a lock the shutdown needs (APScheduler submitting a job holds its pool's lock; the
        # shutdown takes it again, and the process hung).  So the handler only sets the flag;
        # the stopper thread, started before the handlers were installed, does the rest.
        self._signal = signum
        self.ctx.stopping.set()

    def _stopper(self) -> None:
        self.ctx.stopping.wait()
        if self._signal is not None:
            sdnotify.notify("STOPPING=1")
            logger.info(
                "received %s, stopping after the current step (at most %.0f s)",
                signal.Signals(self._signal).name, STOP_SECONDS,
            )  # fmt: skip
        self._shutdown_scheduler()
