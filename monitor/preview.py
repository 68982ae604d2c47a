"""``kamermonitor preview``: the messages a watch would have sent for recent letters, sending nothing.

The letters come from the official publications (SRU), published in the last N days,
and live in memory only: nothing is written to the database and no channel is built,
so nothing can be sent.  Each letter the watch matches is rendered exactly as each of
the watch's channels would render it (the same templates, the operator's included),
one message per letter, as an immediate alert would be.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from .config import Settings, WatchConfig
from .context import Context
from .detect import Matcher, letter_from
from .enrich.errors import EnrichError
from .http import SourceError
from .models import Alert, Attachment, Letter, LetterDetails
from .notify.registry import CHANNEL_TYPES
from .notify.render import Renderer
from .sources import config_of
from .sources.sru.config import NAME, SruConfig
from .sources.sru.models import SruRecord
from .sources.sru.observe import attachment_from_sru, from_sru, is_attachment
from .sources.sru.query import build_query
from .sources.sru.search import SruClient

logger = logging.getLogger(__name__)

MAX_DAYS = 3660  # ten years; MAX_PAGES bounds the work anyway
MAX_PAGES = 50  # SRU pages read at most (page_size records each)
# ``--html`` writes e-mail pages, rendered by this type even when no such channel is configured.
HTML_TYPE = "email"


@dataclass(frozen=True, slots=True)
class PreviewMessage:
    """One message one channel would get."""

    channel: str  # the channel's name
    kind: str  # its type
    alert: Alert
    subject: str  # the e-mail subject (the headline, for every kind)
    text: str  # e-mail text body, Slack fallback text, or console text
    html: str | None = None  # when the medium has an HTML body (e-mail)
    payload: dict[str, Any] | None = None  # when the medium takes JSON (Slack's webhook payload)
    shown: str = ""  # what is printed for it


def days_argument(text: str) -> int:
    """argparse type for ``--days``: a whole number of days, 1 up to a year."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"--days must be 1..{MAX_DAYS}, not {days}")
    return days


# --------------------------------------------------------------------------- letters


def since_day(ctx: Context, days: int) -> date:
    return ctx.now().astimezone(ctx.tz).date() - timedelta(days=days)


def recent_records(ctx: Context, watch: WatchConfig, since: date) -> list[SruRecord]:
    """Kamerstuk records for the watch's dossiers (all, for a keyword-only watch) published since ``since``."""
    cfg = config_of(ctx.settings.sources, NAME, SruConfig)
    client = SruClient(ctx.fetcher, cfg.base_url, page_size=cfg.page_size)
    # dt.modified moves on after publication, so it only narrows the query; the
    # publication date (else the document date) decides.
    query = build_query(watch.dossiers, since, max_dossier_clauses=cfg.max_dossier_clauses)
    found: dict[str, SruRecord] = {}
    for page in client.search(query, max_pages=MAX_PAGES):
        for rec in page.records:
            published = rec.available or rec.date
            if published is not None and published >= since:
                found.setdefault(rec.identifier, rec)
    return list(found.values())


def _attachments(records: Iterable[SruRecord]) -> dict[str, list[Attachment]]:
    """Bijlagen by the identity keys of their letter (``ob:<hoofddocument>``, ``kst:<dossier>-<nr>``)."""
    out: dict[str, list[Attachment]] = {}
    for rec in sorted(records, key=lambda r: r.identifier):
        if is_attachment(rec):
            seen = attachment_from_sru(rec)
            for key in seen.parents:
                out.setdefault(key, []).append(Attachment(seen.title or "Bijlage", seen.url or seen.page_url, seen.ref))
    return out


def _attachments_of(rec: SruRecord, attachments: dict[str, list[Attachment]]) -> list[Attachment]:
    """The bijlagen of one letter record, each once, whichever of its keys they name."""
    found = {a.ref: a for key in from_sru(rec).keys for a in attachments.get(key, ())}
    return list(found.values())


def _without_reprints(records: Sequence[SruRecord]) -> list[SruRecord]:
    """A reprint ("herdruk") is the same letter as its original: keep the original when both are there."""
    originals = {key for rec in records if not rec.is_reprint for key in from_sru(rec).keys}
    return [r for r in records if not r.is_reprint or not originals & set(from_sru(r).keys)]


def _letter(letter_id: int, rec: SruRecord, attachments: Sequence[Attachment]) -> Letter:
    letter = letter_from(from_sru(rec), letter_id, datetime.now(UTC))
    return replace(letter, attachments=tuple(attachments))


def _details(ctx: Context, rec: SruRecord) -> LetterDetails | None:
    if not rec.html_url:
        return None
    from .enrich.fetch import enrich_from_publication  # loads BeautifulSoup only when used

    try:
        return enrich_from_publication(ctx.fetcher, rec.html_url, ctx.settings.enrichment.allowed_urls)
    except (SourceError, EnrichError) as exc:
        logger.warning("preview: %s not read, shown without its details: %s", rec.identifier, exc)
        return None


def matching_letters(ctx: Context, watch: WatchConfig, days: int, *, enrich: bool = True) -> list[tuple[Letter, str]]:
    """(letter, why) for the letters published in the last ``days`` days that ``watch`` matches, newest first."""
    everything = _without_reprints(recent_records(ctx, watch, since_day(ctx, days)))
    attachments = _attachments(everything)
    records = [r for r in everything if not is_attachment(r)]  # a bijlage is never a letter
    matcher = Matcher([watch])
    found: list[tuple[SruRecord, str]] = []
    for rec in records:
        obs = from_sru(rec)
        row = {**obs.values, "dossiers": obs.dossiers}
        hits = matcher.match(row)
        if hits:
            found.append((rec, hits[0][1]))
    found.sort(key=lambda x: (x[0].date or date.min, x[0].available or date.min, x[0].identifier), reverse=True)
    out = []
    for n, (rec, reason) in enumerate(found, start=1):
        letter = _letter(n, rec, _attachments_of(rec, attachments))
        if enrich and ctx.settings.enrichment.enabled:
            letter = dataclasses.replace(letter, details=_details(ctx, rec))
        out.append((letter, reason))
    return out


# --------------------------------------------------------------------------- messages


def renderer_for(settings: Settings) -> Renderer:
    return Renderer(Path(settings.template_dir) if settings.template_dir else None)


def render_message(renderer: Renderer, channel: str, kind: str, alert: Alert) -> PreviewMessage:
    """``alert`` as a channel of type ``kind`` renders it (its registry entry's ``preview``)."""
    view = renderer.view(alert)
    out = CHANNEL_TYPES[kind].preview(renderer, view)
    return PreviewMessage(channel, kind, alert, view.subject, out.text, out.html, out.payload, out.shown)


def alerts_for(ctx: Context, watch: WatchConfig, days: int, *, enrich: bool = True) -> list[Alert]:
    """One immediate "new" alert per letter the watch matches, newest first."""
    return [
        Alert("new", (letter,), (reason,), (watch.name,), created_at=ctx.now())
        for letter, reason in matching_letters(ctx, watch, days, enrich=enrich)
    ]


def messages_for(
    settings: Settings, watch: WatchConfig, alerts: Iterable[Alert], only: str | None = None
) -> list[PreviewMessage]:
    """Each alert rendered for each of the watch's channels (or only the channel ``only``), in order."""
    renderer = renderer_for(settings)
    names = [only] if only is not None else watch.channels
    channels = [c for c in (settings.channel(name) for name in names) if c is not None]
    return [render_message(renderer, c.name, c.type, alert) for alert in alerts for c in channels]


def preview(ctx: Context, watch: WatchConfig, days: int, *, enrich: bool = True) -> list[PreviewMessage]:
    """Every message the watch's channels would have got for the letters of the last ``days`` days."""
    return messages_for(ctx.settings, watch, alerts_for(ctx, watch, days, enrich=enrich))


# --------------------------------------------------------------------------- output


def _html_page(messages: Sequence[PreviewMessage]) -> str:
    """One e-mail's HTML as is; several in one page, each under a separator naming it."""
    if len(messages) == 1:
        return messages[0].html or ""
    parts = []
    for i, m in enumerate(messages, start=1):
        html = m.html or ""
        body = re.search(r"<body[^>]*>(.*)</body>", html, re.S | re.I)
        label = _escape(f"Bericht {i} van {len(messages)}: {m.subject}")
        parts.append(
            f'<p style="margin:24px 16px 0 16px;font:bold 13px Arial,sans-serif;color:#555;">{label}</p>\n'
            + (body[1] if body else html)
        )
    separator = '\n<hr style="border:0;border-top:3px dashed #999;margin:24px 0;">\n'
    return (
        '<!DOCTYPE html>\n<html lang="nl">\n<head>\n<meta charset="utf-8">\n<title>kamermonitor preview</title>\n'
        '</head>\n<body style="margin:0;padding:0;background:#f3f3f3;">\n'
        + separator.join(parts)
        + "\n</body>\n</html>\n"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def print_messages(messages: Sequence[PreviewMessage], out: TextIO, *, payloads: bool = False) -> None:
    """Each message as ``preview`` shows it; with ``payloads``, what a JSON medium would POST, in full."""
    for i, m in enumerate(messages, start=1):
        print(f"=== {i}/{len(messages)} · {m.kind} channel {m.channel!r}", file=out)
        if payloads and m.payload is not None:
            print(json.dumps(m.payload, ensure_ascii=False, indent=2), file=out)
        else:
            print(m.shown, file=out)
        print(file=out)


def run(
    settings: Settings,
    watch_name: str,
    days: int,
    *,
    html: Path | None = None,
    enrich: bool = True,
    out: TextIO | None = None,
    channel: str | None = None,
) -> int:
    """The ``preview`` command: 0 when done, 1 for an unknown watch or channel or an unreadable source.

    With ``channel``, only that channel's messages (any configured channel, in the watch or
    not), each printed as the payload it would send.
    """
    out = out or sys.stdout
    watch = next((w for w in settings.watches if w.name == watch_name), None)
    if watch is None:
        known = ", ".join(w.name for w in settings.watches) or "none"
        print(f"error: no watch named {watch_name!r} (configured: {known})", file=sys.stderr)
        return 1
    if channel is not None and settings.channel(channel) is None:
        known = ", ".join(c.name for c in settings.channels)
        print(f"error: no channel named {channel!r} (configured: {known})", file=sys.stderr)
        return 1
    # An in-memory database: the preview can never write to (or even create) the real one.
    ctx = Context.create(dataclasses.replace(settings, database="sqlite://"))
    try:
        alerts = alerts_for(ctx, watch, days, enrich=enrich)
        since = since_day(ctx, days)
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        ctx.close()
    messages = messages_for(settings, watch, alerts, channel)
    what = ", ".join(str(d) for d in watch.dossiers) or "every dossier"
    keywords = f"; keywords {', '.join(watch.keywords)}" if watch.keywords else ""
    print(f"Preview of watch {watch.name!r} ({what}; kinds {', '.join(watch.kinds)}{keywords}): "
          f"{len(alerts)} letter(s) published since {since.isoformat()}, {len(messages)} message(s). "
          "Nothing is sent.", file=out)  # fmt: skip
    for note in _notes(settings, watch, len(alerts)):
        print(f"Note: {note}", file=out)
    print(file=out)
    print_messages(messages, out, payloads=channel is not None)
    if html is not None:
        return _write_html(settings, messages, alerts, html, out)
    return 0


def _write_html(
    settings: Settings, messages: Sequence[PreviewMessage], alerts: Sequence[Alert], path: Path, out: TextIO
) -> int:
    """The first e-mail channel's messages (without one: what an e-mail channel would get) as one page."""
    first = next((m.channel for m in messages if m.html is not None), None)
    emails = [m for m in messages if m.channel == first] or [
        render_message(renderer_for(settings), "(e-mail)", HTML_TYPE, a) for a in alerts
    ]
    if not emails:
        print(f"no letters, so nothing written to {path}", file=out)
        return 0
    try:
        path.write_text(_html_page(emails), encoding="utf-8")
    except OSError as exc:
        print(f"error: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"e-mail HTML of {len(emails)} message(s) written to {path}", file=out)
    return 0


def _notes(settings: Settings, watch: WatchConfig, letters: int) -> list[str]:
    notes = ["letters come from the official publications only: Tweede Kamer links and numbers are not shown"]
    threshold = settings.delivery.digest_threshold
    if letters > threshold:
        notes.append(
            f"{letters} letters is more than digest_threshold ({threshold}): arriving in one poll they would "
            "come as one digest per channel; they are shown here one message per letter, as they would come "
            "one poll at a time"
        )
    for name in watch.channels:
        channel = settings.channel(name)
        schedule = watch.schedule or (channel.schedule if channel else None)
        if schedule is not None and schedule.mode != "immediate":
            notes.append(f"channel {name!r} gets a {schedule.mode} digest: these letters would come bundled")
        elif schedule is not None and schedule.quiet:
            notes.append(f"channel {name!r} has quiet hours: alerts in them wait and come bundled")
    if not any(settings.channel(n) for n in watch.channels):
        notes.append("the watch has no channels: nothing would be sent")
    return notes
