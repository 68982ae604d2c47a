"""Which links may be followed: URL containment under a configured base.

Every URL the monitor fetches comes from configuration or from a source's answer, and an
answer is hostile input: a redirect, a next-page link, a file or publication link is
followed only when it lies under a configured base URL.  Pure functions, no HTTP
client, so configuration can use them without loading one.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlsplit


def within(url: str, base: str) -> bool:
    """True when ``url`` is under ``base``: same scheme, host and port, and inside its path."""
    try:
        u, b = urlsplit(url), urlsplit(base)
        same = (u.scheme.lower(), u.hostname, u.port) == (b.scheme.lower(), b.hostname, b.port)
    except ValueError:
        return False
    # "/Feed/2.0/../../other" and its percent-encoded spellings are not inside the prefix "/Feed/2.0".
    path = posixpath.normpath(unquote(u.path) or "/")
    prefix = posixpath.normpath(unquote(b.path) or "/").rstrip("/")
    return same and (path == prefix or path.startswith(prefix + "/") or not prefix)


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``: the base for a URL that has no configured one."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
