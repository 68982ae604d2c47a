"""The doctor's report and the steps every check shares: DNS, TCP connect, TLS and its certificate, HTTP.

A check says one line per step (:meth:`Doctor.say`); a failed step raises :class:`Stop`,
which ends its item but not the doctor.  Proxies from the environment are honoured as
httpx honours them: behind one, DNS, connect and TLS are the proxy's.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TextIO
from urllib.parse import urlsplit

from ..config import Settings
from ..http import Fetcher, FetchResult, SourceError, make_client

Verdict = Literal["ok", "warning", "error"]
EXIT = {"ok": 0, "warning": 1, "error": 2}
CERT_WARN_DAYS = 14


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


def fetcher_for(settings: Settings) -> Fetcher:
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
