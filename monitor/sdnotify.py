"""systemd's service notification protocol (sd_notify), for ``Type=notify`` units.

The protocol is one datagram per notification, ``KEY=VALUE`` lines, sent to the unix
socket named by ``$NOTIFY_SOCKET`` (a path, or an abstract socket when it starts with
``@``).  Without that variable (not under systemd) every call does nothing.  The watchdog
interval comes from ``$WATCHDOG_USEC`` (set when the unit has ``WatchdogSec=``), for
this process only when ``$WATCHDOG_PID`` is unset or names it.  Sending never raises:
a notification that cannot be delivered must not stop the monitor.

The few lines here are the whole protocol (``man sd_notify``); the Python packages that
implement it are unmaintained or need libsystemd, so it is not worth a dependency.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

logger = logging.getLogger(__name__)


def _address(env: Mapping[str, str]) -> str | None:
    path = env.get("NOTIFY_SOCKET", "")
    if not path or not path.startswith(("/", "@")):
        return None  # unset, or a vsock address this service does not use
    return "\0" + path[1:] if path.startswith("@") else path


def notify(*fields: str, env: Mapping[str, str] | None = None) -> bool:
    """Send ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``, ``STATUS=...``; True when sent."""
    address = _address(os.environ if env is None else env)
    if address is None:
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode("utf-8"))
    except OSError as exc:
        logger.debug("sd_notify %s not delivered: %s", fields, exc)
        return False
    return True


def watchdog_interval(env: Mapping[str, str] | None = None) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings (half the unit's WatchdogSec), or None."""
    env = os.environ if env is None else env
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or _address(env) is None:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2
