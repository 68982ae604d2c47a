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
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..configread import Reader
from ..models import Alert
from . import envopts
from .base import ChannelType, DeliveryError, Rendered, Tools, redact
from .options import Options

if TYPE_CHECKING:
    from .render import Renderer
    from .view import View

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


@dataclass(frozen=True)
class AppriseOptions(Options):
    """``type = "apprise"``: any Apprise URL, in the variable ``url_env`` names (such URLs hold tokens)."""

    url_env: str = ""
    timeout: float = 30.0

    def secret_vars(self) -> Mapping[str, str]:
        return {"url": self.url_env}

    def secret_problem(self, key: str, var: str, value: str) -> str | None:
        try:
            service(value)
        except ValueError as exc:
            return f"{var}: {exc}"
        return None

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> AppriseOptions:
        if not installed():
            r.fail(f"{p}.type", MISSING)
        var = envopts.required_var(r, t, p, "url_env", "the Apprise URL")
        return cls(var, envopts.timeout(r, t, p, cls.timeout))


def _build(name: str, o: AppriseOptions, tools: Tools) -> AppriseChannel:
    return AppriseChannel(name, url=envopts.secret(o.url_env), timeout=o.timeout, renderer=tools.renderer)


def apprise_message(renderer: Renderer, view: View, markdown: bool) -> dict[str, str]:
    """What Apprise is given: title, body and the body's format."""
    from .apprise_text import markdown_body, plain_body

    if markdown:
        return {"title": view.subject, "body": markdown_body(view, renderer.read_more(view)), "format": "markdown"}
    return {"title": view.subject, "body": plain_body(renderer.console_text(view)), "format": "text"}


def _preview(renderer: Renderer, view: View) -> Rendered:
    message = apprise_message(renderer, view, markdown=True)
    return Rendered(message["body"], f"Title: {message['title']}\n{message['body']}", payload=dict(message))


class AppriseChannel:
    kind = "apprise"
    min_interval = 0.0  # Apprise paces each service itself
    targets: tuple[str, ...] = ("",)

    def __init__(self, name: str, *, url: str, timeout: float = 30, renderer: Renderer | None = None) -> None:
        # Apprise logs every send at INFO ("Notifying 1 service(s)."); its warnings and errors still show.
        logging.getLogger("apprise").setLevel(logging.WARNING)
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
        from .render import default_renderer

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
        return apprise_message(self.renderer, self.renderer.view(alert), self.markdown)

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


# The URL holds the service's tokens: a table that writes it is refused.
APPRISE = ChannelType(
    keys=frozenset({"url_env", "timeout"}),
    read=AppriseOptions.read,
    build=_build,
    secrets=frozenset({"url"}),
    preview=_preview,
    label="Apprise",
)
