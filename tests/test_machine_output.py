"""Exit codes and JSON for scripts and monitoring: ``poll --once``, ``status --check``, ``--json``."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT

LETTER = "bb000000-0000-4000-8000-000000000001"


def write_config(tmp_path: Path, tk: TkFeedServer, sru: SruServer, extra: str = "") -> list[str]:
    """A config pointing at the local sources; the global options for main()."""
    config = tmp_path / "km.toml"
    config.write_text(
        f"""
[http]
pause_seconds = 0
read_timeout = 2
connect_timeout = 2
[sources.syncfeed]
base_url = "{tk.base_url}"
[sources.sru]
base_url = "{sru.base_url}"
[operator]
failure_threshold = 3
[[watch]]
name = "ict"
dossiers = ["26643"]
{extra}
""",
        encoding="utf-8",
    )
    return ["--config", str(config), "--database", f"sqlite:///{tmp_path / 'km.db'}"]


def cli(*argv: str) -> tuple[int, str]:
    """Exit code and standard output; ``poll`` in a process of its own, as cron runs it.

    (A poll holds the SQLite database's single-instance lock for the life of its process.)
    """
    if argv[0] == "poll":
        proc = subprocess.run([sys.executable, "-m", "monitor", *argv], capture_output=True, text=True, timeout=120)
        return proc.returncode, proc.stdout
    out = io.StringIO()
    code = main(list(argv), stdout=out)
    return code, out.getvalue()


@pytest.fixture
def opts(tmp_path: Path, tk: TkFeedServer, sru: SruServer) -> list[str]:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    return write_config(tmp_path, tk, sru)


def test_poll_once_exits_0_when_every_source_succeeded_and_1_when_one_failed(
    opts: list[str], tk: TkFeedServer, sru: SruServer
) -> None:
    assert cli("poll", "--once", *opts)[0] == 0
    sru.fail_next(1, "500")
    assert cli("poll", "--once", *opts)[0] == 1
    tk.fail_next(1, "503")
    assert cli("poll", "--once", "--source", "sru", *opts)[0] == 0  # the failing source was not asked
    assert cli("poll", "--once", "--source", "syncfeed", *opts)[0] == 1


def test_status_check_is_ok_after_a_good_poll(opts: list[str]) -> None:
    assert cli("poll", "--once", *opts)[0] == 0
    code, out = cli("status", "--check", *opts)
    assert code == 0
    [line] = out.splitlines()
    assert line.startswith("KAMERMONITOR OK - 2 source(s) polling, 1 watch(es)")


def test_status_check_warns_when_a_source_failed_its_last_poll(opts: list[str], sru: SruServer) -> None:
    cli("poll", "--once", *opts)
    sru.fail_next(1, "500")
    cli("poll", "--once", *opts)
    code, out = cli("status", "--check", *opts)
    assert code == 1
    assert out.startswith("KAMERMONITOR WARNING - sru failed 1 poll in a row: sru: HTTP 500 from")


def test_status_check_is_critical_at_the_failure_threshold(opts: list[str], sru: SruServer) -> None:
    cli("poll", "--once", *opts)
    sru.fail_next(3, "html")
    for _ in range(3):
        cli("poll", "--once", *opts)
    code, out = cli("status", "--check", *opts)
    assert code == 2
    assert out.startswith("KAMERMONITOR CRITICAL - sru failed 3 polls in a row: sru: got HTML instead of XML")
    assert len(out.splitlines()) == 1


def test_status_check_is_critical_without_a_database_and_creates_none(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    code, out = cli("status", "--check", "--database", f"sqlite:///{db}")
    assert code == 2 and out == "KAMERMONITOR CRITICAL - no database yet: the monitor has never run\n"
    assert not db.exists()


def test_status_check_is_critical_when_an_alert_failed_for_good(
    tmp_path: Path, tk: TkFeedServer, sru: SruServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    monkeypatch.delenv("KM_TEST_UNSET_HOOK", raising=False)
    channel = '\n[[channel]]\nname = "slack"\ntype = "slack"\nwebhook_url_env = "KM_TEST_UNSET_HOOK"\n'
    opts = write_config(tmp_path, tk, sru, extra='channels = ["slack"]' + channel)
    cli("poll", "--once", *opts)  # baseline
    tk.add_document(
        LETTER, "2025D40001", "Brief regering", "Nieuwe brief", ICT, date.today(), "2025-2026", -1, [DOSSIER_26643]
    )
    cli("poll", "--once", *opts)  # the alert fails at once: the channel's secret is not set
    code, out = cli("status", "--check", *opts)
    assert code == 2
    assert "1 alert(s) failed for good (slack); fix the cause, then retry-failed" in out


def test_status_json_is_one_document_with_the_documented_keys(opts: list[str], sru: SruServer) -> None:
    cli("poll", "--once", *opts)
    sru.fail_next(1, "500")
    cli("poll", "--once", *opts)
    code, out = cli("status", "--json", *opts)
    assert code == 0  # --json alone always exits 0; --check adds the verdict's code
    doc: dict[str, Any] = json.loads(out)
    assert set(doc) == {
        "schema", "generated_at", "database", "sources", "watches", "channels", "failures", "warnings", "check"
    }  # fmt: skip
    assert doc["schema"] == 1 and doc["database"]["exists"] is True
    sources = {s["name"]: s for s in doc["sources"]}
    assert set(sources["sru"]) == {
        "name", "enabled", "interval_seconds", "last_attempt", "last_success", "last_new_data",
        "consecutive_failures", "last_error", "not_before",
    }  # fmt: skip
    assert sources["sru"]["consecutive_failures"] == 1 and sources["sru"]["last_error"].startswith("sru: HTTP 500")
    assert sources["syncfeed"]["last_success"].endswith("+00:00")  # UTC ISO 8601
    assert doc["watches"] == [
        {"name": "ict", "dossiers": ["26643"], "keywords": [], "kinds": ["Brief*"], "channels": ["console"],
         "letters": 0}
    ]  # fmt: skip
    assert doc["channels"] == [
        {"name": "console", "type": "console", "pending": 0, "retrying": 0, "sending": 0, "failed": 0, "sent": 0}
    ]
    assert doc["check"]["state"] == "warning" and doc["check"]["code"] == 1
    code, _ = cli("status", "--json", "--check", *opts)
    assert code == 1


def test_list_json_gives_each_watch_its_letters_newest_first(opts: list[str], tk: TkFeedServer) -> None:
    cli("poll", "--once", *opts)
    tk.add_document(
        LETTER, "2025D40001", "Brief regering", "Nieuwe brief", ICT, date.today(), "2025-2026", -1, [DOSSIER_26643]
    )
    cli("poll", "--once", *opts)
    code, out = cli("list", "--json", *opts)
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == 1
    [watch] = doc["watches"]
    assert watch["name"] == "ict"
    [letter] = watch["letters"]
    assert letter["document_nummer"] == "2025D40001" and letter["subject"] == "Nieuwe brief"
    assert letter["date"] == date.today().isoformat() and letter["dossiers"] == ["26643"]
    assert set(letter["links"]) == {"tweedekamer", "publication_html", "publication_pdf"}
    assert letter["links"]["tweedekamer"].startswith("https://www.tweedekamer.nl/")


def test_status_check_healthz_asks_the_running_service_when_web_is_on(tmp_path: Path) -> None:
    import os
    import signal
    import time

    from tests.fakes.smtp_server import free_port

    port = free_port()
    config = tmp_path / "km.toml"
    config.write_text(
        f'[sources.syncfeed]\nenabled = false\n[sources.sru]\nenabled = false\n[web]\nlisten = "127.0.0.1:{port}"\n',
        encoding="utf-8",
    )
    opts = ["--config", str(config), "--database", f"sqlite:///{tmp_path / 'km.db'}"]
    code, out = cli("status", "--check", "--healthz", *opts)
    assert code == 2 and out.startswith(f"KAMERMONITOR CRITICAL - http://127.0.0.1:{port}/healthz does not answer")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", *opts], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while (code := cli("status", "--check", "--healthz", *opts)[0]) != 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert code == 0
        assert cli("status", "--check", "--healthz", *opts)[1].startswith(
            f"KAMERMONITOR OK - http://127.0.0.1:{port}/healthz answers 200 ok"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert cli("status", "--check", "--healthz", *opts)[0] == 2
