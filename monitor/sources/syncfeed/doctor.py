"""``doctor`` for the SyncFeed: one Document page whose first entry and next link look as the poll expects."""

from __future__ import annotations

import re

from ...doctor import Doctor, http_step
from ...http import Fetcher
from .. import config_of
from .config import NAME, SyncFeedConfig

# The shape check reads the first entry of a feed page, not the page (250 entries).
SHAPE_MAX_BYTES = 2 * 1024 * 1024
_ENTRY_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?entry\s*>|</(?:[A-Za-z_][\w.-]*:)?feed\s*>")
_FEED_ROOT = re.compile(rb"<(?:([A-Za-z_][\w.-]*):)?feed[\s>]")
_LINK = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?link\s[^>]*>")
_NEXT_TOKEN = re.compile(rb"skiptoken=(\d+)")
_REL_NEXT = re.compile(rb"""\brel\s*=\s*["']next["']""")
ATOM_NS = b"http://www.w3.org/2005/Atom"


def check(doc: Doctor, fetcher: Fetcher) -> None:
    cfg = config_of(doc.settings.sources, NAME, SyncFeedConfig)
    item = NAME
    doc.endpoint(item, cfg.base_url)
    result = http_step(
        doc, item,
        lambda: fetcher.get(
            item, f"{cfg.base_url}/Feed", {"category": "Document"}, expect_xml=False,
            max_bytes=SHAPE_MAX_BYTES, stop_when=lambda buf: _ENTRY_END.search(buf) is not None,
        ),
    )  # fmt: skip
    body = result.content
    root = _FEED_ROOT.search(body[:4096])
    if root is None or ATOM_NS not in body[: root.end() + 2048]:
        head = " ".join(body[:80].decode("utf-8", "replace").split())
        raise doc.fail(f"{item} answer", f"not an Atom feed (starts with {head!r})")
    tokens = [
        int(m.group(1)) for link in _LINK.findall(body) if _REL_NEXT.search(link) and (m := _NEXT_TOKEN.search(link))
    ]
    if not tokens:
        if b"entry" not in body[root.end() :]:
            doc.say("warning", f"{item} answer", "an Atom feed, but the Document category has no entries")
            return
        raise doc.fail(f"{item} answer", "an Atom feed without a next link carrying a skiptoken")
    doc.say("ok", f"{item} answer", f"Atom feed of documents, next link at skiptoken {tokens[0]}")
