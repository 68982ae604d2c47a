"""The doctor's checks of the channels: an SMTP session up to AUTH (nothing sent), a Slack webhook's form and endpoint.

Every other type (Teams, signed webhooks, Apprise, and any added later) gets the check each
type can answer for itself: its secrets set and usable, the channel buildable (Apprise
installed and taking the URL), and the endpoint of each http(s) URL reachable.  With
``--send`` a test message goes through the real channel (not for e-mail).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from datetime import UTC, datetime
from urllib.parse import urlsplit

from ..config import ChannelConfig
from ..notify.email_options import EmailOptions
from ..notify.slack import SlackOptions
from .core import Doctor

_SLACK_PATH = re.compile(r"/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+")


def check_email(doc: Doctor, cfg: ChannelConfig, o: EmailOptions) -> None:
    item = f"channel {cfg.name}"
    host, port, security = o.host, o.port, o.security
    password = cfg.secret("password") if o.password_env else None
    if o.password_env and not password:
        raise doc.fail(f"{item} AUTH", f"environment variable {o.password_env} (or {o.password_env}_FILE) is not set")
    doc.resolve(item, host, port)
    timeout = o.timeout
    smtp: smtplib.SMTP | None = None
    try:
        try:
            if security == "ssl":
                smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(host, port, timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            raise doc.fail(f"{item} TLS", f"certificate of {host} not accepted: {exc.verify_message}") from None
        except ConnectionRefusedError:
            raise doc.fail(f"{item} connect", f"{host}:{port} refused the connection") from None
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            raise doc.fail(f"{item} connect", f"{host}:{port}: {exc}") from None
        if security == "ssl":
            doc.say("ok", f"{item} TLS", f"implicit TLS to {host}:{port} ({_tls_version(smtp)})")
        else:
            doc.say("ok", f"{item} connect", f"{host}:{port} answered")
        _smtp_session(doc, item, smtp, host, security, o.username, password)
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _tls_version(smtp: smtplib.SMTP) -> str:
    sock = smtp.sock
    return (sock.version() or "TLS") if isinstance(sock, ssl.SSLSocket) else "TLS"


def _smtp_session(
    doc: Doctor, item: str, smtp: smtplib.SMTP, host: str, security: str, user: str | None, password: str | None
) -> None:
    code, reply = smtp.ehlo()
    if code != 250:
        raise doc.fail(f"{item} EHLO", f"{code} {_text(reply)}")
    offers = ", ".join(sorted(k.upper() for k in smtp.esmtp_features)) or "no extensions"
    doc.say("ok", f"{item} EHLO", f"250, offers {offers}")
    if security == "starttls":
        if not smtp.has_extn("starttls"):
            raise doc.fail(
                f"{item} STARTTLS", f"{host} does not offer STARTTLS; the monitor refuses to send in plain text"
            )
        try:
            smtp.starttls(context=ssl.create_default_context())
        except ssl.SSLCertVerificationError as exc:
            raise doc.fail(f"{item} STARTTLS", f"certificate of {host} not accepted: {exc.verify_message}") from None
        except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
            raise doc.fail(f"{item} STARTTLS", f"upgrade failed: {exc}") from None
        smtp.ehlo()
        doc.say("ok", f"{item} STARTTLS", f"upgraded to {_tls_version(smtp)}, certificate verified")
    if not user:
        doc.say("ok", f"{item} AUTH", "no username configured: the server must accept mail without login")
        return
    try:
        code, reply = smtp.login(user, password or "")
    except smtplib.SMTPAuthenticationError as exc:
        raise doc.fail(f"{item} AUTH", f"{exc.smtp_code} {_text(exc.smtp_error)} (user {user})") from None
    except smtplib.SMTPNotSupportedError:
        raise doc.fail(f"{item} AUTH", f"{host} does not offer AUTH") from None
    except smtplib.SMTPException as exc:
        raise doc.fail(f"{item} AUTH", f"login impossible: {exc}") from None
    doc.say("ok", f"{item} AUTH", f"{code} {_text(reply)} (user {user}); nothing sent")


def _text(raw: bytes | str) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:200]


def check_slack(doc: Doctor, cfg: ChannelConfig, o: SlackOptions) -> None:
    from ..notify.slack import redact_webhook

    item = f"channel {cfg.name}"
    var = o.webhook_url_env
    url = cfg.secret("webhook_url")
    if not url:
        raise doc.fail(f"{item} webhook", f"environment variable {var} (or {var}_FILE) is not set")
    parts = urlsplit(url)
    shown = redact_webhook(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise doc.fail(f"{item} webhook", f"not an http(s) URL: {shown}")
    if parts.scheme == "https" and parts.hostname == "hooks.slack.com" and _SLACK_PATH.fullmatch(parts.path):
        doc.say("ok", f"{item} webhook", f"{shown} has the form of a Slack incoming webhook")
    else:
        doc.say("warning", f"{item} webhook", f"{shown} is not of the form https://hooks.slack.com/services/T…/B…/…")
    doc.endpoint(item, url)
    if doc.send:
        _send_test(doc, item, cfg)


def check_other(doc: Doctor, cfg: ChannelConfig) -> None:
    """A channel type without checks of its own: secrets, construction, endpoints; a test message with ``--send``."""
    from ..notify.registry import UnusableChannel, build_channels

    item = f"channel {cfg.name}"
    if not cfg.options.secret_vars():  # the console: nothing outside the process to check
        doc.say("ok", item, f"{cfg.type}: nothing to check")
        return
    urls = []
    for key, var in cfg.options.secret_vars().items():
        value = cfg.secret(key)
        if not value:
            raise doc.fail(f"{item} {key}", f"environment variable {var} (or {var}_FILE) is not set")
        problem = cfg.options.secret_problem(key, var, value)
        if problem:
            raise doc.fail(f"{item} {key}", problem)
        if urlsplit(value).scheme.lower() in ("http", "https"):
            urls.append(value)
    channel = build_channels(doc.settings)[cfg.name]
    if isinstance(channel, UnusableChannel):
        raise doc.fail(item, channel.reason)
    doc.say("ok", item, f"{cfg.type}: {channel.describe()}")
    for url in urls:
        doc.endpoint(item, url)
    if doc.send:
        _send_test(doc, item, cfg)


def _send_test(doc: Doctor, item: str, cfg: ChannelConfig) -> None:
    from ..models import Alert
    from ..notify.base import DeliveryError
    from ..notify.registry import build_channels

    channel = build_channels(doc.settings)[cfg.name]
    alert = Alert(event="test", created_at=datetime.now(UTC))  # each channel says what a test message is
    try:
        channel.send(alert, "")
    except DeliveryError as exc:
        raise doc.fail(f"{item} send", str(exc)) from None
    doc.say("ok", f"{item} send", "test message accepted")
