"""One poll of officiële bekendmakingen (SRU): the watched dossiers' publications modified of late.

The dossiers are asked for in groups of ``max_dossier_clauses`` (one query per group), so
the answer holds only their records at any number of dossiers; only with no dossier at
all (or ``max_dossier_clauses = 0``) is the window asked for whole and filtered here.

SRU dates are whole days and ``dt.modified`` keeps moving after publication, so every
poll re-asks for an overlapping window (last successful day minus ``overlap_days``)
and skips records whose version it has already recorded.  A dossier newly watched is
first backfilled in full and silently, so that old publications whose modification
date moves are known rather than mistaken for new letters.  The window start only
advances after every page of a poll was recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ... import alerts, operator
from ...context import Context
from ...detect import NewMatch, record
from ...models import DossierRef
from ...progress import Progress
from ...store import letters as letter_store
from ...store import ops
from .. import config_of
from . import backfill_cursor, mirror, observe
from .config import NAME, SruConfig
from .models import SruPage, SruRecord
from .query import build_query, window_queries
from .search import SruClient

logger = logging.getLogger(__name__)

SOURCE = NAME
BACKFILL_PAGES = 40  # 26643 has ~1,500 kamerstukken: 15 pages of 100
BACKFILLS_PER_POLL = 3
LIVENESS_EVERY = timedelta(hours=24)
LIVENESS_PER_DAY = 3


@dataclass(slots=True)
class SruPollResult:
    requests: int = 0
    records: int = 0
    new_matches: list[NewMatch] = field(default_factory=list)
    new_data: bool = False
    backfilled: list[DossierRef] = field(default_factory=list)


def watched_dossiers(ctx: Context) -> list[DossierRef]:
    return sorted({d for w in ctx.settings.watches for d in w.dossiers})


def poll(ctx: Context, batch: str) -> SruPollResult:
    cfg = config_of(ctx.settings.sources, NAME, SruConfig)
    client = SruClient(ctx.fetcher, cfg.base_url, source=SOURCE, page_size=cfg.page_size)
    result = SruPollResult()
    dossiers = watched_dossiers(ctx)
    with ctx.engine.begin() as conn:
        cursors = ops.all_cursors(conn)
    pending = [d for d in dossiers if backfill_cursor(d) not in cursors]
    since_text = cursors.get("sru:since")
    for dossier in pending[:BACKFILLS_PER_POLL]:
        _backfill(ctx, client, dossier, result, batch)
    today = ctx.now().astimezone(ctx.tz).date()
    last = date.fromisoformat(since_text) if since_text else today
    since = last - timedelta(days=cfg.overlap_days)
    unscoped = not dossiers or cfg.max_dossier_clauses == 0
    if unscoped:
        # Without a dossier clause the window holds every Kamerstuk modified in it: ask for
        # the service's largest page so an idle poll stays one request.
        client = SruClient(ctx.fetcher, cfg.base_url, source=SOURCE, page_size=1000)
    wanted = set(dossiers)
    keep_all = unscoped or any(w.keywords for w in ctx.settings.watches)
    complete = True
    # ⌈N / max_dossier_clauses⌉ queries, each filtered on its dossiers: an idle poll then
    # costs one small answer per query (usually a 304), however busy the rest of the index.
    for query in window_queries(dossiers, since, max_dossier_clauses=cfg.max_dossier_clauses):
        final: SruPage | None = None
        for page in client.search(query, max_pages=cfg.max_pages_per_poll):
            result.requests += 1
            records = [r for r in page.records if keep_all or wanted.intersection(r.dossiers)]
            _record(ctx, records, result, batch, silent=False)
            final = page
        complete = complete and (final is None or final.next_position is None)
    if complete:  # a window cut off by the page limit is asked again, whole, next poll
        with ctx.engine.begin() as conn:
            ops.set_cursor(conn, "sru:since", today.isoformat(), ctx.now())
    else:
        logger.info("sru: page limit reached; the same window is asked again next poll")
    # After the window: a probe that fails must not hold back the letters of this poll.
    _check_liveness(ctx, dossiers)
    return result


def _check_liveness(ctx: Context, dossiers: list[DossierRef]) -> None:
    """Once a day: does SRU still return records for dossiers that have publications on record?

    An empty answer looks the same as "nothing new", so this is the only way to notice
    that the search silently stopped returning a dossier.
    """
    now = ctx.now()
    with ctx.engine.begin() as conn:
        last = ops.get_cursor(conn, "sru:liveness")
        if last and now - datetime.fromisoformat(last) < LIVENESS_EVERY:
            return
        on_record = letter_store.published_counts(conn, dossiers)
    base_url = config_of(ctx.settings.sources, NAME, SruConfig).base_url
    probe = SruClient(ctx.fetcher, base_url, source=SOURCE, page_size=1)
    candidates = [d for d in dossiers if on_record.get(str(d))]
    # A few dossiers a day, in rotation: cheap for the source however many are watched.
    start = (now.toordinal() * LIVENESS_PER_DAY) % len(candidates) if candidates else 0
    for dossier in (candidates[start:] + candidates[:start])[:LIVENESS_PER_DAY]:
        expected = on_record[str(dossier)]
        page = probe.fetch_page(build_query([dossier], None, max_dossier_clauses=1))
        key = f"source-stale:sru:{dossier}"
        with ctx.engine.begin() as conn:
            if not page.number_of_records and not page.records:
                operator.raise_condition(
                    ctx, conn, key,
                    f"sru returns no records for dossier {dossier}, which has {expected} publications on record;"
                    " the search may have stopped returning it",
                )  # fmt: skip
            else:
                operator.clear_condition(ctx, conn, key, f"sru returns records for dossier {dossier} again")
    # Only now: a probe that failed (SourceError) is tried again next poll, not a day later.
    with ctx.engine.begin() as conn:
        ops.set_cursor(conn, "sru:liveness", now.isoformat(), now)


def _backfill(ctx: Context, client: SruClient, dossier: DossierRef, result: SruPollResult, batch: str) -> None:
    query = build_query([dossier], None, max_dossier_clauses=1)
    total = 0
    label = f"sru: recording the publications of dossier {dossier}"
    progress = Progress(label, "records read", extra={"source": "sru"})
    for page in client.search(query, max_pages=BACKFILL_PAGES):
        result.requests += 1
        total += len(page.records)
        _record(ctx, list(page.records), result, batch, silent=True)
        progress.total = page.number_of_records
        progress.advance(len(page.records))
    progress.finish()
    with ctx.engine.begin() as conn:
        ops.set_cursor(conn, backfill_cursor(dossier), str(total), ctx.now())
    result.backfilled.append(dossier)
    logger.info("sru: recorded %d existing publications of dossier %s (no alerts)", total, dossier)


def _version(rec: SruRecord) -> str:
    stamp = rec.changed_at.isoformat() if rec.changed_at else ""
    return f"{rec.modified or ''}|{stamp}"[:64]


def _record(ctx: Context, records: list[SruRecord], result: SruPollResult, batch: str, *, silent: bool) -> None:
    result.records += len(records)
    with ctx.engine.begin() as conn:
        seen = mirror.sru_versions(conn, (r.identifier for r in records))
        fresh = list({r.identifier: r for r in records if seen.get(r.identifier) != _version(r)}.values())
        if not fresh:
            return
        result.new_data = True
        # Bijlagen are never letters: they carry their letter's dossier and number (docs/sources.md).
        bijlagen = [r for r in fresh if observe.is_attachment(r)]
        letters = [r for r in fresh if not observe.is_attachment(r)]
        rec = record(
            conn, [observe.from_sru(r) for r in letters], ctx.matcher, ctx.baselines, ctx.now(),
            grace_days=ctx.settings.baseline_grace_days, silent=silent,
            attachments=[observe.attachment_from_sru(r) for r in bijlagen],
        )  # fmt: skip
        mirror.upsert_sru(
            conn,
            [{"identifier": r.identifier, "letter_id": rec.letter_ids.get(r.identifier), "version": _version(r),
              "hoofddocument": r.hoofddocument} for r in fresh],
        )  # fmt: skip
        result.new_matches.extend(rec.new_matches)
        alerts.enqueue(ctx, conn, rec.new_matches, batch)
        if not silent:
            alerts.enqueue_followups(ctx, conn, rec.followups(), batch)
