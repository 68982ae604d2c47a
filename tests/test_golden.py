"""Golden files: the rendered e-mail (text and HTML), Slack payload and console text, as reviewed.

Each case renders one realistic alert and compares it with the files in ``tests/golden/``:
``<case>.eml.txt`` (the e-mail's headers, with Date and Message-ID masked, then its text
part), ``<case>.html`` (the HTML part), ``<case>.slack.json`` and ``<case>.console.txt``.
After an intended change, rewrite them with ``KAMERMONITOR_UPDATE_GOLDEN=1 python -m
pytest tests/test_golden.py`` and review the diff: the files are the expectation.

The letters are the AI-fabriek letter of 27 June 2025 in dossier 26643 (subject, date,
sender and the four signatories as in the fixture
``kst-26643-1342.html``) and, for the digest, two letters made up for the purpose.  The
attachment titles, the summaries of the made-up letters and every URL identifier not
printed in the references are invented.
"""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from monitor.enrich.letter import parse_letter_text
from monitor.models import Alert, Attachment, DossierRef, Letter, LetterDetails, Signatory
from monitor.notify.email import EmailChannel
from monitor.notify.render import Renderer

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("KAMERMONITOR_UPDATE_GOLDEN") == "1"
ICT = "Informatie- en communicatietechnologie (ICT)"
TK_DOC = "https://gegevensmagazijn.tweedekamer.nl/OData/v4/2.0/Document({})/resource"
GUID = "3f0c1a52-0000-4000-8000-00000000000"  # + one digit
OB = "https://zoek.officielebekendmakingen.nl/{}"
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "List-Id",
           "List-Unsubscribe", "Auto-Submitted")  # fmt: skip
MASKED = {"Date": "<masked>", "Message-ID": "<masked>"}

AI_DETAILS = LetterDetails(
    subject="Indiening voorstel AI-fabriek Groningen",
    letter_date=date(2025, 6, 27),
    place_date_line="Den Haag, 27 juni 2025",
    sender_office="Minister van Economische Zaken",
    summary=(
        "Met deze brief informeren wij u over de indiening van het Nederlandse voorstel voor een AI-fabriek "
        "in Groningen. Ook informeren wij u over de bijdragen van het Rijk en de regio en over het vervolgproces."
    ),
    signatories=(
        Signatory("Vincent Karremans", "Minister van Economische Zaken"),
        Signatory(
            "Eddie van Marum",
            "Staatssecretaris van Binnenlandse Zaken, Herstel Groningen, Digitalisering en Koninkrijksrelaties",
        ),
        Signatory("Gijs Tuinman", "Staatssecretaris van Defensie"),
        Signatory("Eppo Bruins", "Minister van Onderwijs, Cultuur en Wetenschap"),
    ),
    cited=("26643-1265", "26643-1330"),
    source="pdf",
)

# As the Tweede Kamer announces it: no Kamerstuk number yet, details read from its PDF.
AI_FABRIEK = Letter(
    id=1,
    dossiers=(DossierRef(26643),),
    dossier_title=ICT,
    kind="Brief regering",
    date=date(2025, 6, 27),
    subject="Indiening voorstel AI-fabriek Groningen",
    vergaderjaar="2024-2025",
    document_nummer="2025D29512",
    zaak_nummer="2025Z13370",
    senders=("Minister van Economische Zaken",),
    tk_url="https://www.tweedekamer.nl/kamerstukken/brieven_regering/detail?id=2025Z13370&did=2025D29512",
    tk_file_url=TK_DOC.format(f"{GUID}0"),
    first_seen=datetime(2025, 6, 27, 15, 4, tzinfo=UTC),
    attachments=(
        Attachment("Voorstel AI-fabriek Groningen (Engelstalig)", TK_DOC.format(f"{GUID}1")),
        Attachment("Steunbrief provincie en gemeente Groningen", TK_DOC.format(f"{GUID}2")),
    ),
    details=AI_DETAILS,
)

# Days later, the official publication: Kamerstuk 26643, nr. 1384, with its bijlagen there.
PUBLISHED = dataclasses.replace(
    AI_FABRIEK,
    number="1384",
    ob_identifier="kst-26643-1384",
    ob_html_url=OB.format("kst-26643-1384.html"),
    ob_pdf_url=OB.format("kst-26643-1384.pdf"),
    details=dataclasses.replace(AI_DETAILS, source="html"),
)
WITH_BIJLAGEN = dataclasses.replace(
    PUBLISHED,
    attachments=(
        Attachment("Voorstel AI-fabriek Groningen (Engelstalig)", OB.format("blg-1184311.html")),
        Attachment("Steunbrief provincie en gemeente Groningen", OB.format("blg-1184312.html")),
    ),
)

VERZAMELBRIEF = Letter(
    id=2,
    dossiers=(DossierRef(26643),),
    dossier_title=ICT,
    number="1385",
    kind="Brief regering",
    date=date(2025, 7, 1),
    subject="Verzamelbrief digitalisering juni 2025",
    document_nummer="2025D30117",
    senders=("Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties",),
    tk_url="https://www.tweedekamer.nl/kamerstukken/brieven_regering/detail?id=2025Z13611&did=2025D30117",
    ob_html_url=OB.format("kst-26643-1385.html"),
    ob_pdf_url=OB.format("kst-26643-1385.pdf"),
    details=LetterDetails(
        subject="Verzamelbrief digitalisering juni 2025",
        letter_date=date(2025, 7, 1),
        place_date_line="Den Haag, 1 juli 2025",
        sender_office="Staatssecretaris van Binnenlandse Zaken, Herstel Groningen, Digitalisering en "
        "Koninkrijksrelaties",
        summary=(
            "Met deze verzamelbrief informeer ik u over de voortgang op verschillende onderwerpen op het terrein "
            "van digitalisering, zoals de Werkagenda Waardengedreven Digitaliseren, de inzet op open source en de "
            "stand van zaken rond de Europese digitale identiteit. Ook ga ik in op de toezeggingen die tijdens het "
            "commissiedebat Digitale overheid zijn gedaan en op de moties die daarna zijn aangenomen."
        ),
        signatories=(
            Signatory(
                "Eddie van Marum",
                "Staatssecretaris van Binnenlandse Zaken, Herstel Groningen, Digitalisering en Koninkrijksrelaties",
            ),
        ),
    ),
)

BEGROTING_BZK = Letter(
    id=3,
    dossiers=(DossierRef(36600, "VII"),),
    dossier_title=(
        "Vaststelling van de begrotingsstaten van het Ministerie van Binnenlandse Zaken en Koninkrijksrelaties "
        "(VII) voor het jaar 2025"
    ),
    number="112",
    kind="Brief regering",
    date=date(2025, 6, 30),
    subject="Reactie op verzoek commissie over de kosten van de digitale overheid",
    document_nummer="2025D29990",
    senders=("Minister van Binnenlandse Zaken en Koninkrijksrelaties",),
    ob_html_url=OB.format("kst-36600-VII-112.html"),
    ob_pdf_url=OB.format("kst-36600-VII-112.pdf"),
)  # no details: its publication could not be read

# 26643 nr. 1336 as the Tweede Kamer announces it, its file (a .docx) already in Kamerstuk
# layout: details read from the recorded text of that file (tests/fixtures/recorded/tkfile/).
# The subject and URLs are made up; the rest is what the file says.
KAMERSTUK_LAYOUT = Letter(
    id=5,
    dossiers=(DossierRef(26643),),
    dossier_title=ICT,
    kind="Brief regering",
    date=date(2025, 5, 13),
    subject="Stand van zaken moties en toezeggingen digitale overheid",
    vergaderjaar="2024-2025",
    document_nummer="2025D21028",
    tk_url="https://www.tweedekamer.nl/kamerstukken/brieven_regering/detail?id=2025D21028&did=2025D21028",
    tk_file_url=TK_DOC.format(GUID + "5"),
    details=parse_letter_text(
        (Path(__file__).parent / "fixtures/recorded/tkfile/2025D21028_v2_docx_preview_opentk.txt").read_text(),
        source="docx",
    ),
)

CASES = {
    "ai_fabriek_new": Alert("new", (AI_FABRIEK,), ("u volgt dossier 26643",), ("ict",), delivery_id=101),
    "digest_two_dossiers": Alert(
        "new", (BEGROTING_BZK, PUBLISHED, VERZAMELBRIEF), ("u volgt dossier 26643", "u volgt dossier 36600-VII"),
        ("ict",), delivery_id=102,
    ),
    "ai_fabriek_published": Alert("followup", (PUBLISHED,), (), ("ict",), "published", delivery_id=103),
    "ai_fabriek_attachments": Alert("followup", (WITH_BIJLAGEN,), (), ("ict",), "attachments", delivery_id=104),
    "kamerstuk_layout_new": Alert("new", (KAMERSTUK_LAYOUT,), ("u volgt dossier 26643",), ("ict",), delivery_id=105),
}  # fmt: skip


def email_channel() -> EmailChannel:
    return EmailChannel(
        "beleid",
        host="smtp.example.org",
        port=587,
        security="starttls",
        username=None,
        password=None,
        sender="Kamermonitor <alerts@kamermonitor.example>",
        recipients=("beleid@example.org",),
        message_id_domain="kamermonitor.example",
        list_unsubscribe="mailto:kamermonitor-beheer@example.org?subject=afmelden",
        renderer=Renderer(),
    )


def message(case: str) -> EmailMessage:
    return email_channel().build_message(CASES[case], "beleid@example.org")


def eml_text(msg: EmailMessage) -> str:
    headers = [f"{name}: {MASKED.get(name, msg[name])}" for name in HEADERS if msg[name] is not None]
    text = msg.get_body(("plain",))
    assert text is not None
    return "\n".join(headers) + "\n\n" + text.get_content()


def html_part(msg: EmailMessage) -> str:
    html = msg.get_body(("html",))
    assert html is not None
    return str(html.get_content())


def check(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} is missing; write it with KAMERMONITOR_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_messages_match_the_golden_files(case: str) -> None:
    msg = message(case)
    assert msg["Message-ID"].startswith(f"<kamermonitor.{CASES[case].delivery_id}.")
    check(f"{case}.eml.txt", eml_text(msg))
    check(f"{case}.html", html_part(msg))
    payload = Renderer().slack_payload(CASES[case])
    check(f"{case}.slack.json", json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    check(f"{case}.console.txt", Renderer().console_text(CASES[case]) + "\n")


def test_followups_arrive_in_the_thread_of_the_first_alert() -> None:
    first = message("ai_fabriek_new")
    for case in ("ai_fabriek_published", "ai_fabriek_attachments"):
        followup = message(case)
        assert followup["In-Reply-To"] == followup["References"] == first["References"]
        assert first["References"] == "<dossier-26643@kamermonitor.example>"
        assert followup["Subject"].startswith("[26643] ") and first["Subject"].startswith("[26643] ")
        assert followup["Message-ID"] != first["Message-ID"]
    assert message("ai_fabriek_published")["Subject"] == (
        "[26643] Gepubliceerd: Kamerstuk 26643, nr. 1384 — Indiening voorstel AI-fabriek Groningen"
    )
    attachments = message("ai_fabriek_attachments")
    assert attachments["Subject"] == "[26643] Bijlagen bij: Indiening voorstel AI-fabriek Groningen"
    # A digest over two dossiers belongs to neither thread.
    assert message("digest_two_dossiers")["References"] is None


def test_every_alert_shows_what_a_reader_acts_on() -> None:
    text = " ".join(eml_text(message("ai_fabriek_new")).split())
    html = html_part(message("ai_fabriek_new"))
    for expected in (
        "Afzender: Minister van Economische Zaken",
        "Datum: Den Haag, 27 juni 2025",
        "Onderwerp: Indiening voorstel AI-fabriek Groningen",
        "Met deze brief informeren wij u over de indiening van het Nederlandse voorstel",
        "- Eddie van Marum, Staatssecretaris van Binnenlandse Zaken, Herstel Groningen, Digitalisering en",
        "- Voorstel AI-fabriek Groningen (Engelstalig) " + TK_DOC.format(f"{GUID}1"),
    ):
        assert expected in text, expected
    assert "<b>Gijs Tuinman</b>, Staatssecretaris van Defensie" in html
    assert f'<a href="{TK_DOC.format(f"{GUID}2")}"' in html
    digest = eml_text(message("digest_two_dossiers"))
    assert digest.index("Verzamelbrief") < digest.index("AI-fabriek") < digest.index("== 36600-VII Vaststelling")


@pytest.mark.skipif(not os.environ.get("KAMERMONITOR_DIGEST_SCREENSHOT"), reason="set KAMERMONITOR_DIGEST_SCREENSHOT")
def test_screenshot_of_a_digest_that_names_every_letter(tmp_path: Path) -> None:
    """A digest of 14 letters in 26643: ten cards, then four compact lines (docs/digest-email.png)."""
    from tests.screenshot import browser, screenshot

    if browser() is None:
        pytest.skip("no chromium")
    letters = [PUBLISHED, VERZAMELBRIEF] + [
        dataclasses.replace(
            AI_FABRIEK, id=600 + i, number=None, document_nummer=f"2025D{29600 + i}", date=date(2025, 6, 26 - i // 3),
            subject=f"Antwoord op vragen over digitale dienstverlening ({i + 1})", details=None, attachments=(),
            ob_html_url=None, ob_pdf_url=None,
        )
        for i in range(12)
    ]  # fmt: skip
    alert = Alert("new", tuple(letters), ("u volgt dossier 26643",), ("ict",), delivery_id=105)
    page = tmp_path / "digest.html"
    page.write_text(html_part(email_channel().build_message(alert, "beleid@example.org")), encoding="utf-8")
    png = Path(os.environ["KAMERMONITOR_DIGEST_SCREENSHOT"]).resolve()
    screenshot(page, png, tmp_path, height=1850)
    assert png.stat().st_size > 10_000
