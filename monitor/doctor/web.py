"""The doctor's check of ``[web] listen``: a running kamermonitor answers there, or the address is free."""

from __future__ import annotations

import socket

from .core import Doctor


def check_web(doc: Doctor) -> None:
    """Whether ``[web] listen`` can be served: a kamermonitor answers there, or the address is free."""
    import errno

    from ..reports import healthz_verdict

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
