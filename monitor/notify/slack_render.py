"""Slack's rendering of a message: Block Kit blocks within Slack's limits, in mrkdwn made inert.

Slack mrkdwn gets ``&``, ``<``, ``>`` escaped and its formatting characters (``*_~```)
fenced with zero-width spaces so they cannot pair up; every text is cut to the limit of
its block.  A digest shows ten letters as cards and names the others in one line each, as
far as Slack's limits on one message allow; only what still does not fit is counted, with
where to read them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .clean import oneline, trim, trim_words
from .digest import limit_groups, name_the_rest, rest_line
from .view import (
    TEST_SENTENCE,
    AttachmentView,
    GroupView,
    LetterView,
    Link,
    ReadMore,
    SignatoryView,
    View,
    attachments_label,
)

SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_CONTEXT_MAX = 2000
SLACK_TEXT_MAX = 3000  # the plain-text fallback
SLACK_MAX_BLOCKS = 50
SLACK_DIGEST_LETTERS = 10  # a Slack digest shows this many letters as cards, then names the rest
# All text of one message together (fallback and blocks): Slack refuses a message whose
# blocks hold more than about 12-13k characters (msg_blocks_too_long, not documented).
SLACK_MESSAGE_TEXT_MAX = 11_500
SLACK_DIGEST_SECTION_MAX = 900  # per letter in a full digest: well under Slack's ~12k total-text cap
SLACK_DIGEST_SUMMARY = 200
_SLACK_LINK = re.compile(r"<(https?://[^|>]+)\|([^>]*)>")
_MRKDWN = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    # No escape exists for these; a zero-width space on each side stops them pairing.
    "*": "\u200b*\u200b",
    "_": "\u200b_\u200b",
    "~": "\u200b~\u200b",
    "`": "\u200b`\u200b",
}


def mrkdwn(text: str, limit: int = SLACK_SECTION_MAX) -> str:
    """``text`` made inert for Slack mrkdwn, at most ``limit`` characters after escaping."""
    out: list[str] = []
    used = 0
    pieces = [_MRKDWN.get(ch, ch) for ch in text]
    if sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    for piece in pieces:
        if used + len(piece) > limit - 1:
            break
        out.append(piece)
        used += len(piece)
    return "".join(out) + "…"


def slack_link(url: str, label: str, limit: int = 1000) -> str:
    """``<url|label>`` for a URL already passed through :func:`safe_url`; plain label if too long."""
    shown = mrkdwn(label, 200).replace("|", "¦")
    target = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace("&", "&amp;")
    if len(target) + len(shown) + 3 > limit:
        return shown
    return f"<{target}|{shown}>"


def slack_payload(shape: View, read_more: ReadMore) -> dict[str, Any]:
    """The webhook payload: Block Kit blocks, and the plain text Slack shows in notifications."""
    blocks: list[dict[str, Any]] = [_header(shape.title)]
    if shape.mode == "test":  # the header says "Testbericht"; the sentence is said once, here
        blocks.append(_section(mrkdwn(shape.text, 2800) if shape.text else mrkdwn(TEST_SENTENCE)))
    elif shape.mode == "operator" and shape.text:
        blocks.append(_section(mrkdwn(shape.text)))
    if shape.mode == "single":
        blocks += _slack_single(shape.groups[0].letters[0])
    elif shape.mode == "followup":
        blocks += _slack_followup(shape.groups[0].letters[0], shape.followup)
    tail: list[dict[str, Any]] = []
    if shape.reasons:
        why = mrkdwn("Waarom u dit krijgt: " + "; ".join(shape.reasons), SLACK_CONTEXT_MAX)
        tail.append({"type": "context", "elements": [{"type": "mrkdwn", "text": why, "verbatim": True}]})
    fallback = _slack_fallback(shape.subject, shape)
    if shape.mode not in ("single", "followup") and shape.groups:
        room = SLACK_MESSAGE_TEXT_MAX - len(fallback) - _text_size(blocks + tail)
        blocks += _slack_digest(shape, read_more, room, SLACK_MAX_BLOCKS - len(blocks) - len(tail))
    return {
        "text": fallback,
        "blocks": (blocks + tail)[:SLACK_MAX_BLOCKS],
        "unfurl_links": False,
        "unfurl_media": False,
    }


def _header(text: str) -> dict[str, Any]:
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": trim(oneline(text) or "kamermonitor", SLACK_HEADER_MAX),
            "emoji": False,
        },
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_SECTION_MAX], "verbatim": True}}


def _context_block(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SLACK_CONTEXT_MAX], "verbatim": True}]}


def _fit(lines: Iterable[str], limit: int) -> str:
    """Join lines, dropping whole trailing lines that would not fit (never cutting a link)."""
    out: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > limit:
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _slack_links(links: Iterable[Link]) -> str:
    return " · ".join(slack_link(link.url, link.label, 700) for link in links)


def _slack_attachment(a: AttachmentView, limit: int = 600) -> str:
    return slack_link(a.url, a.title, limit) if a.url else mrkdwn(a.title, 300)


def _slack_signer(s: SignatoryView) -> str:
    name = f"*{mrkdwn(s.name, 200)}*" if s.name else ""
    return ", ".join(part for part in (name, mrkdwn(s.office, 300)) if part)


def _slack_list(title: str, items: Iterable[str]) -> dict[str, Any] | None:
    lines = [f"*{title}*", *(f"• {item}" for item in items)]
    return _section(_fit(lines, SLACK_SECTION_MAX)) if len(lines) > 1 else None


def _slack_single(view: LetterView) -> list[dict[str, Any]]:
    reference = mrkdwn(view.reference, 200)
    if view.main_url:
        reference = slack_link(view.main_url, view.reference, 900)
    lines = [f"*Nummer:* {reference}", *(f"*{name}:* {mrkdwn(value, budget)}" for name, value, budget in view.facts)]
    blocks = [_section(_fit(lines, SLACK_SECTION_MAX))]
    if view.summary:
        blocks.append(_section("*Samenvatting*\n" + mrkdwn(view.summary, 2000)))
    for block in (
        _slack_list("Ondertekend door", map(_slack_signer, view.signers)),
        _slack_list("Bijlagen", (_slack_attachment(a) for a in view.attachments)),
    ):
        if block is not None:
            blocks.append(block)
    if view.links:
        blocks.append(_section(_fit([_slack_links(view.links)], SLACK_SECTION_MAX) or "(links te lang)"))
    return blocks


def _slack_followup(view: LetterView, kind: str) -> list[dict[str, Any]]:
    """Short: what is new (the publication's links, or the bijlagen), which letter, and for a
    publication the summary (read from it, so possibly not in the first alert)."""
    about = " · ".join(mrkdwn(x, 400) for x in (view.heading, view.date, view.sender) if x)
    reference = mrkdwn(view.reference, 200)
    blocks: list[dict[str, Any]] = []
    if kind == "published":
        lines = [
            f"Nu gepubliceerd als *{mrkdwn(view.citation, 200)}*" if view.citation else "Nu officieel gepubliceerd"
        ]
        if view.publication:
            lines.append(_slack_links(view.publication))
        blocks.append(_section(_fit(lines, SLACK_SECTION_MAX)))
    else:
        title = (attachments_label(view) + " " if kind == "attachments" else "Nieuws over ") + reference
        items = map(_slack_attachment, view.attachments) if kind == "attachments" else iter(())
        blocks.append(_slack_list(title, items) or _section(f"*{title}*"))
    blocks.append(_context_block(about or reference))
    if kind == "published" and view.summary_short:
        blocks.append(_section(mrkdwn(view.summary_short, 1000)))
    elif kind != "published" and (view.publication or view.links):
        blocks.append(_section(_slack_links((view.publication or view.links)[:1])))
    return blocks


def _slack_digest_letter(view: LetterView, limit: int) -> dict[str, Any]:
    ref = slack_link(view.main_url, view.reference, 500) if view.main_url else mrkdwn(view.reference)
    meta = " · ".join(mrkdwn(x, 100) for x in (view.kind, view.date) if x)
    lines = [f"*{ref}*" + (f" · {meta}" if meta else ""), mrkdwn(view.subject or view.heading, 400)]
    if view.sender:
        lines.append("Van: " + mrkdwn(view.sender, 300))
    if view.summary:
        lines.append(mrkdwn(trim_words(view.summary, SLACK_DIGEST_SUMMARY), 400))
    if view.signers:  # names only: the offices are in the e-mail and the letter
        lines.append("Ondertekend: " + mrkdwn("; ".join(x.name or x.office for x in view.signers), 400))
    if view.attachments:
        lines.append("Bijlagen: " + " · ".join(_slack_attachment(a, 300) for a in view.attachments[:5]))
    if view.card_links:
        lines.append(" · ".join(slack_link(link.url, link.label, 300) for link in view.card_links))
    return _section(_fit(lines, limit))  # whole trailing lines go first when it is too long


def _slack_digest(shape: View, read_more: ReadMore, room: int, block_room: int) -> list[dict[str, Any]]:
    """Ten cards, then one line for each other letter while the message has room.

    ``room`` is the text (characters) and ``block_room`` the blocks this part may use; the
    letters that still do not fit are counted per dossier, with where to read them all.
    """
    # Ten cards in all, shared between the dossiers so that one busy dossier cannot hide the rest.
    per_dossier = max(SLACK_DIGEST_LETTERS // max(len(shape.groups), 1), 3)
    cards, left_out = limit_groups(shape.groups, per_dossier, SLACK_DIGEST_LETTERS)

    def render(named: int) -> list[dict[str, Any]]:
        return _slack_digest_blocks(shape, read_more, *name_the_rest(shape.groups, cards, left_out, named))

    def fits(blocks: list[dict[str, Any]]) -> bool:
        return _text_size(blocks) <= room and len(blocks) <= block_room

    # The most letters that fit, found by halving: a line is 100-400 characters, so no guess is safe.
    low, high = 0, sum(len(g.letters) for g in shape.groups) - sum(len(g.letters) for g in cards)
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(render(middle)) else (low, middle - 1)
    return render(low)


def _slack_digest_blocks(
    shape: View, read_more: ReadMore, shown: list[GroupView], rest: list[GroupView]
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    # Fewer cards may take more room each; ten take SLACK_DIGEST_SECTION_MAX each.
    count = sum(len(g.letters) for g in shown)
    limit = max(SLACK_DIGEST_SECTION_MAX, min(2 * SLACK_DIGEST_SECTION_MAX, 9000 // max(count, 1)))
    for group in shown:
        blocks.append(_section("*" + mrkdwn(group.label, 300) + "*"))
        blocks += [_slack_digest_letter(view, limit) for view in group.letters]
        blocks += [_section(text) for text in _chunks(map(_slack_named_line, group.named), SLACK_SECTION_MAX)]
        if group.more:
            where = f" in dossier {mrkdwn(group.key, 40)}" if group.key else ""
            link = f": {slack_link(group.url, 'alle stukken', 300)}" if group.url else ""
            blocks.append(_section(f"… en {group.more} meer{where}{link}"))
    if rest:
        line = rest_line(rest, lambda g: slack_link(g.url, g.key, 200) if g.url else mrkdwn(g.label, 200))
        blocks.append(_section(_fit([line.strip()], SLACK_SECTION_MAX) or f"… en {sum(g.more for g in rest)} meer"))
    if rest or any(g.more for g in shown):
        # Slack has no room for them all; the rest are named where the reader can read them all.
        where = slack_link(read_more.url, read_more.text, 900) if read_more.url else _slack_code(read_more.text)
        blocks.append(_context_block(f"Alle {shape.count} brieven: {where}"))
    return blocks


def _slack_named_line(view: LetterView) -> str:
    """``• Brief regering: … (Kamerstuk 26643, nr. 1410, 21 juni 2025)``, the reference linked."""
    ref = slack_link(view.main_url, view.reference, 400) if view.main_url else mrkdwn(view.reference, 200)
    date = f", {mrkdwn(view.date, 60)}" if view.date else ""
    return f"• {mrkdwn(view.heading, 300)} ({ref}{date})"


def _chunks(lines: Iterable[str], limit: int) -> list[str]:
    """Whole lines joined into texts of at most ``limit`` characters each."""
    out: list[str] = []
    for line in lines:
        if out and len(out[-1]) + 1 + len(line) <= limit:
            out[-1] += "\n" + line
        else:
            out.append(line[:limit])
    return out


def _text_size(blocks: Iterable[dict[str, Any]]) -> int:
    """The characters of text in ``blocks``, as Slack counts them against a message's limit."""
    size = 0
    for block in blocks:
        if "text" in block:
            size += len(block["text"]["text"])
        size += sum(len(e.get("text", "")) for e in block.get("elements", []))
    return size


def _slack_code(text: str) -> str:
    """``text`` as inline code, to be copied as it is (no zero-width fences inside)."""
    if "`" in text:
        return mrkdwn(text, 500)
    return "`" + trim(text, 500).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "`"


def _slack_fallback(subject: str, shape: View) -> str:
    lines = [subject]
    if shape.mode in ("single", "followup"):
        view = shape.groups[0].letters[0]
        lines.append(" · ".join(x for x in (view.reference, view.date, view.sender) if x))
        if shape.mode == "single" and view.summary:
            lines.append(trim_words(view.summary, SLACK_DIGEST_SUMMARY))
    elif shape.text:
        lines.append(shape.text)
    else:
        views = [v for g in shape.groups for v in g.letters]
        lines += [f"- {v.heading} ({v.reference})" for v in views[:SLACK_DIGEST_LETTERS]]
    return mrkdwn("\n".join(line for line in lines if line), SLACK_TEXT_MAX)


# --------------------------------------------------------------------------- reading it back (preview)


def slack_outline(payload: dict[str, Any], width: int = 160) -> list[str]:
    """Blocks as short readable lines: ``[section] Nummer: Kamerstuk 26643, nr. 1384 <https://…>``."""
    lines = []
    for block in payload.get("blocks", []):
        kind = str(block.get("type", "?"))
        texts = [block["text"]["text"]] if "text" in block else [e.get("text", "") for e in block.get("elements", [])]
        body = [slack_plain(line) for text in texts for line in str(text).split("\n") if line.strip()] or [""]
        prefix = f"  [{kind}] "
        lines.append(_cut(prefix + body[0], width))
        lines += [_cut(" " * len(prefix) + line, width) for line in body[1:]]
    return lines


def slack_plain(mrkdwn: str) -> str:
    """mrkdwn as plain text: links as ``label <url>``, escapes and zero-width fences undone."""
    text = _SLACK_LINK.sub(lambda m: f"{m[2]} <{m[1]}>", mrkdwn).replace("\u200b", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _cut(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"
