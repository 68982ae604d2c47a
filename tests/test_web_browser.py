"""The status page in a real browser: Debian's Chromium, driven by Playwright, at desktop and phone width.

Skipped, with the reason, when Playwright or ``/usr/bin/chromium`` is missing (``.ci/run``
installs Chromium from Debian's packages; Playwright never downloads a browser here).
With ``KAMERMONITOR_SCREENSHOT_DIR=docs`` the screenshots shown in the README are written.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from monitor.web.server import WebServer, open_surface
from tests.fakes.slack_server import SlackServer
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
GUID = "bb000000-0000-4000-8000-00000000000"
LETTERS = [  # (guid, TK number, subject, days ago, Kamerstuk nr or -1)
    (GUID + "1", "2026D41001", "Voortgangsbrief Werkagenda Waardengedreven Digitaliseren", 0, -1),
    (GUID + "2", "2026D40877", "Kabinetsreactie op het advies over AI in de publieke sector", 1, 1391),
    (GUID + "3", "2026D40512", "Stand van zaken Basisregistratie Personen en DigiD", 3, 1390),
    (GUID + "4", "2026D40103", "Beantwoording vragen over de storing bij MijnOverheid", 6, 1389),
]  # fmt: skip


def _browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright (Python) is not installed: pip install -e '.[test]'")
    if not CHROMIUM.exists():
        pytest.skip("no browser: /usr/bin/chromium is missing (apt-get install -y chromium)")
    return sync_playwright


@pytest.fixture
def served(
    tmp_path: Path, tk: TkFeedServer, sru: SruServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Harness]]:
    """A store with a few letters, a working and a broken channel, served by the real web surface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with SlackServer(hang_seconds=1) as slack:
        monkeypatch.setenv("KAMERMONITOR_SLACK_WEBHOOK", slack.url_for("archived"))
        tk.add_dossier(DOSSIER_26643, 26643, ICT)
        settings = settings_for(
            f"sqlite:///{tmp_path / 'km.db'}", syncfeed_url=tk.base_url, sru_url=sru.base_url,
            channels=[{"name": "slack", "type": "slack", "webhook_url_env": "KAMERMONITOR_SLACK_WEBHOOK"}],
            watches=[
                {"name": "dossier-26643", "dossiers": ["26643"], "channels": ["console", "slack"]},
                {"name": "ai-trefwoorden", "keywords": ["AI"], "channels": ["console"]},
            ],
            extra={"web": {"listen": f"127.0.0.1:{port}"}, "enrichment": {"enabled": False}},
        )  # fmt: skip
        harness = Harness(settings)
        harness.cycle()
        for guid, nummer, subject, ago, nr in LETTERS:
            day = date.today() - timedelta(days=ago)
            tk.add_document(guid, nummer, "Brief regering", subject, ICT, day, "2026-2027", nr, [DOSSIER_26643])
        sru.add_record(
            "kst-26643-1391", document_title=LETTERS[1][2], date=date.today() - timedelta(days=1),
            indieners=("F.M. van Oosten, staatssecretaris van Binnenlandse Zaken",), vergaderjaar="2026-2027",
        )  # fmt: skip
        harness.cycle()
        server: WebServer = open_surface(settings, alive=lambda: True)
        server.start()
        try:
            yield f"http://{server.address}", harness
        finally:
            server.stop()
            harness.close()


@pytest.mark.timeout(180)
def test_status_page_reads_well_in_chromium_at_desktop_and_phone_width(
    served: tuple[str, Harness], tmp_path: Path
) -> None:
    sync_playwright = _browser()
    base, _ = served
    out = Path(os.environ.get("KAMERMONITOR_SCREENSHOT_DIR") or tmp_path)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            for name, width, height in (("desktop", 1280, 900), ("phone", 390, 844)):
                page = browser.new_page(viewport={"width": width, "height": height}, java_script_enabled=False)
                page.on("request", lambda r: requests.append(r.url))
                resp = page.goto(base + "/", wait_until="load")
                assert resp is not None and resp.status == 200
                assert page.title() == "kamermonitor — status"
                for text in ("Bronnen", "Tweede Kamer (SyncFeed)", "Officiële bekendmakingen (SRU)", "Kanalen",
                             LETTERS[0][2], "Kamerstuk 26643, nr. 1391", "Atom-feed"):  # fmt: skip
                    assert page.get_by_text(text, exact=False).first.is_visible(), (name, text)
                page.screenshot(path=str(out / f"web-status-{name}.png"), full_page=True)
                # Nothing wider than the screen: no sideways scrolling on a phone.
                scroll = page.evaluate("document.documentElement.scrollWidth")
                assert scroll <= width, (name, scroll)
                page.close()
            watch = browser.new_page(viewport={"width": 390, "height": 844}, java_script_enabled=False)
            watch.goto(base + "/watch/dossier-26643")
            assert watch.get_by_text(LETTERS[3][2]).is_visible()
            watch.close()
        finally:
            browser.close()
    # The page loads nothing from elsewhere (and no scripts): only its own address.
    assert requests and all(url.startswith(base) for url in requests), requests
    assert (out / "web-status-phone.png").stat().st_size > 10_000
