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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..configread import Reader
from ..models import Alert
from . import envopts
from .base import ChannelType, Rendered, Tools
from .jsonpost import JsonPoster, PostingChannel, redacted_url, refusal
from .options import Options
from .signing import signed_headers, signing_key
from .webhook_body import webhook_body, webhook_id

if TYPE_CHECKING:
    import httpx

    from .render import Renderer
    from .view import View

USER_AGENT = "kamermonitor-webhook/1"


@dataclass(frozen=True)
class WebhookOptions(Options):
    """``type = "webhook"``: the URL in ``url_env``'s variable, the signing secret in ``secret_env``'s."""

    url_env: str = ""
    secret_env: str = ""
    timeout: float = 15.0

    def secret_vars(self) -> Mapping[str, str]:
        return {"url": self.url_env, "secret": self.secret_env}

    def secret_problem(self, key: str, var: str, value: str) -> str | None:
        if key == "url":
            return envopts.url_problem(var, value)
        try:
            signing_key(value)
        except ValueError as exc:
            return f"{var}: {exc}"
        return None

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> WebhookOptions:
        url = envopts.required_var(r, t, p, "url_env", "the webhook URL")
        secret = envopts.required_var(r, t, p, "secret_env", "the signing secret (whsec_…)")
        return cls(url, secret, envopts.timeout(r, t, p, cls.timeout))


def _build(name: str, o: WebhookOptions, tools: Tools) -> WebhookChannel:
    url, secret = envopts.secret(o.url_env), envopts.secret(o.secret_env)
    return WebhookChannel(name, url=url, secret=secret, timeout=o.timeout)


def _preview(renderer: Renderer, view: View) -> Rendered:
    payload = webhook_body(view.alert) if view.alert is not None else {}
    return Rendered(view.subject, json.dumps(payload, ensure_ascii=False, indent=2), payload=payload)


class WebhookChannel(PostingChannel):
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

    def describe(self) -> str:
        return f"signed webhook {redacted_url(self._poster.url)}"

    def secrets(self) -> tuple[str, ...]:
        return (*super().secrets(), self._secret)

    def payload(self, alert: Alert) -> dict[str, Any]:
        return webhook_body(alert)

    def send(self, alert: Alert, target: str = "") -> None:
        body = json.dumps(self.payload(alert), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"User-Agent": USER_AGENT, **signed_headers(self._key, webhook_id(alert), int(time.time()), body)}
        reply = self._poster.post(body, headers, f"Webhook ({self.name})", self._redact)
        if not 200 <= reply.status < 300:
            raise refusal(reply, "Webhook", self._redact)


# The URL may hold a token, and the secret signs: neither may be written in the file.
WEBHOOK = ChannelType(
    keys=frozenset({"url_env", "secret_env", "timeout"}),
    read=WebhookOptions.read,
    build=_build,
    secrets=frozenset({"url", "secret"}),
    preview=_preview,
    label="webhook",
)
