"""Golden files of the Teams card and the webhook body, as reviewed, with their sizes within limits.

Three cases: a new letter (the AI-fabriek letter of ``tests/test_golden.py``), its
follow-up when it was published, and a digest of 120 letters over two dossiers.  Files:
``<case>.teams.json`` (the message posted to the Workflows URL) and ``<case>.webhook.json``
(the signed webhook's body).  After an intended change rewrite them with
``KAMERMONITOR_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_channels.py`` and review
the diff.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from monitor.models import Alert
from monitor.notify.teams import TeamsChannel
from monitor.notify.teams_card import TEAMS_MAX_BYTES
from monitor.notify.webhook import WebhookChannel
from tests.test_channels import digest_letters
from tests.test_golden import AI_FABRIEK, PUBLISHED, check

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "webhook-schema.json").read_text())
QUEUED = datetime(2025, 6, 27, 15, 5, tzinfo=UTC)
WEBHOOK_MAX_BYTES = 1024 * 1024  # what docs/webhooks.md promises receivers

CASES = {
    "ai_fabriek_new": Alert("new", (AI_FABRIEK,), ("u volgt dossier 26643",), ("ict",), delivery_id=101),
    "ai_fabriek_published": Alert("followup", (PUBLISHED,), (), ("ict",), "published", delivery_id=103),
    "digest_120": Alert("new", tuple(digest_letters(120)), ("u volgt dossier 26643",), ("ict",), delivery_id=106),
}  # fmt: skip


def alert(case: str) -> Alert:
    return dataclasses.replace(CASES[case], created_at=QUEUED)


def teams_json(case: str) -> bytes:
    channel = TeamsChannel("teams", webhook_url="https://example.org/workflows/x/triggers/manual/paths/invoke")
    return json.dumps(channel.payload(alert(case)), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def webhook_json(case: str) -> bytes:
    channel = WebhookChannel("hook", url="https://example.org/hook", secret="whsec_" + "QUFB" * 8)
    return json.dumps(channel.payload(alert(case)), ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


@pytest.mark.parametrize("case", sorted(CASES))
def test_teams_card_and_webhook_body_match_the_golden_files(case: str) -> None:
    check(f"{case}.teams.json", teams_json(case).decode("utf-8"))
    check(f"{case}.webhook.json", webhook_json(case).decode("utf-8"))


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_payloads_are_within_the_limits(case: str) -> None:
    # Measured as the channels send them (not pretty-printed as in the golden files).
    card, body = json.loads(teams_json(case)), json.loads(webhook_json(case))
    assert len(json.dumps(card, ensure_ascii=False).encode("utf-8")) <= TEAMS_MAX_BYTES
    assert len(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) <= WEBHOOK_MAX_BYTES
    jsonschema.validate(body, SCHEMA)


def test_the_digest_names_all_120_letters_in_the_webhook_and_says_how_many_more_in_teams() -> None:
    body = json.loads(webhook_json("digest_120"))
    assert len(body["data"]["letters"]) == body["data"]["letters_total"] == 120
    card = json.loads(teams_json("digest_120"))["attachments"][0]["content"]
    shown = [b for b in card["body"] if b["type"] == "Container"]
    mores = [b["text"] for b in card["body"] if b["type"] == "TextBlock" and b["text"].startswith("… en ")]
    more = sum(int(text.split()[2]) for text in mores)
    assert len(shown) + more == 120 and more > 0
    # Without a web surface, where to read them all is the command that lists them.
    assert card["body"][-2]["text"] == "Alle 120 brieven: `kamermonitor list --watch ict --limit 120`"
