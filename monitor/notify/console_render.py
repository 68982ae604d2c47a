"""The console's rendering of a message: a few plain lines per letter, for a terminal or a log."""

from __future__ import annotations

from .clean import trim, trim_words
from .digest import EMAIL_DIGEST_LETTERS, limit_groups, rest_line
from .view import TEST_SENTENCE, LetterView, ReadMore, View

CONSOLE_SUMMARY = 160
CONSOLE_DIGEST_PER_DOSSIER = 50  # two or three lines a letter: the console can list more than an e-mail


def console_text(shape: View, read_more: ReadMore) -> str:
    """Compact: subject line, number and date, sender, a one-line summary, the main link, why."""
    lines = [shape.subject]
    if shape.text:
        lines += ["  " + line for line in shape.text.split("\n")]
    elif shape.mode == "test":
        lines.append("  " + TEST_SENTENCE)
    if shape.mode in ("single", "followup"):
        lines += _console_letter(shape.groups[0].letters[0], shape.followup)
    elif shape.groups:
        shown, rest = limit_groups(shape.groups, CONSOLE_DIGEST_PER_DOSSIER, EMAIL_DIGEST_LETTERS)
        for group in shown:
            lines.append(f"  {group.label}")
            for view in group.letters:
                meta = " · ".join(x for x in (view.reference, view.date, trim(view.sender, 80)) if x)
                lines.append(f"  - {view.heading} ({meta})")
                if view.summary:
                    lines.append("    " + trim_words(view.summary, CONSOLE_SUMMARY))
                if view.main_url:
                    lines.append(f"    {view.main_url}")
            if group.more:
                lines.append(f"  … en {group.more} meer" + (f": {group.url}" if group.url else ""))
        if rest:
            lines.append(rest_line(rest, lambda g: g.url or g.label))
        if rest or any(g.more for g in shown):
            where = read_more
            lines.append(f"  Alle brieven: {where.url or where.text}")
    if shape.reasons:
        lines.append("  Waarom: " + "; ".join(shape.reasons))
    return "\n".join(lines)


def _console_letter(view: LetterView, followup: str) -> list[str]:
    lines = []
    if followup == "published":
        lines += [f"  {link.label}: {link.url}" for link in view.publication] or [f"  {view.reference}"]
        return lines
    lines.append("  " + " · ".join(x for x in (view.reference, view.date) if x))
    if view.sender:
        lines.append(f"  Van: {trim(view.sender, 200)}")
    if followup == "attachments":
        for a in view.attachments:
            lines.append(f"  - {a.title}" + (f": {a.url}" if a.url else ""))
        return lines
    if view.summary:
        lines.append("  " + trim_words(view.summary, CONSOLE_SUMMARY))
    if view.main_url:
        lines.append(f"  {view.main_url}")
    return lines
