"""An in-process SMTP server (aiosmtpd) that captures mail and can misbehave on purpose.

    with SmtpServer() as smtp:                                   # plain SMTP
    with SmtpServer(tls="starttls", auth=("alerts", "pw")) as smtp:  # STARTTLS, AUTH required
    with SmtpServer(tls="implicit") as smtp:                      # SMTP over TLS on the port

    smtp.port, smtp.client_context()     # a client SSLContext that trusts the test certificate
    smtp.messages                        # parsed email.message.EmailMessage objects
    smtp.envelopes                       # aiosmtpd Envelopes (mail_from, rcpt_tos, content)
    smtp.fail_next(2, "451 4.3.0 Try again later")           # RCPT answers this twice, then 250
    smtp.fail_next(1, "554 5.7.1 Rejected as spam", stage="DATA")

Recipients whose local part starts with ``perm`` are always refused with
``550 5.1.1 No such user``; ``temp`` ones always get ``451 4.3.0 Try again later``.
The self-signed certificate (CN/SAN localhost and 127.0.0.1) is made with
``cryptography`` when it is importable, else with the ``openssl`` command.
"""

from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from collections import deque
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServerProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

TlsMode = Literal["none", "starttls", "implicit"]
Stage = Literal["RCPT", "DATA"]


def free_port() -> int:
    """aiosmtpd's Controller cannot bind port 0 (it connects to itself to check readiness)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """Write ``cert.pem`` and ``key.pem`` for localhost/127.0.0.1 into ``directory``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        _cert_with_cryptography(cert, key)
    except ImportError:
        _cert_with_openssl(cert, key)
    return cert, key


def _cert_with_cryptography(cert_path: Path, key_path: Path) -> None:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _cert_with_openssl(cert_path: Path, key_path: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("neither the cryptography package nor the openssl command is available")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-keyout", str(key_path), "-out", str(cert_path), "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )  # fmt: skip


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    def _fault(self, stage: Stage) -> str | None:
        with self.server._lock:
            queue = self.server._faults[stage]
            return queue.popleft() if queue else None

    async def handle_RCPT(
        self,
        server: SMTPServerProtocol,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        local = address.split("@", 1)[0].lower()
        if local.startswith("perm"):
            return "550 5.1.1 No such user"
        if local.startswith("temp"):
            return "451 4.3.0 Try again later"
        fault = self._fault("RCPT")
        if fault:
            return fault
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServerProtocol, session: Session, envelope: Envelope) -> str:
        fault = self._fault("DATA")
        if fault:
            return fault
        raw = envelope.original_content or envelope.content or b""
        message = email.message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.server._lock:
            self.server.envelopes.append(envelope)
            self.server.messages.append(message)
        return "250 OK: queued"


class SmtpServer:
    """A running aiosmtpd server on 127.0.0.1; use as a context manager."""

    def __init__(
        self,
        *,
        tls: TlsMode = "none",
        auth: tuple[str, str] | None = None,
        cert: tuple[Path, Path] | None = None,
    ) -> None:
        self.tls: TlsMode = tls
        self.auth = auth
        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Envelope] = []
        self.auth_attempts: list[tuple[str, bool]] = []  # (login, success)
        self._lock = threading.Lock()
        self._faults: dict[Stage, deque[str]] = {"RCPT": deque(), "DATA": deque()}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if tls != "none" and cert is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kamermonitor-smtp-")
            cert = make_self_signed_cert(Path(self._tmp.name))
        self.cert_path = cert[0] if cert else None
        kwargs: dict[str, Any] = {}
        if cert is not None:
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            server_ctx.load_cert_chain(str(cert[0]), str(cert[1]))
            if tls == "starttls":
                kwargs.update(tls_context=server_ctx, require_starttls=True)
            elif tls == "implicit":
                kwargs.update(ssl_context=server_ctx)
        if auth is not None:
            # STARTTLS: AUTH is offered only after the upgrade and is required.  aiosmtpd does
            # not count implicit TLS as TLS for auth_require_tls, and requiring AUTH without
            # TLS makes it warn; so on implicit-TLS and plain servers AUTH is offered, optional.
            starttls = tls == "starttls"
            kwargs.update(authenticator=self._authenticate, auth_required=starttls, auth_require_tls=starttls)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)

    def _authenticate(
        self, server: SMTPServerProtocol, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.auth is not None
        ok = isinstance(auth_data, LoginPassword) and (
            auth_data.login.decode(errors="replace"),
            auth_data.password.decode(errors="replace"),
        ) == tuple(self.auth)
        login = auth_data.login.decode(errors="replace") if isinstance(auth_data, LoginPassword) else "?"
        with self._lock:
            self.auth_attempts.append((login, ok))
        # handled=False: let aiosmtpd send the 535 itself (handled=True would leave the client waiting).
        return AuthResult(success=True) if ok else AuthResult(success=False, handled=False)

    def client_context(self) -> ssl.SSLContext:
        """A verifying client context that trusts this server's self-signed certificate."""
        if self.cert_path is None:
            raise RuntimeError("this server has no certificate")
        return ssl.create_default_context(cafile=str(self.cert_path))

    def fail_next(self, n: int, code_text: str, stage: Stage = "RCPT") -> None:
        """Answer the next ``n`` RCPT (or DATA) commands with ``code_text``, then normally."""
        with self._lock:
            self._faults[stage].extend([code_text] * n)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        try:
            self._controller.stop()
        finally:
            if self._tmp is not None:
                self._tmp.cleanup()
                self._tmp = None

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
