"""What a message is about, decided once and shared by every medium: the letter view.

:func:`view_of` turns an :class:`~monitor.models.Alert` into a :class:`View`: one new
letter ("single": sender, date line, subject, summary, signatories, attachments, links),
several ("digest": grouped per dossier, newest first), a follow-up about a letter already
alerted ("followup": now published, or its bijlagen appeared), a test or an operator
message; with its headline (``[26643] …``, the e-mail subject every medium starts with).
Every field is already cleaned (:mod:`monitor.notify.clean`); the renderers only lay it
out and escape for their medium.  Labels are Dutch, for Dutch policy staff.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import quote

from ..models import SUMMARY_MAX, Alert, DossierRef, Letter, kamerstuk_citation
from .clean import format_date, multiline, oneline, safe_url, trim, trim_words

SUBJECT_MAX = 200  # e-mail Subject, characters
SUMMARY_SHORT = 280  # a letter's summary in digests and follow-ups
ATTACHMENTS_MAX = 30
DOSSIER_PAGE = "https://zoek.officielebekendmakingen.nl/dossier/"
TK_NUMBER_LABEL = "Tweede Kamer-nummer"  # "Tweede Kamer-nummer 2025D29876" until it is a Kamerstuk
TK_LINKS = ("Tweede Kamer", "Document (Tweede Kamer)")


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
    def facts(self) -> tuple[tuple[str, str, int], ...]:
        """A card's labelled lines after the number, as (label, text, most characters shown); empty ones left out.

        Slack's section and Teams' FactSet show the same facts in the same order.
        """
        rows = (
            ("Datum", self.date_line, 200),
            ("Afzender" if len(self.senders) < 2 else "Afzenders", self.sender, 600),
            ("Onderwerp", self.subject, 1000),
            ("Soort", self.kind, 200),
            ("Dossier", self.dossier, 700),
        )
        return tuple(row for row in rows if row[1])

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


def dossier_page(dossier: DossierRef | str) -> str | None:
    """``https://zoek.officielebekendmakingen.nl/dossier/26643``: every publication in the dossier."""
    return safe_url(DOSSIER_PAGE + quote(oneline(str(dossier), 40), safe="-"))


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
class View:
    """What an alert is, decided once for every medium."""

    mode: str  # "single" | "digest" | "followup" | "test" | "operator"
    title: str  # the header/intro line, without the "[…]" tag
    tag: str  # "26643" or "kamermonitor"
    groups: tuple[GroupView, ...]
    count: int
    reasons: tuple[str, ...]
    text: str
    followup: str = ""  # "published" | "attachments" for mode "followup"
    subject: str = ""  # the headline every medium starts with, "[26643] …" (the e-mail subject)
    watches: tuple[str, ...] = ()  # the watches it is for (where to read the rest of a digest)
    letters: int = 0  # the alert's letters, all of them (``count`` is 1 for a follow-up)
    # The alert itself, for a medium that sends data rather than a rendering (the webhook's JSON).
    alert: Alert | None = field(default=None, compare=False, repr=False)


def _followup_title(kind: str, view: LetterView) -> str:
    about = view.subject or view.heading
    if kind == "published":
        return f"Gepubliceerd: {view.citation} — {about}" if view.citation else f"Gepubliceerd: {about}"
    if kind == "attachments":
        return f"{attachments_label(view)}: {about}"
    return f"Nieuws over: {about}"


def attachments_label(view: LetterView) -> str:
    """``Bijlage bij`` for one attachment announced, ``Bijlagen bij`` for several."""
    return "Bijlage bij" if len(view.attachments) == 1 else "Bijlagen bij"


def view_of(alert: Alert) -> View:
    """The view of ``alert``: made once per message, whatever renders it."""
    shape = _shape(alert)
    if shape.mode == "digest":
        title = _plural(shape.count) if shape.tag != "kamermonitor" else shape.title
    else:
        title = shape.title
    subject = trim(oneline(f"[{shape.tag}] {title}", SUBJECT_MAX * 2), SUBJECT_MAX)
    return dataclasses.replace(shape, subject=subject, watches=alert.watches, letters=len(alert.letters), alert=alert)


def _shape(alert: Alert) -> View:
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
        return View("test", title, "kamermonitor", groups, count, reasons, text)
    if alert.event == "followup" and alert.letters:
        kind = oneline(alert.text, 40)
        group = group_letters(alert.letters[:1])[0]
        reasons = reasons or ("u kreeg eerder een melding over deze brief",)
        return View("followup", _followup_title(kind, group.letters[0]), tag, (group,), 1, reasons, "", kind)
    if alert.event != "new":
        title = _first_line(alert.text) or "Melding van kamermonitor"
        return View("operator", title, "kamermonitor", groups, count, reasons, text)
    if count == 1:
        return View("single", groups[0].letters[0].heading, tag, groups, count, reasons, text)
    where = f" in dossier {tag}" if dossier else (f" in {len(groups)} dossiers" if len(groups) > 1 else "")
    return View("digest", _plural(count) + where, tag, groups, count, reasons, text)
