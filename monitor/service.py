"""``kamermonitor run``: the long-running service, driven by APScheduler 3.x.

One job per source at its interval (with a little jitter) and one job that drains the
outbox, started at once after every poll.  Polls run on one worker thread, so they never
overlap each other or themselves (``max_instances=1``); delivery has its own thread, so
a slow mail server never delays a poll.  A missed run after a pause or sleep is run once
(``coalesce=True``, no misfire grace limit) instead of being dropped.  SIGTERM and
Ctrl-C stop the scheduler after the step in progress.  With ``[web] listen`` set, the HTTP
surface (``monitor/web``) is bound before the first poll and served by threads of its
own, reading through connections of its own: it never waits for, nor delays, a poll.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from .context import Context, freeze_startup_heap
from .deliver import Deliverer
from .poll import announce_watches, deliver, enabled_sources, poll_source, prepare_watches
from .store import outbox as outbox_store

if TYPE_CHECKING:
    from .web.server import WebServer

logger = logging.getLogger(__name__)


class Service:
    def __init__(self, ctx: Context, deliverer: Deliverer) -> None:
        self.ctx = ctx
        self.deliverer = deliverer
        self._lock = threading.Lock()
        self._delivering = False
        self._again = False
        self.executor = ThreadPoolExecutor(1)
        # Sending has its own thread, so a slow mail server never delays the next poll.
        self.delivery_executor = ThreadPoolExecutor(1)
        self.scheduler = BlockingScheduler(
            timezone=ctx.settings.timezone,
            executors={"default": self.executor, "delivery": self.delivery_executor},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def _poll_job(self, name: str) -> None:
        prepare_watches(self.ctx)
        poll_source(self.ctx, name)
        announce_watches(self.ctx)
        # The alert goes out right after the poll that saw it, on the delivery thread: a
        # drain in progress is asked to go round once more, else one is started now.
        with self._lock:
            if self._delivering:
                self._again = True
                return
        try:
            self.scheduler.modify_job("deliver", next_run_time=datetime.now(self.ctx.tz))
        except JobLookupError:
            # SIGTERM shut the scheduler down (removing its jobs) while this poll ran; what
            # the poll queued is in the outbox and goes out on the next start.
            logger.info("stopping: deliveries queued by the last poll go out on the next start")

    def _deliver_job(self) -> None:
        with self._lock:
            self._delivering = True
        try:
            while True:
                deliver(self.ctx, self.deliverer)
                with self._lock:
                    if not self._again:
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
        if self.ctx.engine.dialect.name == "sqlite":
            # SQLite means one instance: rows a killed process left in 'sending' are ours to resend.
            with self.ctx.engine.begin() as conn:
                released = outbox_store.release_all(conn)
            if released:
                logger.info("re-queued %d deliveries interrupted by the previous run", released)
        now = datetime.now(self.ctx.tz)
        for name in enabled_sources(self.ctx):
            cfg = getattr(self.ctx.settings, name)
            self.scheduler.add_job(
                self._poll_job, IntervalTrigger(seconds=cfg.interval_seconds, jitter=cfg.jitter_seconds),
                args=[name], id=f"poll-{name}", name=f"poll {name}", next_run_time=now,
            )  # fmt: skip
        self.scheduler.add_job(
            self._deliver_job, IntervalTrigger(seconds=self.ctx.settings.delivery.interval_seconds),
            id="deliver", name="deliver outbox", executor="delivery",
        )  # fmt: skip
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._stop)
        schedule = ", ".join(
            f"{n} every {getattr(self.ctx.settings, n).interval_seconds:.0f}s" for n in enabled_sources(self.ctx)
        )
        database = self.ctx.engine.url.render_as_string(hide_password=True)
        logger.info(
            "kamermonitor running: %s; %d watch(es); database %s", schedule, len(self.ctx.settings.watches), database
        )
        freeze_startup_heap()
        if web is not None:
            web.start()
        try:
            self.scheduler.start()
            # The signal handler only stops the scheduling; the step in progress finishes here,
            # before the database and HTTP client are closed underneath it.
            self.executor.shutdown(wait=True)
            self.delivery_executor.shutdown(wait=True)
        finally:
            if web is not None:
                web.stop()
        logger.info("kamermonitor stopped")

    def _open_web(self) -> WebServer:
        """Bind the HTTP surface before anything starts, so a taken port stops ``run`` at once."""
        from .web.server import open_surface

        return open_surface(
            self.ctx.settings, alive=lambda: bool(self.scheduler.running), recorder=self.ctx.metrics,
            stats=self.ctx.fetcher.stats,
        )  # fmt: skip

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping after the current step", signal.Signals(signum).name)
        self.scheduler.shutdown(wait=False)
