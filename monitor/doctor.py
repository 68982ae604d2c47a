"""``kamermonitor doctor``: a live, read-only check of everything the configuration names.

One line per item, printed as soon as it is known: ``OK``, ``WARNING`` or ``ERROR``, what
was checked, and the exact cause.  For each enabled source: DNS, TCP connect, TLS
(certificate and its expiry), HTTP, and whether the answer has the shape its poll expects
(each source's own check, :meth:`monitor.sources.Source.check`).  For each e-mail channel:
connect, EHLO, STARTTLS and AUTH, then QUIT without sending.  For each Slack channel: the
webhook URL's form and its endpoint, and with ``--send`` a test message.  The database: URL,
driver, schema version and write access (tested by a write that is rolled back).  The
``[web]`` listen address: a running kamermonitor answers ``/healthz`` there, or the address
is free to bind (the test socket is closed at once).  Exit 0 when everything is ok, 1 on a
warning, 2 on an error.

It never moves a cursor, queues a delivery or creates a database: it uses no Context
and opens the store without migrating.
"""

from __future__ import annotations

import dataclasses
import os
import re
import smtplib
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO
from urllib.parse import urlsplit

from .config import ChannelConfig, Settings
from .http import Fetcher, FetchResult, SourceError, make_client
from .notify.email_options import EmailOptions
from .notify.slack import SlackOptions
from .sources import SOURCES

if TYPE_CHECKING:
    from sqlalchemy import Engine

Verdict = Literal["ok", "warning", "error"]
EXIT = {"ok": 0, "warning": 1, "error": 2}
CERT_WARN_DAYS = 14
_SLACK_PATH = re.compile(r"/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+")


class Stop(Exception):
    """The item failed at this step; the steps that depend on it are not tried."""


@dataclass
class Doctor:
    settings: Settings
    out: TextIO
    send: bool = False
    worst: Verdict = "ok"
    lines: list[tuple[Verdict, str, str]] = field(default_factory=list)

    def say(self, verdict: Verdict, item: str, detail: str) -> None:
        self.lines.append((verdict, item, detail))
        if EXIT[verdict] > EXIT[self.worst]:
            self.worst = verdict
        print(f"{verdict.upper():<7} {item}: {' '.join(detail.split())}", file=self.out, flush=True)

    def fail(self, item: str, detail: str) -> Stop:
        self.say("error", item, detail)
        return Stop(detail)

    @contextmanager
    def item(self) -> Iterator[None]:
        """Run one item's steps; a :class:`Stop` ends the item, not the doctor."""
        with suppress(Stop):
            yield

    # -- network steps shared by sources and channels -------------------------------------

    @property
    def timeout(self) -> float:
        return self.settings.http.connect_timeout

    def resolve(self, item: str, host: str, port: int) -> None:
        if _is_address(host):
            return  # nothing to resolve
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise self.fail(f"{item} DNS", f"{host} does not resolve: {exc.strerror}") from None
        except UnicodeError as exc:
            raise self.fail(f"{item} DNS", f"{host!r} is not a valid host name: {exc}") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        more = f" (and {len(addresses) - 1} more)" if len(addresses) > 1 else ""
        self.say("ok", f"{item} DNS", f"{host} → {addresses[0]}{more}")

    def connect(self, item: str, host: str, port: int) -> socket.socket:
        try:
            return socket.create_connection((host, port), timeout=self.timeout)
        except ConnectionRefusedError:
            raise self.fail(f"{item} connect", f"{host}:{port} refused the connection") from None
        except TimeoutError:
            raise self.fail(f"{item} connect", f"{host}:{port} did not answer within {self.timeout:g} s") from None
        except OSError as exc:
            raise self.fail(f"{item} connect", f"{host}:{port}: {exc.strerror or exc}") from None

    def tls(self, item: str, sock: socket.socket, host: str) -> None:
        """Handshake on a connected socket, verifying the certificate as the monitor will."""
        try:
            with ssl.create_default_context().wrap_socket(sock, server_hostname=host) as tls:
                self.certificate(item, tls)
        except ssl.SSLCertVerificationError as exc:
            raise self.fail(f"{item} TLS", f"certificate of {host} not accepted: {exc.verify_message}") from None
        except (ssl.SSLError, OSError) as exc:
            raise self.fail(f"{item} TLS", f"handshake with {host} failed: {exc}") from None

    def certificate(self, item: str, tls: ssl.SSLSocket) -> None:
        cert = tls.getpeercert() or {}
        until = cert.get("notAfter")
        if not isinstance(until, str):
            self.say("ok", f"{item} TLS", f"{tls.version()}, certificate verified")
            return
        expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(until), UTC)
        days = (expires - datetime.now(UTC)).days
        verdict: Verdict = "warning" if days < CERT_WARN_DAYS else "ok"
        self.say(
            verdict, f"{item} TLS", f"{tls.version()}, certificate verified, expires {expires:%Y-%m-%d} ({days} days)"
        )

    def endpoint(self, item: str, url: str) -> None:
        """DNS, TCP and (for https) TLS of ``url``'s host, unless a proxy stands in between."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = _proxy_for(url)
        if proxy:
            self.say("ok", f"{item} network", f"through proxy {proxy}; DNS, connect and TLS are the proxy's")
            return
        self.resolve(item, host, port)
        sock = self.connect(item, host, port)
        try:
            if parts.scheme == "https":
                self.tls(item, sock, host)
            else:
                self.say("ok", f"{item} connect", f"{host}:{port} accepts connections (plain http)")
        finally:
            sock.close()


def _is_address(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _proxy_for(url: str) -> str | None:
    """The proxy httpx would use for ``url`` (from the environment), or None."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return urlsplit(proxy).netloc or proxy


# -- sources ------------------------------------------------------------------------------


def _fetcher(settings: Settings) -> Fetcher:
    # No pause between requests: the doctor asks each host once or twice.
    http = dataclasses.replace(settings.http, pause_seconds=0)
    return Fetcher(make_client(http), http)


def http_step(doc: Doctor, item: str, fetch: Callable[[], FetchResult]) -> FetchResult:
    started = time.monotonic()
    try:
        result = fetch()
    except SourceError as exc:
        raise doc.fail(f"{item} HTTP", exc.problem) from None
    took = time.monotonic() - started
    doc.say(
        "ok", f"{item} HTTP", f"{result.status} from {result.url[:120]} ({len(result.content):,} bytes, {took:.2f} s)"
    )
    return result


# -- channels -----------------------------------------------------------------------------


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
    from .notify.slack import redact_webhook

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


def _send_test(doc: Doctor, item: str, cfg: ChannelConfig) -> None:
    from .models import Alert
    from .notify.base import DeliveryError
    from .notify.registry import build_channels

    channel = build_channels(doc.settings)[cfg.name]
    alert = Alert(event="test", created_at=datetime.now(UTC))  # each channel says what a test message is
    try:
        channel.send(alert, "")
    except DeliveryError as exc:
        raise doc.fail(f"{item} send", str(exc)) from None
    doc.say("ok", f"{item} send", "test message accepted")


# -- database -----------------------------------------------------------------------------


def check_database(doc: Doctor) -> None:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    from .store.db import make_engine, sqlite_path

    item = "database"
    try:
        url = make_url(doc.settings.database)
    except ArgumentError as exc:
        raise doc.fail(f"{item} URL", f"not a valid SQLAlchemy URL: {exc}") from None
    shown = url.render_as_string(hide_password=True)
    path = sqlite_path(doc.settings.database)
    if path is not None and not path.exists():
        writable = _dir_writable(path)
        if not writable:
            raise doc.fail(f"{item} file", f"{path} does not exist and its directory cannot be written")
        doc.say("warning", f"{item} file", f"{path} does not exist yet; `kamermonitor run` creates it there")
        return
    try:
        engine = make_engine(doc.settings.database)
    except (NoSuchModuleError, ModuleNotFoundError) as exc:
        hint = " (pip install 'kamermonitor[postgres]')" if url.get_backend_name() == "postgresql" else ""
        raise doc.fail(f"{item} driver", f"{url.drivername}: {exc}{hint}") from None
    doc.say("ok", f"{item} driver", f"{engine.dialect.name} via {engine.dialect.driver}")
    try:
        _schema_and_write(doc, item, engine, shown)
    except SQLAlchemyError as exc:
        raise doc.fail(f"{item} connect", f"{shown}: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _schema_and_write(doc: Doctor, item: str, engine: Engine, shown: str) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import SQLAlchemyError

    from .store.schema import LATEST, current_version, cursors

    with engine.connect() as conn:
        version = current_version(conn)
        conn.rollback()
    doc.say("ok", f"{item} connect", shown)
    if version == 0:
        doc.say("warning", f"{item} schema", "no kamermonitor tables yet; `kamermonitor run` creates them")
        return
    if version > LATEST:
        raise doc.fail(f"{item} schema", f"version {version} is newer than this kamermonitor ({LATEST})")
    if version < LATEST:
        doc.say("warning", f"{item} schema", f"version {version}; `kamermonitor run` migrates it to {LATEST}")
    else:
        doc.say("ok", f"{item} schema", f"version {version} (current)")
    # Write access: a row written in a transaction that is rolled back, so nothing changes.
    try:
        with engine.connect() as conn:
            trans = conn.begin()
            try:
                conn.execute(insert(cursors).values(name="doctor:write-check", value="", updated_at=datetime.now(UTC)))
            finally:
                trans.rollback()
    except SQLAlchemyError as exc:
        raise doc.fail(f"{item} write", f"cannot write: {_first_line(exc)}") from None
    doc.say("ok", f"{item} write", "a test write succeeded (rolled back)")


def _first_line(exc: Exception) -> str:
    """The driver's own message (SQLAlchemy wraps it in a paragraph with a link)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _dir_writable(path: Path) -> bool:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return os.access(parent, os.W_OK | os.X_OK)


# -- the web surface ------------------------------------------------------------------------


def check_web(doc: Doctor) -> None:
    """Whether ``[web] listen`` can be served: a kamermonitor answers there, or the address is free."""
    import errno

    from .reports import healthz_verdict

    web = doc.settings.web
    item = "web listen"
    if not web.enabled:
        doc.say("ok", "web", "no [web] section; not checked")
        return
    verdict = healthz_verdict(doc.settings, timeout=doc.timeout)
    if verdict.code == 0:
        doc.say("ok", item, f"{web.listen}: a running kamermonitor answers /healthz")
        return
    family = socket.AF_INET6 if ":" in web.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((web.host, web.port))
        except OSError as exc:
            why = {
                errno.EADDRINUSE: "in use by another program (no kamermonitor /healthz there)",
                errno.EACCES: "binding needs privileges (a port below 1024?)",
                errno.EADDRNOTAVAIL: f"{web.host} is not an address of this machine",
            }.get(exc.errno or 0, str(exc))
            raise doc.fail(item, f"{web.listen}: {why}") from None
    doc.say("ok", item, f"{web.listen} is free: `kamermonitor run` will listen there")


# -- the command --------------------------------------------------------------------------


def run(settings: Settings, out: TextIO, *, send: bool = False) -> int:
    doc = Doctor(settings, out, send)
    where = settings.source_path or "built-in defaults"
    doc.say("ok", "config", f"{where}: {len(settings.watches)} watch(es), {len(settings.channels)} channel(s)")
    fetcher = _fetcher(settings)
    try:
        for name, source in SOURCES.items():
            if settings.sources[name].enabled:
                with doc.item():
                    source.check(doc, fetcher)
            else:
                doc.say("ok", name, "disabled; not checked")
    finally:
        fetcher.client.close()
    for cfg in settings.channels:
        with doc.item():
            if isinstance(cfg.options, EmailOptions):
                check_email(doc, cfg, cfg.options)
            elif isinstance(cfg.options, SlackOptions):
                check_slack(doc, cfg, cfg.options)
            else:
                doc.say("ok", f"channel {cfg.name}", f"{cfg.type}: nothing to check")
    with doc.item():
        check_database(doc)
    with doc.item():
        check_web(doc)
    print(f"doctor: {doc.worst}", file=out)
    return EXIT[doc.worst]
