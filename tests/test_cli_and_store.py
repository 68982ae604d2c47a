"""The command line's contract (exit codes, messages) and the store's guarantees on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from monitor.cli import main
from monitor.store import open_engine, ops
from monitor.store import outbox as outbox_store
from monitor.store.schema import LATEST, SchemaTooNew, schema_version

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
