"""The status page (``/``) and a watch's page (``/watch/<naam>``): what the monitor knows, in Dutch.

Read from the store in one read transaction and rendered with Jinja2
(``templates/status.html.j2``, autoescaped, no JavaScript).  Nothing secret is shown: the
database URL, the channels' addresses, hosts and webhooks never appear, and error
texts pass through :class:`Redactor`, which removes every configured secret and any
credentials in a URL.  The page stays small however many watches there are: the first
``INLINE_WATCHES`` watches show their newest letters, the rest one line each.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from ..config import Settings, WatchConfig
from ..configread import read_secret
from ..notify.base import redact
from ..notify.clean import MONTHS
from ..notify.registry import label as channel_label
from ..notify.view import LetterView, letter_view
from ..sources import SOURCES
from ..store import letters as letter_store
from ..store import ops
from ..store import outbox as outbox_store
from ..weblinks import feed_path, watch_path
from .feeds import FEED_LETTERS, follows
from .health import readiness

if TYPE_CHECKING:
    import jinja2

INLINE_WATCHES = 20  # watches whose letters the status page shows; the others get one line
LETTERS_PER_WATCH = 5  # on the status page; a watch's own page shows FEED_LETTERS
SOURCE_LABELS = {name: source.label for name, source in SOURCES.items()}


class Redactor:
    """Removes secrets from text shown on the page: configured secrets (through
    :func:`monitor.notify.base.redact`), URL credentials, webhook paths, token parameters."""

    _URL_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+(?::[^/\s@]*)?@")
    _WEBHOOK = re.compile(r"(?i)(hooks\.slack\.com/services/|/services/)[^\s\"'<>]+")
    _TOKEN_PARAM = re.compile(r"(?i)([?&](?:token|key|secret|password|sig)=)[^&\s\"'<>]+")

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    @classmethod
    def for_settings(cls, settings: Settings, extra: Iterable[str] = ()) -> Redactor:
        values = [*extra]
        for ch in settings.channels:
            for var in ch.options.secret_vars().values():
                if value := read_secret(var):
                    values.append(value)
        return cls(values)

    def __call__(self, text: str | None, limit: int = 500) -> str:
        if not text:
            return ""
        # The channels' own masking (whole secrets and any 6+ character piece of one), then
        # what only a page needs: credentials and tokens inside URLs that are not configured secrets.
        text = redact(text, self._secrets)
        text = self._URL_USER.sub(r"\1•••@", text)
        text = self._WEBHOOK.sub(r"\1•••", text)
        text = self._TOKEN_PARAM.sub(r"\1•••", text)
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True, slots=True)
class SourceRow:
    name: str
    label: str
    ok: bool
    last_success: str
    cursor_moved: str
    failures: int
    last_error: str


@dataclass(frozen=True, slots=True)
class ChannelRow:
    name: str
    kind: str
    pending: int
    retrying: int
    failed: int
    sent: int
    last_error: str


@dataclass(frozen=True, slots=True)
class WatchSection:
    name: str
    anchor: str
    follows: str
    count: int
    feed: str
    page: str
    letters: tuple[LetterView, ...] | None  # None: listed on one line, without letters
    shown: int = 0
    more: int = 0


@dataclass(frozen=True, slots=True)
class Warning:
    since: str
    text: str


class Pages:
    """Builds and renders the two pages for one configuration."""

    def __init__(self, settings: Settings, redact: Redactor) -> None:
        self.settings = settings
        self.redact = redact
        self.tz = ZoneInfo(settings.timezone)

    @functools.cached_property
    def _template(self) -> jinja2.Template:
        import jinja2

        env = jinja2.Environment(
            loader=jinja2.PackageLoader("monitor", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        return env.get_template("status.html.j2")

    def status(self, conn: Connection, now: datetime, link: Any) -> str:
        """``link(path)`` turns a path into the href to use (it may carry the visitor's token)."""
        watches = self.settings.watches
        inline = [w.name for w in watches[:INLINE_WATCHES]]
        recent = letter_store.recent(conn, inline, LETTERS_PER_WATCH)
        counts = letter_store.count_matches(conn)
        sections = [
            self._section(w, counts.get(w.name, 0), recent.get(w.name), LETTERS_PER_WATCH, link) for w in watches
        ]
        return self._template.render(
            page="status", title="kamermonitor — status", generated=self.when(now),
            sources=self._sources(conn, now), warnings=self._warnings(conn), channels=self._channels(conn),
            watches=sections, home=link("/"), metrics="/metrics", ready="/readyz",
        )  # fmt: skip

    def watch(self, conn: Connection, now: datetime, watch: WatchConfig, link: Any) -> str:
        letters = letter_store.with_details(conn, letter_store.recent_for_watch(conn, watch.name, FEED_LETTERS))
        count = letter_store.count_matches_of(conn, watch.name)
        section = self._section(watch, count, letters, FEED_LETTERS, link)
        return self._template.render(
            page="watch", title=f"kamermonitor — {watch.name}", generated=self.when(now), sources=[], warnings=[],
            channels=[], watches=[section], home=link("/"), metrics="/metrics", ready="/readyz",
        )  # fmt: skip

    @functools.cached_property
    def _about(self) -> dict[str, tuple[str, str, str, str]]:
        """Per watch, what never changes: (anchor, what it follows, feed path, page path).

        Made once: for a thousand watches, building them on every view cost more than the queries.
        """
        return {
            w.name: (anchor(w.name), follows(w), feed_path(w.name), watch_path(w.name)) for w in self.settings.watches
        }

    def _section(self, w: WatchConfig, count: int, letters: list[Any] | None, limit: int, link: Any) -> WatchSection:
        views = None if letters is None else tuple(letter_view(x) for x in letters)
        shown = len(views or ())
        anchor_, follows_, feed, page = self._about[w.name]
        return WatchSection(
            name=w.name, anchor=anchor_, follows=follows_, count=count, feed=link(feed), page=link(page),
            letters=views, shown=shown, more=max(count - shown, 0) if views is not None and shown >= limit else 0,
        )  # fmt: skip

    def _sources(self, conn: Connection, now: datetime) -> list[SourceRow]:
        health = {h.source: h for h in ops.all_health(conn)}
        sources = self.settings.enabled_sources()
        moved = ops.cursor_moved(conn, sources)
        bad = {p.name for p in readiness(self.settings, conn, now) if p.kind == "source"}
        rows = []
        for name in sources:
            h = health.get(name)
            rows.append(
                SourceRow(
                    name=name,
                    label=SOURCE_LABELS.get(name, name),
                    ok=name not in bad,
                    last_success=self.ago(h.last_success if h else None, now) or "nog nooit",
                    cursor_moved=self.ago(moved.get(name), now) or "nog niet",
                    failures=h.consecutive_failures if h else 0,
                    last_error=self.redact(h.last_error if h else None),
                )  # fmt: skip
            )
        return rows

    def _channels(self, conn: Connection) -> list[ChannelRow]:
        counts = outbox_store.counts(conn)
        errors: dict[str, str] = {}
        for channel, _state, error, _target in outbox_store.failures(conn, 50):
            errors.setdefault(channel, self.redact(error))
        return [
            ChannelRow(
                c.name,
                channel_label(c.type),
                counts.get(c.name, {}).get("pending", 0),
                counts.get(c.name, {}).get("retrying", 0),
                counts.get(c.name, {}).get("failed", 0),
                counts.get(c.name, {}).get("sent", 0),
                errors.get(c.name, ""),
            )  # fmt: skip
            for c in self.settings.channels
        ]

    def _warnings(self, conn: Connection) -> list[Warning]:
        return [
            Warning(self.when(since), self.redact(condition_text(key))) for key, since, _ in ops.active_conditions(conn)
        ]

    def when(self, at: datetime | None) -> str:
        """``6 december 2026, 21:05`` in the configured time zone."""
        if at is None:
            return ""
        local = at.astimezone(self.tz)
        return f"{local.day} {MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"

    def ago(self, at: datetime | None, now: datetime) -> str:
        """``6 december 2026, 21:05 (3 min geleden)``."""
        if at is None:
            return ""
        # Non-breaking spaces: "(5 s geleden)" stays on one line.
        ago = duration_nl(now - at).replace(" ", "\u00a0")
        return f"{self.when(at)} ({ago}\u00a0geleden)"


def anchor(watch: str) -> str:
    """The id of a watch's section on the status page: ``watch-dossier-26643``."""
    return "watch-" + re.sub(r"[^A-Za-z0-9_-]", "_", watch)


def duration_nl(delta: Any) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} uur {minutes} min"
    return f"{hours // 24} dagen {hours % 24} uur"


_CONDITIONS = {
    "source-failing": "{0}: de laatste polls zijn mislukt",
    "source-stale": "{0}: geen nieuwe documenten meer",
    "channel-failed": "Kanaal {0}: berichten konden niet worden afgeleverd; los de oorzaak op en voer "
    "kamermonitor retry-failed uit",
    "channel-retrying": "Kanaal {0}: berichten worden al lang opnieuw geprobeerd",
    "tk-file-missing": "Brief {0}: het bestand bij de Tweede Kamer was er (nog) niet; de melding ging zonder "
    "afzender en samenvatting uit",
}


def condition_text(key: str) -> str:
    """An active operational condition in Dutch (the log and the operator's alerts have the English detail)."""
    kind, _, subject = key.partition(":")
    source, _, dossier = subject.partition(":")
    if kind == "source-stale" and dossier and source in SOURCES:
        own = SOURCES[source].condition_text(dossier)
        if own is not None:
            return own
    template = _CONDITIONS.get(kind)
    if template is None:
        return key
    return template.format(SOURCE_LABELS.get(subject, subject))
