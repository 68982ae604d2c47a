"""Build the configured channels: one readable table from channel type to constructor."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from .. import weblinks
from ..config import ChannelConfig, Settings
from ..configread import secret_and_problem
from ..models import Alert
from .base import Channel, DeliveryError
from .console import ConsoleChannel
from .email import EmailChannel
from .render import Renderer
from .slack import SlackChannel


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


def _email(cfg: ChannelConfig, renderer: Renderer, stream: TextIO | None, timezone: str) -> Channel:
    o = cfg.options
    password, problem = secret_and_problem(str(o["password_env"])) if o.get("password_env") else (None, None)
    recipients = tuple(o.get("to", ()))
    if problem:
        return UnusableChannel(cfg.name, "email", problem, recipients)
    return EmailChannel(
        cfg.name,
        host=str(o["host"]),
        port=int(o["port"]),
        security=str(o.get("security", "starttls")),
        username=o.get("username"),
        password=password,
        sender=str(o["from"]),
        recipients=recipients,
        timeout=float(o.get("timeout", 30.0)),
        message_id_domain=str(o["message_id_domain"]) if o.get("message_id_domain") else None,
        timezone=timezone,
        list_unsubscribe=o.get("list_unsubscribe"),
        renderer=renderer,
    )


def _slack(cfg: ChannelConfig, renderer: Renderer, stream: TextIO | None, timezone: str) -> Channel:
    url, problem = secret_and_problem(str(cfg.options.get("webhook_url_env")))
    if problem or not url:
        return UnusableChannel(cfg.name, "slack", problem or "no webhook URL")
    return SlackChannel(cfg.name, webhook_url=url, timeout=float(cfg.options.get("timeout", 15.0)), renderer=renderer)


def _console(cfg: ChannelConfig, renderer: Renderer, stream: TextIO | None, timezone: str) -> Channel:
    return ConsoleChannel(cfg.name, stream=stream)


# (channel's config, renderer, console stream, the monitor's time zone) → channel
CHANNEL_TYPES: dict[str, Callable[[ChannelConfig, Renderer, TextIO | None, str], Channel]] = {
    "console": _console,
    "email": _email,
    "slack": _slack,
}


def build_channels(settings: Settings, *, stream: TextIO | None = None) -> dict[str, Channel]:
    base = settings.web.base_url
    # With a web surface, "where to read the rest" of a digest is the watch's page there.
    watch_url = functools.partial(weblinks.watch_url, base) if base else None
    renderer = Renderer(Path(settings.template_dir) if settings.template_dir else None, watch_url=watch_url)
    return {c.name: _build(c, renderer, stream, settings.timezone) for c in settings.channels}


def _build(cfg: ChannelConfig, renderer: Renderer, stream: TextIO | None, timezone: str) -> Channel:
    """The channel, or an unusable one naming why (e.g. a webhook variable holding ``ftp://…``)."""
    try:
        return CHANNEL_TYPES[cfg.type](cfg, renderer, stream, timezone)
    except ValueError as exc:
        return UnusableChannel(cfg.name, cfg.type, str(exc), tuple(cfg.options.get("to", ())) or ("",))
