"""The tests' local servers, with arrival times recorded for the latency measurement.

The fakes answer with the response head and the body in two ``send()`` calls.  Without
``TCP_NODELAY`` that meets Nagle's algorithm and the client's delayed ACK and costs about
40 ms per request on loopback, which a real web server does not; so the bench turns
Nagle off on the fakes' request handlers (:func:`no_nagle`).  Nothing else changes.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP as SMTPServerProtocol
from aiosmtpd.smtp import Envelope, Session

from tests.fakes import smtp_server
from tests.fakes.http_capture import Answer, CaptureServer
from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer


class TimedList(list[str]):
    """A list that also notes when each item was appended (for ``TkFeedServer.requests``)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def append(self, item: str) -> None:
        self.times.append(time.monotonic())
        super().append(item)


class Arrivals:
    """Monotonic arrival time of the first message naming each key (thread-safe)."""

    def __init__(self, pattern: str) -> None:
        self._pattern = re.compile(pattern)
        self._lock = threading.Lock()
        self.first: dict[str, float] = {}
        self.messages = 0

    def saw(self, texts: Iterable[str], when: float) -> None:
        keys = {k for t in texts for k in self._pattern.findall(t)}
        with self._lock:
            self.messages += 1
            for key in keys:
                self.first.setdefault(key, when)


class TimedSlackServer(SlackServer):
    """SlackServer that notes when it answers 200 ``ok`` and which letters the message named."""

    def __init__(self, arrivals: Arrivals, **kwargs: Any) -> None:
        self.arrivals = arrivals
        super().__init__(**kwargs)

    def _decide(self, path: str, raw: bytes) -> Any:
        decision = super()._decide(path, raw)
        if isinstance(decision, tuple) and decision[0] == 200:
            self.arrivals.saw([raw.decode("utf-8", "replace")], time.monotonic())
        return decision

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base = super()._handler_class()
        return type("NoNagleHandler", (base,), {"disable_nagle_algorithm": True})


C = TypeVar("C", bound=CaptureServer)


def timed(cls: type[C], arrivals: Arrivals, **kwargs: Any) -> C:
    """One of the tests' webhook-like servers (Teams, signed webhook, Apprise's json:// target), timed.

    It notes when it answers a 2xx and which letters the message named, as
    :class:`TimedSlackServer` does for Slack.
    """

    def judge(self: C, path: str, headers: dict[str, str], raw: bytes) -> Answer:
        answer = cls.judge(self, path, headers, raw)
        if 200 <= answer[0] < 300:
            arrivals.saw([raw.decode("utf-8", "replace")], time.monotonic())
        return answer

    def handler_class(self: C) -> type[BaseHTTPRequestHandler]:
        return type("NoNagleHandler", (cls._handler_class(self),), {"disable_nagle_algorithm": True})

    subclass = type(f"Timed{cls.__name__}", (cls,), {"judge": judge, "_handler_class": handler_class})
    return subclass(**kwargs)  # type: ignore[no-any-return]


class _TimedSmtpHandler(smtp_server._Handler):
    def __init__(self, server: SmtpServer, arrivals: Arrivals) -> None:
        super().__init__(server)
        self.arrivals = arrivals

    async def handle_DATA(self, server: SMTPServerProtocol, session: Session, envelope: Envelope) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if reply.startswith("250"):
            with self.server._lock:
                message = self.server.messages[-1]
            body = message.get_body(("plain", "html"))
            texts = [str(message["Subject"] or ""), body.get_content() if body is not None else ""]
            self.arrivals.saw(texts, time.monotonic())
        return reply


class TimedSmtpServer(SmtpServer):
    """SmtpServer (plain SMTP) that notes when it accepts a message (its 250 to DATA)."""

    def __init__(self, arrivals: Arrivals) -> None:
        super().__init__(tls="none")
        self._controller.handler = _TimedSmtpHandler(self, arrivals)
