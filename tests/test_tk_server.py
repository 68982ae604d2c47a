"""The fake SyncFeed's pages: indexed paging and cached, string-built entries.

The fake renders entries by string formatting for speed.  These tests hold it to the
lxml rendering it replaced (kept here as the reference): byte for byte the same pages
and ``Entiteiten`` answers, the same paging, the same refusal of non-XML characters.
"""

from __future__ import annotations

import urllib.request
from bisect import bisect_right
from collections.abc import Iterator
from datetime import timedelta

import pytest
from lxml import etree

from monitor.sources.syncfeed.feed import parse_entity, parse_feed
from tests.fakes.tk_server import ATOM, AUTHOR, TK, TkFeedServer, _atom, _Entry, feed_header

TRICKY = "A & B <c> \"d\" 'e' ]]> é € 😀\ttab\nnl\rcr  — “Karremans”"


# --- the reference: how the fake rendered pages with lxml -------------------------------


def _ref_entity(tk: TkFeedServer, e: _Entry) -> etree._Element:
    el = etree.Element(f"{{{TK}}}{e.term}", nsmap={None: TK, "tk": TK})
    el.set("id", e.guid)
    local = (e.updated + timedelta(hours=2)).replace(tzinfo=None)
    el.set(f"{{{TK}}}bijgewerkt", local.strftime("%Y-%m-%dT%H:%M:%S.0000000"))
    el.set(f"{{{TK}}}verwijderd", "true" if e.deleted else "false")
    if e.deleted:
        return el
    if e.term == "document":
        content, ctype = tk._files[e.guid]
        el.set(f"{{{TK}}}contentType", ctype)
        el.set(f"{{{TK}}}contentLength", str(len(content)))
    for key, value in e.state.items():
        for ref in value if isinstance(value, list) else ():
            etree.SubElement(el, f"{{{TK}}}{key}", ref=str(ref))
        if value is not None and not isinstance(value, list):
            etree.SubElement(el, f"{{{TK}}}{key}").text = str(value)
    return el


def _ref_entry(tk: TkFeedServer, e: _Entry) -> etree._Element:
    entry = etree.Element(f"{{{ATOM}}}entry", nsmap={None: ATOM})
    _atom(entry, "title", e.guid)
    _atom(entry, "id", f"{tk.base_url}/Entiteiten/{e.guid}")
    _atom(_atom(entry, "author"), "name", AUTHOR)
    _atom(entry, "updated", e.updated.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"))
    _atom(entry, "category", term=e.term)
    _atom(entry, "link", rel="next", href=tk._feed_href(e.term[0].upper() + e.term[1:], e.token))
    if e.term == "document" and not e.deleted:
        _atom(entry, "link", rel="enclosure", href=f"{tk.base_url}/Resources/{e.guid}")
    _atom(entry, "content", type="application/xml").append(_ref_entity(tk, e))
    return entry


def ref_feed_xml(tk: TkFeedServer, category: str, skiptoken: int) -> bytes:
    term = category[:1].lower() + category[1:]
    after = tk._entries[bisect_right([x.token for x in tk._entries], skiptoken) :]
    matching = [x for x in after if x.term == term]
    page, more = matching[: tk.page_size], len(matching) > tk.page_size
    feed = feed_header(tk._feed_href(category, skiptoken), category, tk._clock)
    if more:
        feed.insert(2, etree.Element(f"{{{ATOM}}}link", rel="next", href=tk._feed_href(category, page[-1].token)))
    for e in page:
        feed.append(_ref_entry(tk, e))
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")


def ref_entity_xml(tk: TkFeedServer, guid: str) -> bytes:
    return etree.tostring(_ref_entry(tk, tk._latest[guid]), xml_declaration=True, encoding="utf-8")


# --- a feed with every kind of entry ------------------------------------------------------


def fill(tk: TkFeedServer) -> None:
    tk.add_dossier("dos-1", 36600, f"Begroting {TRICKY}", "VII")
    tk.add_dossier("dos-2", 21501, "Raad & <Europa>")
    for i in range(9):
        tk.add_zaak(f"zaak-{i}", f"2025Z{i:05}", "Brief regering", f"onderwerp {i} {TRICKY}", ["dos-1"])
        tk.add_document(
            f"doc-{i}", f"2025D{i:05}", "Brief regering", f"{TRICKY} {i}", "Titel & co", "2025-05-13",
            "2024-2025", 1000 + i, ["dos-1", "dos-2"], [f"zaak-{i}"],
            bron_document_guid="doc-0" if i else None, content=b"%PDF" * i, content_type='application/"pdf"',
        )  # fmt: skip
        if i % 3 == 0:
            tk.skip_tokens(5)
    tk.add_document("doc-leeg", "", "", "", "", "2025-05-14", "", dossier_guids=[TRICKY])  # empty texts
    tk.update_document("doc-1", onderwerp="gecorrigeerd", volgnummer=None, zaak_guids=[])  # None: no element
    tk.update_document("doc-2", content=b"nieuwe inhoud", content_type="text/plain")  # changes older entries too
    tk.delete("doc-3")
    tk.delete("zaak-4")
    tk.add_document("doc-teken", "2025D99999", "Motie", "€ 😀", "ü", "2025-05-15", "2024-2025")


@pytest.fixture
def full() -> Iterator[TkFeedServer]:
    with TkFeedServer(first_token=20_000_000, token_step=3, page_size=4) as tk:
        fill(tk)
        yield tk


def all_tokens(tk: TkFeedServer) -> list[int]:
    """Every skiptoken worth asking for: each entry's, its neighbours, and both ends."""
    tokens = {0, 10**12}
    for e in tk._entries:
        tokens |= {e.token - 1, e.token, e.token + 1}
    return sorted(tokens)


CATEGORIES = ("Document", "Zaak", "Kamerstukdossier", "document", "Persoon", "", "<&>")


def test_pages_are_byte_for_byte_the_lxml_rendering(full: TkFeedServer) -> None:
    for category in CATEGORIES:
        for token in all_tokens(full):
            expected = ref_feed_xml(full, category, token)
            assert full.feed_xml(category, token) == expected, (category, token)
            assert full.feed_xml(category, token) == expected, (category, token)  # from the cache
            assert parse_feed(full.feed_xml(category, token)) == parse_feed(expected)


def test_entity_lookups_are_byte_for_byte_the_lxml_rendering(full: TkFeedServer) -> None:
    for guid in full._latest:
        expected = ref_entity_xml(full, guid)
        with urllib.request.urlopen(f"{full.base_url}/Entiteiten/{guid}") as response:
            body = response.read()
        assert body == expected, guid
        assert parse_entity(body) == parse_entity(expected)


def test_cached_entries_follow_a_new_file_and_a_new_port(full: TkFeedServer) -> None:
    for token in all_tokens(full):
        full.feed_xml("Document", token)  # fill the cache
    full.update_document("doc-5", content=b"x" * 12345)  # older doc-5 entries show the new length, as before
    assert full.feed_xml("Document", 0) == ref_feed_xml(full, "Document", 0)
    assert all(full.feed_xml("Document", t) == ref_feed_xml(full, "Document", t) for t in all_tokens(full))
    old_base = full.base_url
    full.stop()
    full.start()  # another free port: the cached entries named the old one
    assert full.base_url != old_base
    for token in all_tokens(full):
        assert full.feed_xml("Document", token) == ref_feed_xml(full, "Document", token)
        assert old_base.encode() not in full.feed_xml("Zaak", token)


def test_paging_walks_every_entry_of_a_category_once_in_order(full: TkFeedServer) -> None:
    for category, term in (("Document", "document"), ("Zaak", "zaak")):
        expected = [e.token for e in full._entries if e.term == term]
        seen: list[int | None] = []
        token = 0
        while True:
            page = parse_feed(full.feed_xml(category, token))
            seen += [e.skiptoken for e in page.entities]
            assert (page.next_url is not None) == (seen[-1] != expected[-1])  # a next link only if more follow
            if page.next_url is None:
                break
            assert page.next_skiptoken is not None and page.next_skiptoken == seen[-1]
            token = page.next_skiptoken
        assert seen == expected


def test_no_next_link_when_the_page_is_exactly_full() -> None:
    with TkFeedServer(page_size=3) as tk:
        tokens = [tk.add_zaak(f"z{i}", str(i), "x", "y") for i in range(6)]
        first = parse_feed(tk.feed_xml("Zaak", 0))
        assert first.next_url is not None and first.next_skiptoken == tokens[2]
        last = parse_feed(tk.feed_xml("Zaak", tokens[2]))
        assert last.next_url is None and last.next_skiptoken == tokens[-1]
        assert parse_feed(tk.feed_xml("Zaak", tokens[-1])).entities == ()


@pytest.mark.parametrize("bad", ["\x00", "\x01", "\x0b", "\x1f", "\ufffe", "\uffff"])
def test_characters_xml_cannot_carry_are_refused_like_lxml(bad: str) -> None:
    with TkFeedServer() as tk:
        tk.add_zaak("zaak-1", "2025Z1", "x", f"onderwerp {bad}")
        with pytest.raises(ValueError, match="XML compatible"):
            ref_feed_xml(tk, "Zaak", 0)
        with pytest.raises(ValueError, match="XML compatible"):
            tk.feed_xml("Zaak", 0)


def test_a_page_renders_only_its_own_entries() -> None:
    """Rendering is lazy and per page: entries outside the page are never rendered."""
    with TkFeedServer(page_size=5) as tk:
        for i in range(50):
            tk.add_document(f"doc-{i}", f"2025D{i}", "Motie", "x", "y", "2025-05-13", "2024-2025")
            tk.add_zaak(f"zaak-{i}", f"2025Z{i}", "Motie", "x")
        tk.feed_xml("Document", tk._entries[40].token)
        rendered = [e.guid for e in tk._entries if e.rendered is not None]
        assert rendered == [f"doc-{i}" for i in range(21, 26)]
