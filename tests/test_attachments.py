"""Attachments (Bijlagen) are never letters: attached to their letter whatever the order things arrive in.

A real SRU Bijlage record carries its *letter's* dossier and ondernummer (recorded
``blg-936562``: 35300-X, nr. 63, hoofddocument ``kst-35300-X-63``), and some have no
hoofddocument at all.  These tests play every order in which a letter, its number, its
publication and two such bijlagen can arrive, through the real monitor and local servers.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest
from sqlalchemy import insert, select

from monitor.store import attachments as attachment_store
from monitor.store.schema import attachments, letter_keys, letters
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, mail_harness

NOW = datetime(2025, 6, 27, 9, 30, tzinfo=UTC)
TODAY = date(2025, 6, 27)
LETTER = "aa000000-0000-4000-8000-000000001350"
SUBJECT = "Indiening voorstel AI-fabriek Groningen"
WITH_HOOFD = "Voorstel AI-fabriek Groningen (Engelstalig)"  # blg-1184311, hoofddocument kst-26643-1350
WITHOUT_HOOFD = "Steunbrief provincie en gemeente Groningen"  # blg-1184312, only dossier + ondernummer
STEPS = ("letter", "number", "publication", "bijlage_hoofd", "bijlage_bare")


def make(tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, db: str) -> Harness:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    return mail_harness(tk.base_url, sru.base_url, smtp.port, db, NOW, {"enrichment": {"enabled": False}})


def bijlage(sru: SruServer, identifier: str, title: str, hoofddocument: str | None) -> None:
    """A Bijlage as the real SRU describes it: the letter's dossier and number, no subrubriek."""
    sru.add_record(
        identifier, doc_type="Bijlage", subtype=None, ondernummer="1350", document_title=title,
        hoofddocument=hoofddocument, documentstatus="Onopgemaakt", date=TODAY, modified=TODAY,
    )  # fmt: skip


def play(step: str, done: set[str], tk: TkFeedServer, sru: SruServer) -> None:
    """One arrival.  The number is a later version of the TK document, so it only shows once the
    document is in the feed: arriving first, it means the document appears already numbered."""
    if step == "letter":
        volgnummer = 1350 if "number" in done else -1
        tk.add_document(
            LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", volgnummer, [DOSSIER_26643]
        )
    elif step == "number" and "letter" in done:
        tk.update_document(LETTER, volgnummer=1350)
    elif step == "publication":
        sru.add_record("kst-26643-1350", document_title=SUBJECT, date=TODAY, modified=TODAY)
    elif step == "bijlage_hoofd":
        bijlage(sru, "blg-1184311", WITH_HOOFD, "kst-26643-1350")
    elif step == "bijlage_bare":
        bijlage(sru, "blg-1184312", WITHOUT_HOOFD, None)


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


@pytest.mark.parametrize("order", list(itertools.permutations(STEPS)), ids="-".join)
def test_every_arrival_order_gives_one_alert_own_links_and_each_bijlage_once(
    order: tuple[str, ...], tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()  # baseline: the watch starts before anything arrives
    done: set[str] = set()
    for step in order:
        play(step, done, tk, sru)
        done.add(step)
        h.cycle()
    h.cycle()  # nothing new: nothing more is sent
    texts = [text_of(m) for m in smtp.messages]
    subjects = [m["Subject"] for m in smtp.messages]
    # One alert, about the letter itself (never about a bijlage).
    assert len(h.deliveries("new")) == 1
    alerts = [s for s in subjects if "Bijlage" not in s and "Gepubliceerd" not in s]
    assert alerts == [f"[26643] Brief regering: {SUBJECT}"], subjects
    # The letter's official links are always its own kst- page and PDF.
    for text in texts:
        for label, url in re.findall(r"(Officiële bekendmakingen|PDF):\s+(\S+)", text):
            assert "kst-26643-1350" in url and "blg-" not in url, (label, url, text)
    with h.ctx.engine.connect() as conn:
        [(ob_id, html, pdf)] = conn.execute(
            select(letters.c.ob_identifier, letters.c.ob_html_url, letters.c.ob_pdf_url).where(
                letters.c.deleted.is_(False)
            )
        ).all()
    assert ob_id == "kst-26643-1350"
    assert html == "https://zoek.officielebekendmakingen.nl/kst-26643-1350.html"
    assert pdf is not None and pdf.endswith("/kst-26643-1350.pdf")
    # Each bijlage is listed (in the alert) or announced (in a follow-up) exactly once.
    for title in (WITH_HOOFD, WITHOUT_HOOFD):
        assert sum(text.count(title) for text in texts) == 1, (title, subjects)
    # No follow-up presents a bijlage as the publication.
    for subject, text in zip(subjects, texts, strict=True):
        if "Gepubliceerd" in subject:
            assert "blg-" not in text and "Bijlage" not in subject
            assert "Kamerstuk 26643, nr. 1350" in subject
    # Every follow-up is in the letter's thread.
    assert {m["In-Reply-To"] for m in smtp.messages} == {"<dossier-26643@kamermonitor.test>"}
    h.close()


def test_bijlage_follow_up_names_the_new_bijlage_and_its_pdf(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    sru.add_record("kst-26643-1350", document_title=SUBJECT, date=TODAY, modified=TODAY)
    bijlage(sru, "blg-1184311", WITH_HOOFD, "kst-26643-1350")
    h.cycle()
    [alert] = smtp.messages
    assert WITH_HOOFD in text_of(alert)  # known when the alert went out: listed in it
    bijlage(sru, "blg-1184312", WITHOUT_HOOFD, None)
    h.cycle()
    [_, follow] = smtp.messages
    assert follow["Subject"] == f"[26643] Bijlage bij: {SUBJECT}"
    text = text_of(follow)
    assert text.startswith("Bijlage bij Kamerstuk 26643, nr. 1350")
    assert WITHOUT_HOOFD in text and WITH_HOOFD not in text  # only the new one
    assert "/blg-1184312/1/pdf/blg-1184312.pdf" in text
    h.close()


def test_bijlage_whose_letter_is_unknown_waits_silently(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    bijlage(sru, "blg-1184312", WITHOUT_HOOFD, None)
    h.cycle()
    assert smtp.messages == []
    with h.ctx.engine.connect() as conn:
        assert conn.execute(select(letters.c.id)).all() == []  # not a letter
        [(ref, letter_id)] = conn.execute(select(attachments.c.ref, attachments.c.letter_id)).all()
        keys = [k for (k,) in conn.execute(select(letter_keys.c.key))]
    assert (ref, letter_id) == ("ob:blg-1184312", None)
    assert keys == []  # it never takes the Kamerstuk key kst:26643-1350
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", 1350, [DOSSIER_26643])
    h.cycle()
    [alert] = smtp.messages
    assert WITHOUT_HOOFD in text_of(alert)
    h.close()


def test_tk_bijlage_attaches_through_its_bron_document_in_either_order(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    # The bijlage first: it waits, and is no letter of its own.
    tk.add_document(
        "bb000000-0000-4000-8000-000000000001", "2025D29877", "Bijlage", "Bijlage 1: businesscase", ICT, TODAY,
        "2024-2025", -1, [DOSSIER_26643], bron_document_guid=LETTER,
    )  # fmt: skip
    h.cycle()
    assert smtp.messages == []
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", -1, [DOSSIER_26643])
    h.cycle()
    [alert] = smtp.messages
    assert "Bijlage 1: businesscase" in text_of(alert)
    assert len(h.deliveries("new")) == 1
    # Its tombstone takes it off the list.
    tk.delete("bb000000-0000-4000-8000-000000000001")
    h.cycle()
    with h.ctx.engine.connect() as conn:
        assert attachment_store.for_letters(conn, [1]) == {}
    h.close()


def test_one_bijlage_seen_by_both_sources_is_announced_once(
    tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, sqlite_db: str
) -> None:
    h = make(tk, sru, smtp, sqlite_db)
    h.cycle()
    tk.add_document(LETTER, "2025D29876", "Brief regering", SUBJECT, ICT, TODAY, "2024-2025", 1350, [DOSSIER_26643])
    h.cycle()
    tk.add_document(
        "bb000000-0000-4000-8000-000000000001", "2025D29877", "Bijlage", WITH_HOOFD, ICT, TODAY,
        "2024-2025", -1, [DOSSIER_26643], bron_document_guid=LETTER,
    )  # fmt: skip
    h.cycle()
    bijlage(sru, "blg-1184311", WITH_HOOFD, "kst-26643-1350")
    h.cycle()
    assert sum(text_of(m).count(WITH_HOOFD) for m in smtp.messages) == 1, [text_of(m) for m in smtp.messages]
    h.close()


def test_migration_takes_bijlagen_out_of_version_1_letters(database: str) -> None:
    """A version-1 store: a letter whose publication links were a bijlage's, and a letter that was a bijlage."""
    from sqlalchemy import create_engine

    from monitor.store import open_engine
    from monitor.store.schema import MIGRATIONS, cursors, schema_version, sru_records, tk_documents

    engine = create_engine(database)
    with engine.begin() as conn:
        MIGRATIONS[0][2](conn)
        conn.execute(insert(schema_version).values(version=1, applied_at=NOW))
        base = {"senders": "", "deleted": False, "first_seen": NOW, "updated_at": NOW}
        fields = ("number", "tk_guid", "subject", "ob_identifier", "ob_html_url", "tk_file_url")
        conn.execute(
            insert(letters),
            [{**dict.fromkeys(fields), **row} for row in [
                {**base, "id": 1, "dossiers": "26643", "number": "1350", "tk_guid": LETTER, "subject": SUBJECT,
                 "ob_identifier": "blg-1184311", "ob_html_url": "https://zoek.officielebekendmakingen.nl/blg-1184311.html"},
                {**base, "id": 2, "dossiers": "26643", "tk_guid": "bb000000-0000-4000-8000-000000000001",
                 "subject": "Bijlage 1: businesscase", "tk_file_url": "http://tk.test/Resources/bb"},
                {**base, "id": 3, "dossiers": "26643", "number": "1351", "ob_identifier": "blg-1184312"},
            ]],
        )  # fmt: skip
        conn.execute(
            insert(letter_keys),
            [{"key": "kst:26643-1350", "letter_id": 1}, {"key": f"tk:{LETTER}", "letter_id": 1},
             {"key": "ob:blg-1184311", "letter_id": 1}, {"key": "tk:bb000000-0000-4000-8000-000000000001",
             "letter_id": 2}, {"key": "kst:26643-1351", "letter_id": 3}, {"key": "ob:blg-1184312", "letter_id": 3}],
        )  # fmt: skip
        conn.execute(
            insert(tk_documents).values(
                guid="bb000000-0000-4000-8000-000000000001", letter_id=2, soort="Bijlage", bron_guid=LETTER,
                dossier_guids="", zaak_guids="", deleted=False,
            )
        )  # fmt: skip
        conn.execute(insert(sru_records).values(identifier="blg-1184311", letter_id=1, version="x"))
        conn.execute(insert(cursors).values(name="sru:backfill:26643", value="9", updated_at=NOW))
    engine.dispose()
    migrated = open_engine(database)
    with migrated.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(letters))}
        keys = {k: lid for k, lid in conn.execute(select(letter_keys.c.key, letter_keys.c.letter_id))}
        listed = attachment_store.for_letters(conn, [1])
        backfill = conn.execute(select(cursors).where(cursors.c.name == "sru:backfill:26643")).first()
        [version] = conn.execute(select(sru_records.c.version)).scalars()
    migrated.dispose()
    assert rows[1].ob_identifier is None and rows[1].ob_html_url is None and not rows[1].deleted
    assert rows[2].deleted and rows[3].deleted  # the bijlage-letters are retired...
    assert keys == {"kst:26643-1350": 1, f"tk:{LETTER}": 1}  # ...with their keys
    assert [(a.title, a.url) for a in listed[1]] == [("Bijlage 1: businesscase", "http://tk.test/Resources/bb")]
    assert backfill is None and version == ""  # the publications are read again


def test_store_resolves_by_the_strongest_parent_key(sqlite_db: str) -> None:
    from monitor.store import open_engine

    engine = open_engine(sqlite_db)
    with engine.begin() as conn:
        conn.execute(
            insert(letters),
            [{"id": i, "dossiers": "26643", "senders": "", "deleted": False, "first_seen": NOW, "updated_at": NOW}
             for i in (1, 2)],
        )  # fmt: skip
        conn.execute(insert(letter_keys), [{"key": "kst:26643-1350", "letter_id": 1}])
        seen = attachment_store.Sighting("ob:blg-1", "sru", ("ob:kst-26643-1350", "kst:26643-1350"), "B", None)
        attachment_store.save(conn, [seen], NOW)
        assert attachment_store.resolve(conn, ["ob:blg-1"]) == [(1, "ob:blg-1")]
        conn.execute(insert(letter_keys), [{"key": "ob:kst-26643-1350", "letter_id": 2}])
        assert attachment_store.resolve(conn, keys=["ob:kst-26643-1350"]) == []  # moved, not announced again
        assert list(attachment_store.for_letters(conn, [1, 2])) == [2]
    engine.dispose()
