"""The command line behaves as scripts and shells expect: options anywhere, help, completion, logs."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import logsetup
from monitor.cli import _parser, main

SUBCOMMANDS = (
    "run", "serve", "poll", "list", "status", "check-config", "test-alert", "retry-failed", "preview", "doctor",
    "completion",
)  # fmt: skip


def km(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], capture_output=True, text=True, timeout=60, cwd=cwd,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_global_options_work_after_the_command_too(tmp_path: Path) -> None:
    config = tmp_path / "x.toml"
    config.write_text('[[watch]]\nname = "after"\ndossiers = ["36600-VII"]\n', encoding="utf-8")
    before = km("--config", str(config), "check-config", cwd=tmp_path)
    after = km("check-config", "--config", str(config), cwd=tmp_path)
    assert before.returncode == after.returncode == 0
    assert before.stdout == after.stdout and "watch after: dossiers 36600-VII" in after.stdout
    verbose = km("status", "-v", "--database", f"sqlite:///{tmp_path / 'km.db'}", cwd=tmp_path)
    assert verbose.returncode == 0, verbose.stderr


def test_an_option_after_the_command_wins_over_one_before_it(tmp_path: Path) -> None:
    args = _parser().parse_args(["--database", "sqlite:///a.db", "status", "--database", "sqlite:///b.db"])
    assert args.database == "sqlite:///b.db"
    args = _parser().parse_args(["status", "--log-format", "json"])
    assert args.log_format == "json" and not hasattr(args, "config")


def test_version_is_printed(tmp_path: Path) -> None:
    proc = km("--version", cwd=tmp_path)
    assert proc.returncode == 0 and re.fullmatch(r"kamermonitor \d+\.\d+\.\d+\n", proc.stdout)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_command_has_a_description_and_shows_defaults_in_its_help(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    usage, _, rest = text.partition(" options: ")
    description = usage.split("] ", 1)[-1] if "]" in usage else ""
    assert len(description) > 20, f"{command} --help has no description: {text[:300]}"
    assert "--config" in text and "--database" in text and "--log-format" in text  # global options after it
    if command == "list":
        assert "letters per watch (default: 10)" in text
    if command == "preview":
        assert "(default: 30)" in text


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_are_generated_for_each_shell(shell: str, tmp_path: Path) -> None:
    proc = km("completion", shell, cwd=tmp_path)
    assert proc.returncode == 0
    assert "kamermonitor" in proc.stdout and "_ARGCOMPLETE" in proc.stdout
    if shell == "bash" and shutil.which("bash"):
        script = tmp_path / "km.bash"
        script.write_text(proc.stdout, encoding="utf-8")
        check = subprocess.run(["bash", "-c", f"source {script} && complete -p kamermonitor"], capture_output=True)
        assert check.returncode == 0 and b"kamermonitor" in check.stdout


def test_the_completion_protocol_offers_the_commands_and_their_options(tmp_path: Path) -> None:
    """What the generated scripts ask the program: argcomplete's environment protocol."""

    def complete(line: str) -> set[str]:
        answer = tmp_path / "answer"
        env = {"_ARGCOMPLETE": "1", "_ARGCOMPLETE_IFS": "\n", "COMP_LINE": line, "COMP_POINT": str(len(line)),
               "_ARGCOMPLETE_STDOUT_FILENAME": str(answer)}  # fmt: skip
        proc = km(cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
        return {w.strip() for w in answer.read_text(encoding="utf-8").splitlines()}

    assert set(SUBCOMMANDS) <= complete("kamermonitor ")
    assert complete("kamermonitor st") == {"status"}
    assert {"--check", "--json"} <= complete("kamermonitor status --")
    assert complete("kamermonitor completion f") == {"fish"}


def test_test_alert_without_a_channel_lists_the_configured_ones(tmp_path: Path) -> None:
    config = tmp_path / "km.toml"
    config.write_text(
        '[[channel]]\nname = "team"\ntype = "slack"\nwebhook_url_env = "KM_TEST_HOOK"\n', encoding="utf-8"
    )
    proc = km(
        "test-alert", "--config", str(config), cwd=tmp_path,
        env={"KM_TEST_HOOK": "https://hooks.slack.com/services/T01/B02/abcdef"},
    )  # fmt: skip
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [
        "configured channels (kamermonitor test-alert CHANNEL):",
        "  console: console (<stdout>)",
        "  team: slack webhook https://hooks.slack.com/services/T0…/B0…/****",
    ]
    assert not list(tmp_path.glob("*.db")), "test-alert created a database"


@pytest.mark.parametrize(
    "command", [["status"], ["status", "--json"], ["list"], ["list", "--json"], ["retry-failed"], ["doctor"]]
)
def test_read_only_commands_never_create_a_database(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "km.toml"  # no sources to ask: doctor stays on this machine
    config.write_text("[sources.syncfeed]\nenabled = false\n[sources.sru]\nenabled = false\n", encoding="utf-8")
    proc = km(*command, "--config", str(config), cwd=tmp_path)
    assert not (tmp_path / "kamermonitor.db").exists()
    assert list(tmp_path.iterdir()) == [config]
    said = proc.stdout + proc.stderr
    assert "no database yet" in said or "does not exist yet" in said, said
    if "--json" in command:
        json.loads(proc.stdout)
    if command[0] in ("status", "list", "retry-failed"):
        assert proc.returncode == 0


def test_json_logs_are_one_object_per_line_in_utc(tmp_path: Path) -> None:
    proc = km(
        "poll", "--once", "--log-format", "json", "--database", f"sqlite:///{tmp_path / 'km.db'}", cwd=tmp_path,
        env={"TZ": "America/New_York", "KAMERMONITOR_CONFIG": _no_sources(tmp_path)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    assert lines, "no log lines"
    for entry in lines:
        assert {"time", "level", "logger", "message"} <= set(entry)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])


def _no_sources(tmp_path: Path) -> str:
    config = tmp_path / "nosources.toml"
    config.write_text("[sources.syncfeed]\nenabled = false\n[sources.sru]\nenabled = false\n", encoding="utf-8")
    return str(config)


def test_config_log_format_applies_and_the_command_line_overrides_it(tmp_path: Path) -> None:
    config = tmp_path / "km.toml"
    config.write_text(Path(_no_sources(tmp_path)).read_text() + '[monitor]\nlog_format = "json"\n', encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'km.db'}"
    from_config = km("poll", "--once", "--config", str(config), "--database", db, cwd=tmp_path)
    assert from_config.stderr and all(line.startswith("{") for line in from_config.stderr.splitlines())
    db = f"sqlite:///{tmp_path / 'other.db'}"  # a first poll logs what it starts watching
    overridden = km("poll", "--once", "--config", str(config), "--database", db, "--log-format", "text", cwd=tmp_path)
    assert overridden.stderr and not any(line.startswith("{") for line in overridden.stderr.splitlines())
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO ", overridden.stderr)


def test_context_fields_and_library_records_share_the_format() -> None:
    stream = io.StringIO()
    logsetup.setup("json", stream=stream)
    try:
        logging.getLogger("monitor.poll").warning("sru down", extra={"source": "sru"})
        logging.getLogger("apscheduler.scheduler").warning("Execution of job skipped: maximum number of running")
        logging.getLogger("pypdf._reader").warning("EOF marker not found")
        logging.getLogger("apscheduler.executors").error("Job raised an exception")
    finally:
        logsetup.setup("text")
        logging.captureWarnings(False)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(e["logger"], e["message"]) for e in entries] == [
        ("monitor.poll", "sru down"),
        ("apscheduler.executors", "Job raised an exception"),  # errors still show, in the same format
    ]
    assert entries[0]["source"] == "sru" and entries[0]["level"] == "WARNING"


def test_text_logs_name_a_library() -> None:
    stream = io.StringIO()
    logsetup.setup("text", stream=stream)
    try:
        logging.getLogger("monitor.deliver").error("send failed", extra={"channel": "mail"})
        logging.getLogger("apscheduler.executors").error("Job raised")
    finally:
        logsetup.setup("text")
        logging.captureWarnings(False)
    first, second = stream.getvalue().splitlines()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR send failed", first)
    assert second.endswith(" ERROR apscheduler.executors: Job raised")


def test_python_warnings_of_libraries_are_logged_in_the_same_format(tmp_path: Path) -> None:
    code = "from monitor import logsetup; import warnings; logsetup.setup('json'); warnings.warn('old API')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    [entry] = [json.loads(line) for line in proc.stderr.splitlines()]
    assert entry["logger"] == "py.warnings" and "UserWarning: old API" in entry["message"]
