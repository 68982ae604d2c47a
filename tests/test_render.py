"""Rendering without any server: subjects, dates, links, digests, operator templates."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path

import pytest

from monitor.models import Alert, DossierRef, Letter
from monitor.notify import render
from monitor.notify.render import Renderer, format_date, mrkdwn, safe_url, slack_link
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
