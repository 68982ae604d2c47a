"""``kamermonitor doctor`` against real local peers: each failure class has its line and exit code.

The sources are the fake SyncFeed and SRU servers, the mail server is aiosmtpd with
STARTTLS and AUTH (a self-signed certificate made for the test, trusted through
``SSL_CERT_FILE`` the way an operator's own CA would be), the webhook is the fake Slack
endpoint.  DNS failures use the reserved ``.invalid`` top-level domain, which never
resolves; a refused connection uses a port nobody listens on.
"""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from sqlalchemy import MetaData, create_engine, select

from monitor.cli import main
from monitor.store.schema import LATEST
from tests.fakes.apprise_target import AppriseTarget
from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer, free_port, make_self_signed_cert
from tests.fakes.sru_server import SruServer
from tests.fakes.teams_server import TeamsServer
from tests.fakes.tk_server import TkFeedServer
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.harness import DOSSIER_26643, ICT

PASSWORD = "s3cret-pw"


class _Html(BaseHTTPRequestHandler):
    """Answers every GET with a 200 HTML page: a portal or captive page where a feed should be."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><html><body>Welkom</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        scheme = "https" if isinstance(server.socket, ssl.SSLSocket) else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def html_site() -> Iterator[str]:
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), _Html))


@pytest.fixture
def self_signed_site(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server whose certificate no system trusts."""
    cert, key = make_self_signed_cert(tmp_path)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield from _serve(server)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(tls="starttls", auth=("alerts@example.org", PASSWORD)) as server:
        yield server


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    with SlackServer() as server:
        yield server


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, smtp: SmtpServer) -> pytest.MonkeyPatch:
    """The right password, and the test certificate trusted as an operator's CA would be."""
    assert smtp.cert_path is not None
    monkeypatch.setenv("KM_TEST_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp.cert_path))
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def config(
    tmp_path: Path, *, syncfeed: str, sru: str, smtp: SmtpServer | None = None, slack: str | None = None
) -> list[str]:
    text = f"""
[http]
pause_seconds = 0
connect_timeout = 3
read_timeout = 3
[sources.syncfeed]
base_url = "{syncfeed}"
[sources.sru]
base_url = "{sru}"
"""
    channels = ["console"]
    if smtp is not None:
        channels.append("mail")
        text += f"""
[[channel]]
name = "mail"
type = "email"
host = "{smtp.host}"
port = {smtp.port}
security = "starttls"
username = "alerts@example.org"
password_env = "KM_TEST_SMTP_PASSWORD"
from = "Kamermonitor <alerts@example.org>"
to = ["beleid@example.org"]
"""
    if slack is not None:
        channels.append("slack")
        text += '\n[[channel]]\nname = "slack"\ntype = "slack"\nwebhook_url_env = "KM_TEST_WEBHOOK"\n'
    text += f'\n[[watch]]\nname = "ict"\ndossiers = ["26643"]\nchannels = {channels!r}\n'.replace("'", '"')
    path = tmp_path / "km.toml"
    path.write_text(text, encoding="utf-8")
    return ["--config", str(path), "--database", f"sqlite:///{tmp_path / 'km.db'}"]


def doctor(opts: list[str], *extra: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main(["doctor", *opts, *extra], stdout=out)
    return code, out.getvalue().splitlines()


def line(lines: list[str], item: str) -> str:
    found = [x for x in lines if x.split(":", 1)[0].split(None, 1)[-1] == item]
    assert found, f"no line for {item!r} in:\n" + "\n".join(lines)
    return found[0]


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        tables = {name: sorted(map(tuple, conn.execute(select(t))), key=repr) for name, t in meta.tables.items()}
    engine.dispose()
    return tables


class Sources(NamedTuple):
    tk: TkFeedServer
    sru: SruServer
    document_token: int  # the skiptoken of the feed's one document


@pytest.fixture
def sources(tk: TkFeedServer, sru: SruServer) -> Sources:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    token = tk.add_document(
        "cc000000-0000-4000-8000-000000000001", "2025D50001", "Brief regering", "Een brief", ICT,
        date.today(), "2025-2026", -1, [DOSSIER_26643],
    )  # fmt: skip
    sru.add_record("kst-26643-1384")
    sru.add_record("kst-26643-1385")
    return Sources(tk, sru, token)


def test_everything_ok_is_exit_0_with_a_line_per_step_and_changes_nothing(
    tmp_path: Path, sources: Sources, smtp: SmtpServer, env: pytest.MonkeyPatch
) -> None:
    tk, sru, token = sources
    opts = config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url, smtp=smtp)
    assert main(["poll", "--once", *opts], stdout=io.StringIO()) == 0  # a database with state in it
    db = f"sqlite:///{tmp_path / 'km.db'}"
    before = dump(db)
    requests_before = len(sru.queries)
    code, lines = doctor(opts)
    assert code == 0, "\n".join(lines)
    assert all(x.startswith("OK ") for x in lines[:-1]) and lines[-1] == "doctor: ok"
    assert line(lines, "syncfeed answer").endswith(f"Atom feed of documents, next link at skiptoken {token}")
    assert line(lines, "sru answer").endswith("SRU response, 2 publications for dossier(s) 26643")
    assert "offers" in line(lines, "channel mail EHLO") and "STARTTLS" in line(lines, "channel mail EHLO")
    assert "certificate verified" in line(lines, "channel mail STARTTLS")
    assert line(lines, "channel mail AUTH").endswith("(user alerts@example.org); nothing sent")
    assert line(lines, "database schema").endswith(f"version {LATEST} (current)")
    assert line(lines, "database write").endswith("a test write succeeded (rolled back)")
    assert smtp.messages == [] and smtp.auth_attempts == [("alerts@example.org", True)]
    assert len(sru.queries) == requests_before + 1  # one query, of one record
    assert dump(db) == before  # no cursor moved, nothing queued


def test_a_name_that_does_not_resolve_is_a_dns_error(tmp_path: Path, sources: Sources, env: pytest.MonkeyPatch) -> None:
    sru = sources.sru
    opts = config(tmp_path, syncfeed="https://syncfeed.kamermonitor.invalid/SyncFeed/2.0", sru=sru.base_url)
    code, lines = doctor(opts)
    assert code == 2
    assert line(lines, "syncfeed DNS").startswith(
        "ERROR   syncfeed DNS: syncfeed.kamermonitor.invalid does not resolve"
    )
    assert not [x for x in lines if x.startswith(("OK      syncfeed HTTP", "ERROR   syncfeed HTTP"))]  # stopped there
    assert line(lines, "sru answer").startswith("OK ")  # the other source is still checked


def test_a_refused_connection_is_its_own_line(tmp_path: Path, sources: Sources) -> None:
    tk = sources.tk
    port = free_port()
    opts = config(tmp_path, syncfeed=tk.base_url, sru=f"http://127.0.0.1:{port}/sru")
    code, lines = doctor(opts)
    assert code == 2
    assert line(lines, "sru connect") == f"ERROR   sru connect: 127.0.0.1:{port} refused the connection"


def test_an_untrusted_certificate_is_a_tls_error(
    tmp_path: Path, sources: Sources, self_signed_site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    tk = sources.tk
    opts = config(tmp_path, syncfeed=tk.base_url, sru=f"{self_signed_site}/sru")
    code, lines = doctor(opts)
    assert code == 2
    assert line(lines, "sru TLS").startswith("ERROR   sru TLS: certificate of 127.0.0.1 not accepted: self")


def test_an_answer_of_the_wrong_shape_is_named(tmp_path: Path, html_site: str) -> None:
    opts = config(tmp_path, syncfeed=f"{html_site}/SyncFeed/2.0", sru=f"{html_site}/sru")
    code, lines = doctor(opts)
    assert code == 2
    assert line(lines, "syncfeed HTTP").startswith("OK ")
    assert line(lines, "syncfeed answer") == (
        "ERROR   syncfeed answer: not an Atom feed (starts with '<!DOCTYPE html><html><body>Welkom</body></html>')"
    )
    assert line(lines, "sru answer").startswith("ERROR   sru answer: ")


def test_a_watched_dossier_without_publications_is_a_warning(tmp_path: Path, tk: TkFeedServer, sru: SruServer) -> None:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    tk.add_document(
        "cc000000-0000-4000-8000-000000000002", "2025D50002", "Brief regering", "Een brief", ICT,
        date.today(), "2025-2026", -1, [DOSSIER_26643],
    )  # fmt: skip
    opts = config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url)
    main(["poll", "--once", *opts], stdout=io.StringIO())
    code, lines = doctor(opts)
    assert code == 1, "\n".join(lines)
    assert line(lines, "sru answer").startswith("WARNING sru answer: SRU response, but 0 publications")
    assert lines[-1] == "doctor: warning"


def test_a_wrong_smtp_password_is_an_auth_error_with_the_servers_reply(
    tmp_path: Path, sources: Sources, smtp: SmtpServer, env: pytest.MonkeyPatch
) -> None:
    tk, sru, token = sources
    env.setenv("KM_TEST_SMTP_PASSWORD", "wrong")
    code, lines = doctor(config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url, smtp=smtp))
    assert code == 2
    auth = line(lines, "channel mail AUTH")
    assert auth.startswith("ERROR   channel mail AUTH: 535") and "wrong" not in auth
    assert smtp.messages == []


def test_an_untrusted_smtp_certificate_fails_at_starttls(
    tmp_path: Path, sources: Sources, smtp: SmtpServer, env: pytest.MonkeyPatch
) -> None:
    tk, sru, token = sources
    env.delenv("SSL_CERT_FILE")
    code, lines = doctor(config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url, smtp=smtp))
    assert code == 2
    assert "certificate of 127.0.0.1 not accepted" in line(lines, "channel mail STARTTLS")
    assert not [x for x in lines if "channel mail AUTH" in x]  # no password sent over an untrusted link
    assert smtp.auth_attempts == []


def test_a_webhook_is_checked_by_form_and_sent_to_only_with_send(
    tmp_path: Path, sources: Sources, slack: SlackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tk, sru, token = sources
    monkeypatch.setenv("KM_TEST_WEBHOOK", slack.url_for())
    opts = config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url, slack="yes")
    code, lines = doctor(opts)
    assert code == 1  # a local endpoint is not a Slack webhook URL: a warning, not an error
    assert "is not of the form https://hooks.slack.com/services/" in line(lines, "channel slack webhook")
    assert "goodhook" not in "\n".join(lines)  # the secret part of the URL is never shown
    assert slack.requests == []
    code, lines = doctor(opts, "--send")
    assert line(lines, "channel slack send") == "OK      channel slack send: test message accepted"
    assert len(slack.messages) == 1
    monkeypatch.setenv("KM_TEST_WEBHOOK", slack.url_for("revoked"))
    code, lines = doctor(opts, "--send")
    assert code == 2
    assert line(lines, "channel slack send").startswith("ERROR   channel slack send: ")
    assert "403" in line(lines, "channel slack send") and "invalid_token" in line(lines, "channel slack send")


def test_teams_webhook_and_apprise_channels_are_checked_and_sent_to_only_with_send(
    tmp_path: Path, sources: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    tk, sru, _ = sources
    with TeamsServer() as teams, WebhookReceiver() as hook, AppriseTarget() as target:
        monkeypatch.setenv("KM_TEST_TEAMS", teams.url_for())
        monkeypatch.setenv("KM_TEST_HOOK", hook.url_for())
        monkeypatch.setenv("KM_TEST_HOOK_SECRET", hook.secret)
        monkeypatch.setenv("KM_TEST_APPRISE", target.apprise_url())
        opts = config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url)
        path = Path(opts[1])
        path.write_text(
            path.read_text(encoding="utf-8")
            + '[[channel]]\nname = "teams"\ntype = "teams"\nwebhook_url_env = "KM_TEST_TEAMS"\n'
            + '[[channel]]\nname = "hook"\ntype = "webhook"\nurl_env = "KM_TEST_HOOK"\n'
            + 'secret_env = "KM_TEST_HOOK_SECRET"\n'
            + '[[channel]]\nname = "push"\ntype = "apprise"\nurl_env = "KM_TEST_APPRISE"\n',
            encoding="utf-8",
        )
        assert main(["poll", "--once", *opts], stdout=io.StringIO()) == 0  # the database exists
        code, lines = doctor(opts)
        assert code == 0, "\n".join(lines)
        assert line(lines, "channel teams").startswith("OK      channel teams: teams: teams workflow http://127.0.0.1:")
        assert line(lines, "channel hook").startswith("OK      channel hook: webhook: ")
        assert line(lines, "channel push").startswith("OK      channel push: apprise: ")
        assert "sig=" not in "\n".join(lines) and hook.secret not in "\n".join(lines)  # no secret shown
        assert teams.requests == [] and hook.requests == [] and target.requests == []
        code, lines = doctor(opts, "--send")
        assert code == 0, "\n".join(lines)
        for name in ("teams", "hook", "push"):
            assert line(lines, f"channel {name} send") == f"OK      channel {name} send: test message accepted"
        assert (len(teams.messages), len(hook.messages), len(target.messages)) == (1, 1, 1)
        monkeypatch.setenv("KM_TEST_HOOK_SECRET", "not-a-secret")
        monkeypatch.delenv("KM_TEST_TEAMS")
        code, lines = doctor(opts)
        assert code == 2
        assert line(lines, "channel teams webhook_url") == (
            "ERROR   channel teams webhook_url: environment variable KM_TEST_TEAMS (or KM_TEST_TEAMS_FILE) is not set"
        )
        assert line(lines, "channel hook secret").startswith("ERROR   channel hook secret: ")


def test_an_unset_secret_is_an_error_naming_the_variable(
    tmp_path: Path, sources: Sources, monkeypatch: pytest.MonkeyPatch
) -> None:
    tk, sru, token = sources
    monkeypatch.delenv("KM_TEST_WEBHOOK", raising=False)
    code, lines = doctor(config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url, slack="yes"))
    assert code == 2
    assert line(lines, "channel slack webhook") == (
        "ERROR   channel slack webhook: environment variable KM_TEST_WEBHOOK (or KM_TEST_WEBHOOK_FILE) is not set"
    )


def test_a_database_that_does_not_exist_is_not_created(tmp_path: Path, sources: Sources) -> None:
    tk, sru, token = sources
    code, lines = doctor(config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url))
    assert code == 1
    assert "does not exist yet" in line(lines, "database file")
    assert not (tmp_path / "km.db").exists()


@pytest.mark.postgres
def test_doctor_checks_a_postgres_database_without_changing_it(tmp_path: Path, sources: Sources, database: str) -> None:
    if not database.startswith("postgresql"):
        pytest.skip("the PostgreSQL variant of this test")
    tk, sru, token = sources
    opts = config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url)
    opts[-1] = database
    code, lines = doctor(opts)
    assert line(lines, "database schema").startswith("WARNING database schema: no kamermonitor tables yet")
    assert main(["poll", "--once", *opts], stdout=io.StringIO()) == 0
    before = dump(database)
    code, lines = doctor(opts)
    assert code == 0, "\n".join(lines)
    assert line(lines, "database driver") == "OK      database driver: postgresql via psycopg"
    assert dump(database) == before


def test_the_web_listen_address_is_free_taken_or_served(tmp_path: Path, sources: Sources) -> None:
    import socket

    tk, sru, _ = sources
    port = free_port()
    opts = config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url)
    path = Path(opts[1])
    path.write_text(path.read_text(encoding="utf-8") + f'\n[web]\nlisten = "127.0.0.1:{port}"\n', encoding="utf-8")
    assert line(doctor(opts)[1], "web listen") == (
        f"OK      web listen: 127.0.0.1:{port} is free: `kamermonitor run` will listen there"
    )
    with socket.socket() as other:  # another program holds the port
        other.bind(("127.0.0.1", port))
        other.listen()
        code, lines = doctor(opts)
    assert code == 2
    assert line(lines, "web listen").startswith(f"ERROR   web listen: 127.0.0.1:{port}: in use by another program")


def test_a_web_address_answered_by_a_running_kamermonitor_is_ok(tmp_path: Path, sources: Sources) -> None:
    class Healthz(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"ok" if self.path == "/healthz" else b"?"
            self.send_response(200 if self.path == "/healthz" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    tk, sru, _ = sources
    server = ThreadingHTTPServer(("127.0.0.1", 0), Healthz)
    for url in _serve(server):
        opts = config(tmp_path, syncfeed=tk.base_url, sru=sru.base_url)
        path = Path(opts[1])
        path.write_text(path.read_text(encoding="utf-8") + f'\n[web]\nlisten = "{url[7:]}"\n', encoding="utf-8")
        assert line(doctor(opts)[1], "web listen").endswith(": a running kamermonitor answers /healthz")
