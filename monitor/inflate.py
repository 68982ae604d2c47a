"""Undo one HTTP content coding in bounded steps, so a response never grows past its size cap.

Part of the HTTP layer (:mod:`monitor.http` reads responses through it); its errors are
plain messages that the fetcher turns into the source's ``SourceError``.
"""

from __future__ import annotations

import zlib


class CodingError(Exception):
    """A content coding that is refused (stacked, unknown) or a body that does not inflate."""


class Inflater:
    """Undo at most one content coding, never producing more than the caller still accepts.

    httpx inflates a whole network chunk at once, and a stack of codings
    (``deflate, gzip``) multiplies: 1.8 KB became 2.1 GB in memory before the size cap was
    checked.  Here each step asks zlib for at most ``room + 1`` bytes, so the body never
    exceeds the cap by more than one byte.
    """

    def __init__(self, coding_header: str) -> None:
        codings = [c.strip().lower() for c in coding_header.split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1:
            raise CodingError(f"refused a response with stacked content codings ({coding_header[:80]})")
        self.coding = codings[0] if codings else None
        self._zlib: zlib._Decompress | None = None
        if self.coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._zlib = zlib.decompressobj()
        elif self.coding is not None:
            raise CodingError(f"unsupported content coding {self.coding[:40]!r}")
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate ``data``; raise :class:`TooLarge` past ``room`` bytes of output."""
        if self._zlib is None:
            return data
        try:
            out = self._step(data, room)
        except zlib.error as exc:
            raise CodingError(f"corrupt {self.coding} response body: {exc}") from None
        return out

    def _step(self, data: bytes, room: int) -> bytes:
        assert self._zlib is not None
        if self._first and self.coding == "deflate":
            self._first = False
            try:  # "deflate" is meant to be zlib-wrapped, but some servers send it raw
                return self._bounded(data, room)
            except zlib.error:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._bounded(data, room)

    def _bounded(self, data: bytes, room: int) -> bytes:
        assert self._zlib is not None
        parts: list[bytes] = []
        size = 0
        while True:
            piece = self._zlib.decompress(data, room - size + 1)
            parts.append(piece)
            size += len(piece)
            if size > room:
                raise TooLarge
            data = self._zlib.unconsumed_tail
            if not data:
                return b"".join(parts)


class TooLarge(Exception):
    """More output than the caller still accepts."""
