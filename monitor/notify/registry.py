"""The channel types: one readable table from a ``[[channel]]``'s ``type`` to what the monitor needs of it.

Each type's module holds its options (they read and check their own keys, name their own
secrets and targets), its factory and its channel; this table is the only list of them.
Adding a channel type is a module and one line here (see docs/architecture.md).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .. import weblinks
from ..models import Alert
from . import apprise, console, email, slack, teams, webhook
from .base import Channel, ChannelType, DeliveryError, Tools

if TYPE_CHECKING:
    from ..config import ChannelConfig, Settings

CHANNEL_TYPES: dict[str, ChannelType[Any]] = {
    "console": console.CONSOLE,
    "email": email.EMAIL,
    "slack": slack.SLACK,
    "teams": teams.TEAMS,
    "webhook": webhook.WEBHOOK,
    "apprise": apprise.APPRISE,
}


def label(kind: str) -> str:
    """How the status page names a channel type."""
    channel_type = CHANNEL_TYPES.get(kind)
    return (channel_type.label if channel_type else "") or kind


def secret_keys() -> frozenset[str]:
    """Keys no ``[[channel]]`` table may hold, whatever its type: each is a secret written in the file."""
    return frozenset().union(*(t.secrets for t in CHANNEL_TYPES.values()))


class UnusableChannel:
    """A channel whose configuration cannot work (e.g. its secret is not set).

    Sending through it fails permanently with the reason, so the operator sees the
    problem in ``status`` and the warnings, and every other channel keeps working.
    """

    min_interval = 0.0

    def __init__(self, name: str, kind: str, reason: str, targets: tuple[str, ...] = ("",)) -> None:
        self.name = name
        self.kind = kind
        self.reason = reason
        self.targets = targets

    def send(self, alert: Alert, target: str) -> None:
        raise DeliveryError(f"channel {self.name!r} is not usable: {self.reason}", permanent=True)

    def describe(self) -> str:
        return f"{self.kind} (unusable: {self.reason})"


def build_channels(settings: Settings, *, stream: TextIO | None = None) -> dict[str, Channel]:
    from .render import Renderer

    base = settings.web.base_url
    # With a web surface, "where to read the rest" of a digest is the watch's page there.
    watch_url = functools.partial(weblinks.watch_url, base) if base else None
    renderer = Renderer(Path(settings.template_dir) if settings.template_dir else None, watch_url=watch_url)
    tools = Tools(renderer, stream, settings.timezone)
    return {c.name: _build(c, tools) for c in settings.channels}


def _build(cfg: ChannelConfig, tools: Tools) -> Channel:
    """The channel, or an unusable one naming why (e.g. a webhook variable holding ``ftp://…``)."""
    try:
        return CHANNEL_TYPES[cfg.type].build(cfg.name, cfg.options, tools)
    except ValueError as exc:
        return UnusableChannel(cfg.name, cfg.type, str(exc), cfg.options.targets() or ("",))
