"""Follow-ups: an alerted letter's publication and attachments arrive in the same email thread."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for

NOW = datetime(2025, 6, 27, 9, 30, tzinfo=UTC)
TODAY = date(2025, 6, 27)
LETTER = "aa000000-0000-4000-8000-000000001350"
SUBJECT = "Indiening voorstel AI-fabriek Groningen"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def make(tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, db: str, **watch: object) -> Harness:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    channel = {
        "name": "mail", "type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
        "from": "Kamermonitor <alerts@example.org>", "to": ["beleid@example.org"],
        "message_id_domain": "kamermonitor.test",
    }  # fmt: skip
    settings = settings_for(
        db, syncfeed_url=tk.base_url, sru_url=sru.base_url, channels=[channel],
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": ["mail"], **watch}],
    )  # fmt: skip
    return Harness(settings, now=lambda: NOW)


def test_followup_on_publication_arrives_in_the_same_thread(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    h.cycle()
    [first] = smtp.messages
    # A metadata-only correction sends nothing.
    tk.update_document(LETTER, onderwerp=SUBJECT + " (gecorrigeerd)")
    h.cycle()
    assert len(smtp.messages) == 1
    # The official publication appears: a short follow-up, same thread, same subject stem.
    sru.add_record("kst-26643-1350", document_title=SUBJECT, date=TODAY, modified=TODAY)
    h.cycle()
    assert len(smtp.messages) == 2
    follow = smtp.messages[1]
    assert follow["In-Reply-To"] == first["In-Reply-To"] == "<dossier-26643@kamermonitor.test>"
    assert follow["References"] == first["References"]
    assert follow["Subject"].startswith("[26643]") and first["Subject"].startswith("[26643]")
    body = follow.get_body(preferencelist=("plain",))
    assert body is not None
    text = str(body.get_content())
    assert "Kamerstuk 26643, nr. 1350" in text and "kst-26643-1350" in text
    # Its reprint is not news.
    sru.add_record("kst-26643-1350-h1", ondernummer="1350", document_title=f"{SUBJECT} (herdruk)", date=TODAY,
                   modified=TODAY)  # fmt: skip
    h.cycle()
    assert len(smtp.messages) == 2
    h.close()


def test_followup_on_attachments(tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    h.cycle()
    for n in (1, 2):
        tk.add_document(
            f"bb000000-0000-4000-8000-00000000000{n}", f"2025D2987{6 + n}", "Bijlage", f"Bijlage {n}: businesscase",
            ICT, TODAY, "2024-2025", -1, [DOSSIER_26643], bron_document_guid=LETTER,
        )  # fmt: skip
    h.cycle()
    assert len(smtp.messages) == 2  # one follow-up for both attachments
    text = str(smtp.messages[1].get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "Bijlage 1: businesscase" in text and "Bijlage 2: businesscase" in text
    assert smtp.messages[1]["In-Reply-To"] == smtp.messages[0]["In-Reply-To"]
    h.close()


def test_followups_can_be_switched_off_per_watch(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db, followups=False)
    h.cycle()
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    h.cycle()
    sru.add_record("kst-26643-1350", document_title=SUBJECT, date=TODAY, modified=TODAY)
    h.cycle()
    assert len(smtp.messages) == 1
    h.close()


def test_no_followup_when_the_first_alert_has_not_gone_out_yet(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    sru.add_record("kst-26643-1350", document_title=SUBJECT, date=TODAY, modified=TODAY)
    h.cycle()  # both sightings in one cycle: one alert that already carries the publication
    [only] = smtp.messages
    text = str(only.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "Kamerstuk 26643, nr. 1350" in text
    h.cycle()
    assert len(smtp.messages) == 1
    h.close()


def test_alert_carries_what_the_letter_itself_says_read_from_the_tk_pdf(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    from tests.enrich_fixtures import letter_pdf

    pdf = letter_pdf("ai_fabriek.txt")
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    tk.add_document(
        LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643], content=pdf
    )
    h.cycle()
    [mail] = smtp.messages
    text = str(mail.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
    assert "Minister van Economische Zaken" in text  # sender, from the signature block
    assert "Met deze brief" in text  # the summary paragraph
    assert "Karremans" in text  # a signatory
    with h.ctx.engine.connect() as conn:  # read once per version, and stored
        from monitor.store import letters

        assert letters.details(conn, [1])
    h.close()


def test_an_enrichment_failure_is_logged_once_not_once_per_channel(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    h = make(tk, sru, smtp, sqlite_db, channels=["mail", "console"])  # two channels for one letter
    h.cycle()
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    tk.fail_files_next(2, "503")  # the letter's file cannot be read just now
    caplog.clear()
    h.cycle()
    assert len(smtp.messages) == 1 and SUBJECT in h.output.getvalue()  # both went out, without details
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("enrichment of letter")]
    assert len(lines) == 1 and "HTTP 503" in lines[0]
    assert sum("/Resources/" in path for path in tk.requests) == 1  # and the source is asked once
    h.close()


def test_publication_recorded_while_the_first_alert_is_in_flight_is_still_told(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    """In `run`, a poll can record the publication while the delivery thread sends an alert it
    rendered before: the poll sees the alert 'sending' and queues nothing, so the delivery must."""
    from monitor.poll import poll_source

    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    assert poll_source(h.ctx, "syncfeed")
    mail = h.deliverer.channels["mail"]
    send = mail.send

    def send_while_published(alert: object, target: str) -> None:
        # The publication arrives between rendering and the server's acceptance.
        mail.send = send  # type: ignore[method-assign]
        sru.add_record("kst-26643-1350", document_title=SUBJECT, date=TODAY, modified=TODAY)
        assert poll_source(h.ctx, "sru")
        send(alert, target)  # type: ignore[arg-type]

    mail.send = send_while_published  # type: ignore[method-assign]
    h.deliverer.drain()
    assert len(smtp.messages) == 2, "the publication follow-up went out"
    first = smtp.messages[0].get_body(preferencelist=("plain",))
    assert first is not None and "kst-26643-1350" not in str(first.get_content())
    body = smtp.messages[1].get_body(preferencelist=("plain",))
    assert body is not None and "kst-26643-1350" in str(body.get_content())
    h.cycle()
    assert len(smtp.messages) == 2  # and only once
    h.close()
