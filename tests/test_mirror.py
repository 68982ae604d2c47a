"""The mirror's per-poll view of zaken and dossiers, and the bulk writes of monitor.store.db."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor.models import DossierRef
from monitor.sources.syncfeed import mirror
from monitor.sources.syncfeed.models import TkDossier, TkZaak
from monitor.store import open_engine
from monitor.store.db import insert_many, upsert
from monitor.store.schema import letters, outbox


def test_related_answers_what_the_store_holds_and_what_it_just_wrote(database: str) -> None:
    engine = open_engine(database)
    with engine.begin() as conn:
        mirror.Related().upsert_dossiers(
            conn,
            [
                TkDossier("d-ict", nummer=26643, titel="ICT"),
                TkDossier("d-old", nummer=12345, titel="Oud", deleted=True),
                TkDossier("d-nonr", nummer=None, titel="Nog zonder nummer"),
            ],
        )
        mirror.Related().upsert_zaken(conn, [TkZaak("z-1", nummer="2025Z1", dossier_guids=("d-ict",))])

    related = mirror.Related()  # a new poll: everything comes from the store
    with engine.begin() as conn:
        assert related.dossiers(conn, ["d-ict", "d-old", "d-nonr", "d-new"]) == {
            "d-ict": mirror.KnownDossier(DossierRef(26643), "ICT")
        }
        # Deleted or numberless dossiers are known (no lookup needed), just not usable.
        assert related.unknown_dossiers(conn, ["d-new", "d-ict", "d-old", "d-nonr"]) == ["d-new"]
        assert related.unknown_zaken(conn, ["z-2", "z-1"]) == ["z-2"]

        # What this poll writes is answered at once, absences included.
        related.upsert_dossiers(conn, [TkDossier("d-new", nummer=36600, toevoeging="VII", titel="Begroting")])
        related.upsert_zaken(conn, [TkZaak("z-2", dossier_guids=("d-new",)), TkZaak("z-1", deleted=True)])
        assert related.unknown_dossiers(conn, ["d-new"]) == []
        assert related.dossiers(conn, ["d-new"])["d-new"].ref == DossierRef(36600, "VII")
        assert related.zaken(conn, ["z-1", "z-2"]) == {"z-2": mirror.KnownZaak(None, None, ("d-new",))}

    fresh = mirror.Related()  # and the store agrees with what was remembered
    with engine.begin() as conn:
        assert fresh.dossiers(conn, ["d-new"]) == related.dossiers(conn, ["d-new"])
        assert fresh.zaken(conn, ["z-1", "z-2"]) == related.zaken(conn, ["z-1", "z-2"])
    engine.dispose()


def test_bulk_writes_store_values_exactly_as_sqlalchemy_does(database: str) -> None:
    """db.insert_many/upsert bypass SQLAlchemy's per-row work but must store the same thing."""
    engine = open_engine(database)
    when = datetime(2025, 6, 3, 14, 5, 6, 789012, tzinfo=timezone(timedelta(hours=2)))
    base = {
        "dossiers": "26643", "kind": "Brief regering", "date": date(2025, 6, 3), "subject": "AI-fabriek",
        "senders": "", "deleted": False, "first_seen": when, "updated_at": when,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(letters.insert(), [{**base, "id": 1}])  # through SQLAlchemy
        insert_many(conn, letters, [{**base, "id": 2}])
        upsert(conn, letters, [{**base, "id": 3, "deleted": True}], ["id"])
        upsert(conn, letters, [{**base, "id": 3, "subject": "AI-fabriek Groningen"}], ["id"])
        raw = {r[0]: r[1:] for r in conn.exec_driver_sql("SELECT id, date, first_seen, deleted FROM letters")}
        read = {r.id: r for r in conn.execute(select(letters))}
    assert raw[1] == raw[2] == raw[3]  # the stored representation itself, not just the read-back
    assert read[2].first_seen == when.astimezone(UTC) and read[2].first_seen.tzinfo is not None
    assert read[2].date == date(2025, 6, 3) and read[3].deleted is False
    assert read[3].subject == "AI-fabriek Groningen"
    with engine.begin() as conn, pytest.raises(ValueError, match="same columns"):
        insert_many(conn, outbox, [{"idem_key": "a", "event": "new"}, {"idem_key": "b"}])
    engine.dispose()
