"""The e-mail's rendering of a message: the variables its templates get, and the two bodies.

The templates (``monitor/templates/alert.txt.j2`` and ``alert.html.j2``, or the
operator's own of the same name) lay out what the view holds; HTML goes through Jinja2
with autoescape on.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .digest import (
    DIGEST_PER_DOSSIER,
    DIGEST_REST_DOSSIERS,
    EMAIL_DIGEST_LETTERS,
    limit_groups,
    name_the_rest,
)
from .view import ReadMore, View

if TYPE_CHECKING:
    import jinja2

EMAIL_DIGEST_NAMED = 1000  # letters named in compact lines after the cards; past that, where to read them


def email_context(shape: View, read_more: ReadMore) -> dict[str, Any]:
    """The variables the e-mail templates get (documented at the top of each template)."""
    cards, left_out = limit_groups(shape.groups, DIGEST_PER_DOSSIER, EMAIL_DIGEST_LETTERS)
    shown, rest = name_the_rest(shape.groups, cards, left_out, EMAIL_DIGEST_NAMED)
    letters = [v for g in shown for v in g.letters]
    unnamed = sum(g.more for g in shown) + sum(g.more for g in rest)
    return {
        "mode": shape.mode,
        "followup": shape.followup,
        "title": shape.title,
        "tag": shape.tag,
        "count": shape.count,
        "groups": shown,
        "letters": letters,
        "letter": letters[0] if letters else None,
        "more": shape.count - len(letters),
        "unnamed": unnamed,
        "read_more": read_more if unnamed else None,
        "rest": rest[:DIGEST_REST_DOSSIERS],
        "rest_more": sum(g.more for g in rest),
        "rest_unlisted": max(len(rest) - DIGEST_REST_DOSSIERS, 0),
        "reasons": shape.reasons,
        "text": shape.text,
    }


def email_text(env: jinja2.Environment, context: dict[str, Any]) -> str:
    body = env.get_template("alert.txt.j2").render(context)
    # Strip trailing blanks (except the "-- " signature separator) and runs of empty lines.
    lines = [line if line == "-- " else line.rstrip() for line in body.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def email_html(env: jinja2.Environment, context: dict[str, Any]) -> str:
    return env.get_template("alert.html.j2").render(context)
