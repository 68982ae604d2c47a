"""The raw mirror of what the SRU search said: each record's version and the letter it became.

A record whose version is on record is not observed again; the merged, human-facing view
lives in :mod:`monitor.store.letters`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, select

from ...store.db import chunks, upsert
from ...store.schema import sru_records


def sru_versions(conn: Connection, identifiers: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for chunk in chunks(list(set(identifiers))):
        rows = conn.execute(
            select(sru_records.c.identifier, sru_records.c.version).where(sru_records.c.identifier.in_(chunk))
        )
        out.update({ident: version for ident, version in rows})
    return out


def upsert_sru(conn: Connection, rows: Sequence[dict[str, object]]) -> None:
    upsert(conn, sru_records, rows, ["identifier"])
