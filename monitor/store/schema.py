"""Tables and versioned migrations, in SQLAlchemy Core so SQLite and PostgreSQL share them.

Each migration runs in one transaction together with the row that records it in
``schema_version``; a database newer than this code is refused rather than guessed at.
Timestamps are stored timezone-aware in UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.operators import OperatorType
from sqlalchemy.types import TypeEngine

from ..models import DossierRef


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite keeps no zone, so it is restored on read."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DossierList(TypeDecorator[tuple[DossierRef, ...]]):
    """A letter's dossiers: ``tuple[DossierRef, ...]`` in Python, ``"26643,36600-VII"`` in the column.

    The one place the stored form is written and read back.  A ``str`` is taken as the
    stored form itself; compared with a ``str`` (``LIKE '%26643%'``) the column is plain text.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Sequence[DossierRef] | str | None, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):
            return value
        return ",".join(str(d) for d in value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> tuple[DossierRef, ...]:
        return _parse_dossiers(value) if value else ()

    def coerce_compared_value(self, op: OperatorType | None, value: Any) -> TypeEngine[Any]:
        return Text() if isinstance(value, str) else self


@functools.lru_cache(maxsize=4096)
def _parse_dossiers(text: str) -> tuple[DossierRef, ...]:
    """Few distinct lists ("26643,32761") recur over thousands of letters: each is parsed once."""
    return tuple(DossierRef.parse(d) for d in text.split(",") if d)


metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("applied_at", UTCDateTime(), nullable=False),
)

# Source cursors (SyncFeed skiptokens per category, SRU last successful date).
cursors = Table(
    "cursors",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

source_health = Table(
    "source_health",
    metadata,
    Column("source", String(64), primary_key=True),
    Column("last_attempt", UTCDateTime()),
    Column("last_success", UTCDateTime()),
    Column("last_new_data", UTCDateTime()),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("not_before", UTCDateTime()),  # Retry-After from the source
)

tk_dossiers = Table(
    "tk_dossiers",
    metadata,
    Column("guid", String(64), primary_key=True),
    Column("nummer", Integer),
    Column("toevoeging", String(32)),
    Column("titel", Text),
    Column("deleted", Boolean, nullable=False, default=False),
)

tk_zaken = Table(
    "tk_zaken",
    metadata,
    Column("guid", String(64), primary_key=True),
    Column("nummer", String(32)),
    Column("soort", String(255)),
    Column("dossier_guids", Text, nullable=False, default=""),
    Column("deleted", Boolean, nullable=False, default=False),
)

# The latest state of every TK Document, kept so that a later Zaak or Kamerstukdossier
# change can re-evaluate a document that arrived without its dossier link.
tk_documents = Table(
    "tk_documents",
    metadata,
    Column("guid", String(64), primary_key=True),
    Column("letter_id", Integer, index=True),
    Column("nummer", String(32)),
    Column("soort", String(255)),
    Column("volgnummer", Integer),
    Column("dossier_guids", Text, nullable=False, default=""),
    Column("zaak_guids", Text, nullable=False, default=""),
    Column("bron_guid", String(64), index=True),
    Column("content_type", String(128)),
    Column("content_length", BigInteger),
    Column("skiptoken", BigInteger),
    Column("deleted", Boolean, nullable=False, default=False),
)

# Document → Zaak / Kamerstukdossier references, indexed by the referenced GUID so a
# changed Zaak or a newly learnt dossier finds the documents to re-evaluate.
tk_document_refs = Table(
    "tk_document_refs",
    metadata,
    Column("doc_guid", String(64), nullable=False),
    Column("ref_guid", String(64), nullable=False),
    Column("kind", String(8), nullable=False),  # zaak | dossier
    PrimaryKeyConstraint("doc_guid", "ref_guid"),
    Index("ix_docrefs_ref", "ref_guid"),
)

sru_records = Table(
    "sru_records",
    metadata,
    Column("identifier", String(128), primary_key=True),
    Column("letter_id", Integer, index=True),
    Column("version", String(64), nullable=False),  # modified date + change timestamp
    Column("hoofddocument", String(128), index=True),
)

# The sources' mirror rows that point at a letter: when two letters turn out to be one,
# every one of them follows the letter that is kept.
MIRRORED_LETTER_IDS = (tk_documents.c.letter_id, sru_records.c.letter_id)

letters = Table(
    "letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dossiers", DossierList(), nullable=False, default=()),  # "26643,32761" in the database
    Column("dossier_title", Text),
    Column("number", String(32)),
    Column("kind", String(255)),
    Column("date", Date),
    Column("subject", Text),
    Column("title", Text),
    Column("vergaderjaar", String(16)),
    Column("document_nummer", String(32)),
    Column("zaak_nummer", String(32)),
    Column("tk_guid", String(64)),
    Column("ob_identifier", String(128)),
    Column("senders", Text, nullable=False, default=""),  # newline-separated
    Column("tk_url", Text),
    Column("tk_file_url", Text),
    Column("ob_html_url", Text),
    Column("ob_pdf_url", Text),
    Column("ob_html_source", Text),  # the repository's HTML manifestation, read for enrichment
    Column("details", Text),  # LetterDetails JSON, for the letter version in details_key
    Column("details_key", Text),
    Column("details_error", Text),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)


# Every identity a letter is known by: tk:<guid>, tknr:<DocumentNummer>,
# kst:<dossier>-<nr>, ob:<identifier>.  One key, one letter.
letter_keys = Table(
    "letter_keys",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("letter_id", Integer, nullable=False, index=True),
)

watches = Table(
    "watches",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("baselined_at", UTCDateTime(), nullable=False),
)

matches = Table(
    "matches",
    metadata,
    Column("watch", String(128), nullable=False),
    Column("letter_id", Integer, nullable=False),
    Column("matched_at", UTCDateTime(), nullable=False),
    Column("silent", Boolean, nullable=False),  # recorded as baseline, not alerted
    PrimaryKeyConstraint("watch", "letter_id"),
    Index("ix_matches_letter", "letter_id"),
)

# The transactional outbox: written in the same transaction that records the letter.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("idem_key", String(255), nullable=False, unique=True),
    Column("event", String(16), nullable=False),  # new | followup | operator | test
    Column("channel", String(128), nullable=False),
    Column("target", String(320), nullable=False, default=""),
    Column("letter_id", Integer),  # None for operator and test messages
    Column("batch", String(64), nullable=False, default=""),  # the poll that produced it
    # Held for a digest or until quiet hours end: rows with the same hold go out as one message.
    Column("hold", String(64), nullable=False, default=""),
    Column("watch", String(128), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),  # why it matched; for an attachment follow-up: its ref
    Column("text", Text),
    Column("status", String(16), nullable=False),  # pending | sending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("locked_until", UTCDateTime()),
    Column("locked_by", String(64)),
    Column("last_error", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("first_failure_at", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

# Short leases so that several instances sharing PostgreSQL never poll one source at once.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("until", UTCDateTime(), nullable=False),
)

# Operational conditions already announced, so a warning is sent once per condition.
conditions = Table(
    "conditions",
    metadata,
    Column("key", String(160), primary_key=True),
    Column("since", UTCDateTime(), nullable=False),
    Column("detail", Text),
    Column("value", Float),
)


# Bijlagen (attachments) of letters, from either source.  An attachment is never a letter:
# it has its own identity (``ob:blg-…`` or ``tk:<guid>``) and is attached to the letter that
# owns one of its parent keys (identity keys of ``letter_keys``, strongest first).  Until
# such a letter exists, ``letter_id`` is NULL: the attachment waits (docs/sources.md).
attachments = Table(
    "attachments",
    metadata,
    Column("ref", String(160), primary_key=True),  # ob:blg-936562 | tk:<guid>
    Column("source", String(8), nullable=False),  # sru | tk
    Column("title", Text),
    Column("url", Text),  # the file: PDF (SRU) or the TK document file
    Column("page_url", Text),  # its page on officiële bekendmakingen, when it has one
    Column("letter_id", Integer, index=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

attachment_parents = Table(
    "attachment_parents",
    metadata,
    Column("ref", String(160), nullable=False),
    Column("key", String(160), nullable=False),  # a letter identity key: ob:kst-…, kst:…, tk:…
    Column("rank", Integer, nullable=False),  # 0 = strongest (hoofddocument, bronDocument)
    PrimaryKeyConstraint("ref", "key"),
    Index("ix_attachment_parents_key", "key"),
)

_V1_TABLES = (
    schema_version, cursors, source_health, tk_dossiers, tk_zaken, tk_documents, tk_document_refs,
    sru_records, letters, letter_keys, watches, matches, outbox, leases, conditions,
)  # fmt: skip


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(_V1_TABLES))


def _v2(conn: Connection) -> None:
    metadata.create_all(conn, tables=[attachments, attachment_parents])
    from .repair import bijlagen_out_of_letters  # the repair reads these tables; imported when needed

    bijlagen_out_of_letters(conn, datetime.now(UTC))


def _v3(conn: Connection) -> None:
    """ix_letters_live: counting the letters on record (/metrics) reads this narrow index, not the wide rows.

    Partial, on the id, with the very condition ``count_letters`` uses ("deleted = 0"): an
    index on ``deleted`` itself led SQLite to drive the watch listings (``deleted IS 0``
    joined with matches) through it, scanning every letter.  Written as DDL here rather
    than in the table's metadata, whose dialect-specific options would import
    PostgreSQL's dialect in every command.
    """
    false = "false" if conn.dialect.name == "postgresql" else "0"
    conn.execute(text(f"CREATE INDEX IF NOT EXISTS ix_letters_live ON letters (id) WHERE deleted = {false}"))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "initial schema", _v1),
    (2, "attachments apart from letters", _v2),
    (3, "index to count the letters on record", _v3),
]
LATEST = MIGRATIONS[-1][0]


class SchemaTooNew(Exception):
    pass


def current_version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    value = conn.execute(select(schema_version.c.version).order_by(schema_version.c.version.desc())).scalar()
    return int(value or 0)


def migrate(conn: Connection) -> list[int]:
    """Apply pending migrations inside the caller's transaction; return versions applied."""
    if conn.dialect.name == "postgresql":
        # Two instances starting together must not both create the schema.
        conn.execute(text("SELECT pg_advisory_xact_lock(726643)"))
    version = current_version(conn)
    if version > LATEST:
        raise SchemaTooNew(f"database schema version {version} is newer than this kamermonitor ({LATEST})")
    applied = []
    for number, _name, step in MIGRATIONS:
        if number <= version:
            continue
        step(conn)
        conn.execute(schema_version.insert().values(version=number, applied_at=datetime.now(UTC)))
        applied.append(number)
    return applied
