"""The Teams card, the webhook body and its signature, checked against the local emulators.

The emulators (``tests/fakes/teams_server.py``, ``webhook_receiver.py``,
``apprise_target.py``) judge with their own code what the real services would accept;
these tests post the pure functions' output to them over loopback.  No internet.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from monitor.models import Alert, Attachment, Letter, LetterDetails, Signatory
from monitor.notify.markdown import md
from monitor.notify.render import where_to_read
from monitor.notify.signing import signed_headers, signing_key
from monitor.notify.teams_card import TEAMS_MAX_BYTES, teams_message
from monitor.notify.view import view_of
from monitor.notify.webhook_body import MAX_LETTERS, webhook_body, webhook_id
from tests.fakes.apprise_target import AppriseTarget
from tests.fakes.teams_server import TeamsServer
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.test_channels import digest_letters, hostile_letter
from tests.test_golden import AI_FABRIEK, BEGROTING_BZK, VERZAMELBRIEF, WITH_BIJLAGEN

SCHEMA = json.loads((Path(__file__).parent.parent / "docs" / "webhook-schema.json").read_text())
REASON = "u volgt dossier 26643"


def teams_payload(alert: Alert) -> dict[str, Any]:
    return teams_message(view_of(alert), where_to_read(alert.watches, len(alert.letters)))


def body_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def post(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(url, content=body_bytes(payload), headers={"Content-Type": "application/json", **(headers or {})})


@pytest.fixture
def teams() -> Iterator[TeamsServer]:
    with TeamsServer() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def alerts() -> dict[str, Alert]:
    return {
        "letter": Alert("new", (AI_FABRIEK,), reasons=(REASON,), watches=("ict",), delivery_id=7),
        "published": Alert("followup", (WITH_BIJLAGEN,), reasons=(REASON,), text="published", delivery_id=8),
        "attachments": Alert("followup", (WITH_BIJLAGEN,), text="attachments", delivery_id=9),
        "digest": Alert("new", (AI_FABRIEK, VERZAMELBRIEF, BEGROTING_BZK), reasons=(REASON,), delivery_id=10),
        "digest120": Alert("new", tuple(digest_letters(120)), watches=("ict",), delivery_id=11),
        "test": Alert("test", text="Testbericht van kamermonitor"),
        "operator": Alert("operator", text="syncfeed faalt\nal 5 keer op rij"),
    }


# --------------------------------------------------------------------------- Teams


@pytest.mark.parametrize("case", sorted(alerts()))
def test_teams_accepts_the_card_for_every_kind_of_alert(teams: TeamsServer, case: str) -> None:
    payload = teams_payload(alerts()[case])
    response = post(teams.url_for(), payload)
    assert response.status_code == 202, response.text
    assert len(body_bytes(payload)) <= TEAMS_MAX_BYTES
    assert teams.cards[0]["version"] == "1.4"


def test_teams_card_of_a_letter_has_title_facts_summary_signatories_bijlagen_and_link_buttons() -> None:
    card = teams_payload(alerts()["letter"])["attachments"][0]["content"]
    texts = [b.get("text", "") for b in card["body"]]
    assert texts[0] == "Dossier 26643"
    assert texts[1] == "Brief regering: Indiening voorstel AI-fabriek Groningen"
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}
    assert facts["Nummer"] == "Tweede Kamer-nummer 2025D29512"
    assert facts["Datum"] == "Den Haag, 27 juni 2025"
    assert facts["Afzender"] == "Minister van Economische Zaken"
    assert any(t.startswith("Met deze brief informeren wij u") for t in texts)
    assert any("Vincent Karremans, Minister van Economische Zaken" in t for t in texts)
    assert any("[Steunbrief provincie en gemeente Groningen](https://" in t for t in texts)
    assert [a["title"] for a in card["actions"]] == ["Tweede Kamer", "Document (Tweede Kamer)"]
    assert texts[-1] == "Waarom u dit krijgt: u volgt dossier 26643"


def test_teams_card_makes_source_text_inert_and_drops_unsafe_links(teams: TeamsServer) -> None:
    letter = dataclasses.replace(
        hostile_letter(),
        subject="[klik](https://evil.example) **vet** {{DATE(2017-02-14T06:08:39Z, SHORT)}} ${geheim}",
        attachments=(Attachment("Bijlage [x](javascript:alert(1))", "https://example.org/a(1).pdf"),),
    )
    payload = teams_payload(Alert("new", (letter,), reasons=(REASON,)))
    assert post(teams.url_for(), payload).status_code == 202
    card = payload["attachments"][0]["content"]
    texts = "\n".join(_texts(card["body"]))
    # Every bracket from outside is escaped, so no link, emphasis or date function is made of it.
    assert re.search(r"(?<!\\)\]\(", texts.replace("](https://example.org/a%281%29.pdf)", "")) is None
    assert "\\[klik\\](https://evil.example)" in texts
    assert "\\*\\*vet\\*\\*" in texts
    assert "{{DATE" not in texts and "${geheim" not in texts
    assert "[Bijlage \\[x\\](javascript:alert(1))](https://example.org/a%281%29.pdf)" in texts
    assert "data:text" not in json.dumps(card) and "JavaScript:" not in json.dumps(card)
    assert [a["url"] for a in card["actions"]] == ["https://example.org/kst?a=1&b=2%7Cevil%3Ex%3Cy"]


def _texts(elements: list[dict[str, Any]]) -> Iterator[str]:
    for element in elements:
        yield element.get("text", "")
        yield from (f["value"] for f in element.get("facts", []))
        yield from _texts(element.get("items", []))


def test_markdown_escaping_leaves_ordinary_text_alone() -> None:
    assert md("Informatie- en communicatietechnologie (ICT)") == "Informatie- en communicatietechnologie (ICT)"
    assert md("- geen lijst") == "\\- geen lijst"
    assert md("2025. geen genummerde lijst") == "2025\\. geen genummerde lijst"
    assert md("a_b*c`d") == "a\\_b\\*c\\`d"


def test_teams_digest_of_120_letters_fits_and_names_how_many_more(teams: TeamsServer) -> None:
    payload = teams_payload(alerts()["digest120"])
    assert len(body_bytes(payload)) <= TEAMS_MAX_BYTES
    assert post(teams.url_for(), payload).status_code == 202
    text = json.dumps(payload, ensure_ascii=False)
    assert "… en " in text and " meer in dossier 26643" in text
    assert "Alle 120 brieven" in text
    shown = sum(1 for b in payload["attachments"][0]["content"]["body"] if b["type"] == "Container")
    assert 3 <= shown < 120


def test_teams_card_with_hundreds_of_long_bijlagen_is_trimmed_to_fit(teams: TeamsServer) -> None:
    many = tuple(Attachment(f"Bijlage {i} " + "lang " * 50, f"https://example.org/{'x' * 1500}/{i}") for i in range(30))
    signers = tuple(Signatory(f"Naam {i}", "Minister " * 30) for i in range(12))
    details = dataclasses.replace(AI_FABRIEK.details or LetterDetails(), signatories=signers)
    letter = dataclasses.replace(AI_FABRIEK, attachments=many, details=details)
    payload = teams_payload(Alert("new", (letter,)))
    assert len(body_bytes(payload)) <= TEAMS_MAX_BYTES
    assert post(teams.url_for(), payload).status_code == 202
    assert "… en " in json.dumps(payload, ensure_ascii=False)


BAD_CARDS = {
    "version 1.2": ({"version": "1.2"}, "version must be 1.4 or 1.5"),
    "TextBlock without text": ({"body": [{"type": "TextBlock"}]}, "body[0].text is required"),
    "OpenUrl without url": ({"actions": [{"type": "Action.OpenUrl", "title": "x"}]}, "actions[0].url is required"),
    "OpenUrl to javascript": ({"actions": [{"type": "Action.OpenUrl", "url": "javascript:x"}]}, "absolute http(s)"),
    "unknown element": ({"body": [{"type": "Marquee", "text": "x"}]}, "unknown element type 'Marquee'"),
    "fact without value": ({"body": [{"type": "FactSet", "facts": [{"title": "a"}]}]}, "needs string title"),
}


@pytest.mark.parametrize("case", sorted(BAD_CARDS))
def test_teams_emulator_answers_400_with_the_reason_for_a_bad_card(teams: TeamsServer, case: str) -> None:
    change, reason = BAD_CARDS[case]
    payload = teams_payload(alerts()["letter"])
    payload["attachments"][0]["content"].update(change)
    response = post(teams.url_for(), payload)
    assert response.status_code == 400
    assert reason in response.json()["error"]["message"]
    assert teams.messages == []


def test_teams_emulator_rejects_a_message_over_28_kb_and_a_wrong_envelope(teams: TeamsServer) -> None:
    payload = teams_payload(alerts()["letter"])
    payload["attachments"][0]["content"]["body"].append({"type": "TextBlock", "text": "x" * TEAMS_MAX_BYTES})
    assert post(teams.url_for(), payload).json()["error"]["code"] == "MessageSizeTooBig"
    assert post(teams.url_for(), {"type": "message", "attachments": []}).status_code == 400
    wrong = {"type": "message", "attachments": [{"contentType": "text/plain", "content": {}}]}
    assert "contentType" in post(teams.url_for(), wrong).json()["error"]["message"]


def test_teams_emulator_answers_like_workflows_to_faults_and_bad_urls(teams: TeamsServer) -> None:
    payload = teams_payload(alerts()["letter"])
    teams.rate_limit_next(1, retry_after=7)
    limited = post(teams.url_for(), payload)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "7")
    teams.fail_next(1, "503")
    assert post(teams.url_for(), payload).status_code == 503
    assert post(teams.url_for(sig="wrong"), payload).status_code == 401
    for workflow, status in (("unauthorized", 401), ("forbidden", 403), ("gone", 404), ("boom", 500)):
        assert post(teams.url_for(workflow), payload).status_code == status
    assert teams.messages == []
    assert post(teams.url_for(), payload).status_code == 202
    with TeamsServer(accept_status=200) as old:
        assert post(old.url_for(), payload).status_code == 200


# --------------------------------------------------------------------------- webhook body and signature


@pytest.mark.parametrize("case", sorted(alerts()))
def test_webhook_body_follows_the_published_schema(case: str) -> None:
    body = webhook_body(alerts()[case])
    jsonschema.validate(body, SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert json.loads(body_bytes(body)) == body


def test_webhook_body_of_a_letter_carries_everything_a_receiver_needs() -> None:
    data = webhook_body(alerts()["letter"])["data"]
    letter = data["letters"][0]
    assert (data["event"], data["is_followup"], data["digest"], data["reasons"]) == ("new", False, False, [REASON])
    assert letter["dossiers"] == ["26643"] and letter["kind"] == "Brief regering"
    assert letter["subject"] == "Indiening voorstel AI-fabriek Groningen"
    assert (letter["date"], letter["number"], letter["ids"]["document_nummer"]) == ("2025-06-27", None, "2025D29512")
    assert letter["sender"] == "Minister van Economische Zaken"
    assert letter["signatories"][0] == {"name": "Vincent Karremans", "office": "Minister van Economische Zaken"}
    assert [a["title"] for a in letter["attachments"]][1] == "Steunbrief provincie en gemeente Groningen"
    assert letter["links"]["tweedekamer"].startswith("https://www.tweedekamer.nl/")
    published = webhook_body(alerts()["published"])
    assert published["type"] == "letter.followup"
    assert published["data"]["followup"] == "published" and published["data"]["is_followup"] is True
    assert published["data"]["letters"][0]["citation"] == "Kamerstuk 26643, nr. 1384"


def test_webhook_body_lists_at_most_500_letters_and_counts_the_rest() -> None:
    body = webhook_body(Alert("new", tuple(digest_letters(MAX_LETTERS + 20))))
    assert len(body["data"]["letters"]) == MAX_LETTERS
    assert (body["data"]["letters_total"], body["data"]["letters_omitted"]) == (MAX_LETTERS + 20, 20)
    jsonschema.validate(body, SCHEMA)


def test_webhook_body_drops_unsafe_links_and_control_characters() -> None:
    body = webhook_body(Alert("new", (hostile_letter(),)))
    letter = body["data"]["letters"][0]
    assert letter["links"]["tweedekamer"] is None and letter["links"]["publication_pdf"] is None
    assert "\r" not in letter["subject"] and "\x1b" not in letter["subject"]
    jsonschema.validate(body, SCHEMA)


def test_webhook_id_is_stable_per_delivery_and_differs_between_deliveries() -> None:
    a = alerts()["letter"]
    assert webhook_id(a) == webhook_id(dataclasses.replace(a))
    assert webhook_id(a) != webhook_id(dataclasses.replace(a, delivery_id=8))
    assert webhook_id(alerts()["test"]) != webhook_id(alerts()["test"])


def test_standard_webhooks_reference_signature() -> None:
    # The test vector of the Standard Webhooks reference libraries.
    key = signing_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    headers = signed_headers(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert headers["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signing_secret_must_be_base64_after_whsec_and_long_enough() -> None:
    with pytest.raises(ValueError, match="base64"):
        signing_key("whsec_not base64!")
    with pytest.raises(ValueError, match="too short"):
        signing_key("short")
    assert signing_key("a plain secret of some length") == b"a plain secret of some length"


def signed_post(url: str, secret: str, msg_id: str, payload: dict[str, Any], when: int | None = None) -> httpx.Response:
    raw = body_bytes(payload)
    headers = signed_headers(signing_key(secret), msg_id, int(time.time()) if when is None else when, raw)
    return httpx.post(url, content=raw, headers={"Content-Type": "application/json", **headers})


def test_receiver_verifies_the_signature_and_deduplicates_by_webhook_id(receiver: WebhookReceiver) -> None:
    alert = alerts()["letter"]
    body, msg_id = webhook_body(alert), webhook_id(alert)
    assert signed_post(receiver.url_for(), receiver.secret, msg_id, body).status_code == 204
    assert signed_post(receiver.url_for(), receiver.secret, msg_id, body).status_code == 200
    assert receiver.messages == [body] and receiver.duplicates == [msg_id]
    other = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    assert signed_post(receiver.url_for(), other, "msg_other", body).status_code == 401
    stale = int(time.time()) - 3600
    assert signed_post(receiver.url_for(), receiver.secret, "msg_stale", body, when=stale).status_code == 400
    assert post(receiver.url_for(), body).status_code == 400  # unsigned
    assert signed_post(receiver.url_for("gone"), receiver.secret, "msg_x", body).status_code == 410
    assert len(receiver.messages) == 1


def test_receiver_rejects_a_body_changed_after_signing(receiver: WebhookReceiver) -> None:
    raw = body_bytes(webhook_body(alerts()["letter"]))
    headers = signed_headers(signing_key(receiver.secret), "msg_1", int(time.time()), raw)
    tampered = raw.replace(b"AI-fabriek", b"AI-fabriek!")
    response = httpx.post(receiver.url_for(), content=tampered, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    assert receiver.messages == []


def test_letter_without_anything_still_makes_a_valid_card_and_body(teams: TeamsServer) -> None:
    bare = Alert("new", (Letter(id=99),))
    assert post(teams.url_for(), teams_payload(bare)).status_code == 202
    jsonschema.validate(webhook_body(bare), SCHEMA)


# --------------------------------------------------------------------------- Apprise's local target


def test_apprise_json_plugin_delivers_to_the_local_target_without_network() -> None:
    apprise = pytest.importorskip("apprise")
    with AppriseTarget() as target:
        sender = apprise.Apprise()
        assert sender.add(target.apprise_url())
        assert sender.notify(body="**Nieuwe brief** in dossier 26643", title="[26643] Brief regering")
        target.fail_next(1, "500")
        assert not sender.notify(body="b", title="t")
        assert [(m["title"], m["message"]) for m in target.messages] == [
            ("[26643] Brief regering", "**Nieuwe brief** in dossier 26643")
        ]
