"""``kamermonitor preview``: SRU records of the last N days, enriched from the publication, rendered per channel.

The SRU service is the fake of ``tests/fakes/sru_server.py``; the publication pages are
the constructed fixtures in ``tests/fixtures/letters/``, served by a small local HTTP
server.  The fake SRU records are made to point at ``repository.overheid.nl`` (as the
real ones do, and as ``[enrichment] allowed_urls`` allows), so the HTTP client is given a
transport that routes that host to the local server.
Nothing here touches the internet, and the tests check that nothing is sent.
"""

from __future__ import annotations

import io
import json
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

import monitor.context
from monitor import cli
from monitor.config import HttpConfig, Settings, WatchConfig
from monitor.context import Context
from monitor.http import Fetcher
from monitor.notify.slack_render import slack_outline
from monitor.preview import preview
from monitor.store import open_engine
from monitor.store.schema import outbox
from tests.fakes.slack_server import SlackServer
from tests.fakes.smtp_server import SmtpServer
from tests.fakes.sru_server import SruServer
from tests.harness import ICT, settings_for
from tests.screenshot import browser, screenshot

LETTERS = Path(__file__).parent / "fixtures" / "letters"
ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 7, 10, 9, 0, tzinfo=UTC)  # the preview's "today" in the API tests
OLDEST = date(2025, 6, 20)  # CLI tests run on the real clock: --days reaches back to here
MINISTERS = (
    "Minister van Economische Zaken",
    "Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties",
    "Minister van Defensie",
    "Minister van Onderwijs, Cultuur en Wetenschap",
)


# --------------------------------------------------------------------------- local servers


class PublicationServer:
    """Serves ``…/<identifier>.html`` from ``pages``; anything else is a 404."""

    def __init__(self, pages: dict[str, bytes]) -> None:
        self.pages = pages
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                name = self.path.rsplit("/", 1)[-1].removesuffix(".html")
                body = server.pages.get(name)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8" if body else "text/plain")
                self.send_header("Content-Length", str(len(body or b"not found")))
                self.end_headers()
                self.wfile.write(body or b"not found")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class RouteToLocal(httpx.BaseTransport):
    """Sends requests for the publication hosts to the local server; everything else as is."""

    HOSTS = ("repository.overheid.nl", "zoek.officielebekendmakingen.nl")

    def __init__(self, port: int) -> None:
        self.port = port
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.HOSTS:
            url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self.port)
            headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"host"]
            request = httpx.Request(request.method, url, headers=headers, extensions=request.extensions)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def routed_client(port: int, settings: HttpConfig | None = None) -> httpx.Client:
    s = settings or HttpConfig()
    return httpx.Client(
        transport=RouteToLocal(port),
        timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
        headers={"User-Agent": s.user_agent},
        follow_redirects=True,
    )


PUBLICATIONS = "https://repository.overheid.nl"
# The pause a Fetcher built without settings took (the service always takes [http]
# pause_seconds); these tests keep pacing their requests as they always did.
PAUSED = HttpConfig(pause_seconds=0.2)
BLG_PDF = "https://repository.overheid.nl/frbr/officielepublicaties/blg/onopgemaakt/blg-1184311/1/pdf/blg-1184311.pdf"


def add_letters(sru: SruServer) -> None:
    """Dossier 26643 around the AI-fabriek letter, plus what the preview must leave out."""
    sru.publication_base = PUBLICATIONS  # routed to the local publication server (RouteToLocal)
    sru.add_record(
        "kst-26643-1342", document_title="Indiening voorstel AI-fabriek Groningen", dossier_title=ICT,
        date=date(2025, 6, 27), available=date(2025, 6, 30), indieners=MINISTERS,
    )  # fmt: skip
    sru.add_record(
        "blg-1184311", subtype=None, doc_type="Bijlage", hoofddocument="kst-26643-1342", ondernummer=None,
        document_title="Voorstel AI-fabriek Groningen (Engelstalig)", date=date(2025, 6, 27),
        available=date(2025, 6, 30),
    )  # fmt: skip
    sru.add_record(
        "kst-26643-1350", document_title="Overzicht openstaande toezeggingen digitalisering",
        date=date(2025, 7, 3), indieners=(MINISTERS[1],),
    )  # fmt: skip
    sru.add_record("kst-26643-1343", subtype="Motie", document_title="Motie van het lid Kathmann over AI",
                   date=date(2025, 7, 1))  # fmt: skip
    # Published in March, modified (re-indexed) in July: outside a 30-day window.
    sru.add_record("kst-26643-1200", document_title="Verzamelbrief digitalisering februari 2025",
                   date=date(2025, 3, 1), modified=date(2025, 7, 2))  # fmt: skip
    # Another dossier, found only by a keyword; its page is missing (404): shown without details.
    sru.add_record("kst-32761-300", dossier="32761", dossier_title="Digitale overheid",
                   document_title="Kabinetsreactie AI-fabriek", date=date(2025, 7, 2))  # fmt: skip


@pytest.fixture
def publications() -> Iterator[PublicationServer]:
    pages = {
        "kst-26643-1342": (LETTERS / "kst-26643-1342.html").read_bytes(),
        "kst-26643-1350": (LETTERS / "kst-26643-1350-table-only.html").read_bytes(),
    }
    server = PublicationServer(pages)
    yield server
    server.stop()


@pytest.fixture
def letters(sru: SruServer) -> SruServer:
    add_letters(sru)
    return sru


WATCHES = [
    {"name": "ict", "dossiers": ["26643"], "channels": ["mail", "team", "console"]},
    {"name": "ai", "keywords": ["AI-fabriek"], "channels": ["console"]},
]


def preview_settings(database: str, sru_url: str, smtp_port: int = 9, **extra: Any) -> Settings:
    channels = [
        {
            "name": "mail",
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp_port,
            "security": "none",
            "from": "Kamermonitor <alerts@example.org>",
            "to": ["beleid@example.org"],
        },
        {"name": "team", "type": "slack", "webhook_url_env": "KAMERMONITOR_TEST_SLACK_HOOK"},
    ]  # fmt: skip  ("console" is always there)
    extra = {**extra, "enrichment": {"allowed_urls": [PUBLICATIONS], **extra.get("enrichment", {})}}
    return settings_for(database, sru_url=sru_url, watches=WATCHES, channels=channels, extra=extra)


def context(settings: Settings, port: int) -> Context:
    return Context(settings, open_engine(settings.database), Fetcher(routed_client(port), PAUSED), now=lambda: NOW)


def watch(settings: Settings, name: str) -> WatchConfig:
    return next(w for w in settings.watches if w.name == name)


# --------------------------------------------------------------------------- preview()


def test_preview_renders_each_recent_letter_for_each_channel_and_sends_nothing(
    letters: SruServer, publications: PublicationServer, sqlite_db: str
) -> None:
    settings = preview_settings(sqlite_db, letters.base_url)
    ctx = context(settings, publications.port)
    try:
        messages = preview(ctx, watch(settings, "ict"), 30)
        with ctx.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(outbox)).scalar() == 0
    finally:
        ctx.close()

    # The query is the poller's: the watch's dossiers, modified since the window's start.
    assert letters.queries == [
        "c.product-area==officielepublicaties AND w.publicatienaam==Kamerstuk AND w.dossiernummer==26643 "
        "AND dt.modified>=2025-06-10 sortBy dt.modified/sort.descending"
    ]
    # Two letters, newest first; the motie, the bijlage and the March letter are left out.
    assert [(m.kind, m.channel, m.subject) for m in messages] == [
        ("email", "mail", "[26643] Brief regering: Overzicht openstaande toezeggingen digitalisering"),
        ("slack", "team", "[26643] Brief regering: Overzicht openstaande toezeggingen digitalisering"),
        ("console", "console", "[26643] Brief regering: Overzicht openstaande toezeggingen digitalisering"),
        ("email", "mail", "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen"),
        ("slack", "team", "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen"),
        ("console", "console", "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen"),
    ]
    assert all(m.alert.event == "new" and len(m.alert.letters) == 1 for m in messages)
    assert sorted(p.rsplit("/", 1)[-1] for p in publications.requests) == ["kst-26643-1342.html", "kst-26643-1350.html"]

    ai = messages[3]
    letter = ai.alert.letters[0]
    assert letter.citation == "Kamerstuk 26643, nr. 1342"
    assert letter.ob_html_url == "https://zoek.officielebekendmakingen.nl/kst-26643-1342.html"
    assert letter.details is not None and letter.details.place_date_line == "Den Haag, 27 juni 2025"
    assert [a.title for a in letter.attachments] == ["Voorstel AI-fabriek Groningen (Engelstalig)"]
    assert ai.alert.reasons == ("u volgt dossier 26643",)
    for body in (ai.text, ai.html or ""):
        text = " ".join(re.sub(r"<[^>]+>", "", body).split())  # the words, not the markup or the wrapping
        for expected in (
            "Kamerstuk 26643, nr. 1342",
            "Den Haag, 27 juni 2025",
            "Minister van Economische Zaken",
            "Met deze brief informeren wij u over de indiening van het Nederlandse voorstel",
            "Vincent Karremans, Minister van Economische Zaken",
            "Gijs Tuinman, Staatssecretaris van Defensie",
            "Voorstel AI-fabriek Groningen (Engelstalig)",
        ):
            assert expected in text, expected
        # A bijlage is linked to its PDF (an unformatted bijlage has no HTML page of its own).
        assert BLG_PDF in body
    slack_text = "\n".join(slack_outline(messages[4].payload or {}))
    assert "*Vincent Karremans*, Minister van Economische Zaken" in slack_text
    assert "Voorstel AI-fabriek Groningen (Engelstalig) <https://repository.overheid.nl/frbr/" in slack_text
    assert f"<{BLG_PDF}|Voorstel AI-fabriek Groningen (Engelstalig)>" in str(messages[4].payload)
    console = messages[5].text.split("\n")
    assert console[:3] == [
        "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen",
        "  Kamerstuk 26643, nr. 1342 · 27 juni 2025",
        "  Van: Minister van Economische Zaken",
    ]
    # The table-only page has no summary and no signatories; the letter is shown without them.
    first = messages[0]
    assert "Afzender:     Staatssecretaris van Binnenlandse Zaken en Koninkrijksrelaties" in first.text
    assert "Samenvatting" not in first.text and "Ondertekend" not in first.text


def test_keyword_watch_queries_every_dossier_and_filters_locally(
    letters: SruServer, publications: PublicationServer, sqlite_db: str
) -> None:
    settings = preview_settings(sqlite_db, letters.base_url)
    ctx = context(settings, publications.port)
    try:
        messages = preview(ctx, watch(settings, "ai"), 30)
    finally:
        ctx.close()
    assert letters.queries == [
        "c.product-area==officielepublicaties AND w.publicatienaam==Kamerstuk AND dt.modified>=2025-06-10 "
        "sortBy dt.modified/sort.descending"
    ]
    # The motie mentions "AI" but not the keyword, and is no letter; 32761's page is missing.
    assert [m.subject for m in messages] == [
        "[32761] Brief regering: Kabinetsreactie AI-fabriek",
        "[26643] Brief regering: Indiening voorstel AI-fabriek Groningen",
    ]
    assert messages[0].alert.reasons == ("bevat uw trefwoord 'ai-fabriek'",)
    assert messages[0].alert.letters[0].details is None


def test_no_enrich_reads_no_publication(letters: SruServer, publications: PublicationServer, sqlite_db: str) -> None:
    settings = preview_settings(sqlite_db, letters.base_url)
    ctx = context(settings, publications.port)
    try:
        messages = preview(ctx, watch(settings, "ict"), 30, enrich=False)
    finally:
        ctx.close()
    assert publications.requests == []
    assert len(messages) == 6 and all(m.alert.letters[0].details is None for m in messages)
    # Without the page, the sender is what SRU lists as indieners.
    assert "Afzenders:" in messages[3].text and "Minister van Defensie" in messages[3].text


# --------------------------------------------------------------------------- the command


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch, publications: PublicationServer) -> PublicationServer:
    """``Context.create`` (as the CLI calls it) gets an HTTP client routed to the local server."""
    monkeypatch.setattr(monitor.context, "make_client", lambda s: routed_client(publications.port, s))
    return publications


def write_config(path: Path, sru_url: str, smtp_port: int, database: Path) -> Path:
    path.write_text(
        f"""
[monitor]
database = "sqlite:///{database}"
[http]
pause_seconds = 0
read_timeout = 5
[sources.sru]
base_url = "{sru_url}"
[enrichment]
allowed_urls = ["{PUBLICATIONS}"]
[[channel]]
name = "mail"
type = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "Kamermonitor <alerts@example.org>"
to = ["beleid@example.org"]
message_id_domain = "kamermonitor.test"
[[channel]]
name = "team"
type = "slack"
webhook_url_env = "KAMERMONITOR_TEST_SLACK_HOOK"
[[watch]]
name = "ict"
dossiers = ["26643"]
channels = ["mail", "team", "console"]
""",
        encoding="utf-8",
    )
    return path


def days_back() -> str:
    return str((datetime.now(UTC).date() - OLDEST).days)


def test_cli_preview_prints_every_message_writes_html_and_sends_nothing(
    letters: SruServer, routed: PublicationServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "state.db"
    with SmtpServer() as smtp, SlackServer() as slack:
        monkeypatch.setenv("KAMERMONITOR_TEST_SLACK_HOOK", slack.url_for())
        config = write_config(tmp_path / "kamermonitor.toml", letters.base_url, smtp.port, database)
        out = io.StringIO()
        page = tmp_path / "preview.html"
        code = cli.main(["-c", str(config), "preview", "--watch", "ict", "--days", days_back(), "--html", str(page)],
                        stdout=out)  # fmt: skip
        assert code == 0
        assert smtp.envelopes == [] and slack.requests == []
    assert not database.exists(), "the preview never opens the real database"
    text = out.getvalue()
    assert text.startswith("Preview of watch 'ict' (26643; kinds Brief*): 2 letter(s) published since ")
    assert "6 message(s). Nothing is sent." in text
    assert "=== 1/6 · email channel 'mail'" in text
    assert "Subject: [26643] Brief regering: Indiening voorstel AI-fabriek Groningen" in text
    assert "=== 5/6 · slack channel 'team'" in text and "  [header] Brief regering: Indiening" in text
    assert "=== 6/6 · console channel 'console'" in text
    assert "Met deze brief informeren wij u over de indiening" in text
    html = page.read_text(encoding="utf-8")
    assert f"e-mail HTML of 2 message(s) written to {page}" in text
    assert "Bericht 2 van 2: [26643] Brief regering: Indiening voorstel AI-fabriek Groningen" in html
    assert html.count("<body") == 1 and "<b>Vincent Karremans</b>, Minister van Economische Zaken" in html


def test_cli_preview_with_nothing_recent_says_so(letters: SruServer, routed: PublicationServer, tmp_path: Path) -> None:
    config = write_config(tmp_path / "kamermonitor.toml", letters.base_url, 9, tmp_path / "state.db")
    out = io.StringIO()
    page = tmp_path / "none.html"
    argv = ["-c", str(config), "preview", "--watch", "ict", "--days", "1", "--html", str(page)]
    assert cli.main(argv, stdout=out) == 0
    assert ": 0 letter(s) published since " in out.getvalue()
    assert f"no letters, so nothing written to {page}" in out.getvalue() and not page.exists()


def test_cli_preview_of_an_unknown_watch_fails(
    letters: SruServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "kamermonitor.toml", letters.base_url, 9, tmp_path / "state.db")
    assert cli.main(["-c", str(config), "preview", "--watch", "nope"], stdout=io.StringIO()) == 1
    assert "error: no watch named 'nope' (configured: ict)" in capsys.readouterr().err
    assert letters.requests == []
    with pytest.raises(SystemExit) as exc:
        cli.main(["-c", str(config), "preview", "--watch", "ict", "--days", "0"])
    assert exc.value.code == 2


def test_cli_preview_reports_an_unreachable_source(
    letters: SruServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "kamermonitor.toml", letters.base_url, 9, tmp_path / "state.db")
    letters.fail_next(3, "500")
    assert cli.main(["-c", str(config), "preview", "--watch", "ict", "--no-enrich"], stdout=io.StringIO()) == 1
    assert "error: sru: HTTP 500" in capsys.readouterr().err


def test_a_burst_above_the_digest_threshold_is_named(
    letters: SruServer, routed: PublicationServer, tmp_path: Path
) -> None:
    for n in range(5):
        letters.add_record(f"kst-26643-136{n}", document_title=f"Voortgangsbrief {n}", date=date(2025, 7, 4))
    config = write_config(tmp_path / "kamermonitor.toml", letters.base_url, 9, tmp_path / "state.db")
    out = io.StringIO()
    assert cli.main(["-c", str(config), "preview", "--watch", "ict", "--days", days_back(), "--no-enrich"],
                    stdout=out) == 0  # fmt: skip
    text = out.getvalue()
    assert "Note: 7 letters is more than digest_threshold (5)" in text
    assert text.count("=== ") == 21 and routed.requests == []


# --------------------------------------------------------------------------- documentation screenshot


@pytest.mark.skipif(not os.environ.get("KAMERMONITOR_SCREENSHOT"), reason="set KAMERMONITOR_SCREENSHOT=<png path>")
def test_screenshot_of_the_preview_html(
    sru: SruServer, routed: PublicationServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes the e-mail HTML of the AI-fabriek letter with ``preview --html``, then screenshots it."""
    if browser() is None:
        pytest.skip("no chromium")
    add_letters(sru)
    for ident in ("kst-26643-1350", "kst-26643-1343", "kst-26643-1200", "kst-32761-300"):
        sru.remove_record(ident)
    monkeypatch.setenv("KAMERMONITOR_TEST_SLACK_HOOK", "http://127.0.0.1:9/services/T/B/x")
    config = write_config(tmp_path / "kamermonitor.toml", sru.base_url, 9, tmp_path / "state.db")
    page = tmp_path / "preview-email.html"
    argv = ["-c", str(config), "preview", "--watch", "ict", "--days", days_back(), "--html", str(page)]
    assert cli.main(argv, stdout=io.StringIO()) == 0
    png = Path(os.environ["KAMERMONITOR_SCREENSHOT"]).resolve()
    screenshot(page, png, tmp_path)
    assert png.stat().st_size > 10_000


def test_cli_preview_of_one_channel_prints_the_payload_it_would_send(
    letters: SruServer, routed: PublicationServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path / "kamermonitor.toml", letters.base_url, 9, tmp_path / "state.db")
    with config.open("a", encoding="utf-8") as f:  # a webhook channel that is in no watch
        f.write('[[channel]]\nname = "hook"\ntype = "webhook"\nurl_env = "KM_NOT_SET"\nsecret_env = "KM_NOT_SET"\n')
    out = io.StringIO()
    assert cli.main(["-c", str(config), "preview", "--watch", "ict", "--days", days_back(), "--channel", "hook"],
                    stdout=out) == 0  # fmt: skip
    text = out.getvalue()
    assert "2 message(s). Nothing is sent." in text
    first = text.split("=== 1/2 · webhook channel 'hook'\n", 1)[1].split("\n\n=== 2/2", 1)[0]
    body = json.loads(first)
    assert body["type"] == "letter.new" and body["data"]["letters"][0]["dossiers"] == ["26643"]
    assert body["data"]["letters"][0]["subject"] == "Overzicht openstaande toezeggingen digitalisering"
    assert cli.main(["-c", str(config), "preview", "--watch", "ict", "--channel", "nope"], stdout=io.StringIO()) == 1
