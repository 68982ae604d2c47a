"""Conditional requests: the validators (``ETag``, ``Last-Modified``) remembered per URL.

An idle poll asks the same URL again and again (the caught-up page of a feed, the same
search while nothing changed).  With the validators of the last answer it was given,
the server can answer ``304 Not Modified`` with no body.  The table is bounded (least recently
remembered first out) and a validator is kept only if it is short, visible ASCII: it is
sent back verbatim in a header, and it comes from outside.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

# A few dozen URLs are asked again unchanged (one per feed, one per search of a window).
MAX_VALIDATORS = 64
_MAX_CHARS = 200
_VISIBLE = re.compile(r"[\x21-\x7e ]+")  # visible ASCII and spaces: what a header value may be


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_CHARS or not _VISIBLE.fullmatch(value):
        return None
    return value


@dataclass(frozen=True, slots=True)
class Validator:
    """What a server said identifies one response, for the URL (with parameters) asked."""

    key: str
    etag: str | None
    last_modified: str | None

    @classmethod
    def of(cls, key: str, etag: str | None, last_modified: str | None) -> Validator:
        return cls(key, _clean(etag), _clean(last_modified))


class Validators:
    """URL → the validators of the response remembered for it (thread-safe, bounded)."""

    def __init__(self, limit: int = MAX_VALIDATORS) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._by_key: OrderedDict[str, Validator] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_key)

    def remember(self, v: Validator) -> None:
        if v.etag is None and v.last_modified is None:
            return
        with self._lock:
            self._by_key[v.key] = v
            self._by_key.move_to_end(v.key)
            while len(self._by_key) > self._limit:
                self._by_key.popitem(last=False)

    def headers(self, key: str) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` for ``key``; none when nothing is remembered."""
        with self._lock:
            v = self._by_key.get(key)
        out: dict[str, str] = {}
        if v is not None and v.etag:
            out["If-None-Match"] = v.etag
        if v is not None and v.last_modified:
            out["If-Modified-Since"] = v.last_modified
        return out
