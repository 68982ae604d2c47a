"""The Teams, signed-webhook and Apprise channels against their local emulators: what counts as
delivered, what is permanent, what is retried (and after how long), and that no secret leaks.

No internet: every far end is a server on 127.0.0.1 (``tests/fakes``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from monitor.models import Alert
from monitor.notify.apprise import AppriseChannel
from monitor.notify.base import DeliveryError
from monitor.notify.teams import TeamsChannel
from monitor.notify.webhook import WebhookChannel
from monitor.notify.webhook_body import webhook_id
from tests.fakes.apprise_target import AppriseTarget
from tests.fakes.teams_server import SIGNATURE, TeamsServer
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.test_golden import AI_FABRIEK

ALERT = Alert("new", (AI_FABRIEK,), reasons=("u volgt dossier 26643",), delivery_id=42)


@pytest.fixture
def teams() -> Iterator[TeamsServer]:
    with TeamsServer(hang_seconds=3) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(hang_seconds=3) as server:
        yield server


def failure(channel: TeamsChannel | WebhookChannel | AppriseChannel, alert: Alert = ALERT) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        channel.send(alert, "")
    return caught.value


# --------------------------------------------------------------------------- Teams


def test_teams_202_and_200_are_delivered(teams: TeamsServer) -> None:
    TeamsChannel("teams", webhook_url=teams.url_for()).send(ALERT, "")
    with TeamsServer(accept_status=200) as old:
        TeamsChannel("teams", webhook_url=old.url_for()).send(ALERT, "")
        assert len(old.cards) == 1
    assert teams.cards[0]["body"][1]["text"] == "Brief regering: Indiening voorstel AI-fabriek Groningen"


@pytest.mark.parametrize(("workflow", "status"), [("unauthorized", 401), ("forbidden", 403), ("gone", 404)])
def test_teams_revoked_disabled_or_removed_workflow_is_permanent(
    teams: TeamsServer, workflow: str, status: int
) -> None:
    error = failure(TeamsChannel("teams", webhook_url=teams.url_for(workflow)))
    assert error.permanent and f"answered {status}" in str(error)


def test_teams_bad_card_is_permanent_with_teams_reason(teams: TeamsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    channel = TeamsChannel("teams", webhook_url=teams.url_for())
    broken = channel.payload(ALERT)
    broken["attachments"][0]["content"]["version"] = "1.0"  # type: ignore[index]
    monkeypatch.setattr(channel, "payload", lambda alert: broken)
    error = failure(channel)
    assert error.permanent
    assert "answered 400" in str(error) and "version must be 1.4 or 1.5" in str(error)


def test_teams_429_and_5xx_are_transient_and_honour_retry_after(teams: TeamsServer) -> None:
    channel = TeamsChannel("teams", webhook_url=teams.url_for())
    teams.rate_limit_next(1, retry_after=30)
    limited = failure(channel)
    assert (limited.permanent, limited.retry_after) == (False, 30.0)
    teams.fail_next(1, "503")
    assert failure(channel).permanent is False
    teams.rate_limit_next(1, retry_after="1e12")  # hostile: clamped, not obeyed
    clamped = failure(channel)
    assert clamped.retry_after is not None and clamped.retry_after <= 6 * 3600
    channel.send(ALERT, "")
    assert len(teams.messages) == 1


def test_teams_timeout_and_dropped_connection_are_transient(teams: TeamsServer) -> None:
    channel = TeamsChannel("teams", webhook_url=teams.url_for(), timeout=0.5)
    teams.fail_next(1, "hang")
    assert failure(channel).permanent is False
    teams.fail_next(1, "drop")
    assert failure(channel).permanent is False


def test_teams_url_and_signature_never_appear_in_errors_or_describe(teams: TeamsServer) -> None:
    url = teams.url_for("unauthorized")
    channel = TeamsChannel("teams", webhook_url=url)
    said = " ".join([str(failure(channel)), channel.describe(), repr(channel)])
    assert SIGNATURE not in said and "unauthorized" not in said and url not in said
    with pytest.raises(ValueError, match="http"):
        TeamsChannel("teams", webhook_url="ftp://example.org/x")


# --------------------------------------------------------------------------- signed webhook


def test_webhook_is_signed_verified_and_deduplicated_across_retries(receiver: WebhookReceiver) -> None:
    channel = WebhookChannel("hook", url=receiver.url_for(), secret=receiver.secret)
    channel.send(ALERT, "")
    channel.send(ALERT, "")  # a retry after an answer that was lost: same webhook-id
    assert receiver.ids == [webhook_id(ALERT)] and receiver.duplicates == [webhook_id(ALERT)]
    assert receiver.messages[0]["data"]["letters"][0]["subject"] == "Indiening voorstel AI-fabriek Groningen"
    assert receiver.requests[0].headers["User-Agent"] == "kamermonitor-webhook/1"


def test_webhook_410_and_other_4xx_are_permanent(receiver: WebhookReceiver) -> None:
    gone = failure(WebhookChannel("hook", url=receiver.url_for("gone"), secret=receiver.secret))
    assert gone.permanent and "answered 410" in str(gone)
    wrong = failure(WebhookChannel("hook", url=receiver.url_for(), secret="whsec_" + "QUFB" * 8))
    assert wrong.permanent and "answered 401" in str(wrong)


def test_webhook_429_and_5xx_are_transient(receiver: WebhookReceiver) -> None:
    channel = WebhookChannel("hook", url=receiver.url_for(), secret=receiver.secret)
    receiver.rate_limit_next(1, retry_after=12)
    limited = failure(channel)
    assert (limited.permanent, limited.retry_after) == (False, 12.0)
    receiver.fail_next(1, "502")
    assert failure(channel).permanent is False
    channel.send(ALERT, "")
    assert len(receiver.messages) == 1


def test_webhook_secret_and_url_token_never_appear_in_errors(receiver: WebhookReceiver) -> None:
    url = receiver.url_for("unauthorized") + "?token=s3cr3t-t0ken"
    channel = WebhookChannel("hook", url=url, secret=receiver.secret)
    said = " ".join([str(failure(channel)), channel.describe(), repr(channel)])
    assert receiver.secret not in said and "s3cr3t-t0ken" not in said
    with pytest.raises(ValueError, match="base64") as caught:
        WebhookChannel("hook", url=receiver.url_for(), secret="whsec_!!not-base64!!")
    assert "not-base64" not in str(caught.value)


# --------------------------------------------------------------------------- Apprise

needs_apprise = pytest.mark.skipif(importlib.util.find_spec("apprise") is None, reason="the apprise extra")


@needs_apprise
def test_apprise_delivers_markdown_through_the_local_json_target() -> None:
    with AppriseTarget() as target:
        channel = AppriseChannel("chat", url=target.apprise_url())
        assert channel.markdown
        channel.send(ALERT, "")
        [message] = target.messages
        assert message["title"] == "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen"
        assert message["message"].startswith("**Tweede Kamer-nummer 2025D29512** · Den Haag, 27 juni 2025\n")
        assert "[Tweede Kamer](https://www.tweedekamer.nl/" in message["message"]


@needs_apprise
def test_apprise_failure_is_transient_and_a_url_it_does_not_know_is_a_config_error() -> None:
    with AppriseTarget() as target:
        target.fail_next(1, "500")
        error = failure(AppriseChannel("chat", url=target.apprise_url()))
        assert error.permanent is False and error.retry_after is None
    with pytest.raises(ValueError, match="does not understand"):
        AppriseChannel("chat", url="nonsense://token-abcdefgh")


def test_apprise_without_the_extra_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "apprise" else real(name, *a))
    with pytest.raises(ValueError, match=r"pip install 'kamermonitor\[apprise\]'"):
        AppriseChannel("chat", url="ntfy://topic")
