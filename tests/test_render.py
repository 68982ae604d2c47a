"""Rendering without any server: subjects, dates, links, digests, operator templates."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from monitor.models import Alert, Attachment, DossierRef, Letter, LetterDetails, Signatory
from monitor.notify import digest, email_render, render
from monitor.notify import view as views
from monitor.notify.clean import format_date, safe_url
from monitor.notify.render import Renderer
from monitor.notify.slack_render import mrkdwn, slack_link
from tests.test_channels import AI_FABRIEK, REASON, digest_letters, new_alert


def test_dates_are_written_the_dutch_way() -> None:
    assert format_date(date(2025, 6, 27)) == "27 juni 2025"
    assert format_date(date(2026, 3, 1)) == "1 maart 2026"
    assert format_date(None) == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://zoek.officielebekendmakingen.nl/kst-26643-1384.html", "https://zoek.officielebekendmakingen.nl/kst-26643-1384.html"),
        ("http://example.org/a b|c", "http://example.org/a%20b%7Cc"),
        ("https://example.org/%7Ealready", "https://example.org/%7Ealready"),
        ("javascript:alert(1)", None),
        (" JAVASCRIPT:alert(1)", None),
        ("data:text/html,x", None),
        ("ftp://example.org/x", None),
        ("//example.org/x", None),
        ("https://exa\nmple.org/", None),
        ("https://[::1/", None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_only_http_links_survive(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_slack_links_keep_pipes_and_brackets_out_of_labels() -> None:
    assert slack_link("https://example.org/?a=1&b=2", "A|B > C") == "<https://example.org/?a=1&amp;b=2|A¦B &gt; C>"
    assert mrkdwn("a" * 5000, 100) == "a" * 99 + "…"
    assert len(mrkdwn("&" * 5000, 3000)) <= 3000


def test_subject_is_one_line_and_trimmed() -> None:
    long = dataclasses.replace(AI_FABRIEK, subject="Lange\r\nonderwerpregel " * 100)
    subject = render.email_subject(new_alert(long))
    assert len(subject) <= 200 and subject.endswith("…")
    assert subject.startswith("[26643] Brief regering: Lange onderwerpregel Lange")
    assert "\n" not in subject and "\r" not in subject


def test_subjects_per_event() -> None:
    assert render.email_subject(new_alert()) == "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen"
    assert render.email_subject(new_alert(*digest_letters(12)[::2])) == "[26643] 6 nieuwe brieven"
    assert render.email_subject(Alert("test")) == "[kamermonitor] Testbericht"
    operator = Alert("operator", text="\n  Bron SyncFeed onbereikbaar sinds 09:00\nDetails volgen")
    assert render.email_subject(operator) == "[kamermonitor] Bron SyncFeed onbereikbaar sinds 09:00"
    no_number = dataclasses.replace(AI_FABRIEK, number=None)
    assert "2025D29512" in render.email_text(new_alert(no_number))


def test_digest_is_grouped_by_dossier_newest_first() -> None:
    letters = [
        dataclasses.replace(AI_FABRIEK, id=1, number="1380", date=date(2025, 6, 2), subject="Oudste"),
        dataclasses.replace(AI_FABRIEK, id=2, number="1390", date=date(2025, 7, 1), subject="Nieuwste"),
        dataclasses.replace(
            AI_FABRIEK, id=3, dossiers=(DossierRef(32761),), dossier_title=None, number="301",
            date=date(2025, 6, 20), subject="Middel",
        ),
    ]  # fmt: skip
    text = render.email_text(Alert("new", tuple(letters), reasons=(REASON,)))
    assert text.index("Nieuwste") < text.index("Oudste") < text.index("== 32761 ==") < text.index("Middel")
    assert text.startswith("Er zijn 3 nieuwe brieven in 2 dossiers.")
    html = render.email_html(Alert("new", tuple(letters)))
    assert html.index("Nieuwste") < html.index("Oudste") < html.index("Middel")


def test_operator_text_keeps_lines_and_is_escaped_in_html() -> None:
    alert = Alert("operator", text="Kanaal <beleid> faalt\nSMTP: 535 5.7.8 & meer\x1b[0m")
    html = render.email_html(alert)
    assert "Kanaal &lt;beleid&gt; faalt\nSMTP: 535 5.7.8 &amp; meer" in html
    assert "\x1b" not in render.email_text(alert) and "\x1b" not in render.console_text(alert)


def test_operator_templates_override_packaged_ones(tmp_path: Path) -> None:
    (tmp_path / "alert.txt.j2").write_text("EIGEN {{ title }} ({{ count }})\n", encoding="utf-8")
    renderer = Renderer(tmp_path)
    assert renderer.email_text(new_alert()) == "EIGEN Brief regering: Indiening voorstel AI-fabriek Groningen (1)\n"
    assert "Indiening voorstel AI-fabriek Groningen" in renderer.email_html(new_alert())  # packaged fallback
    with pytest.raises(ValueError, match="does not exist"):
        Renderer(tmp_path / "missing")


def test_letters_without_optional_fields_still_render() -> None:
    bare = Alert("new", (Letter(id=7),))
    assert render.email_subject(bare) == "[kamermonitor] document 7"
    assert "document 7" in render.email_text(bare)
    payload = render.slack_payload(bare)
    assert payload["blocks"][0]["text"]["text"] == "document 7"
    assert render.console_text(bare).startswith("[kamermonitor] document 7")


# --------------------------------------------------------------------------- details, follow-ups, digests

DETAILS = LetterDetails(
    subject="Indiening voorstel AI-fabriek Groningen",
    letter_date=date(2025, 6, 27),
    place_date_line="Den Haag, 27 juni 2025",
    sender_office="Minister van Economische Zaken",
    summary="Met deze brief informeren wij u over de indiening van het Nederlandse voorstel voor een AI-fabriek "
    "in Groningen. Ook informeren wij u over de bijdragen van het Rijk en de regio en over het vervolgproces.",
    signatories=(
        Signatory("Vincent Karremans", "Minister van Economische Zaken"),
        Signatory(None, "De Staatssecretaris van Defensie"),
    ),
)
DETAILED = dataclasses.replace(
    AI_FABRIEK,
    details=DETAILS,
    attachments=(Attachment("Voorstel AI-fabriek", "https://zoek.officielebekendmakingen.nl/blg-1184311.html"),),
)


def test_a_single_alert_shows_sender_date_summary_signatories_and_attachments() -> None:
    alert = new_alert(DETAILED)
    text = render.email_text(alert)
    assert "  Afzender:     Minister van Economische Zaken\n" in text  # the office, not the four indieners
    assert "  Datum:        Den Haag, 27 juni 2025\n" in text
    assert "Samenvatting\n  Met deze brief informeren wij u over de indiening van het Nederlandse\n" in text
    assert "Ondertekend door\n  - Vincent Karremans, Minister van Economische Zaken\n" in text
    assert "  - De Staatssecretaris van Defensie\n" in text
    assert "Bijlagen\n  - Voorstel AI-fabriek\n    https://zoek.officielebekendmakingen.nl/blg-1184311.html\n" in text
    html = render.email_html(alert)
    assert "<b>Vincent Karremans</b>, Minister van Economische Zaken</div>" in html
    assert '<div style="margin:0 0 4px 0;">De Staatssecretaris van Defensie</div>' in html
    assert '<a href="https://zoek.officielebekendmakingen.nl/blg-1184311.html"' in html
    blocks = [b["text"]["text"] for b in render.slack_payload(alert)["blocks"] if b["type"] == "section"]
    assert "*Datum:* Den Haag, 27 juni 2025" in blocks[0] and "*Afzender:* Minister van Economische Zaken" in blocks[0]
    assert blocks[1].startswith("*Samenvatting*\nMet deze brief")
    assert blocks[2] == "*Ondertekend door*\n• *Vincent Karremans*, Minister van Economische Zaken\n" \
        "• De Staatssecretaris van Defensie"  # fmt: skip
    assert blocks[3] == "*Bijlagen*\n• <https://zoek.officielebekendmakingen.nl/blg-1184311.html|Voorstel AI-fabriek>"


def test_console_is_compact() -> None:
    lines = render.console_text(new_alert(DETAILED)).split("\n")
    assert lines == [
        "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen",
        "  Kamerstuk 26643, nr. 1384 · 27 juni 2025",
        "  Van: Minister van Economische Zaken",
        "  Met deze brief informeren wij u over de indiening van het Nederlandse voorstel voor een AI-fabriek in "
        "Groningen. Ook informeren wij u over de bijdragen van…",
        "  https://www.tweedekamer.nl/kamerstukken/brieven_regering/detail?id=2025Z13370&did=2025D29512",
        "  Waarom: you follow dossier 26643",
    ]


def test_details_stand_in_for_missing_letter_fields() -> None:
    bare = Letter(id=9, dossiers=(DossierRef(26643),), details=DETAILS)
    assert render.email_subject(new_alert(bare)) == "[26643] Indiening voorstel AI-fabriek Groningen"
    assert "Kamerstuk" not in render.console_text(new_alert(bare))
    assert "  document 9 · 27 juni 2025" in render.console_text(new_alert(bare))


def test_followups_keep_the_dossier_stem_and_thread() -> None:
    published = Alert("followup", (DETAILED,), text="published", delivery_id=7)
    attachments = Alert("followup", (DETAILED,), text="attachments", delivery_id=8)
    assert render.email_subject(published) == (
        "[26643] Gepubliceerd: Kamerstuk 26643, nr. 1384 — Indiening voorstel AI-fabriek Groningen"
    )
    # DETAILED has one attachment: "Bijlage bij" (several: "Bijlagen bij").
    assert render.email_subject(attachments) == "[26643] Bijlage bij: Indiening voorstel AI-fabriek Groningen"
    unnumbered = dataclasses.replace(DETAILED, number=None)
    assert render.email_subject(Alert("followup", (unnumbered,), text="published")) == (
        "[26643] Gepubliceerd: Indiening voorstel AI-fabriek Groningen"
    )
    assert render.email_subject(Alert("followup", (DETAILED,), text="other")) == (
        "[26643] Nieuws over: Indiening voorstel AI-fabriek Groningen"
    )
    assert views.thread_dossier(published) == views.thread_dossier(new_alert(DETAILED)) == DossierRef(26643)
    assert views.thread_dossier(Alert("operator", (DETAILED,), text="x")) is None

    text = render.email_text(published)
    assert text.startswith("Nu gepubliceerd als Kamerstuk 26643, nr. 1384\n")
    assert "  PDF:                       https://zoek.officielebekendmakingen.nl/kst-26643-1384.pdf\n" in text
    assert "Ondertekend" not in text and "Bijlagen" not in text  # short
    assert render.email_text(attachments).startswith("Bijlage bij Kamerstuk 26643, nr. 1384\n")
    assert "Voorstel AI-fabriek" in render.email_html(attachments)
    assert "u kreeg eerder een melding over deze brief" in render.console_text(published)
    payload = render.slack_payload(published)
    assert payload["blocks"][1]["text"]["text"].startswith("Nu gepubliceerd als *Kamerstuk 26643, nr. 1384*\n<https://")


def test_email_and_slack_digests_name_every_letter() -> None:
    letters = [
        dataclasses.replace(
            AI_FABRIEK, id=200 + i, number=str(1400 + i), date=date(2025, 7, 1) - timedelta(days=i), details=DETAILS,
            subject=f"Brief {i}",
        )
        for i in range(25)
    ]  # fmt: skip
    other = dataclasses.replace(AI_FABRIEK, id=300, dossiers=(DossierRef(36600, "VII"),), dossier_title=None)
    alert = dataclasses.replace(new_alert(*letters, other), watches=("ict",))
    text = render.email_text(alert)
    assert text.count("\nBrief regering: Brief ") == 10  # ten cards, newest first
    assert "Brief 9\n" in text and "Brief 10\n" not in text
    assert "Verder in dit dossier:\n  - Brief regering: Brief 10 (Kamerstuk 26643, nr. 1410, 21 juni 2025)\n" in text
    for i in range(25):  # every letter is named, once
        assert text.count(f"Brief {i} (Kamerstuk") + text.count(f"Brief {i}\n") == 1, i
    assert "meer" not in text and "kamermonitor list" not in text
    assert "== 36600-VII ==" in text
    html = render.email_html(alert)
    assert html.count("<h3") == 11 and html.count("<li>") == 15  # ten cards, fifteen named lines
    assert "Brief 24</a>" in html and "meer" not in html
    blocks = render.slack_payload(alert)["blocks"]
    slack = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert sum(1 for b in blocks if b["type"] == "section" and b["text"]["text"].startswith("*<https://")) == 6  # 5 + 1
    for i in range(25):  # ten cards, then one line each: every letter named, once
        assert len(re.findall(rf"Brief {i}(?!\d)", slack)) == 1, i
    assert "• Brief regering: Brief 24 (<https://" in slack
    assert "meer" not in slack and "kamermonitor list" not in json.dumps(blocks)
    console = render.console_text(alert)
    assert "Alle brieven:" not in console  # the console lists up to 50 a dossier


def test_where_to_read_the_rest_is_the_watch_page_when_there_is_one() -> None:
    assert render.where_to_read(["ict"], 40) == views.ReadMore("kamermonitor list --watch ict --limit 40")
    assert render.where_to_read(["mijn watch"], 3).text == "kamermonitor list --watch 'mijn watch' --limit 3"
    assert render.where_to_read(["a", "b"], 12).text == "kamermonitor list --limit 12"
    page = render.where_to_read(["ict"], 40, lambda name: f"https://monitor.example/watches/{name}")
    assert page == views.ReadMore("alle brieven van ict", "https://monitor.example/watches/ict")
    hostile = render.where_to_read(["ict"], 40, lambda name: "javascript:alert(1)")
    assert hostile.url is None and hostile.text.startswith("kamermonitor list")


def test_with_a_web_base_url_slack_digests_link_to_the_watch_page(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.config import parse
    from monitor.notify.registry import build_channels
    from monitor.notify.slack import SlackChannel

    monkeypatch.setenv("KM_TEST_SLACK", "https://hooks.slack.example/services/T/B/x")
    settings = parse({
        "web": {"listen": 8080, "base_url": "https://monitor.example.org/"},
        "channel": [{"name": "slack", "type": "slack", "webhook_url_env": "KM_TEST_SLACK"}],
    })  # fmt: skip
    channel = build_channels(settings)["slack"]
    assert isinstance(channel, SlackChannel)
    letters = [dataclasses.replace(AI_FABRIEK, id=500 + i, number=str(1600 + i)) for i in range(120)]
    payload = channel.renderer.slack_payload(dataclasses.replace(new_alert(*letters), watches=("ict",)))
    assert "Alle 120 brieven: <https://monitor.example.org/watch/ict|alle brieven van ict>" in json.dumps(
        payload["blocks"], ensure_ascii=False
    )


def test_a_slack_digest_past_slacks_message_limits_counts_the_rest_and_says_where_to_read_them() -> None:
    letters = [
        dataclasses.replace(AI_FABRIEK, id=700 + i, number=str(1700 + i), subject=f"Brief {i}") for i in range(120)
    ]
    alert = dataclasses.replace(new_alert(*letters), watches=("ict",))
    payload = render.slack_payload(alert)
    blocks = payload["blocks"]
    texts = [payload["text"]] + [b["text"]["text"] for b in blocks if "text" in b and b["type"] != "header"]
    texts += [e["text"] for b in blocks for e in b.get("elements", [])]
    assert sum(map(len, texts)) <= 11_500 and len(blocks) <= 50  # Slack refuses ~12k characters of text
    sections = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    named = {i for i in range(120) if re.search(rf"Brief {i}(?!\d)", sections)}
    more = re.search(r"… en (\d+) meer in dossier 26643", sections)
    assert more is not None and len(named) + int(more[1]) == 120  # each letter named or counted, never both
    assert named == set(range(120 - len(named), 120)) and len(named) > 30  # the newest first, and well past ten
    assert "Alle 120 brieven: `kamermonitor list --watch ict --limit 120`" in json.dumps(blocks, ensure_ascii=False)


def test_a_digest_past_its_naming_budget_says_where_to_read_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(email_render, "EMAIL_DIGEST_NAMED", 5)
    letters = [
        dataclasses.replace(AI_FABRIEK, id=400 + i, number=str(1500 + i), subject=f"Brief {i}") for i in range(20)
    ]
    alert = dataclasses.replace(new_alert(*letters), watches=("ict",))
    text = render.email_text(alert)
    assert "… en 5 meer in dossier 26643" in text
    assert "Alle brieven: kamermonitor list --watch ict --limit 20\n" in text
    assert "<code>kamermonitor list --watch ict --limit 20</code>" in render.email_html(alert)


def test_cards_label_the_number_and_show_the_tweede_kamer_links_once_where_they_add_something() -> None:
    unnumbered = dataclasses.replace(AI_FABRIEK, number=None, ob_html_url=None, ob_pdf_url=None)
    view = views.letter_view(unnumbered)
    assert view.reference == "Tweede Kamer-nummer 2025D29512"
    assert views.letter_view(AI_FABRIEK).reference == "Kamerstuk 26643, nr. 1384"
    # Not yet published: the Tweede Kamer's file adds something (the page is the heading's link).
    assert [x.label for x in view.card_links] == ["Document (Tweede Kamer)"]
    # Published: the official publication replaces the Tweede Kamer pair.
    assert [x.label for x in views.letter_view(AI_FABRIEK).card_links] == ["Officiële bekendmakingen", "PDF"]
    html = render.email_html(new_alert(unnumbered, AI_FABRIEK))
    for url in (AI_FABRIEK.tk_url, AI_FABRIEK.tk_file_url):
        assert url is not None
        assert html.count(f'href="{url.replace("&", "&amp;")}"') <= 2  # once per card: heading or link line
    assert "Tweede Kamer-nummer 2025D29512 · " in html
    single = render.email_html(new_alert(AI_FABRIEK))
    assert "Tweede Kamer-nummer</td>" in single and "2025D29512" in single

    # A digest trims each summary shorter than a single alert does.
    short = views.letter_view(
        dataclasses.replace(DETAILED, details=dataclasses.replace(DETAILS, summary="woord " * 100))
    )
    assert len(short.summary) == 599 and len(short.summary_short) <= 280 and short.summary_short.endswith("woord…")


def test_dossiers_beyond_the_letter_budget_are_listed_with_their_pages() -> None:
    groups = views.group_letters(digest_letters(6))
    shown, rest = digest.limit_groups(groups, per_group=2, total=2)
    assert [(g.key, len(g.letters), g.more) for g in shown] == [("32761", 2, 1)]  # its letter of 6 June is newest
    assert [(g.key, g.letters, g.more, g.url) for g in rest] == [
        ("26643", (), 3, "https://zoek.officielebekendmakingen.nl/dossier/26643")
    ]
    assert views.dossier_page(DossierRef(36600, "VII")) == "https://zoek.officielebekendmakingen.nl/dossier/36600-VII"


def test_untrusted_details_are_inert_in_every_medium() -> None:
    hostile = dataclasses.replace(
        AI_FABRIEK,
        details=LetterDetails(
            place_date_line="Den Haag,\r\n27 juni\x1b[31m 2025",
            sender_office="<b>Minister</b> & <!channel>",
            summary="<script>alert(1)</script> *vet* _schuin_\n\u202eomgekeerd",
            signatories=(Signatory("<@U123>", "Minister <i>x</i>"),),
        ),
        attachments=(
            Attachment("<img src=x onerror=alert(1)>", "javascript:alert(1)"),
            Attachment("Bijlage | met > tekens", "https://example.org/a|b>c"),
        ),
    )
    alert = new_alert(hostile)
    html = render.email_html(alert)
    assert "<script>" not in html and "<img" not in html and "<b>Minister" not in html and "<i>x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "javascript:" not in html
    assert 'href="https://example.org/a%7Cb%3Ec"' in html
    for body in (render.email_text(alert), html, render.console_text(alert)):
        assert "\x1b" not in body and "\u202e" not in body and "\r" not in body
    assert "  Datum:        Den Haag, 27 juni [31m 2025\n" in render.email_text(alert)
    for block in render.slack_payload(alert)["blocks"]:
        for text in [block.get("text", {}).get("text", "")] + [e["text"] for e in block.get("elements", [])]:
            assert re.findall(r"<(?!https?://)", text) == [], text
            assert "<!" not in text and "<@" not in text and "*vet*" not in text


def test_slack_stays_within_block_kit_limits_with_huge_details() -> None:
    huge = dataclasses.replace(
        AI_FABRIEK,
        details=LetterDetails(
            place_date_line="Den Haag, " + "x" * 500,
            sender_office="Minister " * 100,
            summary="&<>" * 200,
            signatories=tuple(Signatory("Naam " * 60, "Minister van " + "Zaken " * 60) for _ in range(20)),
        ),
        attachments=tuple(
            Attachment("Bijlage & titel " * 30, f"https://example.org/{'x' * 1500}/{i}") for i in range(40)
        ),
    )  # fmt: skip
    for alert in (
        new_alert(huge),
        new_alert(*[dataclasses.replace(huge, id=i, dossiers=(DossierRef(20000 + i % 7),)) for i in range(60)]),
        Alert("followup", (huge,), text="published"),
        Alert("followup", (huge,), text="attachments"),
    ):
        payload = render.slack_payload(alert)
        assert len(payload["blocks"]) <= 50 and 0 < len(payload["text"]) <= 3000
        for block in payload["blocks"]:
            if block["type"] == "header":
                assert len(block["text"]["text"]) <= 150
            elif block["type"] == "section":
                assert 0 < len(block["text"]["text"]) <= 3000
            else:
                assert all(len(e["text"]) <= 2000 for e in block["elements"])


def test_every_template_variable_is_documented_in_the_templates() -> None:
    context = Renderer().context(new_alert(DETAILED))
    view_fields = [f.name for f in dataclasses.fields(views.LetterView)] + ["sender"]
    for name in ("alert.txt.j2", "alert.html.j2"):
        source = (Path(render.__file__).parent.parent / "templates" / name).read_text(encoding="utf-8")
        header = source.split("-#}", 1)[0]
        for key in [*context, *view_fields]:
            assert re.search(rf"\b{key}\b", header), f"{name}: {key} is not documented"


def test_operator_templates_get_the_new_fields(tmp_path: Path) -> None:
    (tmp_path / "alert.txt.j2").write_text(
        "{{ letter.sender }} | {{ letter.date_line }} | {% for s in letter.signers %}{{ s.name }};{% endfor %}"
        " | {{ letter.attachments|length }} | {{ followup or mode }}\n",
        encoding="utf-8",
    )
    renderer = Renderer(tmp_path)
    assert renderer.email_text(new_alert(DETAILED)) == (
        "Minister van Economische Zaken | Den Haag, 27 juni 2025 | Vincent Karremans;; | 1 | single\n"
    )
    assert renderer.email_text(Alert("followup", (DETAILED,), text="published")).endswith("| published\n")
