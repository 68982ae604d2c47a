"""Where the HTTP surface shows a watch: the paths and, with ``[web] base_url``, the absolute links.

Shared by the web package (which serves these paths) and the messages (which link to
them), so the two never disagree.  No dependencies.
"""

from __future__ import annotations

from urllib.parse import quote


def watch_path(watch: str) -> str:
    """The page with the watch's letters: ``/watch/dossier-26643``."""
    return f"/watch/{quote(watch, safe='')}"


def feed_path(watch: str) -> str:
    """The watch's Atom feed: ``/feeds/dossier-26643.atom``."""
    return f"/feeds/{quote(watch, safe='')}.atom"


def watch_url(base_url: str, watch: str) -> str | None:
    """The absolute link to the watch's page, or None without a ``base_url``."""
    return base_url.rstrip("/") + watch_path(watch) if base_url else None


def feed_url(base_url: str, watch: str) -> str | None:
    """The absolute link to the watch's feed, or None without a ``base_url``."""
    return base_url.rstrip("/") + feed_path(watch) if base_url else None
