"""The layout keeps its promises: a source is one folder plus one registry line, and nothing else names it."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor import sources
from monitor.configread import Reader
from monitor.context import Context
from monitor.detect import NewMatch, Observation, record
from monitor.models import DossierRef
from tests.harness import Harness, settings_for

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2025, 6, 27, 9, 30, tzinfo=UTC)


# --- a source that lives in the test suite ------------------------------------------------


@dataclass(frozen=True, slots=True)
class DummyConfig:
    enabled: bool = True
    interval_seconds: float = 60.0
    jitter_seconds: float = 0.0
    subject: str = "Brief zonder onderwerp"

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> DummyConfig:
        d = cls()
        r.known(t, p, {f.name for f in fields(cls)})
        return cls(
            enabled=r.value(t, "enabled", p, bool, d.enabled),
            interval_seconds=r.positive(t, "interval_seconds", p, d.interval_seconds),
            jitter_seconds=r.non_negative(t, "jitter_seconds", p, d.jitter_seconds),
            subject=r.value(t, "subject", p, str, d.subject),
        )


@dataclass(slots=True)
class DummyResult:
    requests: int = 0
    new_matches: list[NewMatch] = field(default_factory=list)
    new_data: bool = False


class Dummy:
    """Says, on every poll, that one letter exists in dossier 26643 with the configured subject."""

    name = "dummy"
    label = "Dummy"
    stalls = None

    def read_config(self, r: Reader, table: Mapping[str, Any], path: str) -> DummyConfig:
        return DummyConfig.read(r, table, path)

    def default_config(self) -> DummyConfig:
        return DummyConfig()

    def poll(self, ctx: Context) -> DummyResult:
        cfg = sources.config_of(ctx.settings.sources, self.name, DummyConfig)
        obs = Observation(
            "document_nummer", "D-1", ("dummy:D-1",),
            {"kind": "Brief regering", "subject": cfg.subject, "date": date(2025, 6, 27), "document_nummer": "D-1"},
            (DossierRef(26643),),
        )  # fmt: skip
        result = DummyResult(requests=1)
        with ctx.engine.begin() as conn:
            rec = record(conn, [obs], ctx.matcher, ctx.baselines, ctx.now())
            ctx.enqueue(conn, rec.new_matches)
        result.new_matches, result.new_data = rec.new_matches, bool(rec.changed)
        return result

    def ready(self, cursors: Mapping[str, str], dossiers: Sequence[DossierRef]) -> bool:
        return True

    def position(self, cursors: Mapping[str, str]) -> str:
        return ""

    def condition_text(self, subject: str) -> str | None:
        return None

    def check(self, doc: Any, fetcher: Any) -> None:
        raise AssertionError("not asked in this test")


def test_a_source_registered_from_the_test_suite_reads_its_table_is_polled_and_its_letter_reaches_the_console(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sources.SOURCES, "dummy", Dummy())  # the one registry line
    settings = settings_for(
        sqlite_db, extra={"sources": {"dummy": {"subject": "Voortgang dummy-bron"}}},
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": ["console"]}],
    )  # fmt: skip
    assert settings.enabled_sources() == ["dummy"]  # the other two are switched off by settings_for
    h = Harness(settings, now=lambda: NOW)
    try:
        first = h.cycle()
        assert first.ok == {"dummy": True}
        assert "Voortgang dummy-bron" in h.output.getvalue()
        shown = h.output.getvalue()
        assert h.cycle().ok == {"dummy": True}
        assert h.output.getvalue() == shown  # seen again: not told again
    finally:
        h.close()


def test_a_source_table_with_an_unknown_key_is_reported_by_the_source_with_its_path(
    sqlite_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.configread import ConfigError

    monkeypatch.setitem(sources.SOURCES, "dummy", Dummy())
    with pytest.raises(ConfigError) as info:
        settings_for(sqlite_db, extra={"sources": {"dummy": {"subjet": "x"}}})
    assert info.value.problems == ["sources.dummy.subjet: unknown key (did you mean 'subject'?)"]


# --- nothing outside a source's folder names it ---------------------------------------------

SOURCE_NAMES = re.compile(r"syncfeed|\bsru\b|tkpoll|srupoll", re.IGNORECASE)

# Files outside monitor/sources/<name>/ that may name a source, and why.
ALLOWED = {
    "monitor/sources/__init__.py": "the registry: one line per source",
    "monitor/store/schema.py": "the schema holds every table (the sources' mirror tables among them) and migrations",
    "monitor/store/repair.py": "the schema-1 repair: it rewinds the cursors and records schema 1 got wrong",
    "monitor/preview.py": "preview asks the official publications' search for a watch's history; no other source"
    " can be searched by dossier and date",
}


def test_no_source_is_named_outside_its_folder_the_registry_and_the_listed_exceptions() -> None:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "monitor").rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if not path.is_file() or path.suffix not in (".py", ".html", ".txt", ".j2") or rel in ALLOWED:
            continue
        parts = rel.split("/")
        if parts[:2] == ["monitor", "sources"] and len(parts) > 3:
            continue  # a source's own folder
        hits = [f"{n}: {line.strip()}" for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
                if SOURCE_NAMES.search(line)]  # fmt: skip
        if hits:
            found[rel] = hits
    assert found == {}


def test_every_listed_exception_still_needs_to_be_one() -> None:
    for rel in ALLOWED:
        assert SOURCE_NAMES.search((ROOT / rel).read_text("utf-8")), f"{rel} no longer names a source: drop it"
