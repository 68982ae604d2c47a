"""One poll cycle: baseline new watches, poll each source in isolation, then deliver.

This is the only module that knows the order of the pipeline (fetch → detect → record →
notify).  A failing source is logged in one line, counted, and never stops the other
source or the deliveries; a source that asked us to back off (``Retry-After``) is
skipped until then, unless that moment is only seconds away: then the poll waits for
it.  A lease per source keeps two instances sharing one PostgreSQL database from
polling the same source at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from . import operator
from .context import Context, owner_is_dead
from .detect import NewMatch, baseline
from .http import SourceError
from .notify.deliver import Deliverer, DrainResult
from .sources import SOURCES
from .store import letters as letter_store
from .store import ops

logger = logging.getLogger(__name__)

# A source's ``Retry-After`` window that ends within this many seconds is waited out by the
# poll that finds it still open; a longer one skips the source until a later poll.
SHORT_RETRY_AFTER_SECONDS = 3.0


@dataclass(slots=True)
class CycleResult:
    ok: dict[str, bool] = field(default_factory=dict)
    delivery: DrainResult = field(default_factory=DrainResult)


def enabled_sources(ctx: Context) -> list[str]:
    return ctx.settings.enabled_sources()


def prepare_watches(ctx: Context) -> None:
    """Baseline watches that are new or whose criteria changed; never alert for what exists."""
    now = ctx.now()
    with ctx.engine.begin() as conn:
        states = letter_store.watch_states(conn)
        for watch in ctx.settings.watches:
            state = states.get(watch.name)
            if state is None or state.fingerprint != watch.fingerprint():
                count = baseline(conn, watch, now)
                logger.debug("watch %s baselined with %d letters", watch.name, count)
        ctx.refresh_baselines(conn)


def announce_watches(ctx: Context) -> None:
    """Say once per watch "now watching dossier 26643 (N letters on record)"."""
    sources = [SOURCES[name] for name in enabled_sources(ctx)]
    with ctx.engine.begin() as conn:
        cursors = ops.all_cursors(conn)  # one read, however many watches
        pending = [w for w in ctx.settings.watches if cursors.get(f"announced:{w.name}") != w.fingerprint()]
        if not pending:
            return
        counts = letter_store.count_matches(conn)
        for watch in pending:
            key = f"announced:{watch.name}"
            if not all(source.ready(cursors, watch.dossiers) for source in sources):
                continue  # wait until every source has on record what this watch needs (its history)
            what = ", ".join(f"dossier {d}" for d in watch.dossiers)
            if watch.keywords:
                what = (what + " and " if what else "") + "keywords " + ", ".join(repr(k) for k in watch.keywords)
            n = counts.get(watch.name, 0)
            logger.info(
                "now watching %s (%d letter%s on record) [watch %s]", what, n, "" if n == 1 else "s", watch.name,
                extra={"watch": watch.name},
            )  # fmt: skip
            ops.set_cursor(conn, key, watch.fingerprint(), ctx.now())


def poll_source(ctx: Context, name: str) -> bool:
    """Poll one source; True on success.  Never raises for source problems."""
    now = ctx.now()
    cfg = ctx.settings.sources[name]
    lease = f"poll:{name}"
    where = {"source": name}  # the JSON log's source field
    with ctx.engine.connect() as conn:
        health = ops.health(conn, name)
    not_before = health.not_before
    if not_before is not None and not_before > now:
        wait = (not_before - now).total_seconds()
        if wait > SHORT_RETRY_AFTER_SECONDS:
            logger.info("%s: skipped, the source asked to wait until %s", name, not_before.isoformat(), extra=where)
            with ctx.engine.begin() as conn:
                operator.check_held_back(ctx, conn, health)
            return False
        # A run that comes a moment too early (``poll --once`` runs follow each other in
        # well under a second) waits out the rest instead of dropping the source: the
        # letters it has now are then alerted by this run, not by one minutes later.
        logger.info("%s: waiting %.1fs, as the source asked", name, wait)
        ctx.sleep(wait)
        now = ctx.now()
    with ctx.engine.begin() as conn:
        if not ops.acquire_lease(conn, lease, ctx.owner, now, max(300.0, cfg.interval_seconds * 3), owner_is_dead):
            logger.info("%s: skipped, another instance is polling it", name, extra=where)
            return True
    batch = f"{name}:{now.isoformat()}"  # the alerts this poll queues: one digest per watch if many
    requests_before = ctx.fetcher.stats.requests
    error: str | None = None
    retry_after: float | None = None
    foreign = False
    try:
        result = SOURCES[name].poll(ctx, batch)
    except SourceError as exc:
        error, retry_after, foreign = str(exc), exc.retry_after, exc.foreign
    except SQLAlchemyError:
        raise  # the database itself is failing: nothing can be recorded; the caller says so in one line
    except Exception as exc:  # a bug: log it in full, keep the service alive
        logger.exception("%s: poll crashed", name, extra=where)
        error = f"{name}: internal error: {type(exc).__name__}: {exc}"
    requests = ctx.fetcher.stats.requests - requests_before
    with ctx.engine.begin() as conn:
        if error is not None and ctx.stopping.is_set():
            # Abandoned on SIGTERM, not failed: what was not recorded is read again next start.
            logger.info("%s: poll abandoned, the monitor is stopping", name)
            ops.release_lease(conn, lease, ctx.owner)
            return False
        if error is None:
            ops.record_success(conn, name, ctx.now(), new_data=result.new_data)
            logger.info(
                "%s: %d request(s), %d new letter alert(s) queued", name, requests, len(result.new_matches), extra=where
            )
        else:
            h = ops.record_failure(conn, name, ctx.now(), error, retry_after)
            logger.warning("%s (failure %d in a row)", error, h.consecutive_failures, extra=where)
            operator.check_held_back(ctx, conn, h)
        operator.check_source(ctx, conn, name, error is None, error, foreign=foreign, stalls=SOURCES[name].stalls)
        ops.release_lease(conn, lease, ctx.owner)
        lags = _first_seen_lags(ctx, conn, result.new_matches) if error is None else []
    ctx.metrics.poll(name, error is None)
    ctx.metrics.first_seen(name, lags)
    return error is None


def behind(ctx: Context, name: str) -> bool:
    """Did the source's last poll stop at its page limit with more to read?  Then poll again at once."""
    with ctx.engine.connect() as conn:
        return bool(ops.get_cursor(conn, f"{name}:behind"))


def _first_seen_lags(ctx: Context, conn: Connection, matches: list[NewMatch]) -> list[float]:
    """Seconds from each newly matched letter's date (midnight, local time) to its first sighting."""
    if not matches:
        return []
    dated = letter_store.first_sightings(conn, {m.letter_id for m in matches})
    return [(seen - datetime.combine(day, time(), ctx.tz)).total_seconds() for day, seen in dated]


def run_cycle(ctx: Context, deliverer: Deliverer, sources: list[str] | None = None) -> CycleResult:
    """Poll the given (default: all enabled) sources, then drain the outbox."""
    out = CycleResult()
    prepare_watches(ctx)
    for name in sources or enabled_sources(ctx):
        out.ok[name] = poll_source(ctx, name)
    announce_watches(ctx)
    out.delivery = deliver(ctx, deliverer)
    return out


def deliver(ctx: Context, deliverer: Deliverer) -> DrainResult:
    result = deliverer.drain()
    with ctx.engine.begin() as conn:
        operator.check_deliveries(ctx, conn)
    if any(ctx.settings.operator.channels):
        result_ops = deliverer.drain(max_rounds=2)  # warnings just queued go out now
        result.sent += result_ops.sent
        result.failed += result_ops.failed
        result.retried += result_ops.retried
    return result
