"""The layout keeps its promises: a source is one folder plus one registry line, a channel type one module
plus one registry line, and nothing else names them."""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor import alerts, sources
from monitor.config import parse
from monitor.configread import ConfigError, Reader, channel_problems
from monitor.context import Context
from monitor.detect import NewMatch, Observation, record
from monitor.models import Alert, DossierRef
from monitor.notify import registry
from monitor.notify.base import ChannelType, Tools
from monitor.notify.options import Options
from monitor.preview import messages_for
from tests.fakes.sru_server import SruServer
from tests.fakes.tk_server import TkFeedServer
from tests.harness import DOSSIER_26643, ICT, Harness, settings_for

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

    def poll(self, ctx: Context, batch: str) -> DummyResult:
        cfg = sources.config_of(ctx.settings.sources, self.name, DummyConfig)
        obs = Observation(
            "document_nummer", "D-1", ("dummy:D-1",),
            {"kind": "Brief regering", "subject": cfg.subject, "date": date(2025, 6, 27), "document_nummer": "D-1"},
            (DossierRef(26643),),
        )  # fmt: skip
        result = DummyResult(requests=1)
        with ctx.engine.begin() as conn:
            rec = record(conn, [obs], ctx.matcher, ctx.baselines, ctx.now())
            alerts.enqueue(ctx, conn, rec.new_matches, batch)
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


# --------------------------------------------------------------------------- a channel type from outside


@dataclass(frozen=True)
class PigeonOptions(Options):
    """``type = "pigeon"``: lofts to fly to, and the ring code's variable."""

    lofts: tuple[str, ...] = ()
    ring_env: str = ""

    def secret_vars(self) -> Mapping[str, str]:
        return {"ring": self.ring_env} if self.ring_env else {}

    def targets(self) -> tuple[str, ...]:
        return self.lofts

    @classmethod
    def read(cls, r: Reader, t: Mapping[str, Any], p: str) -> PigeonOptions:
        lofts = r.strings(t, "lofts", p, cls.lofts)
        if not lofts:
            r.fail(f"{p}.lofts", "at least one loft is required")
        return cls(lofts, r.value(t, "ring_env", p, str, cls.ring_env))


class PigeonChannel:
    kind = "pigeon"
    min_interval = 0.0

    def __init__(self, name: str, lofts: tuple[str, ...], flown: list[tuple[str, Alert]], text: Any) -> None:
        self.name = name
        self.targets = lofts
        self._flown = flown
        self._text = text

    def send(self, alert: Alert, target: str) -> None:
        self._flown.append((target, alert))
        self._text(alert)  # rendered as the console would, to show the renderer is at hand

    def describe(self) -> str:
        return f"pigeon to {len(self.targets)} lofts"


FLOWN: list[tuple[str, Alert]] = []


def _build(name: str, o: PigeonOptions, tools: Tools) -> PigeonChannel:
    return PigeonChannel(name, o.lofts, FLOWN, tools.renderer.console_text)


PIGEON = ChannelType(
    keys=frozenset({"lofts", "ring_env"}), read=PigeonOptions.read, build=_build, secrets=frozenset({"ring"})
)


@pytest.fixture
def pigeons(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Alert]]:
    monkeypatch.setitem(registry.CHANNEL_TYPES, "pigeon", PIGEON)  # the one registry line
    FLOWN.clear()
    return FLOWN


LOFTS = {"name": "duiven", "type": "pigeon", "lofts": ["Binnenhof", "Malieveld"]}
SUBJECT = "Kabinetsreactie op het advies over duiven als berichtendienst"


def test_a_registered_channel_type_gets_a_letter_through_a_full_cycle(
    pigeons: list[tuple[str, Alert]], tk: TkFeedServer, sru: SruServer, database: str
) -> None:
    tk.add_dossier(DOSSIER_26643, 26643, ICT)
    settings = settings_for(
        database, syncfeed_url=tk.base_url, sru_url=sru.base_url, channels=[LOFTS],
        watches=[{"name": "ict", "dossiers": ["26643"], "channels": ["duiven"]}],
    )  # fmt: skip
    monitor = Harness(settings)
    try:
        monitor.cycle()  # baseline: nothing is sent
        assert pigeons == []
        tk.add_document(
            "ab000000-0000-4000-8000-000000001400", "2025D40000", "Brief regering", SUBJECT, ICT,
            date.today().isoformat(), "2024-2025", 1400, [DOSSIER_26643],
        )  # fmt: skip
        result = monitor.cycle()
        rows = [(r["channel"], r["target"], r["status"]) for r in monitor.deliveries()]
    finally:
        monitor.close()
    assert result.delivery.sent == 2
    assert sorted(target for target, _ in pigeons) == ["Binnenhof", "Malieveld"]  # one row per target
    assert {alert.letters[0].subject for _, alert in pigeons} == {SUBJECT}
    assert rows == [
        ("duiven", "Binnenhof", "sent"),
        ("duiven", "Malieveld", "sent"),
    ]


def test_a_registered_channel_type_checks_its_own_options_and_names_its_own_secrets(
    pigeons: list[tuple[str, Alert]],
) -> None:
    with pytest.raises(ConfigError) as err:
        parse({"channel": [{"name": "duiven", "type": "pigeon", "lofts": [], "wings": 2}]})
    assert err.value.problems == [
        "channel[0].wings: unknown key",
        "channel[0].lofts: at least one loft is required",
    ]
    with pytest.raises(ConfigError) as err:
        parse({"channel": [{"name": "duiven", "type": "pigeon", "lofts": ["Binnenhof"], "ring": "1234"}]})
    assert err.value.problems == ["channel[0].ring: secrets are not read from the config file; use ring_env"]
    settings = parse({"channel": [{**LOFTS, "ring_env": "KM_TEST_RING"}]})
    assert channel_problems(settings, env_check=lambda var: None) == [
        "channel[0].ring_env: environment variable KM_TEST_RING (or KM_TEST_RING_FILE) is not set"
    ]
    assert channel_problems(settings, env_check=lambda var: "1234") == []


def test_preview_renders_a_registered_channel_type_through_the_registry(pigeons: list[tuple[str, Alert]]) -> None:
    from tests.test_channels import AI_FABRIEK

    settings = parse({"channel": [LOFTS], "watch": [{"name": "ict", "dossiers": ["26643"], "channels": ["duiven"]}]})
    [message] = messages_for(settings, settings.watches[0], [Alert("new", (AI_FABRIEK,), ("dossier 26643",), ("ict",))])
    assert message.kind == "pigeon" and message.channel == "duiven"
    assert message.shown == message.text and message.text.startswith(message.subject)
    assert message.html is None and message.payload is None
    assert registry.label("pigeon") == "pigeon"


# --------------------------------------------------------------------------- channel names stay in their modules


# Where a channel type's name may be written as a string, besides its own modules and the registry.
CHANNEL_ALLOWED: dict[str, str] = {
    "config.py": "the configuration format: the built-in console channel and a watch's default channels",
    "settings.py": "the configuration's defaults: the built-in console channel, a watch's default channel",
    "preview.py": "--html writes e-mail pages, rendered by the e-mail type even with no e-mail channel configured",
}
# A name that is also something else in one module: (module, name) → what it is there.
HOMONYMS: dict[tuple[str, str], str] = {
    ("notify/slack.py", "webhook"): "a key refused as a secret (a webhook URL written in the file)",
    ("notify/teams.py", "webhook"): "a key refused as a secret (a webhook URL written in the file)",
}
OWN_MODULES = {
    "console": {"notify/console.py", "notify/console_render.py"},
    "email": {"notify/email.py", "notify/email_options.py", "notify/email_render.py"},
    "slack": {"notify/slack.py", "notify/slack_render.py"},
    "teams": {"notify/teams.py", "notify/teams_card.py"},
    "webhook": {"notify/webhook.py", "notify/webhook_body.py", "notify/signing.py"},
    "apprise": {"notify/apprise.py", "notify/apprise_text.py"},
}


def _string_mentions(names: set[str]) -> list[tuple[str, int, str]]:
    """(module, line, name) for every string constant in monitor/ that is exactly a channel type's name."""
    found = []
    for path in sorted((ROOT / "monitor").rglob("*.py")):
        module = path.relative_to(ROOT / "monitor").as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append((module, node.lineno, str(node.value)))
    return found


def test_channel_type_names_appear_only_in_their_modules_the_registry_and_the_config_format() -> None:
    names = set(registry.CHANNEL_TYPES)
    assert names == set(OWN_MODULES)  # a new type says which modules are its own
    stray = [
        f"{module}:{line}: {name!r}"
        for module, line, name in _string_mentions(names)
        if module not in OWN_MODULES[name]
        and module != "notify/registry.py"
        and module not in CHANNEL_ALLOWED
        and (module, name) not in HOMONYMS
    ]
    assert stray == []


def test_the_check_finds_a_channel_name_written_elsewhere(tmp_path: Path) -> None:
    # The check above cannot pass vacuously: it does see names, where they are.
    mentions = _string_mentions({"slack", "email", "console"})
    assert ("notify/registry.py", "slack") in {(m, n) for m, _, n in mentions}
    assert any(module == "config.py" and name == "console" for module, _, name in mentions)


def test_an_unknown_channel_type_is_named_with_the_registered_ones(pigeons: list[tuple[str, Alert]]) -> None:
    with pytest.raises(ConfigError) as err:
        parse({"channel": [{"name": "x", "type": "telegraph"}]})
    assert err.value.problems == [
        "channel[0].type: must be one of apprise, console, email, pigeon, slack, teams, webhook, got 'telegraph'"
    ]


def test_a_console_channel_still_prints(tmp_path: Path) -> None:
    settings = parse({})
    out = io.StringIO()
    channel = registry.build_channels(settings, stream=out)["console"]
    channel.send(Alert("test"), "")
    assert "Testbericht" in out.getvalue()
