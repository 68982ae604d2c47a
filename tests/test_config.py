"""Configuration: the example file is valid, defaults are sensible, mistakes name their key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from monitor.config import parse
from monitor.configread import ConfigError, channel_problems
from monitor.models import DossierRef

ROOT = Path(__file__).resolve().parent.parent


def test_the_example_config_is_valid_and_documents_every_section() -> None:
    text = (ROOT / "config" / "kamermonitor.example.toml").read_text(encoding="utf-8")
    settings = parse(tomllib.loads(text))
    assert [c.name for c in settings.channels] == ["console", "team-mail", "team-slack"]
    for section in ("[monitor]", "[http]", "[sources.syncfeed]", "[sources.sru]", "[delivery]", "[enrichment]",
                    "[operator]", "[web]", "[[channel]]", "[[watch]]"):  # fmt: skip
        assert section in text


def test_without_config_the_monitor_watches_letters_in_26643_on_the_console() -> None:
    settings = parse({})
    [watch] = settings.watches
    assert watch.dossiers == (DossierRef(26643),) and watch.channels == ("console",)
    assert watch.kind_matches("Brief regering") and watch.kind_matches("Brief commissie")
    assert not watch.kind_matches("Motie") and not watch.kind_matches(None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("26643", DossierRef(26643)), ("26 643", DossierRef(26643)), (26643, DossierRef(26643)),
     ("36600-VII", DossierRef(36600, "VII")), ("36600 VII", DossierRef(36600, "VII")),
     ("21501-33", DossierRef(21501, "33"))],
)  # fmt: skip
def test_dossier_numbers_are_read_as_people_write_them(text: str | int, expected: DossierRef) -> None:
    assert DossierRef.parse(text) == expected


@pytest.mark.parametrize("text", ["26 643x", "", "abc", "-5", "0", True])
def test_bad_dossier_numbers_are_refused(text: object) -> None:
    with pytest.raises(ValueError):
        DossierRef.parse(text)  # type: ignore[arg-type]


def test_all_problems_are_reported_at_once_with_their_key_paths() -> None:
    with pytest.raises(ConfigError) as err:
        parse({
            "http": {"read_timeout": -1},
            "sources": {"sru": {"base_url": "ftp://example.org"}},
            "channel": [{"name": "m", "type": "email", "to": ["not-an-address"]}],
            "watch": [{"dossiers": ["26643"], "channels": ["m", "nope"], "kinds": "Brief*"}],
        })  # fmt: skip
    problems = err.value.problems
    assert "http.read_timeout: must be positive, got -1.0" in problems
    assert "sources.sru.base_url: not an http(s) URL: 'ftp://example.org'" in problems
    assert "channel[0].host: required for an email channel" in problems
    assert "channel[0].to[0]: not an email address: 'not-an-address'" in problems
    assert "watch[0].channels[1]: no channel named 'nope'" in problems


def test_the_http_burst_is_a_small_whole_number_of_requests() -> None:
    assert parse({}).http.burst == 4 and parse({"http": {"burst": 1}}).http.burst == 1
    for bad in (0, 21, 2.5, "4", True):
        with pytest.raises(ConfigError) as caught:
            parse({"http": {"burst": bad}})
        assert [p for p in caught.value.problems if p.startswith("http.burst: ")], caught.value.problems


def test_keyword_watch_needs_no_dossiers_and_wildcard_kinds_match_everything() -> None:
    settings = parse({"watch": [{"keywords": ["AI-fabriek"], "kinds": ["*"]}]})
    [watch] = settings.watches
    assert watch.dossiers == () and watch.kind_matches("Motie") and watch.kind_matches(None)


@pytest.mark.parametrize(
    ("listen", "host", "port"),
    [(8080, "127.0.0.1", 8080), ("8080", "127.0.0.1", 8080), ("0.0.0.0:9000", "0.0.0.0", 9000),
     ("[::1]:8081", "::1", 8081), ("monitor.internal:80", "monitor.internal", 80)],
)  # fmt: skip
def test_web_listens_only_where_it_is_told_and_on_loopback_when_given_a_port(
    listen: str | int, host: str, port: int
) -> None:
    web = parse({"web": {"listen": listen}}).web
    assert web.enabled and (web.host, web.port) == (host, port)


def test_web_is_off_without_a_web_table() -> None:
    assert not parse({}).web.enabled


@pytest.mark.parametrize(
    ("web", "problem"),
    [({"base_url": "https://x.example"}, "web.listen: required in [web]"),
     ({"listen": "localhost:99999"}, "web.listen: not \"host:port\" or a port number: 'localhost:99999'"),
     ({"listen": "http://0.0.0.0:80"}, "web.listen: not \"host:port\""),
     ({"listen": 8080, "base_url": "monitor.example.org"}, "web.base_url: not an http(s) URL"),
     ({"listen": 8080, "token_env": "MY TOKEN"}, "web.token_env: not an environment variable name"),
     ({"listen": 8080, "token": "s3cret"}, "web.token: secrets are not read from the config file; use token_env")],
)  # fmt: skip
def test_web_mistakes_name_their_key(web: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse({"web": web})
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems


def test_web_token_variable_that_is_not_set_is_a_check_config_problem() -> None:
    settings = parse({"web": {"listen": 8080, "token_env": "KM_TEST_WEB_TOKEN"}})
    assert channel_problems(settings, env_check=lambda var: None) == [
        "web.token_env: environment variable KM_TEST_WEB_TOKEN (or KM_TEST_WEB_TOKEN_FILE) is not set"
    ]
    assert channel_problems(settings, env_check=lambda var: "x") == []


def test_a_mistyped_channel_name_gets_a_did_you_mean_hint() -> None:
    mail = {
        "name": "mail",
        "type": "email",
        "host": "smtp.example.org",
        "from": "a@example.org",
        "to": ["b@example.org"],
    }
    with pytest.raises(ConfigError) as err:
        parse(
            {
                "channel": [mail],
                "operator": {"channels": ["mial"]},
                "watch": [{"dossiers": ["26643"], "channels": ["mial"]}],
            }
        )
    assert "watch[0].channels[0]: no channel named 'mial' (did you mean 'mail'?)" in err.value.problems
    assert "operator.channels[0]: no channel named 'mial' (did you mean 'mail'?)" in err.value.problems


def test_quiet_hours_that_are_not_a_range_are_one_error_naming_the_value() -> None:
    with pytest.raises(ConfigError) as err:
        parse({"watch": [{"dossiers": ["26643"], "quiet_hours": 22}]})
    assert err.value.problems == ["watch[0].quiet_hours: not a time range (HH:MM-HH:MM): 22"]


def test_without_config_every_section_has_its_dataclass_defaults() -> None:
    """Each default is written once, on the dataclass: parsing nothing gives exactly those."""
    from monitor.config import Settings

    assert parse({}) == Settings()


def test_enrichment_reads_letters_only_from_the_sources_hosts_unless_told_otherwise() -> None:
    assert parse({}).enrichment.allowed_urls == (
        "https://gegevensmagazijn.tweedekamer.nl",
        "https://repository.overheid.nl",
    )
    local = {"sources": {"syncfeed": {"base_url": "http://127.0.0.1:8001/SyncFeed/2.0"},
                         "sru": {"base_url": "http://127.0.0.1:8002/sru"}}}  # fmt: skip
    assert parse(local).enrichment.allowed_urls == ("http://127.0.0.1:8001", "http://127.0.0.1:8002")
    told = parse({**local, "enrichment": {"allowed_urls": ["https://mirror.example/frbr/", "https://tk.example"]}})
    assert told.enrichment.allowed_urls == ("https://mirror.example/frbr", "https://tk.example")


@pytest.mark.parametrize(
    ("urls", "problem"),
    [(["ftp://repository.overheid.nl"], "enrichment.allowed_urls[0]: not an http(s) URL: 'ftp://repository.overheid.nl'"),
     ([], "enrichment.allowed_urls: must not be empty"),
     ([3], "enrichment.allowed_urls[0]: must be a non-empty string, got 3")],
)  # fmt: skip
def test_enrichment_allowed_urls_mistakes_name_their_key(urls: list[object], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse({"enrichment": {"allowed_urls": urls}})
    assert any(p.startswith(problem) for p in err.value.problems), err.value.problems
