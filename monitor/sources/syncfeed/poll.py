"""One poll of the Tweede Kamer SyncFeed: Document every time, Zaak and Kamerstukdossier less often.

Idle cost is one small request: ``Feed?category=Document&skiptoken=<cursor>``.  The
Zaak and Kamerstukdossier feeds, which only refine which dossier a document belongs
to, are read every ``related_every``-th poll; a document that names a dossier or zaak
the mirror has never seen has that entity fetched at once from ``Entiteiten/<id>``
(a few per poll at most), so a watch on any dossier costs no extra polling.

Each page is recorded in one transaction together with the cursor that follows it, so
a crash mid-poll re-reads a page rather than skipping it.  On the very first poll of a
category the cursor is the feed's current end (found by a bounded search) or the
configured ``start_skiptoken``: history is never replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection

from ... import alerts
from ...context import Context
from ...detect import NewMatch, Observation, record
from ...http import SourceError
from ...models import DossierRef
from ...progress import Progress
from ...store import ops
from ...store.attachments import Sighting
from .. import config_of
from . import mirror, observe
from .client import SyncFeedClient
from .config import NAME, SyncFeedConfig
from .models import TkDocument, TkDossier, TkZaak
from .prefetch import Prefetch

logger = logging.getLogger(__name__)

SOURCE = NAME
# At most this many pages (of 250 entries) are read ahead and stored in one transaction.
PAGES_PER_TRANSACTION = 4


# Categories that stopped at ``max_pages_per_poll`` in the last poll (comma-separated): the
# service polls again at once while it is set, and those categories are read whatever the
# poll's number.
BEHIND = "syncfeed:behind"
RELATED = ("Kamerstukdossier", "Zaak")


@dataclass(slots=True)
class TkPollResult:
    requests: int = 0
    entries: int = 0
    new_matches: list[NewMatch] = field(default_factory=list)
    new_data: bool = False
    behind: list[str] = field(default_factory=list)  # categories that stopped at the page limit


def _config(ctx: Context) -> SyncFeedConfig:
    return config_of(ctx.settings.sources, NAME, SyncFeedConfig)


def cursor_name(category: str) -> str:
    return f"syncfeed:{category}"


def poll(ctx: Context, alert_batch: str) -> TkPollResult:
    cfg = _config(ctx)
    client = SyncFeedClient(ctx.fetcher, cfg.base_url, source=SOURCE)
    result = TkPollResult()
    with ctx.engine.begin() as conn:
        count = int(ops.get_cursor(conn, "syncfeed:polls") or 0) + 1
        ops.set_cursor(conn, "syncfeed:polls", str(count), ctx.now())
        cursors = ops.all_cursors(conn)
    behind = set(filter(None, cursors.get(BEHIND, "").split(",")))
    # The first start reads every category (the related ones' mirrors are needed from the
    # first letter on), as does a poll after one that stopped at the page limit.
    read_related = count % cfg.related_every == 0 or bool(behind) or any(cursor_name(c) not in cursors for c in RELATED)
    categories = ([*RELATED] if read_related else []) + ["Document"]
    related = mirror.Related()
    hint = None
    if cursor_name("Zaak") not in cursors and read_related:
        # Skiptokens are one sequence across categories [inferred: the fakes and the recorded
        # pages agree]: the Document feed's end is a close hint for the Zaak feed's.
        hint = _start_token(ctx, client, "Document")
    for category in categories:
        if _poll_category(ctx, client, related, category, result, alert_batch, hint if category == "Zaak" else None):
            result.behind.append(category)
    with ctx.engine.begin() as conn:
        if result.behind:
            ops.set_cursor(conn, BEHIND, ",".join(result.behind), ctx.now())
            logger.info(
                "syncfeed: page limit (%d pages) reached in %s; the service polls again right away, "
                "`poll --once` goes on at its next run", cfg.max_pages_per_poll, ", ".join(result.behind),
            )  # fmt: skip
        elif behind:
            ops.set_cursor(conn, BEHIND, "", ctx.now())
    return result


def _start_token(ctx: Context, client: SyncFeedClient, category: str, hint: int | None = None) -> int:
    with ctx.engine.begin() as conn:
        stored = ops.get_cursor(conn, cursor_name(category))
    if stored is not None:
        return int(stored)
    configured = _config(ctx).start_skiptoken
    if category == "Kamerstukdossier":
        token = 0  # small enough (about 30 pages) to mirror whole, a few pages per poll
    elif configured is not None:
        token = configured
    else:
        progress = Progress(f"syncfeed: first start, finding the end of the {category} feed", "probes",
                            extra={"source": SOURCE})  # fmt: skip
        token = client.find_feed_end(category, high_hint=hint, on_probe=lambda probed: progress.advance(1, probed))
        progress.finish()
        logger.info("syncfeed: first start, %s feed ends at skiptoken %d; history is not replayed", category, token)
    with ctx.engine.begin() as conn:
        ops.set_cursor(conn, cursor_name(category), str(token), ctx.now())
    return token


def _poll_category(
    ctx: Context,
    client: SyncFeedClient,
    related: mirror.Related,
    category: str,
    result: TkPollResult,
    alert_batch: str,
    hint: int | None = None,
) -> bool:
    """Read ``category`` from its cursor on; True when it stopped at the page limit with more to read."""
    token = _start_token(ctx, client, category, hint)
    more, read = False, 0
    # The next pages are read while this one is stored; pages that have already arrived
    # are stored together, in one transaction with the cursor that follows the last.
    reader = client.pages(category, token, _config(ctx).max_pages_per_poll)
    progress = Progress(
        f"syncfeed: catching up {category}", start=token, position_name="skiptoken",
        # The dossier mirror is small and read from token 0: its end would cost an end search
        # (about 30 requests) for a progress line.
        end=None if category == "Kamerstukdossier" else lambda: _feed_end(client, category, token),
        extra={"source": SOURCE},
    )  # fmt: skip
    with Prefetch(reader, depth=PAGES_PER_TRANSACTION, name=f"syncfeed-{category}") as ahead:
        for first in ahead:
            batch = [first, *ahead.ready(PAGES_PER_TRANSACTION - 1)]
            # The reader ends on its own at a caught-up page; a last page that is not one
            # means it stopped at the page limit.
            for page, after in batch:
                more = bool(page.entities) and page.next_url is not None and after != token
                token = after
            read += len(batch)
            entities = [e for page, _ in batch for e in page.entities]
            result.requests += len(batch)
            result.entries += len(entities)
            lookups = _lookup_unknown(ctx, client, related, entities) if entities else []
            with ctx.engine.begin() as conn:
                _record_entities(ctx, conn, related, [*lookups, *entities], result, alert_batch)
                ops.set_cursor(conn, cursor_name(category), str(batch[-1][1]), ctx.now())
            if entities and category == "Document":
                result.new_data = True  # staleness is about documents, not dossier or zaak edits
            progress.advance(len(entities), batch[-1][1])
    progress.finish()
    return more and read >= _config(ctx).max_pages_per_poll


def _feed_end(client: SyncFeedClient, category: str, token: int) -> int | None:
    """Where the feed ends now, for the progress line of a catch-up that takes a while.

    The bounded end search, started at the position reached (a few small requests when the
    end is near); only a catch-up that has already run for several seconds asks for it.
    """
    try:
        return client.find_feed_end(category, low=token)
    except SourceError as exc:
        logger.info("syncfeed: could not estimate the end of the %s feed: %s", category, exc.problem)
        return None


def _lookup_unknown(
    ctx: Context, client: SyncFeedClient, related: mirror.Related, entities: Iterable[TkDocument | TkZaak | TkDossier]
) -> list[TkDocument | TkZaak | TkDossier]:
    """Fetch dossiers and zaken the documents name but the mirror has never seen."""
    budget = _config(ctx).entity_lookups_per_poll
    docs = [e for e in entities if isinstance(e, TkDocument) and not e.deleted]
    zaken_in_page = {e.guid for e in entities if isinstance(e, TkZaak)}
    dossiers_in_page = {e.guid for e in entities if isinstance(e, TkDossier)}
    with ctx.engine.begin() as conn:
        # Zaken matter only for documents that carry no dossier link of their own.
        zaak_guids = [z for d in docs if not d.dossier_guids for z in d.zaak_guids if z not in zaken_in_page]
        unknown_zaken = related.unknown_zaken(conn, zaak_guids)
    found: list[TkDocument | TkZaak | TkDossier] = []
    for guid in unknown_zaken[:budget]:
        entity = client.fetch_entity(guid)
        if entity is not None:
            found.append(entity)
    budget -= min(budget, len(unknown_zaken))
    dossier_guids = {g for d in docs for g in d.dossier_guids}
    dossier_guids |= {g for e in found if isinstance(e, TkZaak) for g in e.dossier_guids}
    with ctx.engine.begin() as conn:
        unknown_dossiers = related.unknown_dossiers(conn, dossier_guids - dossiers_in_page)
    for guid in unknown_dossiers[:budget]:
        entity = client.fetch_entity(guid)
        if entity is not None:
            found.append(entity)
    return found


def _record_entities(
    ctx: Context,
    conn: Connection,
    related: mirror.Related,
    entities: list[TkDocument | TkZaak | TkDossier],
    result: TkPollResult,
    alert_batch: str,
) -> None:
    dossiers = [e for e in entities if isinstance(e, TkDossier)]
    zaken = [e for e in entities if isinstance(e, TkZaak)]
    docs = [e for e in entities if isinstance(e, TkDocument)]
    related.upsert_dossiers(conn, dossiers)
    related.upsert_zaken(conn, zaken)
    now = ctx.now()
    extra = _reevaluate(conn, related, {e.guid for e in dossiers} | {e.guid for e in zaken})
    observations, attachments = _observations(conn, related, docs) if docs else ([], [])
    rec = record(
        conn, observations, ctx.matcher, ctx.baselines, now,
        grace_days=ctx.settings.baseline_grace_days, extra_dossiers=extra, attachments=attachments,
    )  # fmt: skip
    mirror.upsert_documents(conn, docs, rec.letter_ids)
    result.new_matches.extend(rec.new_matches)
    alerts.enqueue(ctx, conn, rec.new_matches, alert_batch)
    alerts.enqueue_followups(ctx, conn, rec.followups(), alert_batch)


def _resolve_dossiers(
    conn: Connection, related: mirror.Related, docs: list[tuple[str, list[str], list[str]]]
) -> tuple[dict[str, list[tuple[DossierRef, str | None]]], dict[str, str | None]]:
    """doc guid → its dossiers (own links plus its zaken's), and doc guid → first zaak number."""
    zaken = related.zaken(conn, (z for _, _, zs in docs for z in zs))
    all_dossier_guids = {g for _, ds, _ in docs for g in ds} | {g for z in zaken.values() for g in z.dossier_guids}
    known = related.dossiers(conn, all_dossier_guids)
    out: dict[str, list[tuple[DossierRef, str | None]]] = {}
    zaak_numbers: dict[str, str | None] = {}
    for guid, dossier_guids, zaak_guids in docs:
        via_zaak = [g for z in zaak_guids if z in zaken for g in zaken[z].dossier_guids]
        refs: dict[DossierRef, str | None] = {}
        for g in [*dossier_guids, *via_zaak]:
            if g in known and known[g].ref not in refs:
                refs[known[g].ref] = known[g].titel
        out[guid] = list(refs.items())
        zaak_numbers[guid] = next((zaken[z].nummer for z in zaak_guids if z in zaken and zaken[z].nummer), None)
    return out, zaak_numbers


def _observations(
    conn: Connection, related: mirror.Related, docs: list[TkDocument]
) -> tuple[list[Observation], list[Sighting]]:
    """Letters, and Bijlagen (attachments, never letters); a tombstone may be either, so it is both."""
    resolved, zaak_numbers = _resolve_dossiers(
        conn, related, [(d.guid, list(d.dossier_guids), list(d.zaak_guids)) for d in docs if not d.deleted]
    )
    letters = [d for d in docs if d.deleted or not observe.is_attachment(d)]
    attachments = [
        observe.attachment_from_tk(d, [ref for ref, _ in resolved.get(d.guid, [])])
        for d in docs
        if not d.deleted and observe.is_attachment(d)
    ]
    attachments += [Sighting(f"tk:{d.guid}", "tk", deleted=True) for d in docs if d.deleted]
    observations = [observe.from_tk(d, resolved.get(d.guid, []), zaak_numbers.get(d.guid)) for d in letters]
    return observations, attachments


def _reevaluate(conn: Connection, related: mirror.Related, changed_guids: set[str]) -> dict[int, list[DossierRef]]:
    """Letters whose documents reference a changed zaak or newly known dossier → their dossiers now."""
    if not changed_guids:
        return {}
    docs = mirror.documents_referencing(conn, changed_guids)
    if not docs:
        return {}
    refs = mirror.document_refs(conn, docs)
    resolved, _ = _resolve_dossiers(conn, related, [(g, *refs.get(g, ([], []))) for g in docs])
    return {docs[g]: [d for d, _ in resolved[g]] for g in docs if resolved.get(g)}
