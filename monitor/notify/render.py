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

What an alert is gets decided once (:func:`_shape`): one new letter ("single": sender,
date line, subject, summary, signatories, attachments, links), several ("digest": per
dossier, newest first, at most ``DIGEST_PER_DOSSIER`` each and then a link to the dossier
page), a follow-up about a letter already alerted ("followup": now published, or its
bijlagen appeared; short, and in the dossier's e-mail thread), a test or an operator
message.  Every message about one dossier has the subject stem ``[26643]``.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..models import SUMMARY_MAX, Alert, DossierRef, Letter, kamerstuk_citation

if TYPE_CHECKING:
    import jinja2

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
SLACK_DIGEST_SECTION_MAX = 900  # per letter in a full digest: well under Slack's ~12k total-text cap
SLACK_DIGEST_SUMMARY = 200
EMAIL_DIGEST_LETTERS = 200  # in all, over every dossier
DIGEST_PER_DOSSIER = 10  # then "… en N meer in dossier 26643" with a link to the dossier page
DIGEST_REST_DOSSIERS = 50  # dossiers listed (with a link) after the letters run out
SUMMARY_SHORT = 280  # a letter's summary in digests and follow-ups
CONSOLE_SUMMARY = 160
CONSOLE_DIGEST_PER_DOSSIER = 50  # two or three lines a letter: the console can list more than an e-mail
ATTACHMENTS_MAX = 30
DOSSIER_PAGE = "https://zoek.officielebekendmakingen.nl/dossier/"
EMAIL_DIGEST_NAMED = 1000  # letters named in compact lines after the cards; past that, where to read them
TK_NUMBER_LABEL = "Tweede Kamer-nummer"  # "Tweede Kamer-nummer 2025D29876" until it is a Kamerstuk
TK_LINKS = ("Tweede Kamer", "Document (Tweede Kamer)")

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
class SignatoryView:
    name: str  # either part may be empty
    office: str

    def __str__(self) -> str:
        return ", ".join(part for part in (self.name, self.office) if part)


@dataclass(frozen=True, slots=True)
class LetterView:
    """One letter with every field already cleaned for display."""

    heading: str  # "Brief regering: Indiening voorstel AI-fabriek Groningen"
    reference: str  # "Kamerstuk 26643, nr. 1384", else "Tweede Kamer-nummer 2025D29876"
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
    signers: tuple[SignatoryView, ...] = ()  # the same, name and office apart
    citation: str = ""  # "Kamerstuk 26643, nr. 1384" once numbered, else ""
    attachments: tuple[AttachmentView, ...] = ()
    publication: tuple[Link, ...] = ()  # the official publication: HTML page, PDF

    @property
    def sender(self) -> str:
        return "; ".join(self.senders)

    @property
    def card_links(self) -> tuple[Link, ...]:
        """A digest card's links: the official publication once there is one; before that the
        Tweede Kamer's page and file.  Without ``main_url``, which the card's heading links to."""
        links = self.publication or tuple(x for x in self.links if x.label in TK_LINKS)
        return tuple(x for x in links if x.url != self.main_url)


@dataclass(frozen=True, slots=True)
class GroupView:
    label: str  # dossier number and title, or "Zonder dossier"
    letters: tuple[LetterView, ...]  # the letters shown
    key: str = ""  # "26643", "" without a dossier
    url: str | None = None  # the dossier page on officiële bekendmakingen
    more: int = 0  # letters of this dossier not shown (neither as a card nor named)
    named: tuple[LetterView, ...] = ()  # e-mail digests: letters past the cards, one compact line each


@dataclass(frozen=True, slots=True)
class ReadMore:
    """Where a reader finds the letters a message could not name: a page, or a command."""

    text: str  # "kamermonitor list --watch ict --limit 40", or the page's label
    url: str | None = None


# watch name → the URL of that watch's page (or feed) on the web surface, when there is one
WatchUrl = Callable[[str], str | None]


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


def letter_view(letter: Letter) -> LetterView:
    details = letter.details
    kind = oneline(letter.kind, 80)
    subject = oneline(letter.subject or (details.subject if details else None), 1000)
    nummer = oneline(letter.document_nummer, 40)
    # A TK file in Kamerstuk layout names the number ("Nr. 1336") before TK's metadata may.
    number = letter.number or (details.number if details else None)
    citation = oneline(kamerstuk_citation([str(d) for d in letter.dossiers], number), 200)
    # Readers know letters by Kamerstuk number; before it has one, say whose number this is.
    reference = citation or (f"{TK_NUMBER_LABEL} {nummer}" if nummer else f"document {letter.id}")
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
    signed = details.signatories[:12] if details else ()
    signers = tuple(v for v in (SignatoryView(oneline(x.name, 200), oneline(x.office, 300)) for x in signed) if str(v))
    attachments = tuple(
        AttachmentView(oneline(a.title, 300) or "Bijlage", safe_url(a.url))
        for a in letter.attachments[:ATTACHMENTS_MAX]
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
        signatories=tuple(str(v) for v in signers),
        signers=signers,
        citation=citation,
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


def name_the_rest(
    groups: Sequence[GroupView], shown: Sequence[GroupView], rest: Sequence[GroupView], budget: int
) -> tuple[list[GroupView], list[GroupView]]:
    """After :func:`limit_groups`: name the letters left out, in compact lines, up to ``budget``.

    A dossier left without any card joins the shown groups when a line for it fits; what
    still does not fit stays counted in ``more`` (and in ``rest`` for whole dossiers).
    """
    full = {g.key: g for g in groups}
    named: list[GroupView] = []
    unnamed: list[GroupView] = []
    for group in [*shown, *rest]:
        extra = full[group.key].letters[len(group.letters) :]
        take = extra[: max(budget, 0)]
        budget -= len(take)
        updated = dataclasses.replace(group, named=take, more=len(extra) - len(take))
        (named if updated.letters or updated.named else unnamed).append(updated)
    return named, unnamed


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


# What a test message says, once, under its "Testbericht" heading (Slack and console).
TEST_SENTENCE = "Dit is een testbericht van kamermonitor: meldingen komen in dit kanaal aan."


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
        return f"Gepubliceerd: {view.citation} — {about}" if view.citation else f"Gepubliceerd: {about}"
    if kind == "attachments":
        return f"{_attachments_label(view)}: {about}"
    return f"Nieuws over: {about}"


def _attachments_label(view: LetterView) -> str:
    """``Bijlage bij`` for one attachment announced, ``Bijlagen bij`` for several."""
    return "Bijlage bij" if len(view.attachments) == 1 else "Bijlagen bij"


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
    """Holds the Jinja environment: operator templates first, then the packaged ones.

    The environment (and Jinja itself) is loaded on first use: ``status`` builds the
    channels only to describe them, and should not pay for templates it never renders.
    """

    def __init__(self, template_dir: Path | None = None, watch_url: WatchUrl | None = None) -> None:
        if template_dir is not None and not Path(template_dir).is_dir():
            raise ValueError(f"template directory does not exist: {template_dir}")
        self.template_dir = template_dir
        self.watch_url = watch_url  # a web surface's page per watch; None: point to ``kamermonitor list``

    def read_more(self, alert: Alert) -> ReadMore:
        return where_to_read(alert.watches, len(alert.letters), self.watch_url)

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

    # ------------------------------------------------------------------ e-mail

    def email_subject(self, alert: Alert) -> str:
        shape = _shape(alert)
        if shape.mode == "digest":
            title = _plural(shape.count) if shape.tag != "kamermonitor" else shape.title
        else:
            title = shape.title
        return trim(oneline(f"[{shape.tag}] {title}", SUBJECT_MAX * 2), SUBJECT_MAX)

    def context(self, alert: Alert) -> dict[str, Any]:
        """The variables the e-mail templates get (documented at the top of each template)."""
        shape = _shape(alert)
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
            "read_more": self.read_more(alert) if unnamed else None,
            "rest": rest[:DIGEST_REST_DOSSIERS],
            "rest_more": sum(g.more for g in rest),
            "rest_unlisted": max(len(rest) - DIGEST_REST_DOSSIERS, 0),
            "reasons": shape.reasons,
            "text": shape.text,
        }

    def email_text(self, alert: Alert) -> str:
        body = self.env.get_template("alert.txt.j2").render(self.context(alert))
        # Strip trailing blanks (except the "-- " signature separator) and runs of empty lines.
        lines = [line if line == "-- " else line.rstrip() for line in body.split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"

    def email_html(self, alert: Alert) -> str:
        return self.env.get_template("alert.html.j2").render(self.context(alert))

    # ------------------------------------------------------------------ console

    def console_text(self, alert: Alert) -> str:
        """Compact: subject line, number and date, sender, a one-line summary, the main link, why."""
        shape = _shape(alert)
        lines = [self.email_subject(alert)]
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
                lines.append(_rest_line(rest, lambda g: g.url or g.label))
            if rest or any(g.more for g in shown):
                where = self.read_more(alert)
                lines.append(f"  Alle brieven: {where.url or where.text}")
        if shape.reasons:
            lines.append("  Waarom: " + "; ".join(shape.reasons))
        return "\n".join(lines)

    # ------------------------------------------------------------------ Slack

    def slack_payload(self, alert: Alert) -> dict[str, Any]:
        shape = _shape(alert)
        blocks: list[dict[str, Any]] = [_header(shape.title)]
        if shape.mode == "test":  # the header says "Testbericht"; the sentence is said once, here
            blocks.append(_section(mrkdwn(shape.text, 2800) if shape.text else mrkdwn(TEST_SENTENCE)))
        elif shape.mode == "operator" and shape.text:
            blocks.append(_section(mrkdwn(shape.text)))
        if shape.mode == "single":
            blocks += _slack_single(shape.groups[0].letters[0])
        elif shape.mode == "followup":
            blocks += _slack_followup(shape.groups[0].letters[0], shape.followup)
        elif shape.groups:
            blocks += _slack_digest(shape, self.read_more(alert))
        if shape.reasons:
            why = mrkdwn("Waarom u dit krijgt: " + "; ".join(shape.reasons), SLACK_CONTEXT_MAX)
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": why, "verbatim": True}]})
        return {
            "text": _slack_fallback(self.email_subject(alert), shape),
            "blocks": blocks[:SLACK_MAX_BLOCKS],
            "unfurl_links": False,
            "unfurl_media": False,
        }


def _rest_line(rest: Sequence[GroupView], show: Callable[[GroupView], str]) -> str:
    """``… en 12 meer in 3 andere dossiers: …`` for the dossiers a digest left out entirely."""
    n = sum(g.more for g in rest)
    where = "1 ander dossier" if len(rest) == 1 else f"{len(rest)} andere dossiers"
    listed = ", ".join(show(g) for g in rest[:DIGEST_REST_DOSSIERS])
    extra = f", en nog {len(rest) - DIGEST_REST_DOSSIERS}" if len(rest) > DIGEST_REST_DOSSIERS else ""
    return f"  … en {n} meer in {where}: {listed}{extra}"


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
    lines = [f"*Nummer:* {reference}"]
    for name, value, budget in (
        ("Datum", view.date_line, 200),
        ("Afzender" if len(view.senders) < 2 else "Afzenders", view.sender, 600),
        ("Onderwerp", view.subject, 1000),
        ("Soort", view.kind, 200),
        ("Dossier", view.dossier, 700),
    ):
        if value:
            lines.append(f"*{name}:* {mrkdwn(value, budget)}")
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
        title = (_attachments_label(view) + " " if kind == "attachments" else "Nieuws over ") + reference
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


def _slack_digest(shape: _Shape, read_more: ReadMore) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    # Ten letters in all, shared between the dossiers so that one busy dossier cannot hide the rest.
    per_dossier = max(SLACK_DIGEST_LETTERS // max(len(shape.groups), 1), 3)
    shown, rest = limit_groups(shape.groups, per_dossier, SLACK_DIGEST_LETTERS)
    # Fewer letters may take more room each; ten take SLACK_DIGEST_SECTION_MAX each.
    count = sum(len(g.letters) for g in shown)
    limit = max(SLACK_DIGEST_SECTION_MAX, min(2 * SLACK_DIGEST_SECTION_MAX, 9000 // max(count, 1)))
    for group in shown:
        blocks.append(_section("*" + mrkdwn(group.label, 300) + "*"))
        blocks += [_slack_digest_letter(view, limit) for view in group.letters]
        if group.more:
            where = f" in dossier {mrkdwn(group.key, 40)}" if group.key else ""
            link = f": {slack_link(group.url, 'alle stukken', 300)}" if group.url else ""
            blocks.append(_section(f"… en {group.more} meer{where}{link}"))
    if rest:
        line = _rest_line(rest, lambda g: slack_link(g.url, g.key, 200) if g.url else mrkdwn(g.label, 200))
        blocks.append(_section(_fit([line.strip()], SLACK_SECTION_MAX) or f"… en {sum(g.more for g in rest)} meer"))
    if rest or any(g.more for g in shown):
        # Slack has room for ten; the rest are named where the reader can read them all.
        where = slack_link(read_more.url, read_more.text, 900) if read_more.url else _slack_code(read_more.text)
        blocks.append(_context_block(f"Alle {shape.count} brieven: {where}"))
    return blocks


def _slack_code(text: str) -> str:
    """``text`` as inline code, to be copied as it is (no zero-width fences inside)."""
    if "`" in text:
        return mrkdwn(text, 500)
    return "`" + trim(text, 500).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") + "`"


def _slack_fallback(subject: str, shape: _Shape) -> str:
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
