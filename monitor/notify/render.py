"""Turn an :class:`~monitor.models.Alert` into what each medium shows.

The view of a message (:mod:`monitor.notify.view`: what it is, every field cleaned) is
made once; each medium lays it out in a module of its own (:mod:`~monitor.notify.email_render`,
:mod:`~monitor.notify.slack_render`, :mod:`~monitor.notify.console_render`), sharing how
digests are cut (:mod:`~monitor.notify.digest`).  Every method here takes the alert or its
view, so a channel that needs several renderings (an e-mail's subject and two bodies)
makes the view once.  :func:`where_to_read` is the one place that decides where the
reader finds what a digest could not show.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..models import Alert
from . import console_render, email_render, slack_render
from .clean import oneline, safe_url
from .view import ReadMore, View, WatchUrl, view_of

if TYPE_CHECKING:
    import jinja2


def where_to_read(watches: Sequence[str], count: int, watch_url: WatchUrl | None = None) -> ReadMore:
    """The one place that says where to read the rest of a digest.

    With a web surface (``watch_url``) and one watch: that watch's page.  Otherwise the
    command that lists them, asking for as many as the digest had.
    """
    names = [oneline(w, 100) for w in watches if oneline(w, 100)]
    if watch_url is not None and len(names) == 1:
        url = safe_url(watch_url(names[0]))
        if url:
            return ReadMore(f"alle brieven van {names[0]}", url)
    watch = f" --watch {_shell_word(names[0])}" if len(names) == 1 else ""
    return ReadMore(f"kamermonitor list{watch} --limit {max(count, 1)}")


def _shell_word(word: str) -> str:
    """A watch name as it can be typed in a shell (quoted when it has to be)."""
    return word if re.fullmatch(r"[A-Za-z0-9._/:=+-]+", word) else "'" + word.replace("'", "'\\''") + "'"


def _view(message: Alert | View) -> View:
    return message if isinstance(message, View) else view_of(message)


class Renderer:
    """Holds the Jinja environment: operator templates first, then the packaged ones.

    The environment (and Jinja itself) is loaded on first use: ``status`` builds the
    channels only to describe them, and should not pay for templates it never renders.
    """

    def __init__(self, template_dir: Path | None = None, watch_url: WatchUrl | None = None) -> None:
        if template_dir is not None and not Path(template_dir).is_dir():
            raise ValueError(f"template directory does not exist: {template_dir}")
        self.template_dir = template_dir
        self.watch_url = watch_url  # a web surface's page per watch; None: point to ``kamermonitor list``

    def view(self, alert: Alert) -> View:
        return view_of(alert)

    def read_more(self, message: Alert | View) -> ReadMore:
        shape = _view(message)
        return where_to_read(shape.watches, shape.letters, self.watch_url)

    @functools.cached_property
    def env(self) -> jinja2.Environment:
        import jinja2

        loaders: list[jinja2.BaseLoader] = []
        if self.template_dir is not None:
            loaders.append(jinja2.FileSystemLoader(str(self.template_dir)))
        loaders.append(jinja2.PackageLoader("monitor", "templates"))
        return jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm", "xml", "html.j2"), default_for_string=True, default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def email_subject(self, message: Alert | View) -> str:
        return _view(message).subject

    def context(self, message: Alert | View) -> dict[str, Any]:
        shape = _view(message)
        return email_render.email_context(shape, self.read_more(shape))

    def email_bodies(self, message: Alert | View) -> tuple[str, str]:
        """(text, HTML) from one set of template variables."""
        context = self.context(message)
        return email_render.email_text(self.env, context), email_render.email_html(self.env, context)

    def email_text(self, message: Alert | View) -> str:
        return email_render.email_text(self.env, self.context(message))

    def email_html(self, message: Alert | View) -> str:
        return email_render.email_html(self.env, self.context(message))

    def console_text(self, message: Alert | View) -> str:
        shape = _view(message)
        return console_render.console_text(shape, self.read_more(shape))

    def slack_payload(self, message: Alert | View) -> dict[str, Any]:
        shape = _view(message)
        return slack_render.slack_payload(shape, self.read_more(shape))


# --------------------------------------------------------------------------- module-level API


@functools.lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    return Renderer()


def email_subject(alert: Alert | View) -> str:
    return default_renderer().email_subject(alert)


def email_text(alert: Alert | View) -> str:
    return default_renderer().email_text(alert)


def email_html(alert: Alert | View) -> str:
    return default_renderer().email_html(alert)


def slack_payload(alert: Alert | View) -> dict[str, Any]:
    return default_renderer().slack_payload(alert)


def console_text(alert: Alert | View) -> str:
    return default_renderer().console_text(alert)
