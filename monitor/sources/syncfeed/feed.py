"""The Tweede Kamer SyncFeed's wire format: its Atom pages and entities parsed.

This module owns the SyncFeed wire format (docs/sources.md §1): it turns a ``Feed`` page or an
``Entiteiten/<id>`` response into :mod:`monitor.models` objects, and says which links stay
within the configured base URL.  Reading pages over HTTP, by skiptoken, and finding the end of
a category is :mod:`.client`'s job; deciding what is new or storing anything is the poll's.

Much of the Document layout is inferred rather than recorded, so parsing is deliberately
lenient where the service may vary (namespace prefixes, ``verwijderd="True"``, missing
children, entry- or feed-level ``next`` links, query-parameter order) and strict only where
a wrong answer would be silent (a document that is not an Atom feed, malformed XML).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, date, datetime
from typing import Final
from urllib.parse import unquote, urljoin

from lxml import etree

from ...http import SourceError, within
from ...xmlsafe import attr, child_text, children, integer, local, parse_xml, text
from .models import FeedPage, TkDocument, TkDossier, TkEntity, TkZaak

logger = logging.getLogger(__name__)

# Category terms (lowerCamel, as in ``<category term=...>``) this module turns into models.
KNOWN_TERMS: Final = frozenset({"document", "zaak", "kamerstukdossier"})

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- parsing --------------------------------------------------------------------------


class Links:
    """Checks that a page's ``next`` links stay under the configured base URL.

    The monitor builds its own request URLs and takes only the skiptoken from a link; but a
    link to another server carries a token that server chose (once: 100 → 999,999,999,
    skipping every document in between), so such a page is refused whole.
    """

    def __init__(self, base: str, source: str) -> None:
        self.base = base.rstrip("/")
        self.source = source
        self._quick = (self.base + "/", self.base + "?")

    def check(self, href: str | None) -> None:
        if href is None:
            return
        if href.startswith(self._quick) and "/." not in href and "%" not in href:
            return  # the usual absolute link: no parsing
        absolute = urljoin(self.base + "/", href)
        if not within(absolute, self.base):
            raise SourceError(
                self.source, f"next link points away from {self.base}: {absolute[:120]}; page refused", foreign=True
            )


def parse_feed(data: bytes, source: str = "syncfeed", base: str | None = None) -> FeedPage:
    """Parse one SyncFeed page into entities in feed order (see the module docstring).

    With ``base``, every ``next`` link (an entry's or the feed's) must lie under it, else
    the page is refused with a SourceError marked ``foreign``.
    """
    root = feed_root(data, source)
    links = Links(base, source) if base else None
    entities: list[TkEntity] = []
    last_token: int | None = None
    for entry in children(root, "entry"):
        node = _Node(entry)
        if links is not None:
            links.check(node.link("next"))
        token = _next_token(node)
        # Entries of other categories are skipped, but still move the cursor past them.
        if token is not None:
            last_token = token
        entity = _parse_entry(node, token)
        if entity is not None:
            entities.append(entity)
    next_url = _Node(root).link("next")
    if links is not None:
        links.check(next_url)
    feed_token = _skiptoken(next_url) if next_url else None
    return FeedPage(
        entities=tuple(entities),
        next_skiptoken=feed_token if feed_token is not None else last_token,
        next_url=next_url,
    )


def parse_entity(data: bytes, source: str = "syncfeed") -> TkEntity | None:
    """Parse an ``Entiteiten/<id>`` response: a bare entity, an Atom entry or a one-entry feed.

    Returns None for an entity of a kind this module does not model (e.g. ``persoon``) and
    for an empty feed.  A feed with several entries yields the last one: feed order is
    chronological, so that is the latest state.
    """
    root = parse_xml(data, source)
    name = local(root)
    if name == "feed":
        entries = [_Node(e) for e in children(root, "entry")]
        return _parse_entry(entries[-1], _next_token(entries[-1])) if entries else None
    if name == "entry":
        entry = _Node(root)
        return _parse_entry(entry, _next_token(entry))
    if name.lower() == "error":
        raise SourceError(source, f"server returned an error document: {_error_message(root)}")
    if name.lower() in KNOWN_TERMS:
        return _parse_content(name.lower(), _Node(root), None, None, None)
    return None


def feed_root(data: bytes, source: str) -> etree._Element:
    """Parse ``data`` and insist it is an Atom feed: anything else must not look like "no news"."""
    root = parse_xml(data, source)
    name = local(root)
    if name.lower() == "error":
        # The service answers failures with <Error><Message>An error has occurred.</Message></Error>.
        raise SourceError(source, f"server returned an error document: {_error_message(root)}")
    if name != "feed":
        raise SourceError(source, f"expected an Atom <feed>, got <{name}>")
    return root


def _error_message(root: etree._Element) -> str:
    message = child_text(root, "Message") or child_text(root, "message") or text(root)
    return (message or "no message")[:200]


class _Node:
    """One element with its children and attributes indexed by local name, in one pass.

    Parsing is the hot path of a catch-up (tens of thousands of entries): asking lxml for
    each field separately walked every element's children a dozen times.  Namespaces and
    prefixes are ignored (``tk:bijgewerkt``, ``ns1:verwijderd``, none): recordings differ
    advises; the first child of a name wins, as a ``find`` would.
    """

    __slots__ = ("el", "kids", "attrs")

    def __init__(self, el: etree._Element) -> None:
        self.el = el
        kids: dict[str, list[etree._Element]] = {}
        for c in el:
            tag = c.tag
            if type(tag) is str:  # comments and processing instructions have no str tag
                name = tag[tag.rfind("}") + 1 :]
                same = kids.get(name)
                if same is None:
                    kids[name] = [c]
                else:
                    same.append(c)
        self.kids = kids
        self.attrs = {k[k.rfind("}") + 1 :]: v for k, v in el.items()} if len(el.attrib) else {}

    def first(self, name: str) -> etree._Element | None:
        found = self.kids.get(name)
        return found[0] if found else None

    def text(self, name: str) -> str | None:
        return text(self.first(name))

    def attr(self, name: str) -> str | None:
        return self.attrs.get(name)

    def refs(self, name: str) -> tuple[str, ...]:
        """Every ``<name ref=...>`` child, in order, without duplicates (co-filed letters have several)."""
        found: dict[str, None] = {}
        for ref_el in self.kids.get(name, ()):
            ref = _strip(ref_el.get("ref") or attr(ref_el, "ref"))
            if ref:
                found[ref] = None
        return tuple(found)

    def link(self, rel: str) -> str | None:
        for el in self.kids.get("link", ()):
            # Atom's attributes carry no namespace; the prefixed spelling is only a fallback.
            if (el.get("rel") or attr(el, "rel") or "").strip().lower() == rel:
                return _strip(el.get("href") or attr(el, "href"))
        return None


def _parse_entry(entry: _Node, token: int | None) -> TkEntity | None:
    content = entry.first("content")
    body = next((el for el in content if isinstance(el.tag, str)), None) if content is not None else None
    term = _category_term(entry) or (local(body).lower() if body is not None else None)
    if term not in KNOWN_TERMS:
        return None
    if body is None:
        # content=external or an empty <content>: the state is unknown, so inventing an empty
        # entity would overwrite real data downstream.
        logger.warning("SyncFeed %s entry %s has no content; skipped", term, entry.text("title"))
        return None
    updated = _parse_updated(entry.text("updated"))
    return _parse_content(term, _Node(body), entry, token, updated)


def _category_term(entry: _Node) -> str | None:
    cat = entry.first("category")
    term = attr(cat, "term") if cat is not None else None
    return term.strip().lower() if term and term.strip() else None


def _parse_content(
    term: str | None,
    el: _Node,
    entry: _Node | None,
    token: int | None,
    updated: datetime | None,
) -> TkEntity | None:
    guid = _guid(el, entry)
    if guid is None:
        logger.warning("SyncFeed %s entity without an id; skipped", term)
        return None
    deleted = (el.attr("verwijderd") or "").strip().lower() == "true"
    if term == "document":
        return _document(el, entry, guid, deleted, token, updated)
    if term == "zaak":
        return TkZaak(
            guid=guid,
            deleted=deleted,
            skiptoken=token,
            updated=updated,
            nummer=el.text("nummer"),
            soort=el.text("soort"),
            onderwerp=el.text("onderwerp"),
            titel=el.text("titel"),
            dossier_guids=el.refs("kamerstukdossier"),
        )
    if term == "kamerstukdossier":
        return TkDossier(
            guid=guid,
            deleted=deleted,
            skiptoken=token,
            updated=updated,
            nummer=integer(el.text("nummer")),
            toevoeging=el.text("toevoeging"),
            titel=el.text("titel"),
        )
    return None


def _document(
    el: _Node,
    entry: _Node | None,
    guid: str,
    deleted: bool,
    token: int | None,
    updated: datetime | None,
) -> TkDocument:
    volgnummer = integer(el.text("volgnummer"))
    length = integer(el.attr("contentLength"))
    bron = el.refs("bronDocument")
    return TkDocument(
        guid=guid,
        deleted=deleted,
        skiptoken=token,
        updated=updated,
        nummer=el.text("documentNummer"),
        soort=el.text("soort"),
        onderwerp=el.text("onderwerp"),
        titel=el.text("titel"),
        citeertitel=el.text("citeerTitel"),
        datum=_parse_date(el.text("datum")),
        vergaderjaar=el.text("vergaderjaar"),
        # -1 means "no Kamerstuk number yet"; no real Kamerstuk has a number below 1.
        volgnummer=volgnummer if volgnummer is not None and volgnummer > 0 else None,
        content_type=_strip(el.attr("contentType")),
        content_length=length if length is not None and length >= 0 else None,
        enclosure_url=entry.link("enclosure") if entry is not None else None,
        dossier_guids=el.refs("kamerstukdossier"),
        zaak_guids=el.refs("zaak"),
        bron_document_guid=bron[0] if bron else None,
    )


def _guid(el: _Node, entry: _Node | None) -> str | None:
    """The entity id: its ``id`` attribute, else the entry's title, else the tail of ``<id>``."""
    guid = _strip(el.attr("id"))
    if guid is None and entry is not None:
        guid = entry.text("title")
        entry_id = entry.text("id")
        if guid is None and entry_id:
            guid = entry_id.rstrip("/").rsplit("/", 1)[-1] or None
    return guid


def _next_token(entry: _Node) -> int | None:
    href = entry.link("next")
    return _skiptoken(href) if href else None


_SKIPTOKEN = re.compile(r"[?&;]\$?skiptoken=([^&#;]*)", re.IGNORECASE)


def _skiptoken(url: str) -> int | None:
    """The ``skiptoken`` query parameter of a next link; its position in the query varies.

    A regex over the query string, not urllib's full parse: this runs once per entry.
    """
    query = url[url.find("?") :] if "?" in url else ""
    match = _SKIPTOKEN.search(query.split("#", 1)[0])
    return integer(unquote(match[1])) if match else None


def _parse_updated(value: str | None) -> datetime | None:
    """Atom ``<updated>`` is UTC; a value without an offset is taken as UTC too."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        logger.debug("unparseable SyncFeed <updated> %r", value)
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _parse_date(value: str | None) -> date | None:
    """``2025-05-13T00:00:00+02:00`` or ``2025-05-13``: the calendar date as written (local)."""
    if not value or not _DATE.match(value):
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _strip(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None
