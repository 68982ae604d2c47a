"""The command line's contract (exit codes, messages) and the store's guarantees on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from monitor.cli import main
from monitor.store import letters as letter_store
from monitor.store import open_engine, ops
from monitor.store import outbox as outbox_store
from monitor.store.schema import LATEST, SchemaTooNew, schema_version
from monitor.store.schema import letters as letters_table
from monitor.store.schema import matches as matches_table

NOW = datetime(2025, 6, 27, 10, 0, tzinfo=UTC)


def run(tmp_path: Path, *args: str, config: str | None = None) -> tuple[int, str, str]:
    argv = ["--database", f"sqlite:///{tmp_path / 'km.db'}"]
    if config is not None:
        path = tmp_path / "km.toml"
        path.write_text(config, encoding="utf-8")
        argv += ["--config", str(path)]
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", *argv, *args], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_config_error_exits_2_and_names_the_key_path(tmp_path: Path) -> None:
    code, _, err = run(
        tmp_path, "check-config", config='[[watch]]\ndossiers = ["26643"]\n[[watch]]\ndossiers = ["26 643x"]\n'
    )
    assert code == 2
    assert "config error: watch[1].dossiers[0]: not a dossier number: '26 643x'" in err


def test_every_command_refuses_a_bad_config_with_exit_2(tmp_path: Path) -> None:
    code, _, err = run(tmp_path, "poll", "--once", config="[monitor]\ndatabse = 'x'\n")
    assert code == 2 and "monitor.databse: unknown key (did you mean 'database'?)" in err


def test_secrets_in_the_config_file_are_refused(tmp_path: Path) -> None:
    config = '[[channel]]\nname = "s"\ntype = "slack"\nwebhook_url = "https://hooks.slack.com/services/T/B/X"\n'
    code, _, err = run(tmp_path, "check-config", config=config)
    assert code == 2 and "channel[0].webhook_url: secrets are not read from the config file" in err
    assert "hooks.slack.com" not in err


def test_check_config_reports_unset_secret_variables(tmp_path: Path) -> None:
    config = '[[channel]]\nname = "s"\ntype = "slack"\nwebhook_url_env = "KM_UNSET_WEBHOOK_VAR"\n'
    code, _, err = run(tmp_path, "check-config", config=config)
    assert code == 2 and "KM_UNSET_WEBHOOK_VAR" in err


def test_check_config_without_a_file_describes_the_default_watch(tmp_path: Path) -> None:
    code, out, _ = run(tmp_path, "check-config")
    assert code == 0 and "built-in defaults" in out and "dossiers 26643" in out and "Brief*" in out


def test_list_and_status_work_on_a_fresh_database(tmp_path: Path) -> None:
    open_engine(f"sqlite:///{tmp_path / 'km.db'}").dispose()  # read-only commands never create one
    out = io.StringIO()
    assert main(["--database", f"sqlite:///{tmp_path / 'km.db'}", "list"], stdout=out) == 0
    assert "(no letters on record yet)" in out.getvalue()
    out = io.StringIO()
    assert main(["--database", f"sqlite:///{tmp_path / 'km.db'}", "status"], stdout=out) == 0
    assert "dossier-26643: 0 letters on record" in out.getvalue() and "Warnings: none" in out.getvalue()


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'km.db'}"
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(schema_version).values(version=LATEST + 1, applied_at=NOW))
    engine.dispose()
    with pytest.raises(SchemaTooNew):
        open_engine(url)
    assert main(["--database", url, "status"]) == 2


def test_migrations_are_recorded_and_idempotent(database: str) -> None:
    for _ in range(2):
        engine = open_engine(database)
        with engine.connect() as conn:
            versions = [r[0] for r in conn.execute(schema_version.select())]
        engine.dispose()
    assert versions == list(range(1, LATEST + 1))


def test_an_outbox_row_is_claimed_by_one_owner_only(database: str) -> None:
    engine = open_engine(database)
    with engine.begin() as conn:
        outbox_store.enqueue(conn, [{"idem_key": "k1", "event": "test", "channel": "console"}], NOW)
        outbox_store.enqueue(conn, [{"idem_key": "k1", "event": "test", "channel": "console"}], NOW)  # no-op
    with engine.begin() as conn:
        first = outbox_store.claim(conn, "host-a:1", NOW, lease=60)
    with engine.begin() as conn:
        second = outbox_store.claim(conn, "host-b:2", NOW, lease=60)
    assert [d.channel for d in first] == ["console"] and second == []
    with engine.begin() as conn:  # a crashed owner's lease runs out: the row is taken back
        third = outbox_store.claim(conn, "host-b:2", NOW + timedelta(seconds=61), lease=60)
    assert [d.id for d in third] == [first[0].id]
    with engine.begin() as conn:
        outbox_store.mark_sent(conn, [first[0].id], "host-a:1", NOW)  # the old owner lost it
        assert outbox_store.counts(conn)["console"]["sent"] == 0
        outbox_store.mark_sent(conn, [first[0].id], "host-b:2", NOW)
        assert outbox_store.counts(conn)["console"]["sent"] == 1
    engine.dispose()


def test_a_source_lease_keeps_a_second_instance_out_until_it_expires(database: str) -> None:
    engine = open_engine(database)
    with engine.begin() as conn:
        assert ops.acquire_lease(conn, "poll:syncfeed", "host-a:1", NOW, 300)
    with engine.begin() as conn:
        assert not ops.acquire_lease(conn, "poll:syncfeed", "host-b:2", NOW, 300)
        assert ops.acquire_lease(conn, "poll:syncfeed", "host-b:2", NOW + timedelta(seconds=301), 300)
    with engine.begin() as conn:
        assert ops.acquire_lease(conn, "poll:sru", "host-c:3", NOW, 300, is_dead=lambda owner: False)
        assert ops.acquire_lease(conn, "poll:sru", "host-d:4", NOW, 300, is_dead=lambda owner: owner == "host-c:3")
    engine.dispose()


def test_python_dash_m_monitor_is_the_same_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "monitor", "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.startswith("kamermonitor ")


# What a read-only command must not load: the HTTP client, the templates, the scheduler,
# SMTP, the source parsers, and the monitor's polling and delivery machinery.
NOT_FOR_READERS = (
    "httpx", "jinja2", "apscheduler", "smtplib", "lxml", "bs4", "pypdf", "sqlalchemy.dialects.postgresql",
    "monitor.context", "monitor.http", "monitor.detect", "monitor.poll", "monitor.notify.deliver", "monitor.preview",
    "monitor.service",
)  # fmt: skip
# Runs a command, then writes the names of the loaded modules to the file named by $KM_TEST_MODULES.
PROBE = """
import os, sys
from monitor.cli import main
code = main(sys.argv[1:])
with open(os.environ["KM_TEST_MODULES"], "w") as f:
    f.write("\\n".join(sys.modules))
sys.exit(code)
"""
READER_CONFIG = """
[[channel]]
name = "mail"
type = "email"
host = "127.0.0.1"
port = 2525
security = "starttls"
username = "alerts@example.org"
password_env = "KM_TEST_SMTP_PASSWORD"
from = "Kamermonitor <alerts@example.org>"
to = ["beleid@example.org"]
[[channel]]
name = "slack"
type = "slack"
webhook_url_env = "KM_TEST_SLACK_WEBHOOK"
[[watch]]
name = "ict"
dossiers = ["26643"]
channels = ["console", "mail", "slack"]
"""


def _run_and_list_modules(tmp_path: Path, *args: str, database: bool = False) -> tuple[str, set[str]]:
    """Run a command in a fresh interpreter: its output and every module it loaded."""
    config, modules = tmp_path / "km.toml", tmp_path / "modules.txt"
    config.write_text(READER_CONFIG, encoding="utf-8")
    env = {**os.environ, "KM_TEST_MODULES": str(modules), "KM_TEST_SMTP_PASSWORD": "secret",
           "KM_TEST_SLACK_WEBHOOK": "https://hooks.example/T/B/x"}  # fmt: skip
    argv = ["--config", str(config), "--database", f"sqlite:///{tmp_path / 'km.db'}", *args]
    if database:  # read-only commands never create one
        open_engine(f"sqlite:///{tmp_path / 'km.db'}").dispose()
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, set(modules.read_text(encoding="utf-8").split())


def _among(modules: set[str], packages: Sequence[str]) -> set[str]:
    return {m for m in modules if any(m == p or m.startswith(p + ".") for p in packages)}


@pytest.mark.parametrize(
    "command",
    [["list"], ["list", "--watch", "ict"], ["list", "--json"], ["status"], ["status", "--json"], ["retry-failed"]],
)
def test_list_status_and_retry_failed_do_not_import_the_http_client_templates_or_scheduler(
    tmp_path: Path, command: list[str]
) -> None:
    out, loaded = _run_and_list_modules(tmp_path, *command, database=True)
    assert "monitor.store.schema" in loaded  # the probe sees what was imported
    assert _among(loaded, NOT_FOR_READERS) == set()
    if command == ["status"]:  # every channel is still described
        assert "mail: email via 127.0.0.1:2525 (starttls) to 1 recipient" in out
        assert "slack: slack webhook https://hooks.example/****" in out


def test_check_config_checks_the_database_url_but_does_not_open_the_store(tmp_path: Path) -> None:
    # check-config builds the database URL and loads its driver, as start-up does (issue 11),
    # so SQLAlchemy's URL and dialect are loaded; the store itself is neither opened nor migrated.
    _, loaded = _run_and_list_modules(tmp_path, "check-config")
    assert "sqlalchemy.engine.url" in loaded  # the probe sees what was imported
    assert _among(loaded, [*NOT_FOR_READERS, "monitor.store.schema", "monitor.store.guard"]) == set()
    assert not (tmp_path / "km.db").exists()


def test_recent_letters_are_each_watchs_newest_first_and_listed_as_they_are_loaded(database: str) -> None:
    engine = open_engine(database)
    day = NOW.date()
    rows = [  # id: (date, first seen, deleted)
        (1, day - timedelta(days=3), NOW, False),
        (2, None, NOW + timedelta(hours=5), False),  # no date: after every dated letter
        (3, day - timedelta(days=1), NOW, False),
        (4, day - timedelta(days=1), NOW + timedelta(hours=1), False),  # same date, seen later: first
        (5, day, NOW, True),  # deleted: never listed
        (6, day - timedelta(days=1), NOW, False),  # same date and sighting as 3: higher id first
    ]
    with engine.begin() as conn:
        conn.execute(
            insert(letters_table),
            [
                {"id": i, "date": d, "first_seen": seen, "updated_at": seen, "deleted": deleted,
                 "dossiers": "26643,36600-VII", "number": str(100 + i), "kind": "Brief regering",
                 "subject": f"brief {i}", "senders": "A\nB", "tk_url": f"https://tk.example/{i}"}
                for i, d, seen, deleted in rows
            ],
        )  # fmt: skip
        conn.execute(
            insert(matches_table),
            [{"watch": "a", "letter_id": i, "matched_at": NOW, "silent": False} for i, *_ in rows]
            + [{"watch": "b", "letter_id": 1, "matched_at": NOW, "silent": False}],
        )
    with engine.connect() as conn:
        full = letter_store.recent(conn, ["a", "b", "c"], 4)
        listed = letter_store.recent_listed(conn, ["a", "b", "c"], 4)
        assert [x.id for x in letter_store.recent_for_watch(conn, "a", 10)] == [4, 6, 3, 1, 2]
    engine.dispose()
    assert {w: [x.id for x in v] for w, v in full.items()} == {"a": [4, 6, 3, 1], "b": [1], "c": []}
    assert {w: [x.id for x in v] for w, v in listed.items()} == {"a": [4, 6, 3, 1], "b": [1], "c": []}
    letter, row = full["a"][0], listed["a"][0]
    assert letter.senders == ("A", "B") and letter.first_seen == NOW + timedelta(hours=1)
    assert row.citation == letter.citation == "Kamerstukken 26643 en 36600-VII, nr. 104"
    assert row.dossiers == ("26643", "36600-VII")
    assert all(getattr(row, f) == getattr(letter, f) for f in row._fields if f != "dossiers")
