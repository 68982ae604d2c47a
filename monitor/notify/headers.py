"""Header-safe text: what may be written into an e-mail header line.

Subjects come from public feeds, so they are hostile input.  The standard library's
header handling *decodes* RFC 2047 encoded-words in a value it is given
(``=?utf-8?q?=0D=0ABcc:_x@evil?=`` becomes a real line break followed by ``Bcc:``), and
writes the result out again: a feed could add recipients or replace the body.  So every
value is first reduced to plain text the way a reader would see it (encoded-words decoded,
repeatedly, until nothing changes), control characters are then removed, and what is left
is checked once more against the library's own parser; anything that would still decode
differently has its ``=?`` broken up, so no decoding can bring a line break back.
"""

from __future__ import annotations

import re
import unicodedata

# Decoding an encoded-word can yield another encoded-word; a few rounds is all a real
# value ever needs, and a hostile one stops being decoded after that.
_ROUNDS = 5
_SPACES = re.compile(r"\s+")


def _decoded(name: str, value: str) -> str:
    """The value as the email package itself reads it (its header parser decodes RFC 2047)."""
    import email.policy  # loaded when a header is checked, not with the configuration

    try:
        return str(email.policy.default.header_factory(name, value))
    except Exception:  # a parser error: keep the text as it is, it is cleaned below anyway
        return value


def strip_controls(text: str) -> str:
    """Every control, format-separator and line/paragraph separator becomes a space."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)


def plain_header(value: str, name: str = "subject") -> str:
    """``value`` as one line of plain text that stays the same when written and read back."""
    text = strip_controls(value)
    for _ in range(_ROUNDS):
        decoded = strip_controls(_decoded(name, text))
        if decoded == text:
            break
        text = decoded
    text = _SPACES.sub(" ", text).strip()
    if _decoded(name, text) != text:
        # Still not stable (a deeply nested encoding): make the remaining encoded-words inert.
        text = text.replace("=?", "= ?")
    return text


def unsafe_reason(value: str) -> str | None:
    """Why ``value`` (a configured address or header value) cannot go into a header, or None."""
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        return "contains a line break or control character"
    if strip_controls(_decoded("subject", value)) != _decoded("subject", value):
        return "contains an encoded line break or control character (RFC 2047)"
    return None
