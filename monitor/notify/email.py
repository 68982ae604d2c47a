"""E-mail channel: one multipart/alternative message per recipient over smtplib.

Failures are sorted by the SMTP reply (RFC 5321 reply classes): connection
problems, 421 and every 4xx are transient; 5xx, failed logins, certificate errors and
missing server features are permanent.  Every error message names the server and
carries the exact reply code and text; the password never appears.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn
from zoneinfo import ZoneInfo

from ..configread import secret_and_problem
from ..models import Alert
from ..watchdog import Watchdog
from .base import ChannelType, DeliveryError, Rendered, Tools, redact
from .email_options import DOMAIN_RE, NO_DOMAIN, EmailOptions, Security
from .headers import plain_header, unsafe_reason

if TYPE_CHECKING:
    # smtplib, ssl and the email package are imported where a message is built or sent:
    # ``status`` and ``check-config`` build the channels only to describe them.  The
    # renderer too: the configuration reads this module's options.
    import smtplib
    import socket
    import ssl
    from email.message import EmailMessage

    from .render import Renderer
    from .view import View


def _build(name: str, o: EmailOptions, tools: Tools) -> EmailChannel:
    password, problem = secret_and_problem(o.password_env) if o.password_env else (None, None)
    if problem:
        raise ValueError(problem)
    return EmailChannel(
        name,
        host=o.host,
        port=o.port,
        security=o.security,
        username=o.username,
        password=password,
        sender=o.sender,
        recipients=o.recipients,
        timeout=o.timeout,
        message_id_domain=o.message_id_domain,
        timezone=tools.timezone,
        list_unsubscribe=o.list_unsubscribe,
        renderer=tools.renderer,
    )


def _preview(renderer: Renderer, view: View) -> Rendered:
    text, html = renderer.email_bodies(view)
    return Rendered(text, f"Subject: {view.subject}\n\n" + text.rstrip("\n"), html=html)


EMAIL = ChannelType(
    keys=frozenset(
        {
            "host",
            "port",
            "security",
            "username",
            "password_env",
            "from",
            "to",
            "timeout",
            "message_id_domain",
            "list_unsubscribe",
        }
    ),
    read=EmailOptions.read,
    build=_build,
    secrets=frozenset({"password"}),
    preview=_preview,
    label="e-mail",
)


def _hash8(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.strip().lower().encode("utf-8")).hexdigest()[:8]


def sender_domain(sender: str) -> str:
    """The domain of the From address (``Kamermonitor <alerts@example.org>`` → example.org).

    Message-IDs and the dossier thread roots use it when no ``message_id_domain`` is
    configured: ids under the sender's own domain are what mail servers and spam filters
    expect.  ``kamermonitor.invalid`` only when the address has no usable domain.
    """
    from email.utils import parseaddr

    _, at, domain = parseaddr(sender)[1].rpartition("@")
    domain = domain.strip().rstrip(".")
    return domain.lower() if at and DOMAIN_RE.fullmatch(domain) else NO_DOMAIN


def _reply_text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())


class EmailChannel:
    kind = "email"
    min_interval = 0.0

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        security: Security | str,
        username: str | None,
        password: str | None,
        sender: str,
        recipients: tuple[str, ...],
        timeout: float = EmailOptions.timeout,
        message_id_domain: str | None = None,
        timezone: str = "Europe/Amsterdam",
        clock: Callable[[], datetime] | None = None,
        list_unsubscribe: str | None = None,
        renderer: Renderer | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if security not in ("ssl", "starttls", "none"):
            raise ValueError(f"email channel {name!r}: security must be ssl, starttls or none, not {security!r}")
        message_id_domain = message_id_domain or sender_domain(sender)
        if not DOMAIN_RE.fullmatch(message_id_domain):
            raise ValueError(f"email channel {name!r}: not a domain for Message-IDs: {message_id_domain!r}")
        for value in (sender, *recipients, list_unsubscribe or ""):
            if unsafe_reason(value):
                raise ValueError(f"email channel {name!r}: line break in an address or header value")
        self.name = name
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self._password = password
        self.sender = sender
        self.recipients = tuple(recipients)
        self.targets = self.recipients
        self.timeout = timeout
        self.message_id_domain = message_id_domain
        self.tz = ZoneInfo(timezone)  # the Date header's zone: the monitor's, not the machine's
        self._clock = clock or (lambda: datetime.now(UTC))
        self.list_unsubscribe = list_unsubscribe
        self._renderer = renderer
        self._ssl_context = ssl_context

    @property
    def renderer(self) -> Renderer:
        from .render import default_renderer

        return self._renderer or default_renderer()

    def __repr__(self) -> str:  # never show the password
        return f"EmailChannel({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        n = len(self.recipients)
        who = "1 recipient" if n == 1 else f"{n} recipients"
        return f"email via {self.host}:{self.port} ({self.security}) to {who}"

    # ------------------------------------------------------------------ message

    def message_id(self, alert: Alert, target: str) -> str:
        if alert.delivery_id is None:
            from email.utils import make_msgid

            return make_msgid(idstring="kamermonitor", domain=self.message_id_domain)
        return f"<kamermonitor.{alert.delivery_id}.{_hash8(target)}@{self.message_id_domain}>"

    def build_message(self, alert: Alert, target: str) -> EmailMessage:
        from email.message import EmailMessage
        from email.utils import format_datetime

        from .view import thread_dossier

        r = self.renderer
        view = r.view(alert)  # once, for the subject and both bodies
        msg = EmailMessage()
        headers = {
            "From": self.sender,
            "To": target,
            "Subject": r.email_subject(view),
            "Date": format_datetime(self._clock().astimezone(self.tz)),
            "Message-ID": self.message_id(alert, target),
        }
        dossier = thread_dossier(alert)
        if dossier is not None:
            root = f"<dossier-{re.sub(r'[^A-Za-z0-9-]', '-', str(dossier))}@{self.message_id_domain}>"
            headers["In-Reply-To"] = headers["References"] = root
        headers["Auto-Submitted"] = "auto-generated"
        label = re.sub(r"[^a-z0-9-]+", "-", self.name.lower()).strip("-") or "alerts"
        headers["List-Id"] = f"Kamermonitor <{label}.{self.message_id_domain}>"
        if self.list_unsubscribe:
            value = self.list_unsubscribe.strip()
            headers["List-Unsubscribe"] = value if value.startswith("<") else f"<{value}>"
        # Every value is reduced to plain text first: the subject comes from a public feed,
        # and the email package would decode an encoded-word in it into a real line break.
        for name, value in headers.items():
            msg[name] = plain_header(value, name.lower())
        text, html = r.email_bodies(view)
        msg.set_content(text, cte="quoted-printable")
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
        return msg

    # ------------------------------------------------------------------ delivery

    def send(self, alert: Alert, target: str) -> None:

        try:
            msg = self.build_message(alert, target)
        except Exception as exc:  # deterministic (bad address, template error): retrying cannot help
            raise DeliveryError(f"{self.name}: cannot build message for {target}: {exc}", permanent=True) from None
        where = f"{self.host}:{self.port}"
        # ``timeout`` bounds the whole exchange too: a server answering a byte a second
        # would otherwise hold this (and every channel after it) for as long as it likes.
        with Watchdog(self.timeout) as dog:
            try:
                self._exchange(msg, target, where, dog)
            except DeliveryError:
                if dog.fired:
                    self._fail(f"{where} did not finish within {self.timeout:g} s", permanent=False)
                raise

    def _exchange(self, msg: EmailMessage, target: str, where: str, dog: Watchdog) -> None:
        import smtplib
        import ssl

        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect(dog)
            if self.username:
                self._login(smtp)
            refused = smtp.send_message(msg, to_addrs=[target])
            if target in refused:  # only possible with several recipients; kept for safety
                code, text = refused[target]
                self._fail_code(code, f"{where} refused recipient {target}: {code} {_reply_text(text)}")
        except DeliveryError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients.get(target) or next(iter(exc.recipients.values()), (0, b""))
            self._fail_code(code, f"{where} refused recipient {target}: {code} {_reply_text(text)}")
        except smtplib.SMTPSenderRefused as exc:
            self._fail_code(exc.smtp_code, f"{where} refused sender {_reply_text(exc.sender)}: {self._reply(exc)}")
        except smtplib.SMTPDataError as exc:
            self._fail_code(exc.smtp_code, f"{where} refused the message: {self._reply(exc)}")
        except smtplib.SMTPAuthenticationError as exc:
            self._fail(f"{where} login failed for user {self.username}: {self._reply(exc)}", permanent=True)
        except smtplib.SMTPResponseException as exc:  # SMTPConnectError, SMTPHeloError, 421 ...
            self._fail_code(exc.smtp_code, f"{where} answered {self._reply(exc)}")
        except smtplib.SMTPNotSupportedError as exc:
            self._fail(f"{where} does not support what is needed: {exc}", permanent=True)
        except smtplib.SMTPServerDisconnected as exc:
            self._fail(f"{where} closed the connection: {exc or 'no reason given'}", permanent=False)
        except ssl.SSLCertVerificationError as exc:
            self._fail(f"{where} TLS certificate verification failed: {exc.verify_message}", permanent=True)
        except (ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            self._fail(f"{where} TLS connection dropped: {exc}", permanent=False)
        except ssl.SSLError as exc:
            self._fail(f"{where} TLS handshake failed: {exc.reason or exc}", permanent=True)
        except TimeoutError:
            self._fail(f"{where} timed out after {self.timeout:g} s", permanent=False)
        except smtplib.SMTPException as exc:
            self._fail(f"{where} SMTP error: {exc}", permanent=False)
        except OSError as exc:  # refused, reset, unreachable, DNS
            self._fail(f"{where} connection failed: {exc.strerror or exc}", permanent=False)
        finally:
            if smtp is not None:
                self._close(smtp)

    def _context(self) -> ssl.SSLContext:
        # Loading the system CA store costs ~70 ms: do it once per channel, and only for TLS.
        import ssl

        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _connect(self, dog: Watchdog) -> smtplib.SMTP:
        import smtplib

        smtp: smtplib.SMTP
        if self.security == "ssl":
            smtp = smtplib.SMTP_SSL(timeout=self.timeout, context=self._context())
        else:
            smtp = smtplib.SMTP(timeout=self.timeout)
        # smtplib's socket factory (not in its type stubs): wrapped to register the socket.
        opened: Callable[[str, int, float], socket.socket] = getattr(smtp, "_get_socket")  # noqa: B009

        def watched(host: str, port: int, timeout: float) -> socket.socket:
            # The watchdog must see the socket before the banner is read (inside connect()).
            sock = opened(host, port, timeout)
            dog.watch(sock)
            return sock

        setattr(smtp, "_get_socket", watched)  # noqa: B010
        setattr(smtp, "_host", self.host)  # noqa: B010 - the TLS server name; SMTP(host) would have set it
        try:
            smtp.connect(self.host, self.port)
        except BaseException:
            smtp.close()
            raise
        if self.security == "starttls":
            context = self._context()
            try:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(
                        f"{self.host}:{self.port} does not offer STARTTLS; refusing to send in plain text",
                        permanent=True,
                    )
                smtp.starttls(context=context)
                dog.watch(smtp.sock)  # the TLS socket replaces the plain one
                smtp.ehlo()
            except BaseException:
                self._close(smtp)
                raise
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        import smtplib

        user, password = self.username or "", self._password or ""
        try:
            if (user + password).isascii():
                smtp.login(user, password)
            else:
                self._login_utf8(smtp, user, password)
        except smtplib.SMTPResponseException:
            raise
        except smtplib.SMTPNotSupportedError:
            self._fail(f"{self.host}:{self.port} does not offer AUTH (SMTP login)", permanent=True)
        except smtplib.SMTPServerDisconnected:
            raise
        except smtplib.SMTPException as exc:  # "No suitable authentication method found."
            self._fail(f"{self.host}:{self.port} login impossible: {exc}", permanent=True)

    @staticmethod
    def _login_utf8(smtp: smtplib.SMTP, user: str, password: str) -> None:
        """AUTH PLAIN with UTF-8 credentials (RFC 4616); smtplib's login() only takes ASCII."""
        import smtplib

        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
        code, reply = smtp.docmd("AUTH", "PLAIN " + token)
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    @staticmethod
    def _close(smtp: smtplib.SMTP) -> None:
        """QUIT politely; a failure here never turns an accepted message into an error."""
        import smtplib

        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    def _reply(self, exc: smtplib.SMTPResponseException) -> str:
        return f"{exc.smtp_code} {_reply_text(exc.smtp_error)}".strip()

    def secrets(self) -> tuple[str, ...]:
        """The password, and the forms an SMTP server could echo it back in (AUTH PLAIN/LOGIN)."""
        secret = self._password
        if not secret:
            return ()
        user = self.username or ""
        return (
            secret,
            base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"\0{user}\0{secret}".encode()).decode(),
        )

    def _redact(self, message: str) -> str:
        return redact(message, self.secrets())

    def _fail(self, message: str, *, permanent: bool) -> NoReturn:
        raise DeliveryError(self._redact(message), permanent=permanent) from None

    def _fail_code(self, code: int, message: str) -> NoReturn:
        # 5xx: permanent.  421, every other 4xx and garbled replies (-1): try again later.
        self._fail(message, permanent=500 <= code < 600)
