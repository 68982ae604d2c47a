"""The README's first lines are what a newcomer runs; CI must run the same test command."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    head = (ROOT / "README.md").read_text(encoding="utf-8").split("---", 1)[0]
    return [line.strip() for line in head.splitlines() if line.startswith("    ")]


def test_readme_starts_with_an_install_and_run_and_a_test_command() -> None:
    run, test = _commands()
    assert run.endswith("kamermonitor") and "pip install ." in run
    assert "pytest" in test and ".[test]" in test


def test_ci_runs_the_readme_test_command() -> None:
    _, test = _commands()
    assert test in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
