"""``/feeds/<watch>.atom``: the watch's newest letters as an Atom 1.0 feed, written by feedgen.

One entry per letter, its id fixed for the letter's life (``tag:kamermonitor,2025:letter:<id>``):
when the letter gets its Kamerstuk number or its official publication the same entry
changes (title, links, ``updated``), so a feed reader updates it in place instead of
showing it twice.  The text comes from the same view the alerts use (``letter_view``), so
it is cleaned the same way.  The ETag is a hash of everything the feed says, and
Last-Modified the newest entry's ``updated``: a reader that asks again with either gets
a 304 when nothing changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from ..config import WatchConfig
from ..models import Letter
from ..notify.view import LetterView, letter_view
from ..store import letters as letter_store
from ..weblinks import feed_path, watch_path

FEED_LETTERS = 50
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # "updated" of a feed without letters: stable, so its ETag is too


@dataclass(frozen=True, slots=True)
class FeedEntry:
    id: str
    view: LetterView
    updated: datetime
    published: datetime | None


@dataclass(frozen=True, slots=True)
class Feed:
    watch: WatchConfig
    entries: tuple[FeedEntry, ...]
    updated: datetime
    etag: str


def entry_id(letter_id: int) -> str:
    return f"tag:kamermonitor,2025:letter:{letter_id}"


def load(conn: Connection, watch: WatchConfig, root: str) -> Feed:
    """The watch's newest letters and the feed's validators (no XML yet: a 304 needs none)."""
    letters: list[Letter] = letter_store.with_details(
        conn, letter_store.recent_for_watch(conn, watch.name, FEED_LETTERS)
    )
    changed = letter_store.updated_at(conn, [x.id for x in letters])
    entries = tuple(
        FeedEntry(entry_id(x.id), letter_view(x), changed.get(x.id) or x.first_seen or EPOCH, x.first_seen)
        for x in letters
    )
    updated = max((e.updated for e in entries), default=EPOCH)
    digest = hashlib.sha256(repr((root, watch.name, updated, [(e.id, e.updated, e.view) for e in entries])).encode())
    return Feed(watch, entries, updated, f'"{digest.hexdigest()[:32]}"')


def render(feed: Feed, root: str) -> bytes:
    """The Atom document.  ``root`` is the absolute ``scheme://host[:port]`` the links start with."""
    from feedgen.feed import FeedGenerator

    name = feed.watch.name
    fg = FeedGenerator()
    fg.id(f"tag:kamermonitor,2025:watch:{name}")
    fg.title(f"kamermonitor: {name}")
    fg.subtitle(f"Nieuwe brieven voor {follows(feed.watch)}")
    fg.language("nl")
    fg.author({"name": "kamermonitor"})
    fg.updated(feed.updated)
    fg.link(href=root + feed_path(name), rel="self", type="application/atom+xml")
    fg.link(href=root + watch_path(name), rel="alternate", type="text/html")
    fg.generator("kamermonitor")
    for e in feed.entries:  # newest first, as the page shows them
        v = e.view
        fe = fg.add_entry(order="append")
        fe.id(e.id)
        fe.title(v.heading)
        fe.updated(e.updated)
        if e.published is not None:
            fe.published(e.published)
        if v.sender:
            fe.author({"name": v.sender})
        fe.summary(_summary(v))
        for i, link in enumerate(v.links):
            if i == 0:
                fe.link(href=link.url, rel="alternate", type="text/html", title=link.label)
            elif link.label == "PDF":
                fe.link(href=link.url, rel="related", type="application/pdf", title=link.label)
            else:
                fe.link(href=link.url, rel="related", title=link.label)
    out: bytes = fg.atom_str(pretty=False)
    return out


def _summary(v: LetterView) -> str:
    head = " · ".join(part for part in (v.reference, v.date, v.dossier) if part)
    return f"{head}\n\n{v.summary}" if v.summary else head


def follows(watch: WatchConfig) -> str:
    parts = [f"dossier {d}" for d in watch.dossiers]
    if watch.keywords:
        parts.append("trefwoorden " + ", ".join(watch.keywords))
    return " en ".join(parts) or watch.name
