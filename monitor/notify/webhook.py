"""Webhook channel: the alert as JSON (``docs/webhook-schema.json``), signed as Standard Webhooks.

Every attempt of one delivery carries the same ``webhook-id`` (receivers deduplicate on
it), a fresh ``webhook-timestamp`` and the ``webhook-signature`` over both and the body
(:mod:`.signing`).  Any 2xx is success; 410 Gone and every other 4xx are permanent; 429
and 5xx are transient and honour ``Retry-After``.  The URL and the signing secret never
appear in an error, a log line or :meth:`WebhookChannel.describe`.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..models import Alert
from .base import redact
from .jsonpost import JsonPoster, redacted_url, refusal, url_secrets
from .signing import signed_headers, signing_key
from .webhook_body import webhook_body, webhook_id

if TYPE_CHECKING:
    import httpx

USER_AGENT = "kamermonitor-webhook/1"


class WebhookChannel:
    kind = "webhook"
    min_interval = 0.0
    targets: tuple[str, ...] = ("",)

    def __init__(
        self, name: str, *, url: str, secret: str, client: httpx.Client | None = None, timeout: float = 15
    ) -> None:
        try:
            self._poster = JsonPoster(url, timeout=timeout, client=client)
            self._key = signing_key(secret)
        except ValueError as exc:
            raise ValueError(f"webhook channel {name!r}: {exc}") from None
        self._secret = secret.strip()
        self.name = name
        self.timeout = timeout

    def __repr__(self) -> str:  # never show the URL
        return f"WebhookChannel({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        return f"signed webhook {redacted_url(self._poster.url)}"

    def close(self) -> None:
        self._poster.close()

    def secrets(self) -> tuple[str, ...]:
        return (*url_secrets(self._poster.url), self._secret)

    def _redact(self, text: str) -> str:
        return redact(text, self.secrets())

    def payload(self, alert: Alert) -> dict[str, Any]:
        return webhook_body(alert)

    def send(self, alert: Alert, target: str = "") -> None:
        body = json.dumps(self.payload(alert), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"User-Agent": USER_AGENT, **signed_headers(self._key, webhook_id(alert), int(time.time()), body)}
        reply = self._poster.post(body, headers, f"Webhook ({self.name})", self._redact)
        if not 200 <= reply.status < 300:
            raise refusal(reply, "Webhook", self._redact)
