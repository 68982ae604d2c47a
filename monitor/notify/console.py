"""Console channel: prints each alert to a stream (stdout by default); handy for trying things out."""

from __future__ import annotations

import sys
from typing import TextIO

from ..models import Alert
from .base import DeliveryError
from .render import Renderer, default_renderer


class ConsoleChannel:
    kind = "console"
    min_interval = 0.0
    targets: tuple[str, ...] = ("",)

    def __init__(self, name: str = "console", stream: TextIO | None = None, renderer: Renderer | None = None) -> None:
        self.name = name
        self._stream = stream
        self._renderer = renderer

    def describe(self) -> str:
        return "console (stdout)" if self._stream is None else f"console ({getattr(self._stream, 'name', 'stream')})"

    def send(self, alert: Alert, target: str = "") -> None:
        stream = self._stream if self._stream is not None else sys.stdout
        text = (self._renderer or default_renderer()).console_text(alert)
        try:
            stream.write(text + "\n\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # closed pipe or stream
            raise DeliveryError(f"console: cannot write: {exc}", permanent=False) from None
