"""Alerts by email and Slack, end to end through the real CLI in a real process.

Local peers only: the SyncFeed and SRU servers, an aiosmtpd server with STARTTLS and a
login, and an endpoint that answers as Slack's webhook does.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT

SUBJECT = "Indiening voorstel AI-fabriek Groningen"
LETTER = "aa000000-0000-4000-8000-000000001350"
PASSWORD = "s3cret-pässword"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(tls="starttls", auth=("alerts@example.org", PASSWORD)) as server:
        yield server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(hang_seconds=8) as server:
        yield server


class Cli:
    """Runs ``python -m monitor`` against a config in tmp_path, as a user would."""

    def __init__(self, tmp: Path, tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, slack: SlackServer) -> None:
        self.tmp = tmp
        self.tk, self.sru, self.smtp = tk, sru, smtp
        self.config = tmp / "kamermonitor.toml"
        self.env = {
            **os.environ,
            "KAMERMONITOR_SMTP_PASSWORD": PASSWORD,
            "KAMERMONITOR_SLACK_WEBHOOK": slack.url_for("goodhook"),
            "SSL_CERT_FILE": str(smtp.cert_path),
            "KAMERMONITOR_CONFIG": "",
        }
        self.write(watch_channels='["mail", "slack"]')

    def write(self, *, watch_channels: str, extra: str = "") -> None:
        tk, sru, smtp = self.tk, self.sru, self.smtp
        self.config.write_text(
            f"""
[monitor]
database = "sqlite:///{self.tmp / "km.db"}"
[http]
pause_seconds = 0
read_timeout = 3
[sources.syncfeed]
base_url = "{tk.base_url}"
[sources.sru]
base_url = "{sru.base_url}"
[delivery]
backoff_base_seconds = 0.2
backoff_cap_seconds = 0.5
[[channel]]
name = "mail"
type = "email"
host = "127.0.0.1"
port = {smtp.port}
security = "starttls"
username = "alerts@example.org"
password_env = "KAMERMONITOR_SMTP_PASSWORD"
from = "Kamermonitor <alerts@example.org>"
to = ["beleid@example.org", "pa@example.org"]
message_id_domain = "kamermonitor.test"
[[channel]]
name = "slack"
type = "slack"
webhook_url_env = "KAMERMONITOR_SLACK_WEBHOOK"
timeout = 20
[[watch]]
name = "ict"
dossiers = ["26643"]
channels = {watch_channels}
{extra}
""",
            encoding="utf-8",
        )

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(self.config), *args],
            env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.tmp,
        )  # fmt: skip

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(self.config), *args],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.tmp,
        )  # fmt: skip


@pytest.fixture
def cli(tmp_path: Path, tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, slack: SlackServer) -> Cli:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    return Cli(tmp_path, tk, sru, smtp, slack)


def publish_letter(tk: TkFeedServer, guid: str = LETTER, subject: str = SUBJECT, nummer: str = "2025D29876") -> None:
    tk.add_document(guid, nummer, "Brief regering", subject, ICT, date.today(), "2025-2026", -1, [DOSSIER_26643])


def _part(msg: EmailMessage, subtype: str) -> str:
    part = msg.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    return str(part.get_content())


def test_new_letter_reaches_mailbox_and_slack_once_through_the_cli(
    cli: Cli, tk: TkFeedServer, smtp: SmtpServer, slack: SlackServer
) -> None:
    first = cli.run("poll", "--once")
    assert first.returncode == 0, first.stderr
    assert smtp.messages == [] and slack.messages == []
    publish_letter(tk)
    second = cli.run("poll", "--once")
    assert second.returncode == 0, second.stderr

    assert sorted(m["To"] for m in smtp.messages) == ["beleid@example.org", "pa@example.org"]
    assert [login for login, ok in smtp.auth_attempts if ok] == ["alerts@example.org"] * 2
    msg = smtp.messages[0]
    assert msg["Subject"] == f"[26643] Brief regering: {SUBJECT}"
    assert msg["Date"] and msg["Message-ID"].endswith("@kamermonitor.test>")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    text, html = _part(msg, "plain"), _part(msg, "html")
    link = "https://www.tweedekamer.nl/kamerstukken/brieven_regering/detail?id=2025D29876&did=2025D29876"
    assert SUBJECT in text and "26643" in text and link in text
    assert SUBJECT in html and link.replace("&", "&amp;") in html
    assert PASSWORD not in second.stderr + second.stdout

    [payload] = slack.messages
    assert SUBJECT in payload["text"] and payload["blocks"]

    third = cli.run("poll", "--once")  # a restart after success sends nothing again
    assert third.returncode == 0
    assert len(smtp.messages) == 2 and len(slack.messages) == 1


def test_killed_between_recorded_and_sent_delivers_once_after_restart(
    cli: Cli, tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, slack: SlackServer
) -> None:
    cli.write(watch_channels='["slack"]')
    assert cli.run("poll", "--once").returncode == 0
    publish_letter(tk)
    slack.fail_next(1, "hang")  # the webhook takes the request but never answers
    proc = cli.start("poll", "--once")
    try:
        deadline = time.monotonic() + 30
        while not slack.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert slack.requests, "the monitor never tried to deliver"
        proc.send_signal(signal.SIGKILL)  # recorded, delivery in flight, not yet marked sent
        proc.wait(timeout=10)
    finally:
        proc.kill()
    assert slack.messages == []
    again = cli.run("poll", "--once")
    assert again.returncode == 0, again.stderr
    assert len(slack.messages) == 1
    assert cli.run("poll", "--once").returncode == 0
    assert len(slack.messages) == 1


def test_smtp_4xx_is_retried_until_accepted(cli: Cli, tk: TkFeedServer, smtp: SmtpServer) -> None:
    assert cli.run("poll", "--once").returncode == 0
    publish_letter(tk)
    smtp.fail_next(2, "451 4.3.0 Try again later")  # both recipients deferred once
    first = cli.run("poll", "--once")
    assert "451" in first.stderr and smtp.messages == []
    time.sleep(0.6)
    assert cli.run("poll", "--once").returncode == 0
    assert sorted(m["To"] for m in smtp.messages) == ["beleid@example.org", "pa@example.org"]


def test_smtp_5xx_fails_at_once_is_shown_and_can_be_retried(
    cli: Cli, tk: TkFeedServer, smtp: SmtpServer, slack: SlackServer
) -> None:
    assert cli.run("poll", "--once").returncode == 0
    publish_letter(tk)
    smtp.fail_next(1, "550 5.1.1 No such user")
    assert cli.run("poll", "--once").returncode == 0
    assert len(smtp.messages) == 1 and len(slack.messages) == 1  # the other recipient and Slack still got it
    status = cli.run("status").stdout
    assert "failed 1" in status and "550 5.1.1 No such user" in status
    assert "re-queued 1" in cli.run("retry-failed").stdout
    assert cli.run("poll", "--once").returncode == 0
    assert len(smtp.messages) == 2 and len(slack.messages) == 1


@pytest.mark.parametrize(
    ("token", "expected"),
    [("archived", "410 channel_is_archived"), ("gone", "404 channel_not_found"), ("revoked", "403 invalid_token")],
)
def test_broken_slack_webhook_fails_permanently_and_mail_still_goes_out(
    cli: Cli, tk: TkFeedServer, smtp: SmtpServer, slack: SlackServer, token: str, expected: str
) -> None:
    cli.env["KAMERMONITOR_SLACK_WEBHOOK"] = slack.url_for(token)
    assert cli.run("poll", "--once").returncode == 0
    publish_letter(tk)
    assert cli.run("poll", "--once").returncode == 0
    assert len(smtp.messages) == 2 and slack.messages == []
    status = cli.run("status").stdout
    assert expected in status
    assert slack.url_for(token) not in status  # the webhook URL is a secret
    assert len(slack.requests) == 1  # permanent: not retried


def test_slack_429_waits_for_retry_after(cli: Cli, tk: TkFeedServer, slack: SlackServer) -> None:
    assert cli.run("poll", "--once").returncode == 0
    publish_letter(tk)
    slack.rate_limit_next(1, retry_after=30)
    before = datetime.now(UTC)
    assert cli.run("poll", "--once").returncode == 0
    assert slack.messages == []
    db = sqlite3.connect(cli.tmp / "km.db")
    [(due,)] = db.execute("SELECT next_attempt_at FROM outbox WHERE channel = 'slack'").fetchall()
    assert datetime.fromisoformat(due).replace(tzinfo=UTC) >= before + timedelta(seconds=30)
    assert cli.run("poll", "--once").returncode == 0
    assert slack.messages == []  # not before Retry-After
    with db:  # let the 30 s pass
        db.execute("UPDATE outbox SET next_attempt_at = '2000-01-01 00:00:00' WHERE channel = 'slack'")
    db.close()
    assert cli.run("poll", "--once").returncode == 0
    assert len(slack.messages) == 1


def test_two_watches_sharing_a_channel_send_once(
    cli: Cli, tk: TkFeedServer, sru: SruServer, smtp: SmtpServer, slack: SlackServer
) -> None:
    extra = '[[watch]]\nname = "ai"\nkeywords = ["AI-fabriek"]\nchannels = ["slack"]\n'
    cli.write(watch_channels='["slack"]', extra=extra)
    assert cli.run("poll", "--once").returncode == 0
    publish_letter(tk)
    assert cli.run("poll", "--once").returncode == 0
    assert len(slack.messages) == 1


def test_test_alert_reports_success_and_exact_failures(cli: Cli, slack: SlackServer, smtp: SmtpServer) -> None:
    ok = cli.run("test-alert", "slack")
    assert ok.returncode == 0 and "ok slack" in ok.stdout
    assert "Test" in slack.messages[0]["text"]
    mail = cli.run("test-alert", "mail")
    assert mail.returncode == 0 and "ok mail → beleid@example.org" in mail.stdout
    cli.env["KAMERMONITOR_SLACK_WEBHOOK"] = slack.url_for("revoked")
    bad = cli.run("test-alert", "slack")
    assert bad.returncode == 1 and "403 invalid_token" in bad.stdout
    cli.env["KAMERMONITOR_SMTP_PASSWORD"] = "wrong"
    denied = cli.run("test-alert", "mail")
    assert denied.returncode == 1 and "535" in denied.stdout and "wrong" not in denied.stdout


def test_service_runs_and_stops_cleanly_on_sigterm(cli: Cli, tk: TkFeedServer, slack: SlackServer) -> None:
    cli.write(watch_channels='["slack"]')
    proc = cli.start("run")
    try:
        deadline = time.monotonic() + 20
        while len(tk.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopping after the current step" in err and "kamermonitor stopped" in err
    assert "syncfeed:" in err and "Traceback" not in err


def test_sigterm_at_any_moment_of_start_up_ends_the_service(cli: Cli, tk: TkFeedServer, slack: SlackServer) -> None:
    # A SIGTERM while ``run`` imports its modules, reads its configuration or opens the
    # database must end it: the start-up handler only sets the flag the service checks,
    # since an exception raised inside an import's machinery can be swallowed.
    cli.write(watch_channels='["slack"]')
    for delay in (0.0, 0.05, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3):
        proc = cli.start("run")
        try:
            time.sleep(delay)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=20)  # ends, never hangs on
        finally:
            proc.kill()
        # Before Python has set the start-up handler, the default action ends the process.
        assert proc.returncode in (0, -signal.SIGTERM), (delay, err)
        assert "Traceback" not in err, (delay, err)
