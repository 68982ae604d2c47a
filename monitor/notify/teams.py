"""Teams channel: one Adaptive Card per alert through a Workflows "When a Teams webhook request is received" URL.

The card is :func:`.teams_card.teams_message`.  Workflows answers 202 (or 200 for older
flows) when it took the message; 400 means a bad card (permanent, with Teams' reason);
401, 403 and 404 a revoked, disabled or removed workflow (permanent); 429 and 5xx are
transient and honour ``Retry-After``.  The URL is a secret (its ``sig`` parameter signs
every request): it never appears in an error, a log line or :meth:`TeamsChannel.describe`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..configread import Reader
from ..models import Alert
from . import envopts
from .base import ChannelType, DeliveryError, Rendered, Tools
from .jsonpost import JsonPoster, PostingChannel, redacted_url, refusal

if TYPE_CHECKING:
    import httpx

    from .render import Renderer
    from .view import View

ACCEPTED = (200, 202)


@dataclass(frozen=True)
class TeamsOptions(envopts.WebhookUrlOptions):
    """``type = "teams"``: a Workflows webhook, its URL in the variable ``webhook_url_env`` names."""

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> TeamsOptions:
        var = envopts.required_var(r, t, p, "webhook_url_env", "the Workflows webhook URL")
        return cls(var, envopts.timeout(r, t, p, cls.timeout))


def _build(name: str, o: TeamsOptions, tools: Tools) -> TeamsChannel:
    url = envopts.secret(o.webhook_url_env)
    return TeamsChannel(name, webhook_url=url, timeout=o.timeout, renderer=tools.renderer)


def teams_payload(renderer: Renderer, view: View) -> dict[str, Any]:
    from .teams_card import teams_message

    return teams_message(view, renderer.read_more(view))


def _preview(renderer: Renderer, view: View) -> Rendered:
    payload = teams_payload(renderer, view)
    return Rendered(view.subject, json.dumps(payload, ensure_ascii=False, indent=2), payload=payload)


class TeamsChannel(PostingChannel):
    kind = "teams"
    min_interval = 1.0  # Teams throttles bursts to one webhook; one a second on average stays clear of it,
    burst = 3  # and a handful at once (one poll's letters) is no burst to it; a 429 is retried after Retry-After
    targets: tuple[str, ...] = ("",)

    def __init__(
        self,
        name: str,
        *,
        webhook_url: str,
        client: httpx.Client | None = None,
        timeout: float = 15,
        renderer: Renderer | None = None,
    ) -> None:
        try:
            self._poster = JsonPoster(webhook_url, timeout=timeout, client=client)
        except ValueError as exc:
            raise ValueError(f"teams channel {name!r}: webhook {exc}") from None
        self.name = name
        self.timeout = timeout
        self._renderer = renderer

    def describe(self) -> str:
        return f"teams workflow {redacted_url(self._poster.url)}"

    def payload(self, alert: Alert) -> dict[str, Any]:
        return teams_payload(self.renderer, self.renderer.view(alert))

    def send(self, alert: Alert, target: str = "") -> None:
        body = json.dumps(self.payload(alert), ensure_ascii=False).encode("utf-8")
        reply = self._poster.post(body, {}, f"Teams workflow ({self.name})", self._redact)
        if reply.status in ACCEPTED:
            return
        if 200 <= reply.status < 300:  # taken, but not as Workflows says it takes a message
            raise DeliveryError(f"Teams workflow answered {reply.status} (expected 202 or 200)")
        raise refusal(reply, "Teams workflow", self._redact)


# The URL is its own token: a table that writes it under any of these names is refused.
TEAMS = ChannelType(
    keys=frozenset({"webhook_url_env", "timeout"}),
    read=TeamsOptions.read,
    build=_build,
    secrets=frozenset({"webhook_url", "webhook", "token"}),
    preview=_preview,
    label="Teams",
)
