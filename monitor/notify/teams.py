"""Teams channel: one Adaptive Card per alert through a Workflows "When a Teams webhook request is received" URL.

The card is :func:`.teams_card.teams_message`.  Workflows answers 202 (or 200 for older
flows) when it took the message; 400 means a bad card (permanent, with Teams' reason);
401, 403 and 404 a revoked, disabled or removed workflow (permanent); 429 and 5xx are
transient and honour ``Retry-After``.  The URL is a secret (its ``sig`` parameter signs
every request): it never appears in an error, a log line or :meth:`TeamsChannel.describe`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..models import Alert
from .base import DeliveryError, redact
from .jsonpost import JsonPoster, redacted_url, refusal, url_secrets
from .render import Renderer, default_renderer
from .teams_card import teams_message

if TYPE_CHECKING:
    import httpx

ACCEPTED = (200, 202)


class TeamsChannel:
    kind = "teams"
    min_interval = 1.0  # Teams throttles bursts to one webhook; one a second stays clear of it
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

    @property
    def renderer(self) -> Renderer:
        return self._renderer or default_renderer()

    def __repr__(self) -> str:  # never show the URL
        return f"TeamsChannel({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        return f"teams workflow {redacted_url(self._poster.url)}"

    def close(self) -> None:
        self._poster.close()

    def secrets(self) -> tuple[str, ...]:
        """The workflow's id and signature, and any other long piece of its URL."""
        return url_secrets(self._poster.url)

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets())

    def payload(self, alert: Alert) -> dict[str, object]:
        renderer = self.renderer
        view = renderer.view(alert)
        return teams_message(view, renderer.read_more(view), view.subject)

    def send(self, alert: Alert, target: str = "") -> None:
        body = json.dumps(self.payload(alert), ensure_ascii=False).encode("utf-8")
        reply = self._poster.post(body, {}, f"Teams workflow ({self.name})", self._redact)
        if reply.status in ACCEPTED:
            return
        if 200 <= reply.status < 300:  # taken, but not as Workflows says it takes a message
            raise DeliveryError(f"Teams workflow answered {reply.status} (expected 202 or 200)")
        raise refusal(reply, "Teams workflow", self._redact)
