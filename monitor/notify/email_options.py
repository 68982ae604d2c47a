"""The options of an e-mail channel: its ``[[channel]]`` keys, read and checked here."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..configread import Reader
from .options import Options

Security = Literal["ssl", "starttls", "none"]
SECURITY = ("ssl", "starttls", "none")
PORTS = {"ssl": 465, "starttls": 587}  # the port when none is given; 25 for "none"

DOMAIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
NO_DOMAIN = "kamermonitor.invalid"


@dataclass(frozen=True)
class EmailOptions(Options):
    """``type = "email"``: an SMTP server and the recipients, each of whom gets a message of their own."""

    host: str = ""
    sender: str = ""  # ``from``
    recipients: tuple[str, ...] = ()  # ``to``
    port: int = 0  # 0: PORTS by ``security``
    security: str = "starttls"
    username: str | None = None
    password_env: str | None = None
    timeout: float = 30.0
    message_id_domain: str | None = None  # None: the sender's domain
    list_unsubscribe: str | None = None

    def secret_vars(self) -> Mapping[str, str]:
        return {"password": self.password_env} if self.password_env else {}

    def targets(self) -> tuple[str, ...]:
        return self.recipients

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> EmailOptions:
        host = r.value(t, "host", p, str, cls.host)
        if not host:
            r.fail(f"{p}.host", "required for an email channel")
        security = r.value(t, "security", p, str, cls.security)
        if security not in SECURITY:
            r.fail(f"{p}.security", f"must be ssl, starttls or none, got {security!r}")
        port = r.value(t, "port", p, int, PORTS.get(security, 25))
        if not 0 < port < 65536:
            r.fail(f"{p}.port", f"not a port number: {port!r}")
        sender = r.value(t, "from", p, str, cls.sender)
        if not sender:
            r.fail(f"{p}.from", "required for an email channel")
        elif "@" not in sender:
            r.fail(f"{p}.from", f"not an email address: {sender!r}")
        for key in ("from", "list_unsubscribe", "host", "username"):
            r.header_safe(t, key, p)
        domain = r.value(t, "message_id_domain", p, str, NO_DOMAIN)
        if not DOMAIN_RE.fullmatch(domain):
            r.fail(f"{p}.message_id_domain", f"not a domain name: {domain!r}")
        to = r.strings(t, "to", p, cls.recipients)
        if not to:
            r.fail(f"{p}.to", "at least one recipient is required")
        for j, addr in enumerate(to):
            if "@" not in addr or any(ch in addr for ch in "\r\n<> ,"):
                r.fail(f"{p}.to[{j}]", f"not an email address: {addr!r}")
        if t.get("username") and not t.get("password_env"):
            r.fail(f"{p}.password_env", "required when username is set")
        return cls(
            host=host,
            sender=sender,
            recipients=to,
            port=port,
            security=security,
            timeout=r.positive(t, "timeout", p, cls.timeout, maximum=3600),
            message_id_domain=domain if "message_id_domain" in t else None,
            username=r.value(t, "username", p, str, "") or None,
            password_env=r.value(t, "password_env", p, str, "") or None,
            list_unsubscribe=r.value(t, "list_unsubscribe", p, str, "") or None,
        )
