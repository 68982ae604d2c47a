"""The ``webhook`` channel's JSON body: one alert as data, in a documented and versioned schema.

The schema is ``docs/webhook-schema.json`` (JSON Schema 2020-12); ``docs/webhooks.md``
explains it with an example.  The envelope follows the Standard Webhooks payload
convention (``type``, ``timestamp``, ``data``) plus ``version``:

* ``version`` is :data:`SCHEMA_VERSION`; fields are only ever added within a version;
  removing one or changing its meaning makes a new version;
* ``type`` is ``letter.new`` (one letter, or a digest of several), ``letter.followup``
  (a letter alerted before is now published, or got bijlagen), ``monitor.test`` or
  ``monitor.operator``;
* ``data`` holds the letters with their identities (the monitor's id, the Tweede Kamer's
  document number and GUID, the official publication's identifier), dossiers, kind,
  subject, Kamerstuk number, date, sender, summary, signatories, attachments and links,
  and why the alert was sent (``reasons``, ``watches``).

Strings are single-line and free of control and invisible characters; URLs are http(s)
only; at most :data:`MAX_LETTERS` letters are listed (``letters_omitted`` counts the
rest).  Pure functions, no I/O: the same alert always gives the same body.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any, Final

from ..models import Alert, Letter, kamerstuk_citation
from .clean import multiline, oneline, safe_url

SCHEMA_VERSION: Final = 1
MAX_LETTERS: Final = 500  # a digest beyond this lists the first 500 and counts the rest
MAX_ATTACHMENTS: Final = 100
MAX_SIGNATORIES: Final = 30
TYPES: Final = {"new": "letter.new", "followup": "letter.followup", "test": "monitor.test"}


def webhook_id(alert: Alert) -> str:
    """``msg_…``: the same for every attempt of one delivery, different for every other one.

    Built from the outbox row, the alert's time and what it is about, so a receiver that
    deduplicates on it never drops a new alert after the monitor's database was replaced.
    A test alert (no outbox row) gets a fresh random id.
    """
    if alert.delivery_id is None:
        import uuid  # (and platform with it) only for a test alert

        return f"msg_{uuid.uuid4().hex}"
    created = alert.created_at.isoformat() if alert.created_at else ""
    ids = ",".join(str(x.id) for x in alert.letters)
    seed = f"{alert.delivery_id}|{created}|{alert.event}|{oneline(alert.text, 40)}|{ids}"
    return "msg_" + hashlib.sha256(seed.encode()).hexdigest()[:32]


def webhook_body(alert: Alert) -> dict[str, Any]:
    """The JSON object posted for ``alert`` (serialise with ``ensure_ascii=False``)."""
    letters = alert.letters[:MAX_LETTERS]
    followup = oneline(alert.text, 40) if alert.event == "followup" else None
    free_text = None if alert.event in ("new", "followup") else multiline(alert.text) or None
    reasons = [r for r in (oneline(x, 300) for x in alert.reasons[:20]) if r]
    return {
        "version": SCHEMA_VERSION,
        "type": TYPES.get(alert.event, "monitor.operator"),
        "timestamp": _when(alert.created_at),
        "data": {
            "delivery": alert.delivery_id,
            "event": alert.event if alert.event in TYPES else "operator",
            "followup": followup or None,
            "is_followup": alert.event == "followup",
            "digest": alert.event == "new" and len(alert.letters) > 1,
            "watches": [w for w in (oneline(x, 100) for x in alert.watches[:50]) if w],
            "reasons": reasons,
            "text": free_text,
            "letters_total": len(alert.letters),
            "letters_omitted": len(alert.letters) - len(letters),
            "letters": [letter_json(x) for x in letters],
        },
    }


def letter_json(letter: Letter) -> dict[str, Any]:
    details = letter.details
    number = letter.number or (details.number if details else None)
    office = oneline(details.sender_office, 300) if details else ""
    senders = [s for s in (oneline(x, 200) for x in letter.senders[:20]) if s]
    signed = details.signatories[:MAX_SIGNATORIES] if details else ()
    return {
        "id": letter.id,
        "dossiers": [str(d) for d in letter.dossiers],
        "dossier_title": _text(letter.dossier_title, 300),
        "kind": _text(letter.kind, 80),
        "subject": _text(letter.subject or (details.subject if details else None), 1000),
        "number": _text(number, 20),
        "citation": _text(kamerstuk_citation([str(d) for d in letter.dossiers], number), 200),
        "date": _day(letter.date or (details.letter_date if details else None)),
        "place_date_line": _text(details.place_date_line, 200) if details else None,
        "vergaderjaar": _text(letter.vergaderjaar, 20),
        "sender": office or "; ".join(senders) or None,
        "senders": senders,
        "summary": _text(details.summary, 1000) if details else None,
        "signatories": [{"name": _text(s.name, 200), "office": _text(s.office, 300)} for s in signed],
        "attachments": [
            {"title": oneline(a.title, 300) or "Bijlage", "url": safe_url(a.url)}
            for a in letter.attachments[:MAX_ATTACHMENTS]
        ],
        "links": {
            "tweedekamer": safe_url(letter.tk_url),
            "tweedekamer_document": safe_url(letter.tk_file_url),
            "publication_html": safe_url(letter.ob_html_url),
            "publication_pdf": safe_url(letter.ob_pdf_url),
        },
        "ids": {
            "document_nummer": _text(letter.document_nummer, 40),
            "zaak_nummer": _text(letter.zaak_nummer, 40),
            "tk_guid": _text(letter.tk_guid, 80),
            "ob_identifier": _text(letter.ob_identifier, 80),
        },
        "first_seen": _when(letter.first_seen),
    }


def _text(value: str | None, limit: int) -> str | None:
    return oneline(value, limit) or None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
