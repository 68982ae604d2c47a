"""The README's "Run it as a service" section is true: its commands run, its files exist, its JSON keys are real."""

from __future__ import annotations

import io
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = "/etc/kamermonitor/kamermonitor.toml"


def section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Run it as a service")
    return text[start : text.index("\n## ", start + 1)]


def examples() -> list[str]:
    """The indented example lines (commands and sample output), continuation lines joined."""
    lines = [line[4:] for line in section().splitlines() if line.startswith("    ")]
    return [line.strip() for line in re.sub(r"\\\n\s*", " ", "\n".join(lines)).splitlines()]


def bullet(start: str) -> str:
    text = section()
    at = text.index(f"- `{start}`")
    ends = [i for i in (text.find("\n- ", at + 1), text.find("\n\n", at)) if i > 0]
    return " ".join(text[at : min(ends)].split())


@pytest.fixture
def sources(tk: TkFeedServer, sru: SruServer) -> Iterator[tuple[TkFeedServer, SruServer]]:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    sru.add_record("kst-26643-1384")
    yield tk, sru


@pytest.fixture
def config(tmp_path: Path, sources: tuple[TkFeedServer, SruServer]) -> Path:
    tk, sru = sources
    path = tmp_path / "kamermonitor.toml"
    path.write_text(
        f'[http]\npause_seconds = 0\nread_timeout = 3\n[sources.syncfeed]\nbase_url = "{tk.base_url}"\n'
        f'[sources.sru]\nbase_url = "{sru.base_url}"\n',
        encoding="utf-8",
    )
    return path


def run(command: str, config: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run a README command line against the local sources, with the test's config and database."""
    argv = shlex.split(command.replace(CONFIG_PATH, str(config)))
    assert argv[0] == "kamermonitor"
    if "--config" not in argv:
        argv[1:1] = ["--config", str(config)]
    return subprocess.run(
        [sys.executable, "-m", "monitor", *argv[1:], "--database", f"sqlite:///{tmp_path / 'km.db'}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip


def test_the_files_the_section_links_to_exist() -> None:
    links = re.findall(r"\]\(((?:deploy|compose|Dockerfile)[^)]*)\)", section())
    assert len(links) >= 5
    for link in links:
        assert (ROOT / link).is_file(), link
    for name in ("kamermonitor-poll.service",):
        assert (ROOT / "deploy" / "systemd" / name).is_file()


def test_the_check_commands_run_and_pass_against_working_sources(config: Path, tmp_path: Path) -> None:
    commands = [x for x in examples() if x.startswith("kamermonitor ")]
    assert commands[:2] == ["kamermonitor check-config", "kamermonitor doctor"]
    assert run(commands[0], config, tmp_path).returncode == 0
    doctor = run(commands[1], config, tmp_path)
    assert doctor.returncode == 1, doctor.stdout  # no database yet: a warning
    assert "WARNING database file:" in doctor.stdout and not (tmp_path / "km.db").exists()


def test_the_crontab_line_polls_once_and_its_exit_code_tells_a_failed_source(
    config: Path, tmp_path: Path, sources: tuple[TkFeedServer, SruServer]
) -> None:
    [cron] = [x for x in examples() if re.match(r"^(\S+\s+){5}kamermonitor ", x)]
    command = re.sub(r"^(\S+\s+){5}", "", cron)
    first = run(command, config, tmp_path)
    assert first.returncode == 0, first.stderr
    assert all(json.loads(line) for line in first.stderr.splitlines())  # --log-format json
    check = run("kamermonitor status --check", config, tmp_path)
    [ok_example] = [x for x in examples() if x.startswith("KAMERMONITOR OK - ")]
    shape = re.sub(r"\d+", r"\\d+", re.escape(ok_example))
    assert check.returncode == 0 and re.fullmatch(shape, check.stdout.strip()), check.stdout
    _, sru = sources
    sru.fail_next(1, "503")
    assert run(command, config, tmp_path).returncode == 1
    warned = run("kamermonitor status --check", config, tmp_path)
    assert warned.returncode == 1 and warned.stdout.startswith("KAMERMONITOR WARNING - sru failed 1 poll in a row")


def test_the_sample_outputs_have_the_real_format() -> None:
    for sample in (x for x in examples() if x.startswith("KAMERMONITOR ")):
        assert re.match(r"KAMERMONITOR (OK|WARNING|CRITICAL) - \S", sample), sample
    doctor_lines = [x for x in examples() if re.match(r"(OK|WARNING|ERROR) ", x)]
    assert doctor_lines
    for sample in doctor_lines:
        verdict, rest = sample.split(None, 1)
        assert sample.startswith(f"{verdict:<7} "), sample  # the column layout doctor prints
        item = rest.split(":", 1)[0]
        assert re.fullmatch(
            r"(syncfeed|sru|channel \S+|database) (DNS|connect|TLS|HTTP|answer|EHLO|STARTTLS|AUTH)", item
        )


def test_the_container_and_systemd_examples_match_the_files() -> None:
    lines = examples()
    [docker_run] = [x for x in lines if x.startswith("docker run ")]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert ":/data" in docker_run and 'VOLUME ["/data"]' in dockerfile
    assert ":/config/kamermonitor.toml" in docker_run and "KAMERMONITOR_CONFIG=/config/kamermonitor.toml" in dockerfile
    installs = [x for x in lines if x.startswith("install ") and "deploy/" in x]
    for install in installs:
        assert (ROOT / next(w for w in install.split() if w.startswith("deploy/"))).is_file()
    compose = [x for x in lines if x.startswith("KAMERMONITOR_TOML=")]
    assert compose and (ROOT / compose[0].split()[0].split("=", 1)[1]).is_file()
    assert "postgres = [" in (ROOT / "pyproject.toml").read_text(encoding="utf-8")  # the '.[postgres]' extra


def _keys(doc: Any) -> set[str]:
    """Every key in a JSON document, at every depth."""
    if isinstance(doc, dict):
        return set(doc) | {k for v in doc.values() for k in _keys(v)}
    if isinstance(doc, list):
        return {k for v in doc for k in _keys(v)}
    return set()


def test_the_documented_json_keys_are_the_real_ones(config: Path, tmp_path: Path) -> None:
    db = ["--config", str(config), "--database", f"sqlite:///{tmp_path / 'km.db'}"]
    assert main(["poll", "--once", *db], stdout=io.StringIO()) == 0
    out = io.StringIO()
    main(["status", "--json", *db], stdout=out)
    status = json.loads(out.getvalue())
    status["failures"] = [{"channel": "", "status": "", "error": "", "target": ""}]  # none here; keys as documented
    status["warnings"] = [{"key": "", "since": "", "detail": ""}]
    documented = set(re.findall(r"`(\w+)`", bullet("status --json")))
    assert _keys(status) == documented - {"ok", "warning", "critical"}
    out = io.StringIO()
    main(["list", "--json", *db], stdout=out)
    listing = json.loads(out.getvalue())
    assert listing["watches"][0]["letters"], "the SRU record should be listed"
    assert _keys(listing) == set(re.findall(r"`(\w+)`", bullet("list --json")))
