"""One letter, one identity; and which watches a letter newly matches.

Each source turns what it saw into :class:`Observation` objects: the identity keys it
knows (``tk:<guid>``, ``tknr:<DocumentNummer>``, ``kst:<dossier>-<nr>``, ``ob:<id>``,
and a weaker ``subj:<dossier>|<date>|<subject>``), the letter fields it vouches for, and
the dossiers it places the letter in.  :func:`record` finds the letter behind any of
those keys (merging two letters that turn out to be one), updates it, and returns the
(watch, letter) pairs matched for the first time.  "New" therefore means "never matched
this watch before" — never "recent by date" — so a letter that shows up days after its
date, or that gains its dossier link only in a later version, is still alerted once.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from .config import WatchConfig
from .models import DossierRef, Letter
from .store import attachments as attachment_store
from .store import letters as letter_store
from .store.attachments import Sighting
from .store.db import chunks

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Observation:
    """What one source says about one letter version."""

    identity: str  # the letter field holding the source's own id of it ("" for a re-evaluation of dossiers)
    ref: str  # the mirror row it came from (the source's id)
    keys: tuple[str, ...]
    values: dict[str, Any] = field(default_factory=dict)
    dossiers: tuple[DossierRef, ...] = ()
    weak: frozenset[str] = frozenset()  # fields only filled when the letter has none yet
    retracts: bool = False  # the source withdrew it (a tombstone)
    # Letter fields that, once filled, keep the letter through a retraction (an official
    # publication is not undone by a withdrawn parliamentary document).
    survives_if: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class NewMatch:
    watch: WatchConfig
    letter_id: int
    reason: str


def subject_key(dossier: DossierRef, when: date | None, subject: str | None) -> str | None:
    """A weak identity for sources that have no number yet: dossier + date + subject."""
    if when is None or not subject:
        return None
    norm = unicodedata.normalize("NFKC", subject).lower()
    norm = re.sub(r"\((tweede |derde )?herdruk\)", "", norm)
    norm = re.sub(r"[\W_]+", " ", norm).strip()
    return f"subj:{dossier}|{when.isoformat()}|{norm[:100]}" if norm else None


class Matcher:
    """Watches indexed by dossier, so matching costs the same with 1 or 1,000 watches."""

    def __init__(self, watches: Sequence[WatchConfig]) -> None:
        self.watches = tuple(watches)
        self.by_dossier: dict[DossierRef, list[WatchConfig]] = {}
        for w in self.watches:
            for d in w.dossiers:
                self.by_dossier.setdefault(d, []).append(w)
        self.keyword_watches = [(w, [k.lower() for k in w.keywords]) for w in self.watches if w.keywords]

    def match(self, row: dict[str, Any]) -> list[tuple[WatchConfig, str]]:
        found: dict[str, tuple[WatchConfig, str]] = {}
        for d in row.get("dossiers") or ():
            for w in self.by_dossier.get(d, ()):
                if w.name not in found and w.kind_matches(row.get("kind")):
                    found[w.name] = (w, f"u volgt dossier {d}")
        if self.keyword_watches:
            text = " ".join(str(row.get(k) or "") for k in ("subject", "title", "dossier_title")).lower()
            for w, words in self.keyword_watches:
                if w.name in found or not w.kind_matches(row.get("kind")):
                    continue
                hit = next((k for k in words if k in text), None)
                if hit:
                    found[w.name] = (w, f"bevat uw trefwoord '{hit}'")
        return list(found.values())


def _apply(row: dict[str, Any], obs: Observation) -> bool:
    changed = False
    for key, value in obs.values.items():
        if value is None or value == "" or (key in obs.weak and row.get(key)):
            continue
        if row.get(key) != value:
            row[key] = value
            changed = True
    known: tuple[DossierRef, ...] = row.get("dossiers") or ()
    merged = tuple(dict.fromkeys((*known, *obs.dossiers)))
    if merged != known:
        row["dossiers"] = merged
        changed = True
    if obs.identity:  # a source's word on the letter decides whether it exists; a re-evaluation does not
        deleted = obs.retracts and not any(row.get(f) for f in obs.survives_if)
        if bool(row.get("deleted")) != deleted:
            row["deleted"] = deleted
            changed = True
    return changed


def _blank(now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {f: None for f in letter_store.LETTER_FIELDS}
    row.update(dossiers=(), senders="", deleted=False, first_seen=now, updated_at=now)
    return row


def letter_from(obs: Observation, letter_id: int, now: datetime) -> Letter:
    """The letter one observation alone describes, without storing anything (for previews)."""
    row = {**_blank(now), "id": letter_id}
    _apply(row, obs)
    return letter_store.to_model(row)


@dataclass(slots=True)
class Recorded:
    letter_ids: dict[str, int]  # observation ref → letter id
    changed: set[int]
    new_matches: list[NewMatch]
    created: set[int] = field(default_factory=set)
    published: list[int] = field(default_factory=list)  # letters that just got their official publication
    attached: list[tuple[int, str]] = field(default_factory=list)  # (letter, attachment ref) just attached

    def followups(self) -> list[tuple[int, str, str]]:
        """Follow-up events: letters just officially published, and attachments just attached.

        (letter id, kind, what it is about) as :func:`monitor.alerts.enqueue_followups` takes them;
        for an attachment, "what" is its ref, so each is announced once per letter.
        """
        events = [(lid, "published", "") for lid in self.published]
        return events + [(lid, "attachments", ref) for lid, ref in self.attached]


def record(
    conn: Connection,
    observations: Sequence[Observation],
    matcher: Matcher,
    baselines: dict[str, datetime],
    now: datetime,
    *,
    grace_days: int = 14,
    silent: bool = False,
    extra_dossiers: Mapping[int, Iterable[DossierRef]] | None = None,
    attachments: Sequence[Sighting] = (),
) -> Recorded:
    """Merge observations into letters and return first-time matches (inside ``conn``'s tx).

    ``attachments`` are stored after the letters, then attached: these, and those that
    waited for a key the letters just gained.  ``Recorded.attached`` lists the newly
    attached ones (a bijlage seen by both sources counts once).

    ``baselines`` maps watch name → when that watch was baselined; a letter dated more
    than ``grace_days`` before that is recorded silently (it predates the watch).
    ``silent`` records everything without alerting (used for backfills).
    ``extra_dossiers`` re-evaluates existing letters that gained dossiers indirectly
    (through their Zaak, or a dossier GUID learnt later).
    """
    key_map = letter_store.keys_to_letters(conn, (k for o in observations for k in o.keys))
    rows = letter_store.rows_by_id(conn, set(key_map.values()) | set(extra_dossiers or {}))
    batch = _Batch(conn, key_map, rows, now)
    dirty: set[int] = set()
    out = Recorded({}, set(), [])
    for obs in observations:
        letter_id = batch.resolve(obs)
        if letter_id is None:
            continue
        out.letter_ids[obs.ref] = letter_id
        was_published = bool(rows[letter_id].get("ob_html_url"))
        if _apply(rows[letter_id], obs):
            dirty.add(letter_id)
            if not was_published and rows[letter_id].get("ob_html_url") and not silent:
                out.published.append(letter_id)
    for letter_id, refs in (extra_dossiers or {}).items():
        if letter_id in rows and _apply(rows[letter_id], Observation("", "", (), dossiers=tuple(refs))):
            dirty.add(letter_id)
    ids = batch.flush()  # provisional ids → real ones; new letters are inserted whole
    out.letter_ids = {ref: ids.get(i, i) for ref, i in out.letter_ids.items()}
    out.created = {ids[i] for i in ids}
    out.published = [ids.get(i, i) for i in out.published]
    dirty = {ids.get(i, i) for i in dirty} | out.created
    for letter_id in dirty - out.created:
        rows[letter_id]["updated_at"] = now
    letter_store.save_many(conn, [rows[i] for i in dirty - out.created])
    out.changed = dirty
    out.new_matches = _match(conn, [rows[i] for i in dirty], matcher, baselines, now, grace_days, silent)
    attachment_store.save(conn, attachments, now)
    attached = attachment_store.resolve(conn, (a.ref for a in attachments if not a.deleted), batch.new_keys)
    repeats = attachment_store.repeats(conn, attached)
    out.attached = [(letter_id, ref) for letter_id, ref in attached if ref not in repeats]
    return out


class _Batch:
    """Resolves observations to letters within one transaction, writing in bulk at the end.

    New letters get provisional negative ids until :meth:`flush` inserts them in one
    statement; their identity keys are inserted in one statement too.
    """

    def __init__(
        self, conn: Connection, key_map: dict[str, int], rows: dict[int, dict[str, Any]], now: datetime
    ) -> None:
        self.conn, self.key_map, self.rows, self.now = conn, key_map, rows, now
        self.new_keys: dict[str, int] = {}
        self._next = -1

    def resolve(self, obs: Observation) -> int | None:
        ids = sorted({self.key_map[k] for k in obs.keys if k in self.key_map and self._may_link(k, obs)})
        if not ids:
            if obs.retracts:
                return None  # a tombstone for something never seen: nothing to do
            letter_id, self._next = self._next, self._next - 1
            self.rows[letter_id] = {**_blank(self.now), "id": letter_id}
        else:
            real = [i for i in ids if i > 0]
            letter_id = real[0] if real else ids[-1]
            for other in ids:
                if other != letter_id:
                    self._merge(letter_id, other)
        for key in dict.fromkeys(obs.keys):
            if key not in self.key_map:
                self.key_map[key] = self.new_keys[key] = letter_id
        return letter_id

    def _may_link(self, key: str, obs: Observation) -> bool:
        """The weak subject key only links across sources, never two different documents of one source."""
        if not key.startswith("subj:"):
            return True
        row = self.rows.get(self.key_map[key], {})
        own = obs.identity
        mine = obs.values.get(own)
        return not row.get(own) or row.get(own) == mine

    def _merge(self, keep: int, drop: int) -> None:
        logger.info("letters %d and %d are the same letter; merging into %d", keep, drop, keep)
        if drop > 0:
            letter_store.merge(self.conn, keep, drop)
        for table in (self.key_map, self.new_keys):
            for key, value in list(table.items()):
                if value == drop:
                    table[key] = keep
        dropped = self.rows.pop(drop, None) or {}
        kept = self.rows[keep]
        for k in letter_store.LETTER_FIELDS:
            if not kept.get(k) and dropped.get(k):
                kept[k] = dropped[k]
        _apply(kept, Observation("", "", (), dossiers=dropped.get("dossiers") or ()))

    def flush(self) -> dict[int, int]:
        """Insert new letters and keys; return provisional id → real id."""
        provisional = sorted((i for i in self.rows if i < 0), reverse=True)
        real = letter_store.create(self.conn, [self.rows[i] for i in provisional])  # their "id" is replaced
        ids = dict(zip(provisional, real, strict=True))
        for tmp, lid in ids.items():
            self.rows[lid] = {**self.rows.pop(tmp), "id": lid}
        letter_store.add_keys(self.conn, [(k, ids.get(i, i)) for k, i in self.new_keys.items()])
        for key, value in self.key_map.items():
            if value < 0:
                self.key_map[key] = ids[value]
        return ids


def _match(
    conn: Connection,
    rows: list[dict[str, Any]],
    matcher: Matcher,
    baselines: dict[str, datetime],
    now: datetime,
    grace_days: int,
    silent: bool,
) -> list[NewMatch]:
    if not rows or not matcher.watches:
        return []
    already = letter_store.matched(conn, (r["id"] for r in rows))
    new_rows: list[dict[str, Any]] = []
    found: list[NewMatch] = []
    for row in rows:
        for watch, reason in matcher.match(row):
            if (watch.name, row["id"]) in already:
                continue
            quiet = silent or bool(row.get("deleted")) or _predates(row, baselines.get(watch.name), grace_days)
            new_rows.append({"watch": watch.name, "letter_id": row["id"], "matched_at": now, "silent": quiet})
            already.add((watch.name, row["id"]))
            if not quiet:
                found.append(NewMatch(watch, row["id"], reason))
    letter_store.add_matches(conn, new_rows)
    return found


def _predates(row: dict[str, Any], baselined_at: datetime | None, grace_days: int) -> bool:
    if baselined_at is None:
        return True  # not baselined yet: never alert
    when = row.get("date")
    return isinstance(when, date) and when < baselined_at.date() - timedelta(days=grace_days)


def baseline(conn: Connection, watch: WatchConfig, now: datetime) -> int:
    """Record every stored letter the watch matches as already seen; return how many."""
    matcher = Matcher([watch])
    ids = letter_store.all_letter_ids(conn)
    already = {lid for w, lid in letter_store.matched(conn, ids) if w == watch.name}
    count = len(already)
    new_rows = []
    for chunk in chunks(ids, 1000):  # a bounded number of letters in memory at a time
        for row in letter_store.rows_by_id(conn, chunk).values():
            if row["id"] not in already and matcher.match(row):
                new_rows.append({"watch": watch.name, "letter_id": row["id"], "matched_at": now, "silent": True})
    letter_store.add_matches(conn, new_rows)
    letter_store.set_watch(conn, watch.name, watch.fingerprint(), now)
    return count + len(new_rows)
