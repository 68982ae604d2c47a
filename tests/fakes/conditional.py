"""Conditional GETs for the fake servers: ``ETag`` / ``Last-Modified`` out, ``304`` back.

The real sources may answer conditional requests; the fakes do, so the monitor's handling
of them (and its idle cost with them) is tested against a real HTTP peer.  The entity tag
is a hash of the body; ``If-None-Match`` is honoured before ``If-Modified-Since``, as
RFC 9110 §13.2.2 orders them.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import Message
from email.utils import format_datetime, parsedate_to_datetime


def validators(body: bytes, modified: datetime) -> dict[str, str]:
    """The ``ETag`` and ``Last-Modified`` headers of a response with this body."""
    return {"ETag": etag(body), "Last-Modified": format_datetime(modified.replace(microsecond=0), usegmt=True)}


def etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def unchanged(request: Message, body: bytes, modified: datetime) -> bool:
    """True when the request's validators match: the answer is ``304 Not Modified``."""
    match = request.get("If-None-Match")
    if match is not None:
        return etag(body) in [t.strip() for t in match.split(",")] or match.strip() == "*"
    since = request.get("If-Modified-Since")
    if since is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return modified.replace(microsecond=0) <= when
