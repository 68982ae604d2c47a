"""Apprise channel: any Apprise URL (ntfy, Telegram, Matrix, Mattermost, Discord, Pushover, …).

Needs the optional extra ``pip install 'kamermonitor[apprise]'``; without it the
configuration check says so.  The message is a title (the e-mail subject) and a body in
Markdown for services that render Markdown or HTML, plain text for the others
(:mod:`.apprise_text`).  Apprise reports only success or failure, so a failure is
transient: the outbox retries it with backoff up to ``[delivery] max_attempts``.  A URL
Apprise does not understand is permanent.  The URL holds the service's tokens: it never
appears in an error, a log line or :meth:`AppriseChannel.describe`.
"""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from ..models import Alert
from .apprise_text import markdown_body, plain_body
from .base import DeliveryError, redact
from .render import Renderer, default_renderer

EXTRA = "pip install 'kamermonitor[apprise]'"
MISSING = f"the apprise channel needs the Apprise library: {EXTRA}"


def installed() -> bool:
    return importlib.util.find_spec("apprise") is not None


def service(url: str) -> Any:
    """Apprise's plug-in for ``url``; ValueError (naming the extra, or the scheme only) when there is none."""
    if not installed():
        raise ValueError(MISSING)
    import apprise

    found = apprise.Apprise.instantiate(url)
    if found is None:
        scheme = url.split("://", 1)[0][:20] if "://" in url else "?"
        raise ValueError(f"Apprise does not understand the URL (scheme {scheme!r}:// ; see Apprise's list of services)")
    return found


class AppriseChannel:
    kind = "apprise"
    min_interval = 0.0  # Apprise paces each service itself
    targets: tuple[str, ...] = ("",)

    def __init__(self, name: str, *, url: str, timeout: float = 30, renderer: Renderer | None = None) -> None:
        self.name = name
        self.timeout = timeout
        self._url = url
        self._renderer = renderer
        try:
            self._service = service(url)
        except ValueError as exc:
            raise ValueError(f"apprise channel {name!r}: {exc}") from None
        formats = self._service.notify_format
        formats = formats if isinstance(formats, tuple | list) else (formats,)
        self.markdown = any(str(f) in ("markdown", "html") for f in (getattr(x, "value", x) for x in formats))

    @property
    def renderer(self) -> Renderer:
        return self._renderer or default_renderer()

    def __repr__(self) -> str:
        return f"AppriseChannel({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        return f"apprise {self._service.service_name or self._url.split('://', 1)[0]}"

    def secrets(self) -> tuple[str, ...]:
        """The URL and every long piece of it: Apprise URLs keep tokens in the host part too (``tgram://TOKEN/…``)."""
        pieces = re.split(r"[/:@?&=#,]+", self._url.split("://", 1)[-1])
        return (self._url, *(p for p in pieces if len(p) >= 8))

    def payload(self, alert: Alert) -> dict[str, str]:
        """What Apprise is given: title, body and the body's format."""
        renderer = self.renderer
        view = renderer.view(alert)
        title = view.subject
        if self.markdown:
            return {"title": title, "body": markdown_body(view, renderer.read_more(view)), "format": "markdown"}
        return {"title": title, "body": plain_body(renderer.console_text(view)), "format": "text"}

    def send(self, alert: Alert, target: str = "") -> None:
        import apprise

        message = self.payload(alert)
        sender = apprise.Apprise()
        sender.add(self._service)
        try:
            ok = sender.notify(
                body=message["body"], title=message["title"], body_format=message["format"], timeout=self.timeout
            )
        except Exception as exc:  # a plug-in's own bug must not stop the other deliveries
            problem = redact(f"{type(exc).__name__}: {exc}", self.secrets())
            raise DeliveryError(f"Apprise ({self.name}) failed: {problem}") from None
        if not ok:
            raise DeliveryError(f"Apprise ({self.name}) reported a failure sending to {self.describe()}")
