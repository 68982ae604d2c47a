"""Console channel: prints each alert to a stream (stdout by default); handy for trying things out."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TextIO

from ..configread import Reader
from ..models import Alert
from .base import ChannelType, DeliveryError, Tools
from .options import Options

if TYPE_CHECKING:
    from .render import Renderer  # loaded when a message is written: the configuration reads this module


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
        from .render import default_renderer

        stream = self._stream if self._stream is not None else sys.stdout
        text = (self._renderer or default_renderer()).console_text(alert)
        try:
            stream.write(text + "\n\n")
            stream.flush()
        except (OSError, ValueError) as exc:  # closed pipe or stream
            raise DeliveryError(f"console: cannot write: {exc}", permanent=False) from None


def _read(r: Reader, t: Mapping[str, Any], p: str) -> Options:
    return Options()  # no options of its own


def _build(name: str, o: Options, tools: Tools) -> ConsoleChannel:
    # The packaged templates, not the configured renderer: as the console has always printed.
    return ConsoleChannel(name, stream=tools.stream)


CONSOLE = ChannelType(keys=frozenset(), read=_read, build=_build)
