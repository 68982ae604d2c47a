"""The teams, webhook and apprise channel types in the configuration and on the command line:
``check-config`` validates their options and secrets, ``test-alert`` sends through each, and
``preview --channel`` prints what each would send.  Far ends are the local emulators.
"""

from __future__ import annotations

import importlib.util
import io
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.config import ConfigError, parse
from monitor.configread import channel_problems
from tests.fakes.apprise_target import AppriseTarget
from tests.fakes.teams_server import TeamsServer
from tests.fakes.webhook_receiver import WebhookReceiver

TEAMS = {"name": "teams", "type": "teams", "webhook_url_env": "KM_TEAMS"}
HOOK = {"name": "hook", "type": "webhook", "url_env": "KM_HOOK_URL", "secret_env": "KM_HOOK_SECRET"}
CHAT = {"name": "chat", "type": "apprise", "url_env": "KM_APPRISE"}
needs_apprise = pytest.mark.skipif(importlib.util.find_spec("apprise") is None, reason="the apprise extra")


def problems_of(*channels: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse({"channel": list(channels)})
    return err.value.problems


def test_each_type_reads_its_own_keys() -> None:
    settings = parse({"channel": [TEAMS, HOOK, {**CHAT, "timeout": 5}]})
    teams, hook, chat = (settings.channel(n) for n in ("teams", "hook", "chat"))
    assert teams is not None and teams.options.secret_vars() == {"webhook_url": "KM_TEAMS"}
    assert hook is not None and hook.options.secret_vars() == {"url": "KM_HOOK_URL", "secret": "KM_HOOK_SECRET"}
    assert chat is not None and chat.options.secret_vars() == {"url": "KM_APPRISE"}


@pytest.mark.parametrize(
    ("table", "problem"),
    [({"name": "teams", "type": "teams"}, "channel[0].webhook_url_env: required"),
     ({**TEAMS, "webhook_url": "https://x.example/w"}, "channel[0].webhook_url: secrets are not read from the config"),
     ({**TEAMS, "timout": 3}, "channel[0].timout: unknown key (did you mean 'timeout'?)"),
     ({**TEAMS, "timeout": 0}, "channel[0].timeout: must be positive"),
     ({"name": "hook", "type": "webhook", "url_env": "X"}, "channel[0].secret_env: required"),
     ({**HOOK, "secret": "whsec_abc"}, "channel[0].secret: secrets are not read from the config"),
     ({**HOOK, "url": "https://x.example"}, "channel[0].url: secrets are not read from the config"),
     ({"name": "chat", "type": "apprise"}, "channel[0].url_env: required")],
)  # fmt: skip
def test_option_mistakes_name_their_key(table: dict[str, Any], problem: str) -> None:
    found = problems_of(table)
    assert any(p.startswith(problem) for p in found), found


def test_secrets_missing_or_unusable_are_check_config_problems() -> None:
    settings = parse({"channel": [TEAMS, HOOK]})
    assert channel_problems(settings, env_check=lambda var: None) == [
        "channel[0].webhook_url_env: environment variable KM_TEAMS (or KM_TEAMS_FILE) is not set",
        "channel[1].url_env: environment variable KM_HOOK_URL (or KM_HOOK_URL_FILE) is not set",
        "channel[1].secret_env: environment variable KM_HOOK_SECRET (or KM_HOOK_SECRET_FILE) is not set",
    ]
    values = {"KM_TEAMS": "ftp://x", "KM_HOOK_URL": "https://x.example/h", "KM_HOOK_SECRET": "whsec_sh0rt"}
    found = channel_problems(settings, env_check=values.get)
    assert found == [
        "channel[0].webhook_url_env: KM_TEAMS does not hold an http(s) URL",
        "channel[1].secret_env: KM_HOOK_SECRET: a whsec_ secret must be base64 after the prefix",
    ]
    assert "sh0rt" not in " ".join(found)


@needs_apprise
def test_an_apprise_url_apprise_does_not_know_is_a_check_config_problem() -> None:
    settings = parse({"channel": [CHAT]})
    found = channel_problems(settings, env_check=lambda var: "nosuchservice://t0ken-abcdefgh")
    assert found == [
        "channel[0].url_env: KM_APPRISE: Apprise does not understand the URL (scheme 'nosuchservice':// ; "
        "see Apprise's list of services)"
    ]
    assert channel_problems(settings, env_check=lambda var: "ntfys://ntfy.sh/mijn-topic") == []


def test_apprise_without_the_extra_is_a_config_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "apprise" else real(name, *a))
    assert problems_of(CHAT) == [
        "channel[0].type: the apprise channel needs the Apprise library: pip install 'kamermonitor[apprise]'"
    ]


def write(tmp_path: Path, *tables: dict[str, Any]) -> Path:
    lines = []
    for table in tables:
        lines.append("[[channel]]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    path = tmp_path / "km.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(config: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["--config", str(config), "--database", f"sqlite:///{config.parent / 'km.db'}", *argv], stdout=out)
    return code, out.getvalue()


def test_test_alert_through_teams_and_the_signed_webhook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with TeamsServer() as teams, WebhookReceiver() as hook:
        monkeypatch.setenv("KM_TEAMS", teams.url_for())
        monkeypatch.setenv("KM_HOOK_URL", hook.url_for())
        monkeypatch.setenv("KM_HOOK_SECRET", hook.secret)
        config = write(tmp_path, TEAMS, HOOK)
        assert run(config, "check-config")[0] == 0
        host = f"http://127.0.0.1:{teams.port}/****"
        assert run(config, "test-alert", "teams") == (0, f"ok teams: test message accepted (teams workflow {host})\n")
        host = f"http://127.0.0.1:{hook.port}/****"
        assert run(config, "test-alert", "hook") == (0, f"ok hook: test message accepted (signed webhook {host})\n")
        assert teams.cards[0]["body"][0]["text"] == "Testbericht"
        assert hook.messages[0]["type"] == "monitor.test" and hook.duplicates == []
        monkeypatch.setenv("KM_TEAMS", teams.url_for("gone"))
        code, said = run(config, "test-alert", "teams")
        assert code == 1
        assert said == "FAILED teams: Teams workflow answered 404 The workflow answered 404. (permanent)\n"


@needs_apprise
def test_test_alert_through_apprise(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with AppriseTarget() as target:
        monkeypatch.setenv("KM_APPRISE", target.apprise_url())
        said = "ok chat: test message accepted (apprise JSON)\n"
        assert run(write(tmp_path, CHAT), "test-alert", "chat") == (0, said)
        assert target.messages[0]["title"] == "[kamermonitor] Testbericht"


ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_and_example_snippets_configure_each_type() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Teams, signed webhooks and other chats (Apprise)")
    snippet = readme[readme.index("```toml\n", start) + 8 : readme.index("```\n", start + 10)]
    example = (ROOT / "config" / "kamermonitor.example.toml").read_text(encoding="utf-8")
    commented = example[example.index("# More channel types") : example.index("# Any channel (or watch)")]
    uncommented = "\n".join(line.removeprefix("# ") for line in commented.splitlines()[1:] if line != "#")
    for text in (snippet, uncommented):
        settings = parse(tomllib.loads(text))
        assert sorted(c.type for c in settings.channels[1:]) == ["apprise", "teams", "webhook"]
