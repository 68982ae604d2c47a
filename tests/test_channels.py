"""Channels against real local servers: aiosmtpd for e-mail, a Slack-like HTTP server for Slack.

Nothing here touches the internet.  Test data is the government letter of 27 June 2025
"Indiening voorstel AI-fabriek Groningen" in dossier 26643 (ICT).
"""

from __future__ import annotations

import base64
import dataclasses
import email.utils
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from monitor.cli import main
from monitor.config import parse
from monitor.models import Alert, DossierRef, Letter
from monitor.notify.base import DeliveryError
from monitor.notify.console import ConsoleChannel
from monitor.notify.email import EmailChannel
from monitor.notify.registry import build_channels
from monitor.notify.render import Renderer
from monitor.notify.slack import SlackChannel
from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer, free_port, make_self_signed_cert
from tests.harness import settings_for

AI_FABRIEK = Letter(
    id=1,
    dossiers=(DossierRef(26643),),
    dossier_title="Informatie- en communicatietechnologie (ICT)",
    number="1384",
    kind="Brief regering",
    date=date(2025, 6, 27),
    subject="Indiening voorstel AI-fabriek Groningen",
    vergaderjaar="2024-2025",
    document_nummer="2025D29512",
    zaak_nummer="2025Z13370",
    senders=(
        "Minister van Economische Zaken",
        "Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties "
        "(Herstel Groningen, Digitalisering en Koninkrijksrelaties)",
        "Minister van Defensie",
        "Minister van Onderwijs, Cultuur en Wetenschap",
    ),
    tk_url="https://www.tweedekamer.nl/kamerstukken/brieven_regering/detail?id=2025Z13370&did=2025D29512",
    tk_file_url="https://gegevensmagazijn.tweedekamer.nl/OData/v4/2.0/Document(3f0c1a52-0000-4000-8000-000000000000)/resource",
    ob_html_url="https://zoek.officielebekendmakingen.nl/kst-26643-1384.html",
    ob_pdf_url="https://zoek.officielebekendmakingen.nl/kst-26643-1384.pdf",
)
REASON = "you follow dossier 26643"
PASSWORD = "Corr3ct-H0rse-Batt3ry"


def new_alert(*letters: Letter, delivery_id: int | None = 42) -> Alert:
    return Alert("new", letters or (AI_FABRIEK,), reasons=(REASON,), delivery_id=delivery_id)


def hostile_letter() -> Letter:
    return dataclasses.replace(
        AI_FABRIEK,
        subject="<script>alert(1)</script> & <!channel> <@U123> *vet* _schuin_ ~door~ `code`"
        "\r\nBcc: victim@example.org\x1b[31m rood",
        dossier_title="<b>ICT</b> & <!here>",
        senders=("Minister <!everyone> & co",),
        tk_url="javascript:alert(document.cookie)",
        ob_html_url="https://example.org/kst?a=1&b=2|evil>x<y",
        ob_pdf_url="data:text/html,<script>alert(1)</script>",
        tk_file_url=" JavaScript:alert(2)",
    )


def digest_letters(n: int) -> list[Letter]:
    dossiers = [
        (DossierRef(26643), "Informatie- en communicatietechnologie (ICT)"),
        (DossierRef(32761), None),
    ]
    return [
        dataclasses.replace(
            AI_FABRIEK,
            id=100 + i,
            dossiers=(dossiers[i % 2][0],),
            dossier_title=dossiers[i % 2][1],
            number=str(1300 + i),
            date=date(2025, 6, 1) + timedelta(days=i % 28),
            subject=f"Voortgangsbrief {i} over digitale overheid",
            document_nummer=f"2025D{29000 + i}",
        )
        for i in range(n)
    ]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_self_signed_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def smtp_tls(cert: tuple[Path, Path]) -> Iterator[SmtpServer]:
    with SmtpServer(tls="starttls", auth=("alerts", PASSWORD), cert=cert) as server:
        yield server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(hang_seconds=3) as server:
        yield server


def plain_channel(server: SmtpServer, **kw: Any) -> EmailChannel:
    args: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": None,
        "password": None,
        "sender": "Kamermonitor <alerts@monitor.example>",
        "recipients": ("beleid@example.org", "ops@example.org"),
        "timeout": 5,
    }
    args.update(kw)
    return EmailChannel("beleid", **args)


def tls_channel(server: SmtpServer, **kw: Any) -> EmailChannel:
    args: dict[str, Any] = {
        "security": "starttls",
        "username": "alerts",
        "password": PASSWORD,
        "ssl_context": server.client_context(),
    }
    args.update(kw)
    return plain_channel(server, **args)


def slack_channel(url: str, **kw: Any) -> SlackChannel:
    return SlackChannel("team", webhook_url=url, **kw)


def mrkdwn_texts(payload: dict[str, Any]) -> list[str]:
    texts = [payload["text"]]
    for block in payload["blocks"]:
        if block["type"] == "section":
            texts.append(block["text"]["text"])
        for element in block.get("elements", []):
            texts.append(element["text"])
    return texts


# --------------------------------------------------------------------------- e-mail


def test_email_is_multipart_alternative_with_utf8_dutch_text(smtp: SmtpServer) -> None:
    letter = dataclasses.replace(AI_FABRIEK, subject="Kamer geïnformeerd over voorstel AI-fabriek Groningen")
    channel = plain_channel(smtp, list_unsubscribe="mailto:unsubscribe@monitor.example")
    alert = new_alert(letter)
    channel.send(alert, "beleid@example.org")

    assert [e.rcpt_tos for e in smtp.envelopes] == [["beleid@example.org"]]
    assert smtp.envelopes[0].mail_from == "alerts@monitor.example"
    raw = smtp.envelopes[0].original_content
    assert isinstance(raw, bytes) and max(raw) < 128, "quoted-printable keeps the message 7-bit"
    msg = smtp.messages[0]
    assert msg["Subject"] == "[26643] Brief regering: Kamer geïnformeerd over voorstel AI-fabriek Groningen"
    assert msg["To"] == "beleid@example.org"
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert msg["Message-ID"] == channel.message_id(alert, "beleid@example.org")
    assert re.fullmatch(r"<kamermonitor\.42\.[0-9a-f]{8}@monitor\.example>", msg["Message-ID"])
    assert msg["Message-ID"] != channel.message_id(alert, "ops@example.org")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["In-Reply-To"] == msg["References"] == "<dossier-26643@monitor.example>"
    assert msg["List-Id"] == "Kamermonitor <beleid.monitor.example>"
    assert msg["List-Unsubscribe"] == "<mailto:unsubscribe@monitor.example>"

    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    for part in parts:
        assert part.get_content_charset() == "utf-8"
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    text, html = (p.get_content() for p in parts)
    for body in (text, html):
        assert "geïnformeerd" in body
        assert "Kamerstuk 26643, nr. 1384" in body
        assert "27 juni 2025" in body
        assert "Minister van Economische Zaken" in body
        assert REASON in body
    assert "https://zoek.officielebekendmakingen.nl/kst-26643-1384.pdf" in text
    assert 'href="https://zoek.officielebekendmakingen.nl/kst-26643-1384.html"' in html
    assert (
        'href="https://www.tweedekamer.nl/kamerstukken/brieven_regering/detail?id=2025Z13370&amp;did=2025D29512"'
        in html
    )
    assert "<img" not in html and "src=" not in html, "no external resources"


def test_email_message_id_is_stable_per_delivery_and_random_without_one() -> None:
    channel = EmailChannel(
        "x", host="h", port=25, security="none", username=None, password=None,
        sender="a@b.example", recipients=("c@d.example",), message_id_domain="monitor.example",
    )  # fmt: skip
    alert = new_alert()
    first = channel.build_message(alert, "c@d.example")["Message-ID"]
    assert first == channel.build_message(alert, "c@d.example")["Message-ID"]
    assert first.endswith("@monitor.example>")
    anonymous = new_alert(delivery_id=None)
    a, b = (channel.build_message(anonymous, "c@d.example")["Message-ID"] for _ in range(2))
    assert a != b and a.endswith("@monitor.example>")


def test_email_message_ids_default_to_the_sender_address_domain() -> None:
    def channel(sender: str) -> EmailChannel:
        return EmailChannel(
            "x", host="h", port=25, security="none", username=None, password=None,
            sender=sender, recipients=("c@d.example",),
        )  # fmt: skip

    msg = channel("Kamermonitor <alerts@Example.ORG>").build_message(new_alert(), "c@d.example")
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["References"] == "<dossier-26643@example.org>"
    assert msg["List-Id"] == "Kamermonitor <x.example.org>"
    assert channel("alerts").message_id_domain == "kamermonitor.invalid"  # no domain to borrow


def test_email_date_header_is_in_the_configured_time_zone_not_the_machines(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Tokyo")  # the machine's zone (+09:00) must not leak into the mail
    time.tzset()
    try:
        summer = datetime(2025, 6, 27, 14, 30, tzinfo=UTC)
        channel = EmailChannel(
            "x", host="h", port=25, security="none", username=None, password=None,
            sender="a@b.example", recipients=("c@d.example",), clock=lambda: summer,
        )  # fmt: skip
        assert channel.build_message(new_alert(), "c@d.example")["Date"] == "Fri, 27 Jun 2025 16:30:00 +0200"
        winter = dataclasses.replace(
            settings_for(f"sqlite:///{tmp_path / 'x.db'}", extra={"monitor": {"timezone": "Europe/Amsterdam"}}),
            channels=parse({"channel": [{"name": "mail", "type": "email", "host": "h", "from": "a@b.example",
                                         "to": ["c@d.example"]}]}).channels,
        )  # fmt: skip
        built = build_channels(winter)["mail"]
        assert isinstance(built, EmailChannel)
        date_header = built.build_message(new_alert(), "c@d.example")["Date"]
        offset = email.utils.parsedate_to_datetime(date_header).utcoffset()
        assert offset == datetime.now(ZoneInfo("Europe/Amsterdam")).utcoffset()
    finally:
        monkeypatch.undo()
        time.tzset()


def test_email_threads_per_dossier_only_when_the_alert_has_one_dossier() -> None:
    channel = EmailChannel(
        "x", host="h", port=25, security="none", username=None, password=None,
        sender="a@b.example", recipients=("c@d.example",),
    )  # fmt: skip
    letters = digest_letters(4)
    same = channel.build_message(new_alert(letters[0], letters[2]), "c@d.example")
    assert same["References"] == "<dossier-26643@b.example>"  # the sender's domain
    assert same["Subject"] == "[26643] 2 nieuwe brieven"
    mixed = channel.build_message(new_alert(*letters), "c@d.example")
    assert mixed["References"] is None and mixed["In-Reply-To"] is None
    assert mixed["Subject"] == "[kamermonitor] 4 nieuwe brieven in 2 dossiers"
    toevoeging = dataclasses.replace(AI_FABRIEK, dossiers=(DossierRef(36600, "VII"),))
    assert channel.build_message(new_alert(toevoeging), "c@d.example")["References"] == (
        "<dossier-36600-VII@b.example>"
    )


def test_email_followups_join_the_thread_of_the_first_alert(smtp: SmtpServer) -> None:
    channel = plain_channel(smtp)
    channel.send(new_alert(dataclasses.replace(AI_FABRIEK, number=None, ob_html_url=None)), "beleid@example.org")
    channel.send(Alert("followup", (AI_FABRIEK,), text="published", delivery_id=43), "beleid@example.org")
    channel.send(Alert("followup", (AI_FABRIEK,), text="attachments", delivery_id=44), "beleid@example.org")
    first, published, attachments = smtp.messages
    for followup in (published, attachments):
        assert followup["In-Reply-To"] == followup["References"] == first["References"]
        assert followup["Message-ID"] != first["Message-ID"]
    assert first["References"] == "<dossier-26643@monitor.example>"  # the sender's domain
    assert published["Subject"] == (
        "[26643] Gepubliceerd: Kamerstuk 26643, nr. 1384 — Indiening voorstel AI-fabriek Groningen"
    )
    assert attachments["Subject"] == "[26643] Bijlagen bij: Indiening voorstel AI-fabriek Groningen"
    body = published.get_body(("plain",))
    assert body is not None and "Nu gepubliceerd als Kamerstuk 26643, nr. 1384" in body.get_content()


def test_email_over_starttls_with_login(smtp_tls: SmtpServer) -> None:
    channel = tls_channel(smtp_tls)
    channel.send(new_alert(), "beleid@example.org")
    assert smtp_tls.auth_attempts == [("alerts", True)]
    assert len(smtp_tls.messages) == 1
    assert smtp_tls.messages[0]["Subject"] == "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen"
    assert channel.describe() == f"email via 127.0.0.1:{smtp_tls.port} (starttls) to 2 recipients"


def test_email_over_implicit_tls(cert: tuple[Path, Path]) -> None:
    with SmtpServer(tls="implicit", auth=("alerts", PASSWORD), cert=cert) as server:
        channel = tls_channel(server, security="ssl")
        channel.send(new_alert(), "ops@example.org")
        assert server.auth_attempts == [("alerts", True)]
        assert [e.rcpt_tos for e in server.envelopes] == [["ops@example.org"]]


def test_email_refuses_plain_text_when_server_lacks_starttls(smtp: SmtpServer) -> None:
    channel = plain_channel(smtp, security="starttls", ssl_context=None)
    with pytest.raises(DeliveryError, match="does not offer STARTTLS") as err:
        channel.send(new_alert(), "beleid@example.org")
    assert err.value.permanent
    assert smtp.messages == []


def test_email_untrusted_certificate_is_permanent(smtp_tls: SmtpServer) -> None:
    channel = tls_channel(smtp_tls, ssl_context=None)  # the default, verifying context
    with pytest.raises(DeliveryError, match="certificate verification failed") as err:
        channel.send(new_alert(), "beleid@example.org")
    assert err.value.permanent
    assert smtp_tls.messages == []


def test_smtp_4xx_is_transient_and_5xx_permanent(smtp: SmtpServer) -> None:
    channel = plain_channel(smtp)
    where = f"127.0.0.1:{smtp.port}"

    smtp.fail_next(1, "451 4.3.0 Try again later")
    with pytest.raises(DeliveryError) as err:
        channel.send(new_alert(), "beleid@example.org")
    assert not err.value.permanent
    assert str(err.value) == f"{where} refused recipient beleid@example.org: 451 4.3.0 Try again later"
    channel.send(new_alert(), "beleid@example.org")  # the greylisting cleared
    assert len(smtp.messages) == 1

    with pytest.raises(DeliveryError) as err:
        channel.send(new_alert(), "perm-gone@example.org")
    assert err.value.permanent
    assert str(err.value) == f"{where} refused recipient perm-gone@example.org: 550 5.1.1 No such user"

    smtp.fail_next(1, "421 4.7.0 Too many connections, closing")
    with pytest.raises(DeliveryError, match="421 4.7.0") as err:
        channel.send(new_alert(), "beleid@example.org")
    assert not err.value.permanent

    smtp.fail_next(1, "554 5.7.1 Rejected by policy", stage="DATA")
    with pytest.raises(DeliveryError) as err:
        channel.send(new_alert(), "beleid@example.org")
    assert err.value.permanent
    assert str(err.value) == f"{where} refused the message: 554 5.7.1 Rejected by policy"

    smtp.fail_next(1, "452 4.3.1 Insufficient system storage", stage="DATA")
    with pytest.raises(DeliveryError, match="452 4.3.1 Insufficient system storage") as err:
        channel.send(new_alert(), "beleid@example.org")
    assert not err.value.permanent
    assert len(smtp.messages) == 1


def test_smtp_connection_refused_is_transient() -> None:
    channel = EmailChannel(
        "x", host="127.0.0.1", port=free_port(), security="none", username=None, password=None,
        sender="a@b.example", recipients=("c@d.example",), timeout=2,
    )  # fmt: skip
    with pytest.raises(DeliveryError, match="connection failed") as err:
        channel.send(new_alert(), "c@d.example")
    assert not err.value.permanent


def test_password_never_appears_in_errors(smtp_tls: SmtpServer) -> None:
    wrong = "Wr0ng-Pa55word-xyz"
    channel = tls_channel(smtp_tls, password=wrong)
    with pytest.raises(DeliveryError) as err:
        channel.send(new_alert(), "beleid@example.org")
    assert err.value.permanent
    assert str(err.value).startswith(f"127.0.0.1:{smtp_tls.port} login failed for user alerts: 535")
    encoded = (
        base64.b64encode(wrong.encode()).decode(),
        base64.b64encode(f"\0alerts\0{wrong}".encode()).decode(),
    )
    for text in (str(err.value), repr(err.value), channel.describe(), repr(channel)):
        assert wrong not in text
        assert all(e not in text for e in encoded)
    assert smtp_tls.auth_attempts and all(a == ("alerts", False) for a in smtp_tls.auth_attempts)
    assert smtp_tls.messages == []


# --------------------------------------------------------------------------- Slack


def test_slack_ok_is_the_only_success(slack: SlackServer) -> None:
    channel = slack_channel(slack.url_for("goodhook"))
    channel.send(new_alert(), "")
    assert len(slack.messages) == 1
    request = slack.requests[0]
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.json()["blocks"][0]["text"]["text"] == "Brief regering: Indiening voorstel AI-fabriek Groningen"

    for status, body in [
        (200, "ok\n"),
        (200, "OK"),
        (200, ""),
        (200, '{"ok": true}'),
        (201, "ok"),
        (204, ""),
    ]:
        transport = httpx.MockTransport(lambda request, s=status, b=body: httpx.Response(s, text=b))
        with httpx.Client(transport=transport) as client:
            fake = slack_channel("https://hooks.slack.com/services/T1/B1/secret", client=client)
            with pytest.raises(DeliveryError) as err:
                fake.send(new_alert(), "")
        assert not err.value.permanent, (status, body)
        assert f"Slack webhook answered {status}" in str(err.value)
        assert "secret" not in str(err.value)


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("archived", "410 channel_is_archived"),
        ("gone", "404 channel_not_found"),
        ("revoked", "403 invalid_token"),
        ("prohibited", "403 action_prohibited"),
    ],
)
def test_slack_config_errors_are_permanent(slack: SlackServer, token: str, expected: str) -> None:
    url = slack.url_for(token)
    with pytest.raises(DeliveryError) as err:
        slack_channel(url).send(new_alert(), "")
    assert err.value.permanent
    assert str(err.value) == f"Slack webhook answered {expected}"
    assert url not in str(err.value) and "/services/" not in str(err.value)
    assert slack.messages == []


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


class _PayloadRenderer(Renderer):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__()
        self.payload = payload

    def slack_payload(self, alert: Alert) -> dict[str, Any]:
        return self.payload


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"blocks": []}, "400 no_text"),
        ({"text": "x", "blocks": [{"type": "divider"}] * 51}, "400 invalid_blocks"),
        ({"text": "x", "blocks": [_header("x" * 151)]}, "400 invalid_blocks"),
    ],
)
def test_slack_400_is_permanent(slack: SlackServer, payload: dict[str, Any], expected: str) -> None:
    channel = slack_channel(slack.url_for(), renderer=_PayloadRenderer(payload))
    with pytest.raises(DeliveryError) as err:
        channel.send(new_alert(), "")
    assert err.value.permanent
    assert str(err.value) == f"Slack webhook answered {expected}"


def test_slack_invalid_payload_is_a_400(slack: SlackServer) -> None:
    response = httpx.post(slack.url_for(), content=b"payload=%7B%7D", headers={"Content-Type": "text/plain"})
    assert (response.status_code, response.text) == (400, "invalid_payload")


def test_slack_429_is_transient_with_retry_after(slack: SlackServer) -> None:
    channel = slack_channel(slack.url_for())
    slack.rate_limit_next(1, retry_after=7)
    with pytest.raises(DeliveryError) as err:
        channel.send(new_alert(), "")
    assert not err.value.permanent
    assert err.value.retry_after == 7.0
    assert str(err.value) == "Slack webhook answered 429 rate_limited"
    channel.send(new_alert(), "")
    assert len(slack.messages) == 1


@pytest.mark.parametrize("how", ["fail_next", "boom"])
def test_slack_500_is_transient(slack: SlackServer, how: str) -> None:
    if how == "fail_next":
        slack.fail_next(1, "500")
    channel = slack_channel(slack.url_for("boom" if how == "boom" else "goodhook"))
    with pytest.raises(DeliveryError) as err:
        channel.send(new_alert(), "")
    assert not err.value.permanent and err.value.retry_after is None
    assert str(err.value) == "Slack webhook answered 500 rollup_error"


def test_slack_timeout_is_transient(slack: SlackServer) -> None:
    slack.fail_next(1, "hang")
    channel = slack_channel(slack.url_for(), timeout=0.3)
    with pytest.raises(DeliveryError, match=r"timed out after 0\.3 s") as err:
        channel.send(new_alert(), "")
    assert not err.value.permanent
    channel.send(new_alert(), "")
    assert len(slack.messages) == 1


def test_slack_dropped_connection_and_refused_connection_are_transient(slack: SlackServer) -> None:
    slack.fail_next(1, "drop")
    with pytest.raises(DeliveryError, match="request failed") as err:
        slack_channel(slack.url_for()).send(new_alert(), "")
    assert not err.value.permanent

    url = f"http://127.0.0.1:{free_port()}/services/T000/B000/s3cr3t-token"
    with pytest.raises(DeliveryError, match="request failed") as err:
        slack_channel(url, timeout=2).send(new_alert(), "")
    assert not err.value.permanent
    assert "s3cr3t-token" not in str(err.value)


def test_webhook_url_is_redacted_in_describe() -> None:
    url = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"
    channel = slack_channel(url)
    assert channel.describe() == "slack webhook https://hooks.slack.com/services/T0…/B0…/****"
    for text in (channel.describe(), repr(channel)):
        assert "abcdefghijklmnopqrstuvwx" not in text and "T0123ABCD" not in text
    assert slack_channel("https://chat.example.org/hooks/xyz123secret").describe() == (
        "slack webhook https://chat.example.org/****"
    )
    assert (channel.kind, channel.min_interval, channel.targets) == ("slack", 1.0, ("",))
    with pytest.raises(ValueError) as err:
        slack_channel("ftp://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx")
    assert "abcdefghijklmnopqrstuvwx" not in str(err.value)


def test_slack_payload_respects_block_kit_limits(slack: SlackServer) -> None:
    huge = dataclasses.replace(
        AI_FABRIEK,
        subject="Indiening voorstel AI-fabriek Groningen " * 260,  # ~10,000 characters
        dossier_title="&" * 5000,
        senders=tuple(f"Minister van {'Zaken ' * 300}{i}" for i in range(20)),
    )
    assert len(huge.subject or "") >= 10_000
    channel = slack_channel(slack.url_for())
    letters = [*digest_letters(59), huge]
    for alert in (new_alert(*letters), new_alert(huge), Alert("operator", text="x" * 10_000)):
        channel.send(alert, "")  # the fake answers invalid_blocks on any violation
        payload = slack.messages[-1]
        assert len(payload["blocks"]) <= 50
        assert 0 < len(payload["text"]) <= 3000
        for block in payload["blocks"]:
            if block["type"] == "header":
                assert block["text"]["type"] == "plain_text" and len(block["text"]["text"]) <= 150
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= 3000
        assert sum(len(t) for t in mrkdwn_texts(payload)) < 12_000

    digest = slack.messages[0]
    letter_sections = [b for b in digest["blocks"] if b.get("text", {}).get("text", "").startswith("*<https://")]
    assert len(letter_sections) == 10
    assert digest["blocks"][0]["text"]["text"] == "60 nieuwe brieven in 2 dossiers"
    # Five cards per dossier (29 and 31 letters in all), then one line per letter while Slack's limits
    # allow, then "… en N meer in dossier …" with a link to its page.
    sections = [b["text"]["text"] for b in digest["blocks"] if b["type"] == "section"]
    named = [text.count("\n• ") + 1 for text in sections if text.startswith("• ")]
    more = [b["text"]["text"] for b in digest["blocks"] if b.get("text", {}).get("text", "").startswith("… en ")]
    assert sum(named) > 0 and sum(int(m.split()[2]) for m in more) + sum(named) == 60 - 10
    assert all("<https://zoek.officielebekendmakingen.nl/dossier/" in m for m in more)
    assert digest["blocks"][-1]["type"] == "context"
    assert REASON in digest["blocks"][-1]["elements"][0]["text"]
    assert len(EmailChannel(
        "x", host="h", port=25, security="none", username=None, password=None,
        sender="a@b.example", recipients=("c@d.example",),
    ).build_message(new_alert(huge), "c@d.example")["Subject"]) <= 200  # fmt: skip


def test_source_strings_are_inert_in_every_channel(smtp: SmtpServer, slack: SlackServer) -> None:
    alert = new_alert(hostile_letter())

    # E-mail: one Subject line, no injected header, escaped HTML, no non-http links.
    plain_channel(smtp).send(alert, "beleid@example.org")
    msg = smtp.messages[0]
    assert msg["Bcc"] is None
    assert [e.rcpt_tos for e in smtp.envelopes] == [["beleid@example.org"]]
    subject = msg["Subject"]
    assert "\n" not in subject and "\r" not in subject and "\x1b" not in subject
    assert subject.startswith("[26643] Brief regering: <script>alert(1)</script> & <!channel>")
    assert "Bcc: victim@example.org" in subject
    text, html = (p.get_content() for p in msg.iter_parts())
    assert "<script>" not in html and "<b>ICT</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;" in html
    assert "\x1b" not in text and "\x1b" not in html
    for body in (text, html):
        assert "javascript:" not in body.lower() and "data:text" not in body
    assert 'href="https://example.org/kst?a=1&amp;b=2%7Cevil%3Ex%3Cy"' in html

    # Slack: every "<" opens one of our http(s) links; no mention, no raw "&", no formatting.
    slack_channel(slack.url_for()).send(alert, "")
    payload = slack.messages[0]
    header = payload["blocks"][0]["text"]
    assert header["type"] == "plain_text" and "\n" not in header["text"]
    for text in mrkdwn_texts(payload):
        assert re.findall(r"<(?!https?://)", text) == [], text
        assert re.findall(r"&(?!amp;|lt;|gt;)", text) == [], text
        assert "<!" not in text and "<@" not in text and "\x1b" not in text
        for marker in ("*vet*", "_schuin_", "~door~", "`code`"):
            assert marker not in text
        assert "javascript" not in text.lower() and "data:" not in text
    links = [m for t in mrkdwn_texts(payload) for m in re.findall(r"<([^|>]*)\|([^>]*)>", t)]
    assert ("https://example.org/kst?a=1&amp;b=2%7Cevil%3Ex%3Cy", "Officiële bekendmakingen") in links
    assert all(url.startswith("https://") for url, _ in links)

    # Console: one clean line per field, no terminal escape sequences.
    out = io.StringIO()
    ConsoleChannel(stream=out).send(alert, "")
    first = out.getvalue().split("\n")[0]
    assert first.startswith("[26643] Brief regering: <script>") and "Bcc: victim@example.org" in first
    assert "\x1b" not in out.getvalue() and "javascript" not in out.getvalue().lower()


# --------------------------------------------------------------------------- console and the other events


def test_console_prints_alert_then_blank_line() -> None:
    out = io.StringIO()
    channel = ConsoleChannel(stream=out)
    channel.send(new_alert(), "")
    text = out.getvalue()
    assert text.startswith("[26643] Brief regering: Indiening voorstel AI-fabriek Groningen\n")
    assert "Kamerstuk 26643, nr. 1384 · 27 juni 2025" in text
    assert text.endswith("\n\n") and not text.endswith("\n\n\n")
    assert (channel.name, channel.kind, channel.min_interval, channel.targets) == (
        "console",
        "console",
        0.0,
        ("",),
    )


def test_test_and_operator_alerts_reach_every_channel(smtp: SmtpServer, slack: SlackServer) -> None:
    test = Alert("test", delivery_id=1)
    operator = Alert("operator", text="Kanaal 'beleid' staat stil\nSMTP antwoordde 535 5.7.8", delivery_id=2)
    channel = plain_channel(smtp)
    channel.send(test, "ops@example.org")
    channel.send(operator, "ops@example.org")
    subjects = [m["Subject"] for m in smtp.messages]
    assert subjects == ["[kamermonitor] Testbericht", "[kamermonitor] Kanaal 'beleid' staat stil"]
    assert all(m["References"] is None for m in smtp.messages)
    assert "SMTP antwoordde 535 5.7.8" in smtp.messages[1].get_body(("plain",)).get_content()  # type: ignore[union-attr]

    hook = slack_channel(slack.url_for())
    hook.send(test, "")
    hook.send(operator, "")
    assert [m["blocks"][0]["text"]["text"] for m in slack.messages] == [
        "Testbericht",
        "Kanaal 'beleid' staat stil",
    ]
    assert json.dumps(slack.messages[1], ensure_ascii=False).count("SMTP antwoordde 535 5.7.8") >= 1


def test_slack_test_alert_says_its_sentence_once(
    slack: SlackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KM_TEST_SLACK", slack.url_for())
    config = tmp_path / "km.toml"
    config.write_text('[[channel]]\nname = "slack"\ntype = "slack"\nwebhook_url_env = "KM_TEST_SLACK"\n')
    out = io.StringIO()
    argv = ["--config", str(config), "--database", f"sqlite:///{tmp_path / 'km.db'}", "test-alert", "slack"]
    assert main(argv, stdout=out) == 0 and "ok slack" in out.getvalue()
    [payload] = slack.messages
    assert payload["blocks"][0]["text"]["text"] == "Testbericht"
    assert json.dumps(payload, ensure_ascii=False).lower().count("dit is een testbericht") == 1
