"""POST a JSON body to a webhook URL and sort the answer: what the Slack, Teams and webhook channels share.

:class:`JsonPoster` makes one bounded exchange (connect, request and answer within
``timeout``, at most :data:`MAX_REPLY` bytes of the answer read) and turns network
trouble into a transient :class:`~.base.DeliveryError`.  :func:`refusal` sorts an HTTP
status the way the Teams and webhook far ends mean it (Slack reads its own ``ok``): 429 and 5xx (and 408) are transient,
honouring ``Retry-After`` (clamped by :mod:`monitor.retry`); every other status that is
not a success is permanent (a bad body, a revoked or removed URL, 410 Gone).  The URL is
a secret: errors pass through the caller's ``redact``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from ..retry import parse_retry_after
from .base import DeliveryError, redact

if TYPE_CHECKING:
    import httpx  # imported when the first message is sent: ``status`` only describes the channel

    from .render import Renderer

MAX_REPLY = 64 * 1024  # a reply is a status word or a small JSON error: keep no more than this
TRANSIENT = frozenset({408, 425, 429})
_PLAIN = re.compile(r"[a-z_.-]+|[0-9.-]+")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    retry_after: str | None  # the raw header

    def text(self, limit: int = 200) -> str:
        """The reply as one short line (a JSON error's message when there is one)."""
        raw = self.body.decode("utf-8", "replace")
        try:
            data = json.loads(raw)
            error = data.get("error") if isinstance(data, dict) else None
            found = error.get("message") or error.get("code") if isinstance(error, dict) else None
            raw = str(found) if found else raw
        except ValueError:
            pass
        line = " ".join(raw.split())
        return line if len(line) <= limit else line[: limit - 1] + "…"


def url_secrets(url: str) -> tuple[str, ...]:
    """The pieces of a URL that may be a key: long path segments, query values, user and password.

    A plain word (``workflows``, ``triggers``) or a plain number or date (``2016-06-01``) is
    not a key; a key is long and mixes case or digits, as workflow ids and signatures do.
    """
    try:
        parts = urlsplit(url)
        values = [v for _, v in parse_qsl(parts.query)]
        pieces = [*parts.path.split("/"), *(x for v in values for x in v.split("/")), parts.username, parts.password]
    except ValueError:
        return (url,)
    return tuple(p for p in pieces if p and len(p) >= 8 and not _PLAIN.fullmatch(p))


def redacted_url(url: str) -> str:
    """``https://host/****``: enough to recognise the endpoint, useless to abuse."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname or '?'}{port}/****"
    except ValueError:
        return "<invalid URL>"


def _capped(pieces: Iterator[bytes], limit: int) -> bytes:
    out = bytearray()
    for piece in pieces:
        out += piece[: limit - len(out)]
        if len(out) >= limit:
            break
    return bytes(out)


class JsonPoster:
    """One http(s) endpoint taking JSON POSTs, with its own connection pool."""

    def __init__(self, url: str, *, timeout: float, client: httpx.Client | None = None) -> None:
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise ValueError(f"the URL must be http(s): {redacted_url(url)}")
        self.url = url
        self.timeout = timeout
        self._client = client
        self._own_client = client is None

    def close(self) -> None:
        if self._own_client and self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        import httpx

        from .. import deadline

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=False, transport=deadline.transport())
        return self._client

    def post(self, body: bytes, headers: Mapping[str, str], who: str, redact: Callable[[str], str]) -> Reply:
        """The far end's answer; a transient DeliveryError when there was none."""
        import httpx

        from .. import deadline

        sent = {"Content-Type": "application/json; charset=utf-8", "Accept-Encoding": "identity", **headers}
        try:
            with (
                deadline.deadline(self.timeout),
                self._http().stream("POST", self.url, content=body, headers=sent, timeout=self.timeout) as response,
            ):
                pieces = iter([response.content]) if response.is_stream_consumed else response.iter_raw()
                content = _capped(pieces, MAX_REPLY)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"{who} timed out after {self.timeout:g} s ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{who} request failed: {redact(str(exc)) or type(exc).__name__}") from None
        return Reply(response.status_code, content, response.headers.get("Retry-After"))


class PostingChannel:
    """What the channels that POST JSON to one secret URL share (Slack, Teams, signed webhooks).

    A subclass sets ``name``, ``_poster`` and, when it renders, ``_renderer``, and says
    :meth:`describe`; it may add secrets of its own to :meth:`secrets`.
    """

    name: str
    _poster: JsonPoster
    _renderer: Renderer | None = None

    @property
    def renderer(self) -> Renderer:
        from .render import default_renderer

        return self._renderer or default_renderer()

    def __repr__(self) -> str:  # never show the URL
        return f"{type(self).__name__}({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        raise NotImplementedError

    def close(self) -> None:
        self._poster.close()

    def secrets(self) -> tuple[str, ...]:
        """The long pieces of the URL (ids, tokens, signatures): a server may echo any of them back."""
        return url_secrets(self._poster.url)

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets())


def refusal(reply: Reply, who: str, redact: Callable[[str], str]) -> DeliveryError:
    """The error for an answer that is not a success: transient for 408/425/429/5xx, else permanent."""
    message = f"{who} answered {reply.status} {redact(reply.text())}".rstrip()
    if reply.status in TRANSIENT or reply.status >= 500:
        return DeliveryError(message, retry_after=parse_retry_after(reply.retry_after, who=who))
    return DeliveryError(message, permanent=True)
