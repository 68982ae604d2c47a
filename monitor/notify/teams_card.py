"""The ``teams`` channel's message: one alert as an Adaptive Card (1.4) in Teams' message envelope.

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                         "content": {"type": "AdaptiveCard", "version": "1.4", …}}]}

A letter gets its dossier, kind and subject as the title, then number, date, sender,
subject and dossier as facts, its summary, signatories and bijlagen, and one button per
link.  A follow-up says what is new (the publication, or the bijlagen); a digest lists
the letters per dossier, newest first.  The same shape as every other medium: what the
alert is, is decided once (:mod:`.view`).

Teams' limits: a message of about 28 KB at most (:data:`TEAMS_MAX_BYTES`, of which the
card uses at most :data:`CARD_BUDGET`), and no more than six buttons.  A card that would
be larger lists fewer letters (or bijlagen, or signatories) and says "… en N meer".

Every text block is Markdown to Teams, and ``{{DATE(…)}}`` is a function to it: text from
outside goes through :mod:`.markdown`, so a subject cannot make a link, a list, bold text
or a date.
Pure functions, no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from .clean import oneline, trim, trim_words
from .digest import limit_groups
from .markdown import code, md, md_link
from .view import TEST_SENTENCE, AttachmentView, GroupView, LetterView, Link, ReadMore, View, attachments_label

CARD_TYPE: Final = "application/vnd.microsoft.card.adaptive"
CARD_VERSION: Final = "1.4"
TEAMS_MAX_BYTES: Final = 28 * 1024
CARD_BUDGET: Final = 26 * 1024  # leaves room for the envelope and for a host that counts differently
MAX_ACTIONS: Final = 6  # Teams shows at most six buttons on a card
TITLE_MAX: Final = 300
TEXT_MAX: Final = 2000  # one text block
DIGEST_LETTERS: Final = 25  # at most, before the size decides
DIGEST_SUMMARY: Final = 200
LIST_MAX: Final = 30  # signatories, bijlagen


def _block(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def _fact(title: str, value: str, limit: int) -> dict[str, str]:
    return {"title": title, "value": md(value, limit)}


def _bullets(items: Sequence[str], total: int) -> str:
    """A Markdown list, then "… en N meer" when ``total`` exceeds what is listed."""
    lines = [f"- {item}" for item in items]
    if total > len(items):
        lines.append(f"- … en {total - len(items)} meer")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Fit:
    """How much a card lists; halved step by step until the card fits :data:`CARD_BUDGET`."""

    letters: int = DIGEST_LETTERS
    items: int = LIST_MAX
    summary: bool = True

    def smaller(self) -> Fit | None:
        if self.items > 3:
            return Fit(self.letters, self.items // 2, self.summary)
        if self.letters > 1:
            return Fit(self.letters // 2, self.items, self.summary)
        return Fit(1, self.items, False) if self.summary else None


def teams_message(shape: View, read_more: ReadMore) -> dict[str, Any]:
    """The envelope Teams' Workflows webhook takes, holding one card that fits its limits."""
    fit: Fit | None = Fit()
    subject = shape.subject
    card = _card(shape, read_more, subject, Fit())
    while _size(card) > CARD_BUDGET:
        fit = fit.smaller() if fit else None
        if fit is None:  # only a hostile alert gets here: say only what it is
            card = _card_of(subject, [_block(md(oneline(shape.title), TITLE_MAX), weight="Bolder")], [])
            break
        card = _card(shape, read_more, subject, fit)
    return {"type": "message", "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}]}


def _size(card: dict[str, Any]) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode("utf-8"))


def _card_of(subject: str, body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "fallbackText": trim(subject, 300),
        "msteams": {"width": "Full"},
        "body": body,
        "actions": actions[:MAX_ACTIONS],
    }


def _card(shape: View, read_more: ReadMore, subject: str, fit: Fit) -> dict[str, Any]:
    body: list[dict[str, Any]] = []
    if shape.tag != "kamermonitor":
        body.append(_block(md(f"Dossier {shape.tag}", 100), isSubtle=True, spacing="None"))
    body.append(_block(md(shape.title, TITLE_MAX), size="Medium", weight="Bolder"))
    actions: list[dict[str, Any]] = []
    if shape.mode == "test":
        body.append(_block(md(shape.text) if shape.text else md(TEST_SENTENCE)))
    elif shape.mode == "operator" and shape.text:
        body.append(_block("\n\n".join(md(line) for line in shape.text.split("\n") if line)))
    if shape.mode == "single":
        view = shape.groups[0].letters[0]
        body += _single(view, fit)
        actions = _open_urls(view.links)
    elif shape.mode == "followup":
        view = shape.groups[0].letters[0]
        body += _followup(view, shape.followup, fit)
        actions = _open_urls(view.publication or view.links)
    elif shape.groups:
        more_body, actions = _digest(shape, read_more, fit)
        body += more_body
    if shape.reasons:
        why = md("Waarom u dit krijgt: " + "; ".join(shape.reasons), 1000)
        body.append(_block(why, isSubtle=True, size="Small", separator=True))
    return _card_of(subject, body, actions)


def _open_urls(links: Sequence[Link]) -> list[dict[str, Any]]:
    return [{"type": "Action.OpenUrl", "title": trim(x.label, 60), "url": x.url} for x in links[:MAX_ACTIONS]]


def _attachment(a: AttachmentView) -> str:
    return md_link(a.url, a.title) if a.url else md(a.title, 300)


def _single(view: LetterView, fit: Fit) -> list[dict[str, Any]]:
    facts = [_fact("Nummer", view.reference, 200), *(_fact(name, value, limit) for name, value, limit in view.facts)]
    out: list[dict[str, Any]] = [{"type": "FactSet", "facts": facts}]
    if view.summary and fit.summary:
        out += [_block("**Samenvatting**", spacing="Medium"), _block(md(view.summary))]
    if view.signers:
        signers = [md(str(s), 500) for s in view.signers[: fit.items]]
        out += [_block("**Ondertekend door**", spacing="Medium"), _block(_bullets(signers, len(view.signers)))]
    if view.attachments:
        items = [_attachment(a) for a in view.attachments[: fit.items]]
        out += [_block("**Bijlagen**", spacing="Medium"), _block(_bullets(items, len(view.attachments)))]
    return out


def _followup(view: LetterView, kind: str, fit: Fit) -> list[dict[str, Any]]:
    about = " · ".join(md(x, 400) for x in (view.heading, view.date, view.sender) if x)
    out: list[dict[str, Any]] = []
    if kind == "published":
        said = f"Nu gepubliceerd als **{md(view.citation, 200)}**" if view.citation else "Nu officieel gepubliceerd"
        out.append(_block(said))
    elif kind == "attachments":
        label = attachments_label(view)
        items = [_attachment(a) for a in view.attachments[: fit.items]]
        out += [_block(f"**{label} {md(view.reference, 200)}**"), _block(_bullets(items, len(view.attachments)))]
    else:
        out.append(_block(f"**Nieuws over {md(view.reference, 200)}**"))
    out.append(_block(about or md(view.reference, 200), isSubtle=True))
    if kind == "published" and view.summary_short and fit.summary:
        out.append(_block(md(view.summary_short, 1000)))
    return out


def _digest_letter(view: LetterView, fit: Fit) -> dict[str, Any]:
    reference = md_link(view.main_url, view.reference) if view.main_url else md(view.reference, 200)
    meta = " · ".join(md(x, 100) for x in (view.kind, view.date) if x)
    items = [_block(f"**{reference}**" + (f" · {meta}" if meta else "")), _block(md(view.subject or view.heading, 400))]
    if view.sender:
        items.append(_block("Van: " + md(view.sender, 300), isSubtle=True, spacing="None"))
    if view.summary and fit.summary:
        items.append(_block(md(trim_words(view.summary, DIGEST_SUMMARY), 400), spacing="Small"))
    links = " · ".join(md_link(x.url, x.label) for x in view.card_links)
    if links:
        items.append(_block(links, spacing="Small"))
    return {"type": "Container", "items": items, "spacing": "Medium"}


def _digest(shape: View, read_more: ReadMore, fit: Fit) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    per_dossier = max(fit.letters // max(len(shape.groups), 1), 3)
    shown, rest = limit_groups(shape.groups, per_dossier, fit.letters)
    body: list[dict[str, Any]] = []
    for group in shown:
        body.append(_block(f"**{md(group.label, 300)}**", separator=True, spacing="Large"))
        body += [_digest_letter(view, fit) for view in group.letters]
        if group.more:
            body.append(_block(_more(group)))
    if rest:
        n = sum(g.more for g in rest)
        where = "1 ander dossier" if len(rest) == 1 else f"{len(rest)} andere dossiers"
        named = ", ".join(md_link(g.url, g.key) if g.url else md(g.label, 100) for g in rest[: fit.items])
        extra = f", en nog {len(rest) - fit.items}" if len(rest) > fit.items else ""
        body.append(_block(f"… en {n} meer in {where}: {named}{extra}"))
    actions: list[dict[str, Any]] = []
    if rest or any(g.more for g in shown):
        if read_more.url:
            actions.append({"type": "Action.OpenUrl", "title": f"Alle {shape.count} brieven", "url": read_more.url})
        else:
            body.append(_block(f"Alle {shape.count} brieven: {code(read_more.text)}", isSubtle=True))
    return body, actions


def _more(group: GroupView) -> str:
    where = f" in dossier {md(group.key, 40)}" if group.key else ""
    link = f": {md_link(group.url, 'alle stukken')}" if group.url else ""
    return f"… en {group.more} meer{where}{link}"
