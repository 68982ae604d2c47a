"""Slack channel: one Block Kit message per alert through an incoming webhook.

Success is HTTP 200 with the body ``ok`` and nothing else (Slack's webhook contract).  429 and
5xx and network trouble are transient (429 carries ``Retry-After``); every other 4xx is
a configuration problem and permanent.  The webhook URL is a secret: it never appears
in an error message, a log line or :meth:`SlackChannel.describe`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..configread import Reader, secret_and_problem
from ..models import Alert
from ..retry import parse_retry_after
from ..textcut import shorten
from . import envopts
from .base import ChannelType, DeliveryError, Rendered, Tools
from .jsonpost import JsonPoster, PostingChannel

if TYPE_CHECKING:
    import httpx  # imported when the first message is sent: ``status`` only describes the channel

    from .render import Renderer
    from .view import View

CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class SlackOptions(envopts.WebhookUrlOptions):
    """``type = "slack"``: an incoming webhook, its URL in the variable ``webhook_url_env`` names."""

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> SlackOptions:
        var = t.get("webhook_url_env")
        if not isinstance(var, str):
            r.fail(f"{p}.webhook_url_env", "required: the environment variable holding the webhook URL")
        return cls(var if isinstance(var, str) else cls.webhook_url_env, envopts.timeout(r, t, p, cls.timeout))


def _build(name: str, o: SlackOptions, tools: Tools) -> SlackChannel:
    url, problem = secret_and_problem(o.webhook_url_env)
    if problem or not url:
        raise ValueError(problem or "no webhook URL")
    return SlackChannel(name, webhook_url=url, timeout=o.timeout, renderer=tools.renderer)


def _preview(renderer: Renderer, view: View) -> Rendered:
    from .slack_render import slack_outline, slack_plain

    payload = renderer.slack_payload(view)
    text = str(payload["text"])
    shown = "Text: " + slack_plain(text).replace("\n", "\n      ") + "\nBlocks:\n" + "\n".join(slack_outline(payload))
    return Rendered(text, shown, payload=payload)


# A webhook URL is its own token: a table that writes it under any of these names is refused.
SLACK = ChannelType(
    keys=frozenset({"webhook_url_env", "timeout"}),
    read=SlackOptions.read,
    build=_build,
    secrets=frozenset({"webhook_url", "webhook", "token"}),
    preview=_preview,
    label="Slack",
)


def redact_webhook(url: str) -> str:
    """``https://hooks.slack.com/services/T0…/B0…/****``: enough to recognise, useless to abuse."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid webhook URL>"
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 4 and segments[0] == "services":
        path = f"/services/{segments[1][:2]}…/{segments[2][:2]}…/****"
    else:
        path = "/****" if segments else ""
    return f"{parts.scheme}://{host}{port}{path}"


class SlackChannel(PostingChannel):
    kind = "slack"
    min_interval = 1.0  # Slack: about one message per second per webhook ...
    burst = 3  # ... "short bursts allowed" (Slack rate-limit docs): three letters of one poll go at once
    targets: tuple[str, ...] = ("",)

    def __init__(
        self,
        name: str,
        *,
        webhook_url: str,
        client: httpx.Client | None = None,
        timeout: float = SlackOptions.timeout,
        renderer: Renderer | None = None,
    ) -> None:
        try:
            self._poster = JsonPoster(webhook_url, timeout=timeout, client=client)
        except ValueError:
            raise ValueError(
                f"slack channel {name!r}: webhook URL must be http(s): {redact_webhook(webhook_url)}"
            ) from None
        self.name = name
        self.timeout = timeout
        self._renderer = renderer

    def describe(self) -> str:
        return f"slack webhook {redact_webhook(self._poster.url)}"

    def send(self, alert: Alert, target: str = "") -> None:
        body = json.dumps(self.renderer.slack_payload(alert), ensure_ascii=False).encode("utf-8")
        # The whole exchange (connect, request, answer) ends within ``timeout``; a reply is
        # "ok" or an error word, read raw and capped.
        reply = self._poster.post(body, {"Content-Type": CONTENT_TYPE}, "Slack webhook", self._redact)
        status = reply.status
        text = self._redact(shorten(" ".join(reply.body.decode("utf-8", "replace").split()), 200))
        if status == 200 and reply.body == b"ok":
            return
        message = f"Slack webhook answered {status} {text}".rstrip()
        if status == 200:
            raise DeliveryError(f"{message} (expected 'ok')", permanent=False)
        if status == 429:
            retry_after = parse_retry_after(reply.retry_after, who=f"Slack ({self.name})")
            raise DeliveryError(message, permanent=False, retry_after=retry_after)
        if status >= 500 or 200 <= status < 300:
            raise DeliveryError(message, permanent=False)
        # 4xx: invalid_payload, invalid_token, channel_not_found, channel_is_archived, ...
        # 3xx: the URL points somewhere else; also a configuration problem.
        raise DeliveryError(message, permanent=True)
