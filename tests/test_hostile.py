"""Hostile endpoints and broken configuration (issue 11): each attack or fault, and its safe outcome.

Every peer is real and local: aiosmtpd for mail, the fake SyncFeed/SRU/Slack servers, and
:class:`~tests.fakes.hostile_server.HostileServer` for answers no honest server gives
(a byte a second, stacked codings, redirects and links to other hosts, huge Retry-After).
"""

from __future__ import annotations

import dataclasses
import email
import email.policy
import io
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from monitor import cli
from monitor.config import HttpConfig
from monitor.context import Context, owner_is_dead
from monitor.http import Fetcher, SourceError, make_client
from monitor.models import Alert
from monitor.notify.base import DeliveryError, redact
from monitor.notify.deliver import Deliverer
from monitor.notify.email import EmailChannel
from monitor.notify.slack import SlackChannel
from monitor.retry import MAX_WAIT, parse_retry_after
from monitor.sources.sru.search import SruClient
from monitor.store import open_engine, ops
from monitor.store.schema import outbox
from tests.fakes.hostile_server import HostileServer, Reply, deflate_gzip_bomb
from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Clock, Harness, settings_for
from tests.test_channels import AI_FABRIEK, new_alert

MONDAY_10H = datetime(2025, 6, 23, 8, 0, tzinfo=UTC)


def fetcher(*, max_bytes: int = 0, **kw: float) -> Fetcher:
    if max_bytes:
        kw["max_response_mb"] = max_bytes / (1024 * 1024)
    settings = HttpConfig(**{"pause_seconds": 0, "read_timeout": 5, "connect_timeout": 2, **kw})  # type: ignore[arg-type]
    return Fetcher(make_client(settings), settings)


# ------------------------------------------------------------------ 1. mail headers


@pytest.mark.parametrize(
    "subject",
    [
        "Kabinetsbrief =?utf-8?q?=0D=0ABcc:_x@evil.example?= einde",
        "Kabinetsbrief =?utf-8?q?=0D=0A=0D=0AGeen_brief_maar_reclame?=",
        "=?utf-8?b?DQpSZXBseS1UbzogeEBldmlsLmV4YW1wbGU=?=",  # base64 of CRLF + Reply-To
        "=?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0D=3D0ABcc:_x@evil.example=3F=3D?=",  # encoded twice
        "Brief\u2028Bcc: x@evil.example\x00",
    ],
)
def test_encoded_word_in_a_subject_adds_no_header_and_no_body(smtp: SmtpServer, subject: str) -> None:
    channel = EmailChannel(
        "beleid", host=smtp.host, port=smtp.port, security="none", username=None, password=None,
        sender="Kamermonitor <alerts@monitor.example>", recipients=("beleid@example.org",), timeout=5,
    )  # fmt: skip
    channel.send(new_alert(dataclasses.replace(AI_FABRIEK, subject=subject)), "beleid@example.org")
    assert [e.rcpt_tos for e in smtp.envelopes] == [["beleid@example.org"]]
    raw = smtp.envelopes[0].original_content
    assert isinstance(raw, bytes)
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert sorted(msg.keys()) == sorted([
        "From", "To", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Auto-Submitted", "List-Id",
        "MIME-Version", "Content-Type",
    ])  # fmt: skip
    assert msg["To"] == "beleid@example.org" and "evil" not in (msg["Reply-To"] or "")
    decoded = str(msg["Subject"])
    assert "\r" not in decoded and "\n" not in decoded
    assert msg.get_content_type() == "multipart/alternative"
    assert "reclame" not in (msg.get_body(preferencelist=("plain",)) or msg).get_content().split("\n")[0]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_header_values_with_line_breaks_are_configuration_errors(tmp_path: Path) -> None:
    code, err = check_config(
        tmp_path, EMAIL.replace('from = "A <a@example.org>"', 'from = "A <a@example.org>\\r\\nBcc: x@evil"')
    )
    assert code == 2 and "channel[0].from: contains a line break" in err
    code, err = check_config(tmp_path, EMAIL + 'list_unsubscribe = "=?utf-8?q?x=0D=0ABcc:_y@evil?="\n')
    assert code == 2 and "channel[0].list_unsubscribe: contains an encoded line break" in err
    code, err = check_config(tmp_path, EMAIL + 'message_id_domain = "a b"\n')
    assert code == 2 and "channel[0].message_id_domain: not a domain name: 'a b'" in err


# ------------------------------------------------------------------ 2. decompression


def test_stacked_content_codings_are_refused_before_they_inflate() -> None:
    bomb = deflate_gzip_bomb(200 * 1024 * 1024)  # 200 MB of zeros in about 200 bytes
    with HostileServer() as srv:
        srv.answer(Reply(body=bomb, headers={"Content-Encoding": "deflate, gzip", "Content-Type": "application/xml"}))
        f = fetcher(max_bytes=2 * 1024 * 1024)
        tracemalloc.start()
        try:
            with pytest.raises(SourceError, match="stacked content codings"):
                f.get("syncfeed", srv.url("/Feed"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_a_gzip_bomb_stops_at_the_size_cap_with_memory_near_the_cap() -> None:
    import gzip

    limit = 2 * 1024 * 1024
    bomb = gzip.compress(b"\0" * (300 * 1024 * 1024), compresslevel=9)  # ~300 KB on the wire
    with HostileServer() as srv:
        srv.answer(Reply(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/xml"}))
        f = fetcher(max_bytes=limit)
        tracemalloc.start()
        try:
            with pytest.raises(SourceError, match=f"larger than {limit} bytes"):
                f.get("syncfeed", srv.url("/Feed"))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # The body kept so far, one inflated piece and the joined copy: a small multiple of the cap.
    assert peak < 4 * limit, f"peak {peak / 1e6:.1f} MB for a {limit / 1e6:.1f} MB cap"


# ------------------------------------------------------------------ 3. deadlines


@pytest.mark.parametrize("body_only", [False, True], ids=["headers-drip", "body-drip"])
def test_a_server_sending_a_byte_at_a_time_is_cut_off_at_the_deadline(body_only: bool) -> None:
    with HostileServer() as srv:
        srv.answer(Reply(body=b"<feed>" + b" " * 10_000 + b"</feed>", drip=0.1, body_drip_only=body_only))
        f = fetcher(deadline_seconds=1.5, read_timeout=5)
        started = time.monotonic()
        with pytest.raises(SourceError, match="deadline"):
            f.get("syncfeed", srv.url("/Feed"))
        assert time.monotonic() - started < 5  # far below what per-read timeouts would allow


def test_a_stalled_request_ends_at_once_when_the_monitor_stops() -> None:
    with HostileServer() as srv:
        srv.answer(Reply(body=b"x" * 10_000, drip=0.2))
        f = fetcher(deadline_seconds=60)
        threading_stop = __import__("threading").Timer(0.5, f.stop.set)
        threading_stop.start()
        started = time.monotonic()
        with pytest.raises(SourceError, match="stopping"):
            f.get("syncfeed", srv.url("/Feed"))
        assert time.monotonic() - started < 3


def test_a_dripping_slack_webhook_and_smtp_banner_end_within_the_channel_timeout() -> None:
    with HostileServer() as srv:
        srv.answer(Reply(body=b"ok", drip=0.3))
        slack = SlackChannel("team", webhook_url=srv.url("/services/T0AAAAAAA/B0BBBBBBB/XyZ123abc456"), timeout=1.5)
        started = time.monotonic()
        with pytest.raises(DeliveryError) as err:
            slack.send(Alert("test", text="x"))
        assert not err.value.permanent and time.monotonic() - started < 5
    with HostileServer(banner_drip=0.2) as srv:
        mail = EmailChannel(
            "m", host="127.0.0.1", port=srv.port, security="none", username=None, password=None,
            sender="a@example.org", recipients=("b@example.org",), timeout=1.5,
        )  # fmt: skip
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="did not finish within 1.5 s") as err:
            mail.send(Alert("test", text="x"), "b@example.org")
        assert not err.value.permanent and time.monotonic() - started < 5


# ------------------------------------------------------------------ 4. Retry-After


@pytest.mark.parametrize("value", ["inf", "1e12", "99999999999", "-inf", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_hostile_retry_after_values_are_clamped(value: str) -> None:
    seconds = parse_retry_after(value, who="test")
    assert seconds is not None and 1.0 <= seconds <= MAX_WAIT
    assert parse_retry_after("nan") is None and parse_retry_after("soon") is None


def test_a_source_held_back_by_retry_after_beyond_stale_hours_warns_the_operator(sqlite_db: str) -> None:
    with HostileServer() as srv:
        srv.answer(Reply(status=503, headers={"Retry-After": "99999999999"}))
        clock = Clock(MONDAY_10H)
        settings = settings_for(
            sqlite_db, syncfeed_url=srv.url("/SyncFeed/2.0"),
            extra={"sources": {"syncfeed": {"start_skiptoken": 100}}, "operator": {"stale_hours": 1}},
        )  # fmt: skip
        h = Harness(settings, now=clock)
        try:
            result = h.cycle()
            assert result.ok == {"syncfeed": False}
            with h.ctx.engine.connect() as conn:
                health = ops.health(conn, "syncfeed")
                active = {k: d for k, _, d in ops.active_conditions(conn)}
            assert health.not_before is not None
            assert health.not_before - MONDAY_10H == timedelta(seconds=MAX_WAIT)
            assert "source-held-back:syncfeed" in active
            assert "not polled until" in (active["source-held-back:syncfeed"] or "")
            out = io.StringIO()
            cli.main(["--database", sqlite_db, "status"], stdout=out)
            assert "Warnings: none" not in out.getvalue() and "asked the monitor to wait" in out.getvalue()
        finally:
            h.close()


def test_slack_retry_after_of_infinity_becomes_a_bounded_retry(slack: SlackServer) -> None:
    slack.rate_limit_next(1, retry_after="1e400")  # type: ignore[arg-type]
    channel = SlackChannel("team", webhook_url=slack.url_for("goodhook"), timeout=5)
    with pytest.raises(DeliveryError) as err:
        channel.send(Alert("test", text="x"))
    assert err.value.retry_after == MAX_WAIT


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer(hang_seconds=3) as server:
        yield server


# ------------------------------------------------------------------ 5. links


FOREIGN_PAGE = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <link rel="next" href="{next}"/>
  <entry><title>{guid}</title><category term="document"/>
    <link rel="next" href="{next}"/>
    <content type="application/xml"><document xmlns="http://www.tweedekamer.nl/xsd/tkData/v1-0" id="{guid}">
      <soort>Brief regering</soort><documentNummer>2025D00001</documentNummer><onderwerp>x</onderwerp>
    </document></content></entry>
</feed>"""


@pytest.mark.parametrize(
    "link",
    [
        "https://elsewhere.example/SyncFeed/2.0/Feed?category=Document&skiptoken=999999999",
        "{base}/../../other/Feed?category=Document&skiptoken=999999999",
        "http://127.0.0.1:1/SyncFeed/2.0/Feed?category=Document&skiptoken=999999999",
    ],
    ids=["other-host", "outside-path", "other-port"],
)
def test_a_next_link_off_the_base_url_is_refused_and_the_cursor_stays(sqlite_db: str, link: str) -> None:
    with HostileServer() as srv:
        base = srv.url("/SyncFeed/2.0")
        href = link.format(base=base).replace("&", "&amp;")
        page = FOREIGN_PAGE.format(next=href, guid="aa000000-0000-4000-8000-000000000001")
        srv.answer(Reply(body=page.encode(), headers={"Content-Type": "application/atom+xml"}))
        settings = settings_for(sqlite_db, syncfeed_url=base, extra={"sources": {"syncfeed": {"start_skiptoken": 100}}})
        h = Harness(settings, now=Clock(MONDAY_10H))
        try:
            assert h.cycle().ok == {"syncfeed": False}
            with h.ctx.engine.connect() as conn:
                assert ops.get_cursor(conn, "syncfeed:Document") == "100"
                health = ops.health(conn, "syncfeed")
                active = dict((k, d) for k, _, d in ops.active_conditions(conn))
            assert "next link points away from" in (health.last_error or "")
            assert "source-foreign:syncfeed" in active  # told at once, not after 5 failures
        finally:
            h.close()


def test_a_next_link_within_the_base_url_moves_the_cursor(sqlite_db: str) -> None:
    """The control for the test above: the same page, linking within the base, is read."""
    with HostileServer() as srv:
        base = srv.url("/SyncFeed/2.0")
        href = f"{base}/Feed?category=Document&amp;skiptoken=150"
        empty = Reply(body=b'<feed xmlns="http://www.w3.org/2005/Atom"/>')
        srv.answer(
            empty,  # a first start reads the Kamerstukdossier and Zaak feeds first: nothing there
            empty,
            Reply(body=FOREIGN_PAGE.format(next=href, guid="aa000000-0000-4000-8000-000000000001").encode()),
            empty,
        )
        settings = settings_for(sqlite_db, syncfeed_url=base, extra={"sources": {"syncfeed": {"start_skiptoken": 100}}})
        h = Harness(settings, now=Clock(MONDAY_10H))
        try:
            assert h.cycle().ok == {"syncfeed": True}
            with h.ctx.engine.connect() as conn:
                assert ops.get_cursor(conn, "syncfeed:Document") == "150"
        finally:
            h.close()


def test_a_redirect_to_another_host_is_refused() -> None:
    with HostileServer() as srv:
        srv.answer(Reply(status=302, headers={"Location": "http://elsewhere.example/SyncFeed/2.0/Feed"}))
        with pytest.raises(SourceError, match="refused a redirect") as err:
            fetcher().get("syncfeed", srv.url("/SyncFeed/2.0/Feed"), base=srv.url("/SyncFeed/2.0"))
        assert err.value.foreign and len(srv.requests) == 1


def test_a_redirect_within_the_base_is_followed() -> None:
    with HostileServer() as srv:
        srv.answer(
            Reply(status=302, headers={"Location": "/SyncFeed/2.0/Feed?moved=1"}),
            Reply(body=b"<feed/>", headers={"Content-Type": "application/xml"}),
        )
        result = fetcher().get("syncfeed", srv.url("/SyncFeed/2.0/Feed"), base=srv.url("/SyncFeed/2.0"))
        assert result.content == b"<feed/>" and result.url.endswith("moved=1")


def test_an_sru_answer_claiming_records_but_holding_none_is_a_failure() -> None:
    body = (
        b'<searchRetrieveResponse xmlns="http://docs.oasis-open.org/ns/search-ws/sruResponse">'
        b"<numberOfRecords>12</numberOfRecords><records/></searchRetrieveResponse>"
    )
    with HostileServer() as srv:
        srv.answer(Reply(body=body, headers={"Content-Type": "application/xml"}))
        with pytest.raises(SourceError, match="claims 12 records but holds none"):
            list(SruClient(fetcher(), srv.url("/sru")).search("x"))


# ------------------------------------------------------------------ 6. check-config

EMAIL = """
[[channel]]
name = "mail"
type = "email"
host = "smtp.example.org"
from = "A <a@example.org>"
to = ["b@example.org"]
"""


def check_config(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    config = tmp_path / "km.toml"
    config.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), *args, "check-config"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env={**os.environ, "KAMERMONITOR_DATABASE": "", "KAMERMONITOR_CONFIG": ""},
    )  # fmt: skip
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[monitor]\ntemplate_dir = "/nonexistent/templates"', "monitor.template_dir: not a directory"),
        ('[monitor]\ndatabase = "not a url"', "monitor.database: not a SQLAlchemy URL or a file path: 'not a url'"),
        ('[monitor]\ndatabase = "mysql://u:pw@db/km"', "monitor.database: the driver for 'mysql' is not installed"),
        ("[http]\nmax_response_mb = 1e308", "http.max_response_mb: must be a finite number of at most 1024"),
        ("[http]\nread_timeout = nan", "http.read_timeout: must be a finite number"),
        ("[http]\nconnect_timeout = inf", "http.connect_timeout: must be a finite number"),
        ("[delivery]\nbackoff_cap_seconds = 1e300", "delivery.backoff_cap_seconds: must be a finite number"),
        ('[[watch]]\ndossiers = ["26643"]\nkinds = []', "watch[0].kinds: must not be empty"),
    ],
)
def test_check_config_refuses_what_would_crash_later(tmp_path: Path, text: str, expected: str) -> None:
    code, err = check_config(tmp_path, text)
    assert code == 2 and expected in err, err
    assert len(err.strip().splitlines()) == 1


def test_check_config_reads_secrets_as_start_up_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slack = '[[channel]]\nname = "s"\ntype = "slack"\nwebhook_url_env = "KM_HOOK"\n'
    monkeypatch.setenv("KM_HOOK", "ftp://hooks.example/services/T0/B0/XyZ123abc456")
    code, err = check_config(tmp_path, slack)
    assert code == 2 and "KM_HOOK does not hold an http(s) URL" in err and "XyZ123" not in err
    monkeypatch.delenv("KM_HOOK")
    monkeypatch.setenv("KM_HOOK_FILE", str(tmp_path / "missing-secret"))
    code, err = check_config(tmp_path, slack)
    assert code == 2 and "cannot read" in err and "missing-secret" in err and "not set" not in err


def test_a_bare_database_path_is_sqlite_and_a_bad_url_is_one_line_from_every_command(tmp_path: Path) -> None:
    code, err = check_config(tmp_path, "", "--database", "km.db")
    assert code == 0, err
    for command in (["status"], ["list"], ["poll", "--once"], ["check-config"]):
        proc = subprocess.run(
            [sys.executable, "-m", "monitor", "--database", "postgresql+nosuchdriver://x/y", *command],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "KAMERMONITOR_CONFIG": ""},
        )  # fmt: skip
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("config error: --database:")
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--database", "km.db", "status"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "KAMERMONITOR_CONFIG": ""},
    )  # fmt: skip
    # The bare path is taken as the SQLite file km.db; status, a read-only command, does not create it (issue 14).
    assert proc.returncode == 0 and proc.stderr.startswith("no database yet at km.db"), proc.stderr
    assert not (tmp_path / "km.db").exists()
    open_engine(f"sqlite:///{tmp_path / 'km.db'}").dispose()
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--database", "km.db", "status"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "KAMERMONITOR_CONFIG": ""},
    )  # fmt: skip
    assert proc.returncode == 0 and "dossier-26643: 0 letters on record" in proc.stdout, proc.stderr


# ------------------------------------------------------------------ 7. stopping, single instance, identity


def test_instance_identity_is_unique_per_start_even_with_the_same_pid(sqlite_db: str) -> None:
    settings = settings_for(sqlite_db)
    a, b = Context.create(settings), Context.create(settings)
    try:
        assert a.owner != b.owner and a.owner.split(":")[:2] == b.owner.split(":")[:2]
        # Another PID namespace's "pid 1" is never taken for dead (nor for us).
        assert not owner_is_dead(f"{a.owner.split(':')[0]}:{os.getpid()}:0000")
    finally:
        a.close()
        b.close()


def test_rows_another_live_instance_holds_are_not_requeued(sqlite_db: str) -> None:
    settings = settings_for(sqlite_db)
    h = Harness(settings)
    now = datetime.now(UTC)
    other = f"{os.uname().nodename}:{os.getppid()}:feedbeef"  # a live process on this host
    try:
        with h.ctx.engine.begin() as conn:
            conn.execute(insert(outbox).values(
                idem_key="op:x", event="operator", channel="console", target="", text="in flight elsewhere",
                status="sending", attempts=0, next_attempt_at=now, created_at=now, locked_by=other,
                locked_until=now + timedelta(minutes=5), batch="", hold="", watch="", reason="",
            ))  # fmt: skip
        result = h.deliverer.drain()
        assert result.sent == 0 and "in flight elsewhere" not in h.output.getvalue()
        with h.ctx.engine.connect() as conn:
            assert conn.execute(select(outbox.c.status, outbox.c.locked_by)).one() == ("sending", other)
    finally:
        h.close()


class Service:
    """``kamermonitor run`` in a child process against local servers."""

    def __init__(self, tmp: Path, tk: TkFeedServer, sru_url: str, slack: SlackServer, extra: str = "") -> None:
        self.tmp = tmp
        self.config = tmp / "km.toml"
        self.config.write_text(f"""
[monitor]
database = "sqlite:///{tmp / 'km.db'}"
[http]
pause_seconds = 0
read_timeout = 30
deadline_seconds = 60
[sources.syncfeed]
base_url = "{tk.base_url}"
interval_seconds = 1
jitter_seconds = 0
[sources.sru]
base_url = "{sru_url}"
interval_seconds = 1
jitter_seconds = 0
[delivery]
digest_threshold = 1000
backoff_base_seconds = 0.2
[enrichment]
enabled = false
[[channel]]
name = "slack"
type = "slack"
webhook_url_env = "KM_HOOK"
[[watch]]
dossiers = ["26643"]
channels = ["slack"]
{extra}
""", encoding="utf-8")  # fmt: skip
        self.env = {**os.environ, "KM_HOOK": slack.url_for("goodhook"), "KAMERMONITOR_CONFIG": ""}

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(self.config), *(args or ("run",))],
            env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.tmp,
        )  # fmt: skip

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "--config", str(self.config), *args],
            env=self.env, capture_output=True, text=True, timeout=120, cwd=self.tmp,
        )  # fmt: skip


def wait_for(condition: object, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if callable(condition) and condition():
            return True
        time.sleep(0.1)
    return False


def test_sigterm_with_a_slack_backlog_ends_fast_and_loses_or_repeats_nothing(
    tmp_path: Path, tk: TkFeedServer, sru: SruServer, slack: SlackServer
) -> None:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    svc = Service(tmp_path, tk, sru.base_url, slack)
    assert svc.run("poll", "--once").returncode == 0  # baseline
    count = 30
    for i in range(count):
        tk.add_document(f"bb000000-0000-4000-8000-{i:012d}", f"2025D9{i:04d}", "Brief regering", f"Brief {i}", ICT,
                        date.today(), "2025-2026", -1, [DOSSIER_26643])  # fmt: skip
    proc = svc.start()
    try:
        assert wait_for(lambda: len(slack.messages) >= 3, 60), proc.stderr and proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        proc.kill()
    assert took < 10, f"took {took:.1f} s to stop"
    assert proc.returncode == 0 and "Traceback" not in err, err
    sent_before = len(slack.messages)
    assert sent_before < count  # Slack takes one a second: the backlog was not waited for
    # The rest goes out on the next start, each once.
    proc = svc.start()
    try:
        assert wait_for(lambda: len(slack.messages) >= count, 90)
        time.sleep(1.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    texts = [m["text"] for m in slack.messages]
    assert len(texts) == count == len(set(texts)), f"{len(texts)} messages, {len(set(texts))} distinct"


def test_a_stalled_source_neither_delays_the_other_nor_the_stop(
    tmp_path: Path, tk: TkFeedServer, sru: SruServer, slack: SlackServer
) -> None:
    with HostileServer() as stalled:
        stalled.answer(Reply(body=b"<x/>" * 10_000, drip=0.5))
        svc = Service(tmp_path, tk, stalled.url("/sru"), slack)
        proc = svc.start()
        try:
            # SyncFeed keeps polling (every second) while SRU hangs on its first request.
            assert wait_for(lambda: len(tk.requests) >= 4 and len(stalled.requests) >= 1, 40)
            proc.send_signal(signal.SIGTERM)
            started = time.monotonic()
            _, err = proc.communicate(timeout=30)
            took = time.monotonic() - started
        finally:
            proc.kill()
    assert took < 10 and proc.returncode == 0, err
    assert len(stalled.requests) == 1


def test_a_second_instance_on_one_sqlite_file_refuses_to_start(
    tmp_path: Path, tk: TkFeedServer, sru: SruServer, slack: SlackServer
) -> None:
    svc = Service(tmp_path, tk, sru.base_url, slack)
    first = svc.start()
    try:
        assert wait_for(lambda: len(tk.requests) >= 1, 30)
        second = svc.run("run")
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"error: database {tmp_path / 'km.db'}: another kamermonitor (pid {first.pid}) is using it; "
            "a SQLite database serves one instance (use PostgreSQL for several)"
        ]
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


# ------------------------------------------------------------------ 8. secrets and database faults


def test_a_webhook_that_echoes_its_token_back_never_gets_it_stored_or_shown(sqlite_db: str) -> None:
    token = "XyZ123abc456DEF789ghi012"
    with HostileServer() as srv:
        srv.answer(Reply(status=500, body=f"no such hook: {token[:14]}".encode()))
        url = srv.url(f"/services/T0AAAAAAA/B0BBBBBBB/{token}")
        channel = SlackChannel("team", webhook_url=url, timeout=5)
        with pytest.raises(DeliveryError) as err:
            channel.send(Alert("test", text="x"))
        assert token[:8] not in str(err.value) and "****" in str(err.value)
    assert redact(f"echo {token} and {token[3:17]}", (token,)) == "echo **** and ****"


def test_database_faults_are_one_line_naming_the_file_and_the_cause(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 500)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cases = {
        f"sqlite:///{corrupt}": f"error: database {corrupt}: file is not a database",
        f"sqlite:///{blocker}/km.db": f"error: database {blocker}/km.db: cannot create {blocker}",
        f"sqlite:///file:{corrupt}?mode=ro&uri=true": "file is not a database",
    }
    for url, expected in cases.items():
        for command in (["status"], ["poll", "--once"]):
            proc = subprocess.run(
                [sys.executable, "-m", "monitor", "--database", url, *command],
                capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "KAMERMONITOR_CONFIG": ""},
            )  # fmt: skip
            assert proc.returncode == 1, proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and expected in lines[0], proc.stderr


def test_a_read_only_database_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "km.db"
    open_engine(f"sqlite:///{db}").dispose()  # created and migrated (status, read-only, creates nothing)
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--database", f"sqlite:///file:{db}?mode=ro&uri=true", "poll", "--once"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env={**os.environ, "KAMERMONITOR_CONFIG": ""},
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "readonly database" in lines[0] and str(db) in lines[0], proc.stderr


def test_deliverer_never_stores_a_channel_secret(sqlite_db: str) -> None:
    token = "XyZ123abc456DEF789ghi012"

    class Echo:
        name, kind, min_interval, targets = "echo", "slack", 0.0, ("",)

        def send(self, alert: Alert, target: str) -> None:
            raise DeliveryError(f"server said {token[2:20]}")

        def describe(self) -> str:
            return "echo"

        def secrets(self) -> tuple[str, ...]:
            return (token,)

    h = Harness(settings_for(sqlite_db))
    try:
        now = datetime.now(UTC)
        with h.ctx.engine.begin() as conn:
            conn.execute(insert(outbox).values(
                idem_key="op:y", event="operator", channel="echo", target="", text="x", status="pending",
                attempts=0, next_attempt_at=now, created_at=now, batch="", hold="", watch="", reason="",
            ))  # fmt: skip
        Deliverer(h.ctx, {"echo": Echo()}).drain(max_rounds=1)  # type: ignore[dict-item]
        with h.ctx.engine.connect() as conn:
            error = conn.execute(select(outbox.c.last_error)).scalar()
        assert error is not None and token[2:20] not in error and token[5:12] not in error
    finally:
        h.close()
