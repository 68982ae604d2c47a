"""The ``apprise`` channel's message: a title and a short Markdown (or plain) body for chat services.

Chat services (ntfy, Telegram, Matrix, Mattermost, Discord, …) show a few thousand
characters at most, so the body is short: for a letter its number, date, sender, summary,
signatories, bijlagen and links; for a follow-up what is new; for a digest one line per
letter, at most :data:`DIGEST_LETTERS`, then "… en N meer" and where to read them all.
The body stays under :data:`BODY_MAX` characters by dropping whole trailing lines.

Markdown goes to services that render it (Apprise converts it to HTML where a service
wants that); services that take only text get the console's plain text.  Text from
outside goes through :mod:`.markdown`.  Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .clean import trim_words
from .digest import limit_groups
from .markdown import code, md, md_link
from .view import TEST_SENTENCE, LetterView, ReadMore, View

BODY_MAX: Final = 3500  # under Telegram's 4096 and near Discord's 2000-per-message splitting
DIGEST_LETTERS: Final = 20
SUMMARY: Final = 400


def _fit(lines: Iterable[str], limit: int = BODY_MAX) -> str:
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > limit:
            out.append("…")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def markdown_body(shape: View, read_more: ReadMore) -> str:
    lines: list[str] = []
    if shape.mode == "test":
        lines.append(md(shape.text) if shape.text else md(TEST_SENTENCE))
    elif shape.mode == "operator" and shape.text:
        lines += [md(line) for line in shape.text.split("\n")]
    if shape.mode == "single":
        lines += _letter(shape.groups[0].letters[0])
    elif shape.mode == "followup":
        lines += _followup(shape.groups[0].letters[0], shape.followup)
    elif shape.groups:
        lines += _digest(shape, read_more)
    if shape.reasons:
        lines += ["", "_" + md("Waarom u dit krijgt: " + "; ".join(shape.reasons), 600) + "_"]
    return _fit(lines)


def _links(view: LetterView) -> str:
    return " · ".join(md_link(x.url, x.label) for x in view.links)


def _letter(view: LetterView) -> list[str]:
    lines = ["**" + md(view.reference, 200) + "**" + (f" · {md(view.date_line, 200)}" if view.date_line else "")]
    if view.sender:
        lines.append("Van: " + md(view.sender, 600))
    if view.summary:
        lines += ["", md(trim_words(view.summary, SUMMARY))]
    if view.signers:
        lines += ["", "Ondertekend door: " + md("; ".join(str(s) for s in view.signers), 800)]
    if view.attachments:
        items = [md_link(a.url, a.title) if a.url else md(a.title, 300) for a in view.attachments[:10]]
        more = len(view.attachments) - len(items)
        lines.append("Bijlagen: " + " · ".join(items) + (f" · … en {more} meer" if more else ""))
    if view.links:
        lines += ["", _links(view)]
    return lines


def _followup(view: LetterView, kind: str) -> list[str]:
    lines = [" · ".join(md(x, 400) for x in (view.heading, view.date, view.sender) if x)]
    if kind == "published":
        lines.append(f"Nu gepubliceerd als **{md(view.citation, 200)}**" if view.citation else "Nu gepubliceerd")
        lines += [" · ".join(md_link(x.url, x.label) for x in view.publication)] if view.publication else []
    elif kind == "attachments":
        items = [md_link(a.url, a.title) if a.url else md(a.title, 300) for a in view.attachments[:10]]
        more = len(view.attachments) - len(items)
        lines += [f"- {item}" for item in items] + ([f"- … en {more} meer"] if more else [])
    return lines


def _digest(shape: View, read_more: ReadMore) -> list[str]:
    shown, rest = limit_groups(shape.groups, max(DIGEST_LETTERS // max(len(shape.groups), 1), 3), DIGEST_LETTERS)
    lines: list[str] = []
    for group in shown:
        lines += ["", "**" + md(group.label, 300) + "**"]
        for view in group.letters:
            ref = md_link(view.main_url, view.reference) if view.main_url else md(view.reference, 200)
            meta = " · ".join(md(x, 100) for x in (view.kind, view.date) if x)
            lines.append(f"- {ref}: {md(view.subject or view.heading, 300)}" + (f" ({meta})" if meta else ""))
        if group.more:
            lines.append(f"- … en {group.more} meer" + (f" in dossier {md(group.key, 40)}" if group.key else ""))
    if rest:
        lines.append(f"… en {sum(g.more for g in rest)} meer in {len(rest)} andere dossier(s)")
    if rest or any(g.more for g in shown):
        where = md_link(read_more.url, read_more.text) if read_more.url else code(read_more.text)
        lines.append(f"Alle {shape.count} brieven: {where}")
    return lines


def plain_body(console_text: str) -> str:
    """The console's text without its first line (the title travels apart), bounded like Markdown."""
    lines = console_text.split("\n")[1:]
    return _fit(line.removeprefix("  ") for line in lines)
