"""Turn an :class:`~monitor.models.Alert` into what each medium shows.

Every string that comes from a source (subjects, titles, senders, URLs, reasons,
operator text) is untrusted.  It is made safe once, here, per medium:

* one-line fields lose control characters (newlines, ESC, bidi overrides) and are
  trimmed, so nothing can break a mail header or a terminal;
* HTML goes through Jinja2 with autoescape on;
* Slack mrkdwn gets ``&``, ``<``, ``>`` escaped and its formatting characters
  (``*_~```) fenced with zero-width spaces so they cannot pair up;
* a link is only rendered when its scheme is http or https.

Labels are Dutch, for Dutch policy staff ("Dossier", "Datum", "Onderwerp").
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2

from ..models import SUMMARY_MAX, Alert, DossierRef, Letter

MONTHS = (
    "januari",
    "februari",
    "maart",
    "april",
    "mei",
    "juni",
    "juli",
    "augustus",
    "september",
    "oktober",
    "november",
    "december",
)

SUBJECT_MAX = 200  # e-mail Subject, characters
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_CONTEXT_MAX = 2000
SLACK_TEXT_MAX = 3000  # the plain-text fallback
SLACK_MAX_BLOCKS = 50
SLACK_DIGEST_LETTERS = 10  # a Slack digest shows this many letters, then "en N meer"
SLACK_DIGEST_SECTION_MAX = 900  # keeps a full digest well under Slack's total-text cap
SLACK_DIGEST_SUMMARY = 200
EMAIL_DIGEST_LETTERS = 200  # in all, over every dossier
DIGEST_PER_DOSSIER = 10  # then "… en N meer in dossier 26643" with a link to the dossier page
DIGEST_REST_DOSSIERS = 50  # dossiers listed (with a link) after the letters run out
SUMMARY_SHORT = 280  # a letter's summary in digests and follow-ups
CONSOLE_SUMMARY = 160
ATTACHMENTS_MAX = 30
DOSSIER_PAGE = "https://zoek.officielebekendmakingen.nl/dossier/"

# C0/C1 controls (includes \t \n \r ESC), line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Zero-width and bidi-override characters: invisible, and able to disguise text.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_SPACES = re.compile(r"\s+")
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


# --------------------------------------------------------------------------- text helpers


def trim(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def oneline(text: str | None, limit: int = 1000) -> str:
    """A single line: no control or invisible characters, runs of whitespace collapsed."""
    if not text:
        return ""
    text = _INVISIBLE.sub("", _CONTROL.sub(" ", text))
    return trim(_SPACES.sub(" ", text).strip(), limit)


def multiline(text: str | None, limit: int = 4000) -> str:
    """Free text that keeps its line breaks (operator messages) but nothing else invisible."""
    if not text:
        return ""
    lines = [oneline(line, limit) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    joined = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    return trim(joined, limit)


def format_date(value: date | None) -> str:
    """``27 juni 2025``."""
    if value is None:
        return ""
    return f"{value.day} {MONTHS[value.month - 1]} {value.year}"


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL, percent-encoded where needed; else None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > 2000 or _CONTROL.search(url) or _INVISIBLE.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    # Encodes space " < > \ ^ ` { | } and non-ASCII; keeps existing %XX escapes.
    return quote(url, safe="/:?#[]@!$&'()*+,;=%")


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


# --------------------------------------------------------------------------- view model


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str  # http(s) only, percent-encoded


@dataclass(frozen=True, slots=True)
class AttachmentView:
    title: str
    url: str | None  # http(s) only; None: shown as plain text


@dataclass(frozen=True, slots=True)
class LetterView:
    """One letter with every field already cleaned for display."""

    heading: str  # "Brief regering: Indiening voorstel AI-fabriek Groningen"
    reference: str  # "Kamerstuk 26643, nr. 1384", else the TK DocumentNummer
    dossier_key: str  # "26643" or "" (used for grouping)
    dossier: str  # "26643 Informatie- en communicatietechnologie (ICT)"
    kind: str
    date: str  # "27 juni 2025"
    subject: str
    senders: tuple[str, ...]  # the sender office from the letter, else the indieners
    document_nummer: str
    links: tuple[Link, ...]
    main_url: str | None
    date_line: str = ""  # "Den Haag, 27 juni 2025" as the letter says it, else ``date``
    summary: str = ""  # at most SUMMARY_MAX characters
    summary_short: str = ""  # for digests and follow-ups
    signatories: tuple[str, ...] = ()  # "Vincent Karremans, Minister van Economische Zaken"
    attachments: tuple[AttachmentView, ...] = ()
    publication: tuple[Link, ...] = ()  # the official publication: HTML page, PDF

    @property
    def sender(self) -> str:
        return "; ".join(self.senders)


@dataclass(frozen=True, slots=True)
class GroupView:
    label: str  # dossier number and title, or "Zonder dossier"
    letters: tuple[LetterView, ...]  # the letters shown
    key: str = ""  # "26643", "" without a dossier
    url: str | None = None  # the dossier page on officiële bekendmakingen
    more: int = 0  # letters of this dossier not shown


def dossier_page(dossier: DossierRef | str) -> str | None:
    """``https://zoek.officielebekendmakingen.nl/dossier/26643``: every publication in the dossier."""
    return safe_url(DOSSIER_PAGE + quote(oneline(str(dossier), 40), safe="-"))


def trim_words(text: str, limit: int) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters, ending in an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[: max(limit - 1, 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def _dossier_label(letter: Letter) -> str:
    numbers = ", ".join(oneline(str(d), 40) for d in letter.dossiers[:5])
    if len(letter.dossiers) > 5:
        numbers += ", …"
    title = oneline(letter.dossier_title, 300)
    return " ".join(part for part in (numbers, title) if part)


def _signatory(name: str | None, office: str | None) -> str:
    return ", ".join(part for part in (oneline(name, 200), oneline(office, 300)) if part)


def letter_view(letter: Letter) -> LetterView:
    details = letter.details
    kind = oneline(letter.kind, 80)
    subject = oneline(letter.subject or (details.subject if details else None), 1000)
    nummer = oneline(letter.document_nummer, 40)
    reference = oneline(letter.citation, 200) or nummer or f"document {letter.id}"
    heading = f"{kind}: {subject}" if kind and subject else subject or (f"{kind} ({reference})" if kind else reference)
    links = [
        Link(label, url)
        for label, url in (
            ("Tweede Kamer", safe_url(letter.tk_url)),
            ("Officiële bekendmakingen", safe_url(letter.ob_html_url)),
            ("PDF", safe_url(letter.ob_pdf_url)),
            ("Document (Tweede Kamer)", safe_url(letter.tk_file_url)),
        )
        if url
    ]
    office = oneline(details.sender_office, 300) if details else ""
    senders = (office,) if office else tuple(s for s in (oneline(x, 200) for x in letter.senders[:10]) if s)
    day = format_date(letter.date or (details.letter_date if details else None))
    summary = oneline(details.summary, SUMMARY_MAX) if details else ""
    signatories = tuple(s for s in (_signatory(x.name, x.office) for x in (details.signatories[:12] if details else ())) if s)
    attachments = tuple(
        AttachmentView(oneline(a.title, 300) or "Bijlage", safe_url(a.url)) for a in letter.attachments[:ATTACHMENTS_MAX]
    )
    return LetterView(
        heading=trim(heading, 1100),
        reference=reference,
        dossier_key=str(letter.dossiers[0]) if letter.dossiers else "",
        dossier=_dossier_label(letter),
        kind=kind,
        date=day,
        subject=subject,
        senders=senders,
        document_nummer=nummer,
        links=tuple(links),
        main_url=links[0].url if links else None,
        date_line=(oneline(details.place_date_line, 200) if details else "") or day,
        summary=summary,
        summary_short=trim_words(summary, SUMMARY_SHORT),
        signatories=signatories,
        attachments=attachments,
        publication=tuple(link for link in links if link.label in ("Officiële bekendmakingen", "PDF")),
    )


def _newest_first(letters: Iterable[Letter]) -> list[Letter]:
    def key(letter: Letter) -> tuple[date, datetime, int]:
        seen = letter.first_seen.replace(tzinfo=None) if letter.first_seen else datetime.min
        return (letter.date or date.min, seen, letter.id)

    return sorted(letters, key=key, reverse=True)


def group_letters(letters: Iterable[Letter]) -> list[GroupView]:
    """Letters grouped by (first) dossier, newest first within and across groups."""
    groups: dict[str, list[Letter]] = {}
    for letter in _newest_first(letters):
        groups.setdefault(str(letter.dossiers[0]) if letter.dossiers else "", []).append(letter)
    result = []
    for key, members in groups.items():
        label = next((_dossier_label(m) for m in members if m.dossier_title), "") or key or "Zonder dossier"
        url = dossier_page(members[0].dossiers[0]) if key else None
        result.append(GroupView(label, tuple(letter_view(m) for m in members), key, url))
    return result


def limit_groups(groups: Sequence[GroupView], per_group: int, total: int) -> tuple[list[GroupView], list[GroupView]]:
    """(groups shown, groups left out): at most ``per_group`` letters per dossier, ``total`` in all.

    A shown group's ``more`` counts its letters left out; a left-out group has no
    letters and ``more`` counts them all.
    """
    shown: list[GroupView] = []
    rest: list[GroupView] = []
    left = total
    for group in groups:
        take = min(per_group, left, len(group.letters))
        if take <= 0:
            rest.append(dataclasses.replace(group, letters=(), more=len(group.letters)))
            continue
        shown.append(dataclasses.replace(group, letters=group.letters[:take], more=len(group.letters) - take))
        left -= take
    return shown, rest


def thread_dossier(alert: Alert) -> DossierRef | None:
    """The one dossier a "new" or "followup" alert is about (for mail threading), else None."""
    if alert.event not in ("new", "followup") or not alert.letters:
        return None
    firsts = {letter.dossiers[0] if letter.dossiers else None for letter in alert.letters}
    if len(firsts) != 1:
        return None
    return firsts.pop()


def _plural(n: int) -> str:
    return "1 nieuwe brief" if n == 1 else f"{n} nieuwe brieven"


def _first_line(text: str | None) -> str:
    for line in (text or "").replace("\r", "\n").split("\n"):
        if line.strip():
            return oneline(line)
    return ""


@dataclass(frozen=True, slots=True)
class _Shape:
    """What an alert is, decided once for every medium."""

    mode: str  # "single" | "digest" | "followup" | "test" | "operator"
    title: str  # the header/intro line, without the "[…]" tag
    tag: str  # "26643" or "kamermonitor"
    groups: tuple[GroupView, ...]
    count: int
    reasons: tuple[str, ...]
    text: str
    followup: str = ""  # "published" | "attachments" for mode "followup"


def _followup_title(kind: str, view: LetterView) -> str:
    about = view.subject or view.heading
    if kind == "published":
        has_citation = view.reference.startswith("Kamerstuk")
        return f"Gepubliceerd: {view.reference} — {about}" if has_citation else f"Gepubliceerd: {about}"
    if kind == "attachments":
        return f"Bijlagen bij: {about}"
    return f"Nieuws over: {about}"


def _shape(alert: Alert) -> _Shape:
    groups = tuple(group_letters(alert.letters))
    count = len(alert.letters)
    dossier = thread_dossier(alert)
    tag = oneline(str(dossier), 40) if dossier else "kamermonitor"
    reasons = tuple(dict.fromkeys(r for r in (oneline(x, 300) for x in alert.reasons[:10]) if r))
    if not reasons and alert.event == "new":
        keys = [g.letters[0].dossier_key for g in groups if g.letters[0].dossier_key]
        reasons = tuple(f"dossier {k}" for k in keys[:10])
    text = multiline(alert.text)
    if alert.event == "test":
        first = _first_line(alert.text)
        title = f"Testbericht: {first}" if first else "Testbericht"
        return _Shape("test", title, "kamermonitor", groups, count, reasons, text)
    if alert.event == "followup" and alert.letters:
        kind = oneline(alert.text, 40)
        group = group_letters(alert.letters[:1])[0]
        reasons = reasons or ("u kreeg eerder een melding over deze brief",)
        return _Shape("followup", _followup_title(kind, group.letters[0]), tag, (group,), 1, reasons, "", kind)
    if alert.event != "new":
        title = _first_line(alert.text) or "Melding van kamermonitor"
        return _Shape("operator", title, "kamermonitor", groups, count, reasons, text)
    if count == 1:
        return _Shape("single", groups[0].letters[0].heading, tag, groups, count, reasons, text)
    where = f" in dossier {tag}" if dossier else (f" in {len(groups)} dossiers" if len(groups) > 1 else "")
    return _Shape("digest", _plural(count) + where, tag, groups, count, reasons, text)


# --------------------------------------------------------------------------- renderer


class Renderer:
    """Holds the Jinja environment: operator templates first, then the packaged ones."""

    def __init__(self, template_dir: Path | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if template_dir is not None:
            if not Path(template_dir).is_dir():
                raise ValueError(f"template directory does not exist: {template_dir}")
            loaders.append(jinja2.FileSystemLoader(str(template_dir)))
        loaders.append(jinja2.PackageLoader("monitor", "templates"))
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html", "htm", "xml", "html.j2"), default_for_string=True, default=False
            ),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    # ------------------------------------------------------------------ e-mail

    def email_subject(self, alert: Alert) -> str:
        shape = _shape(alert)
        if shape.mode == "digest":
            title = _plural(shape.count) if shape.tag != "kamermonitor" else shape.title
        else:
            title = shape.title
        return trim(oneline(f"[{shape.tag}] {title}", SUBJECT_MAX * 2), SUBJECT_MAX)

    def _context(self, alert: Alert, max_letters: int) -> dict[str, Any]:
        shape = _shape(alert)
        shown: list[GroupView] = []
        left = max_letters
        for group in shape.groups:
            if left <= 0:
                break
            shown.append(GroupView(group.label, group.letters[:left]))
            left -= len(shown[-1].letters)
        return {
            "mode": shape.mode,
            "title": shape.title,
            "tag": shape.tag,
            "count": shape.count,
            "groups": shown,
            "letters": [v for g in shown for v in g.letters],
            "more": shape.count - (max_letters - left) if shape.count > max_letters else 0,
            "reasons": shape.reasons,
            "text": shape.text,
        }

    def email_text(self, alert: Alert) -> str:
        body = self.env.get_template("alert.txt.j2").render(self._context(alert, EMAIL_DIGEST_LETTERS))
        # Strip trailing blanks (except the "-- " signature separator) and runs of empty lines.
        lines = [line if line == "-- " else line.rstrip() for line in body.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"

    def email_html(self, alert: Alert) -> str:
        return self.env.get_template("alert.html.j2").render(self._context(alert, EMAIL_DIGEST_LETTERS))

    # ------------------------------------------------------------------ console

    def console_text(self, alert: Alert) -> str:
        shape = _shape(alert)
        lines = [self.email_subject(alert)]
        if shape.text:
            lines += ["  " + line for line in shape.text.split("\n")]
        for group in shape.groups:
            if shape.mode != "single":
                lines.append(f"  {group.label}")
            for view in group.letters:
                meta = " · ".join(x for x in (view.reference, view.date) if x)
                if shape.mode == "single":
                    lines.append(f"  {meta}")
                else:
                    lines.append(f"  - {view.heading} ({meta})")
                if view.main_url:
                    lines.append(f"    {view.main_url}")
        if shape.reasons:
            lines.append("  Waarom: " + "; ".join(shape.reasons))
        return "\n".join(lines)

    # ------------------------------------------------------------------ Slack

    def slack_payload(self, alert: Alert) -> dict[str, Any]:
        shape = _shape(alert)
        blocks: list[dict[str, Any]] = [_header(shape.title)]
        if shape.mode == "test":
            intro = "Dit is een testbericht van kamermonitor: meldingen komen in dit kanaal aan."
            blocks.append(_section(mrkdwn(intro) + ("\n" + mrkdwn(shape.text, 2800) if shape.text else "")))
        elif shape.mode == "operator" and shape.text:
            blocks.append(_section(mrkdwn(shape.text)))
        if shape.mode == "single":
            blocks += _slack_single(shape.groups[0].letters[0])
        elif shape.groups:
            blocks += _slack_digest(shape)
        if shape.reasons:
            why = mrkdwn("Waarom u dit krijgt: " + "; ".join(shape.reasons), SLACK_CONTEXT_MAX)
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": why, "verbatim": True}]})
        return {
            "text": _slack_fallback(self.email_subject(alert), shape),
            "blocks": blocks[:SLACK_MAX_BLOCKS],
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


def _slack_links(view: LetterView) -> str:
    return " · ".join(slack_link(link.url, link.label, 700) for link in view.links)


def _slack_single(view: LetterView) -> list[dict[str, Any]]:
    reference = mrkdwn(view.reference, 200)
    if view.main_url:
        reference = slack_link(view.main_url, view.reference, 900)
    lines = [f"*Nummer:* {reference}"]
    for name, value, budget in (
        ("Dossier", view.dossier, 700),
        ("Soort", view.kind, 200),
        ("Datum", view.date, 100),
        ("Onderwerp", view.subject, 1000),
        ("Afzender", "; ".join(view.senders), 600),
    ):
        if value:
            lines.append(f"*{name}:* {mrkdwn(value, budget)}")
    blocks = [_section(_fit(lines, SLACK_SECTION_MAX))]
    if view.links:
        blocks.append(_section(_fit([_slack_links(view)], SLACK_SECTION_MAX) or "(links te lang)"))
    return blocks


def _slack_digest(shape: _Shape) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    shown = 0
    for group in shape.groups:
        if shown >= SLACK_DIGEST_LETTERS:
            break
        blocks.append(_section("*" + mrkdwn(group.label, 500) + "*"))
        for view in group.letters[: SLACK_DIGEST_LETTERS - shown]:
            ref = slack_link(view.main_url, view.reference, 500) if view.main_url else mrkdwn(view.reference)
            meta = " · ".join(mrkdwn(x, 100) for x in (view.kind, view.date) if x)
            lines = [f"*{ref}*" + (f" · {meta}" if meta else ""), mrkdwn(view.subject or view.heading, 400)]
            if len(view.links) > 1:
                lines.append(" · ".join(slack_link(link.url, link.label, 300) for link in view.links[1:]))
            blocks.append(_section(_fit(lines, SLACK_DIGEST_SECTION_MAX)))
            shown += 1
    if shape.count > shown:
        blocks.append(_section(f"… en {shape.count - shown} meer"))
    return blocks


def _slack_fallback(subject: str, shape: _Shape) -> str:
    lines = [subject]
    if shape.mode == "single":
        view = shape.groups[0].letters[0]
        lines.append(" · ".join(x for x in (view.reference, view.date) if x))
    elif shape.text:
        lines.append(shape.text)
    else:
        views = [v for g in shape.groups for v in g.letters]
        lines += [f"- {v.heading} ({v.reference})" for v in views[:SLACK_DIGEST_LETTERS]]
    return mrkdwn("\n".join(line for line in lines if line), SLACK_TEXT_MAX)


# --------------------------------------------------------------------------- module-level API


@functools.lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    return Renderer()


def email_subject(alert: Alert) -> str:
    return default_renderer().email_subject(alert)


def email_text(alert: Alert) -> str:
    return default_renderer().email_text(alert)


def email_html(alert: Alert) -> str:
    return default_renderer().email_html(alert)


def slack_payload(alert: Alert) -> dict[str, Any]:
    return default_renderer().slack_payload(alert)


def console_text(alert: Alert) -> str:
    return default_renderer().console_text(alert)
