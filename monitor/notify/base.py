"""The channel contract: one method, one error type.

A channel turns an :class:`~monitor.models.Alert` into one message on its medium and
either returns (accepted by the far end) or raises :class:`DeliveryError`.  Whether to
retry is the outbox's business, decided from ``permanent`` and ``retry_after`` only;
the message carries the exact reply (SMTP code and text, Slack status and body) for
the operator.  Secrets never appear in messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TextIO, TypeVar

from ..models import Alert
from .options import Options

if TYPE_CHECKING:
    from ..configread import Reader
    from .render import Renderer
    from .view import View


class DeliveryError(Exception):
    """The far end did not accept the message."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    """A configured destination (``[[channel]]`` in the config)."""

    name: str
    kind: str  # its type's name in the registry
    min_interval: float  # seconds between two messages on this channel, on average (Slack: 1.0)
    # A paced channel may also say ``burst``: how many messages may go at once before
    # min_interval applies (Slack: 3; monitor.pacing).  Without it, 1.
    # One outbox row per (alert, channel, target): email recipients each get their own
    # row so a refusal for one address never re-sends to the others; Slack and the
    # console have the single target "".
    targets: tuple[str, ...]

    def send(self, alert: Alert, target: str) -> None:
        """Deliver one message for ``alert`` to ``target`` or raise DeliveryError."""
        ...

    def describe(self) -> str:
        """A one-line, secret-free description for ``status`` and logs."""
        ...


def channel_secrets(channel: object) -> tuple[str, ...]:
    """What must never appear in an error about ``channel`` (its ``secrets()``, if it has one)."""
    get = getattr(channel, "secrets", None)
    return tuple(get()) if callable(get) else ()


# A run of this many characters that also occurs in a secret is taken to be part of it.
_SECRET_PART = 6


def redact(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """``text`` with every secret, and every run of 6+ characters taken from one, replaced by ``****``.

    A server may echo back a whole secret, its path, only the token, or a piece of it;
    none of that may reach ``last_error``, ``status``, a warning or a log line.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, "****")
    parts = [s for s in secrets if len(s) >= _SECRET_PART]
    if not parts:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        end = i
        # The longest run starting at i that is part of a secret.
        while end < len(text) and any(text[i : end + 1] in s for s in parts):
            end += 1
        if end - i >= _SECRET_PART:
            out.append("****")
            i = end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- channel types


OptionsT = TypeVar("OptionsT", bound=Options)


@dataclass(frozen=True, slots=True)
class Tools:
    """What building a channel may use besides its options."""

    renderer: Renderer
    stream: TextIO | None  # the console's stream (None: stdout)
    timezone: str  # the monitor's, for dates shown in messages


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as a channel would send it, for ``preview`` (nothing is sent)."""

    text: str  # the plain text: an e-mail's text body, Slack's fallback text, the console's lines
    shown: str  # what ``preview`` prints for it
    html: str | None = None  # an HTML body, when the medium has one
    payload: dict[str, Any] | None = None  # the JSON sent, when the medium takes JSON


def _plain(renderer: Renderer, view: View) -> Rendered:
    text = renderer.console_text(view)
    return Rendered(text, text)


@dataclass(frozen=True, slots=True)
class ChannelType(Generic[OptionsT]):
    """One entry of :data:`monitor.notify.registry.CHANNEL_TYPES`: everything the monitor knows of a type.

    ``read`` validates the type's own keys of a ``[[channel]]`` table (the registry checks
    ``name``, ``type``, the schedule keys and unknown keys) and records each problem in the
    reader; ``build`` makes the channel, raising ValueError when it cannot work (a secret
    not set), which makes it an unusable channel that names the reason; ``preview``
    renders a message as the channel would send it (by default the console's plain text).
    """

    keys: frozenset[str]
    read: Callable[[Reader, Mapping[str, Any], str], OptionsT]
    build: Callable[[str, OptionsT, Tools], Channel]
    secrets: frozenset[str] = frozenset()  # option names that are secrets: written as ``<name>_env``
    preview: Callable[[Renderer, View], Rendered] = _plain  # the message as this type renders it
    label: str = ""  # its name on the status page ("e-mail"); "" for the type's own name
