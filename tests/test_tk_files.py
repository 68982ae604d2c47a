"""The Tweede Kamer's own letter file, end to end: a file already in Kamerstuk layout, and a file not there yet."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from monitor.enrich import run as enrichment
from monitor.web.pages import condition_text
from tests.enrich_fixtures import document_xml, docx
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, mail_harness

NOW = datetime(2025, 5, 14, 9, 30, tzinfo=UTC)
LETTER = "aa000000-0000-4000-8000-000000001336"
SUBJECT = "Stand van zaken moties en toezeggingen"  # made up: the recorded text has no subject line
RECORDED_1336 = "../recorded/tkfile/2025D21028_v2_docx_preview_opentk.txt"


def make(tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, db: str) -> Harness:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    return mail_harness(tk.base_url, sru.base_url, smtp.port, db, NOW, None)


def add_letter(tk: TkFeedServer, content: bytes, content_type: str) -> None:
    tk.add_document(
        LETTER, "2025D21028", "Brief regering", SUBJECT, ICT, date(2025, 5, 13), "2024-2025", -1, [DOSSIER_26643],
        content=content, content_type=content_type,
    )  # fmt: skip


def body(smtp: SmtpServer, n: int = 0) -> str:
    part = smtp.messages[n].get_body(preferencelist=("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())  # the words, not the wrapping


def test_docx_in_kamerstuk_layout_gives_the_alert_sender_date_number_and_summary(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    add_letter(tk, docx(document_xml(RECORDED_1336)), docx_type)
    h.cycle()
    text = body(smtp)
    assert "Afzender: Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties" in text
    assert "Datum: Den Haag, 13 mei 2025" in text
    assert "Nummer: Kamerstuk 26643, nr. 1336" in text  # from "Nr. 1336" in the file, before TK numbers it
    assert "In deze brief vindt u de beantwoording van een aantal moties en toezeggingen" in text
    h.close()


def test_tk_file_not_there_yet_is_asked_a_few_times_then_the_alert_goes_out_and_status_says_so(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.store import ops

    monkeypatch.setattr(enrichment, "MISSING_FILE_PAUSES", (0.0, 0.0))
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    add_letter(tk, docx(document_xml(RECORDED_1336)), "application/pdf")
    tk.missing_files.add(LETTER)  # Resources/<guid> answers HTTP 500
    h.cycle()
    [_] = smtp.messages  # the alert went out, without details
    assert "Staatssecretaris" not in body(smtp)
    file_requests = [p for p in tk.requests if p.endswith(f"/Resources/{LETTER}")]
    assert len(file_requests) == 3  # asked a bounded number of times
    with h.ctx.engine.connect() as conn:
        [(key, _since, detail)] = ops.active_conditions(conn)
    assert key == "tk-file-missing:1"
    assert condition_text(key).startswith("Brief 1: het bestand bij de Tweede Kamer was er (nog) niet")
    assert (
        detail == "letter 1: Tweede Kamer file not there (HTTP 500 on 3 attempts over 0 s); alerted without its details"
    )
    # Never an endless retry: another message about the letter does not ask for that file again.
    sru.add_record("kst-26643-1336", document_title=SUBJECT, date=date(2025, 5, 13), modified=date(2025, 5, 14))
    tk.missing_files.clear()
    h.cycle()
    assert len([p for p in tk.requests if p.endswith(f"/Resources/{LETTER}")]) == 3
    h.close()


def test_a_new_version_of_a_missing_file_is_read_and_the_condition_clears(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.store import ops

    monkeypatch.setattr(enrichment, "MISSING_FILE_PAUSES", (0.0,))
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    add_letter(tk, b"%PDF-1.4\n%placeholder\n", "application/pdf")
    tk.missing_files.add(LETTER)
    h.cycle()
    assert len([p for p in tk.requests if p.endswith(f"/Resources/{LETTER}")]) == 2
    tk.missing_files.clear()
    docx_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    tk.update_document(LETTER, volgnummer=1336, content=docx(document_xml(RECORDED_1336)), content_type=docx_type)
    h.cycle()
    # Numbered, no follow-up (not officially published); the next message about it has the details.
    from monitor.enrich.run import enrich
    from monitor.store import letters

    enrich(h.ctx, [1], NOW)
    with h.ctx.engine.connect() as conn:
        assert ops.active_conditions(conn) == []
        assert "Koninkrijksrelaties" in letters.details(conn, [1])[1]
    h.close()
