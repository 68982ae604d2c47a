"""Hardened XML parsing and namespace-agnostic element helpers for the sources.

Every byte from a source is untrusted: documents carrying a DTD are rejected outright
(no external entities, no entity-expansion bombs), the network is never touched, and
a malformed or truncated document becomes a :class:`~monitor.http.SourceError`.
Sources match elements on their *local* names because prefixes and namespace
versions differ between feeds and over time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from .http import SourceError

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse_xml(data: bytes, source: str) -> etree._Element:
    """Parse bytes into an element tree; raise SourceError for anything unsafe or broken."""
    if _DECLARATION.search(data):
        raise SourceError(source, "XML with a DTD or entity declarations rejected")
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise SourceError(source, f"malformed or truncated XML: {exc.msg}") from exc
    if root is None:
        raise SourceError(source, "empty XML document")
    if root.getroottree().docinfo.doctype:
        raise SourceError(source, "XML with a DTD rejected")
    return root


def local(el: etree._Element) -> str:
    """The element's tag without namespace."""
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def attr(el: etree._Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace prefix (``tk:bijgewerkt``)."""
    for key, value in el.attrib.items():
        if str(key).rsplit("}", 1)[-1] == name:
            return str(value)
    return None


def children(el: etree._Element, name: str) -> Iterator[etree._Element]:
    """Direct children with the given local name, in any namespace or none."""
    # lxml's "{*}" wildcard does the namespace-agnostic match in C: the hot path of parsing.
    return el.iterchildren(f"{{*}}{name}")


def child(el: etree._Element, name: str) -> etree._Element | None:
    return next(el.iterchildren(f"{{*}}{name}"), None)


def descendants(el: etree._Element, name: str) -> Iterator[etree._Element]:
    for node in el.iter():
        if local(node) == name:
            yield node


def text(el: etree._Element | None) -> str | None:
    """Stripped text of an element, or None when absent or blank."""
    if el is None or el.text is None:
        return None
    value = el.text.strip()
    return value or None


def child_text(el: etree._Element, name: str) -> str | None:
    return text(child(el, name))


def integer(value: str | None) -> int | None:
    """An element's or attribute's text as an integer (surrounding whitespace allowed); None if it is not one."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None
