"""The channel contract: one method, one error type.

A channel turns an :class:`~monitor.models.Alert` into one message on its medium and
either returns (accepted by the far end) or raises :class:`DeliveryError`.  Whether to
retry is the outbox's business, decided from ``permanent`` and ``retry_after`` only;
the message carries the exact reply (SMTP code and text, Slack status and body) for
the operator.  Secrets never appear in messages.
"""

from __future__ import annotations

from typing import Protocol

from ..models import Alert


class DeliveryError(Exception):
    """The far end did not accept the message."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class Channel(Protocol):
    """A configured destination (``[[channel]]`` in the config)."""

    name: str
    kind: str  # "console" | "email" | "slack"
    min_interval: float  # seconds between two messages on this channel (Slack: 1.0)
    # One outbox row per (alert, channel, target): email recipients each get their own
    # row so a refusal for one address never re-sends to the others; Slack and the
    # console have the single target "".
    targets: tuple[str, ...]

    def send(self, alert: Alert, target: str) -> None:
        """Deliver one message for ``alert`` to ``target`` or raise DeliveryError."""
        ...

    def describe(self) -> str:
        """A one-line, secret-free description for ``status`` and logs."""
        ...
