"""One-off data repairs run by schema migrations (see :mod:`monitor.store.schema`).

Schema version 1 stored a Bijlage (an SRU ``blg-…`` record, a TK Document of kind
Bijlage) as a letter of its own, or merged it into its letter through the letter's
Kamerstuk key, where it replaced the letter's publication links.  Version 2 keeps
attachments apart; :func:`bijlagen_out_of_letters` moves what version 1 stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, select, update

from .attachments import Sighting, resolve, save
from .schema import cursors, letter_keys, letters, sru_records, tk_documents

_OB_FIELDS = {"ob_identifier": None, "ob_html_url": None, "ob_pdf_url": None, "ob_html_source": None}


def bijlagen_out_of_letters(conn: Connection, now: datetime) -> None:
    """Turn version 1's bijlage-letters into attachments and give polluted letters back their own links.

    * A TK Bijlage document becomes an attachment (title and file from its letter row);
      a letter that was only that document is retired (deleted, keys dropped).
    * A letter made only of an SRU ``blg-`` record is retired likewise; a real letter that
      had taken a ``blg-`` record's identifier loses those links.
    * Every SRU record is to be read again: the backfill of each watched dossier runs
      again, silently, and brings back the letters' own ``kst-`` links and the bijlagen
      as attachments.
    """
    retire: set[int] = set()
    tk_rows = conn.execute(
        select(tk_documents.c.guid, tk_documents.c.bron_guid, letters.c.id, letters.c.subject)
        .add_columns(letters.c.tk_file_url, letters.c.ob_identifier)
        .join(letters, letters.c.id == tk_documents.c.letter_id)
        .where(func.lower(tk_documents.c.soort) == "bijlage")
    ).all()
    sightings = [
        Sighting(f"tk:{guid}", "tk", (f"tk:{bron}",) if bron else (), subject, file_url)
        for guid, bron, _lid, subject, file_url, _ob in tk_rows
    ]
    retire |= {lid for _g, _b, lid, _s, _f, ob in tk_rows if not ob or ob.lower().startswith("blg-")}
    if tk_rows:
        conn.execute(update(tk_documents).where(func.lower(tk_documents.c.soort) == "bijlage").values(letter_id=None))
    polluted = conn.execute(
        select(letters.c.id, letters.c.tk_guid).where(func.lower(letters.c.ob_identifier).like("blg-%"))
    ).all()
    retire |= {lid for lid, tk_guid in polluted if not tk_guid}
    for lid, _tk in polluted:
        conn.execute(update(letters).where(letters.c.id == lid).values(**_OB_FIELDS, details_key=None))
    if retire:
        conn.execute(update(letters).where(letters.c.id.in_(sorted(retire))).values(deleted=True, dossiers=()))
        conn.execute(delete(letter_keys).where(letter_keys.c.letter_id.in_(sorted(retire))))
    conn.execute(delete(letter_keys).where(func.lower(letter_keys.c.key).like("ob:blg-%")))
    save(conn, sightings, now)
    resolve(conn, [s.ref for s in sightings])
    # Read every publication again (silently, per dossier) so the letters get their own links back.
    conn.execute(update(sru_records).values(version=""))
    conn.execute(update(sru_records).where(func.lower(sru_records.c.identifier).like("blg-%")).values(letter_id=None))
    conn.execute(delete(cursors).where(cursors.c.name.like("sru:backfill:%")))
