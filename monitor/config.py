"""Configuration: TOML file → frozen settings, checked before anything starts.

Every problem is reported with its key path (``watch[1].dossiers[0]: not a dossier
number: '26 643x'``) and all problems are collected, so one run of ``check-config``
shows them all.  Secrets are never read from the file: a channel names the environment
variable that holds them (``password_env``), and ``<NAME>_FILE`` is honoured too.
With no file at all the monitor watches letters in dossier 26643 and prints to the console.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, cast

from .configread import (
    MAX_RESPONSE_MB,
    ConfigError,
    Reader,
    closest,
    read_secret,
)
from .logsetup import LOG_FORMATS, LogFormat
from .models import DossierRef
from .schedule import DAYS, MODES, Schedule, parse_quiet, parse_time
from .settings import (
    DEFAULT_CONFIG_NAME,
    DEFAULT_DATABASE,
    DEFAULT_KINDS,
    USER_AGENT,
    ChannelConfig,
    DeliveryConfig,
    EnrichmentConfig,
    HttpConfig,
    OperatorConfig,
    Settings,
    WatchConfig,
    WebConfig,
    source_hosts,
)
from .sources import SOURCES, SourceConfig

# What the rest of the monitor imports from here (the types live in monitor.settings).
__all__ = [
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_DATABASE",
    "DEFAULT_KINDS",
    "USER_AGENT",
    "ChannelConfig",
    "DeliveryConfig",
    "EnrichmentConfig",
    "HttpConfig",
    "OperatorConfig",
    "Settings",
    "WatchConfig",
    "WebConfig",
    "source_hosts",
    "ConfigError",
    "default_config_path",
    "load",
    "parse",
]


def default_config_path() -> Path | None:
    env = os.environ.get("KAMERMONITOR_CONFIG")
    if env:
        return Path(env)
    candidate = Path(DEFAULT_CONFIG_NAME)
    return candidate if candidate.exists() else None


def load(path: Path | None, *, database: str | None = None) -> Settings:
    """Load and validate settings; raise ConfigError listing every problem."""
    if path is None:
        data: dict[str, Any] = {}
    else:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError([f"{path}: file not found"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{path}: not valid TOML: {exc}"]) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError([f"{path}: cannot read: {exc}"]) from exc
    settings = parse(data)
    # $KAMERMONITOR_DATABASE_FILE too: a PostgreSQL URL carries a password (Docker secrets).
    if database:
        db, where = database, "--database"
    elif os.environ.get("KAMERMONITOR_DATABASE"):
        db, where = os.environ["KAMERMONITOR_DATABASE"], "KAMERMONITOR_DATABASE"
    elif secret := read_secret("KAMERMONITOR_DATABASE"):
        db, where = secret, "KAMERMONITOR_DATABASE_FILE"
    else:
        db, where = settings.database, "monitor.database"
    from .dburl import database_url  # SQLAlchemy's URL: every command that gets here needs it

    try:
        db = database_url(db)
    except ValueError as exc:
        raise ConfigError([f"{where}: {exc}"]) from None
    return Settings(
        **{f: getattr(settings, f) for f in settings.__dataclass_fields__ if f not in ("database", "source_path")},
        database=db,
        source_path=str(path) if path else None,
    )


_TOP = {"monitor", "http", "sources", "delivery", "enrichment", "operator", "web", "channel", "watch"}


def parse(data: Mapping[str, Any]) -> Settings:
    """Validate parsed TOML into Settings (raise ConfigError with all problems)."""
    r = Reader()
    r.known(data, "", _TOP)
    mon = r.table(data, "monitor", "")
    r.known(
        mon,
        "monitor",
        {"database", "timezone", "baseline_grace_days", "template_dir", "log_format", "max_wait_seconds"},
    )
    d = Settings()
    log_format = r.value(mon, "log_format", "monitor", str, str(d.log_format))
    if log_format not in LOG_FORMATS:
        r.fail("monitor.log_format", f"must be one of {', '.join(LOG_FORMATS)}, got {log_format!r}")
        log_format = str(d.log_format)
    tz = r.value(mon, "timezone", "monitor", str, d.timezone)
    _check_timezone(r, tz)
    http = _http(r, r.table(data, "http", ""))
    sources = r.table(data, "sources", "")
    r.known(sources, "sources", set(SOURCES))
    channels = _channels(r, data.get("channel", []))
    names = {c.name for c in channels}
    watches = _watches(r, data.get("watch"), names)
    operator = _operator(r, r.table(data, "operator", ""), names)
    # Read in this order, so the problems are listed in the order of the file's sections.
    database = r.value(mon, "database", "monitor", str, d.database)
    grace_days = r.count(mon, "baseline_grace_days", "monitor", d.baseline_grace_days, minimum=0)
    template_dir = _template_dir(r, mon)
    max_wait = r.positive(mon, "max_wait_seconds", "monitor", d.max_wait_seconds, maximum=6 * 3600.0)
    source_configs = {
        name: src.read_config(r, r.table(sources, name, "sources"), f"sources.{name}") for name, src in SOURCES.items()
    }
    settings = Settings(
        database=database,
        timezone=tz,
        baseline_grace_days=grace_days,
        template_dir=template_dir,
        log_format=cast(LogFormat, log_format),
        max_wait_seconds=max_wait,
        http=http,
        sources=source_configs,
        delivery=_delivery(r, r.table(data, "delivery", "")),
        enrichment=_enrichment(r, r.table(data, "enrichment", ""), source_configs.values()),
        operator=operator,
        web=_web(r, r.table(data, "web", "")),
        channels=channels,
        watches=watches,
    )
    if r.problems:
        raise ConfigError(r.problems)
    return settings


def _template_dir(r: Reader, mon: Mapping[str, Any]) -> str | None:
    value = r.value(mon, "template_dir", "monitor", str, "") or None
    if value is not None and not Path(value).expanduser().is_dir():
        r.fail("monitor.template_dir", f"not a directory: {value!r}")
    return value


def _check_timezone(r: Reader, tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("monitor.timezone", f"unknown time zone {tz!r}")


def _http(r: Reader, t: Mapping[str, Any]) -> HttpConfig:
    p, d = "http", HttpConfig()
    r.known(t, p, set(HttpConfig.__dataclass_fields__))
    r.header_safe(t, "user_agent", p)
    return HttpConfig(
        connect_timeout=r.positive(t, "connect_timeout", p, d.connect_timeout, maximum=3600),
        read_timeout=r.positive(t, "read_timeout", p, d.read_timeout, maximum=3600),
        max_response_mb=r.positive(t, "max_response_mb", p, d.max_response_mb, maximum=MAX_RESPONSE_MB),
        pause_seconds=r.non_negative(t, "pause_seconds", p, d.pause_seconds, maximum=3600),
        burst=r.count(t, "burst", p, d.burst, minimum=1, maximum=20),
        user_agent=r.value(t, "user_agent", p, str, d.user_agent) or d.user_agent,  # "" too means ours
        deadline_seconds=r.positive(t, "deadline_seconds", p, d.deadline_seconds, maximum=3600),
    )


def _delivery(r: Reader, t: Mapping[str, Any]) -> DeliveryConfig:
    p, d = "delivery", DeliveryConfig()
    r.known(t, p, set(DeliveryConfig.__dataclass_fields__))
    return DeliveryConfig(
        interval_seconds=r.positive(t, "interval_seconds", p, d.interval_seconds),
        max_attempts=r.count(t, "max_attempts", p, d.max_attempts),
        backoff_base_seconds=r.positive(t, "backoff_base_seconds", p, d.backoff_base_seconds),
        backoff_cap_seconds=r.positive(t, "backoff_cap_seconds", p, d.backoff_cap_seconds),
        lease_seconds=r.positive(t, "lease_seconds", p, d.lease_seconds),
        digest_threshold=r.count(t, "digest_threshold", p, d.digest_threshold),
    )


def _enrichment(r: Reader, t: Mapping[str, Any], sources: Iterable[SourceConfig]) -> EnrichmentConfig:
    """``[enrichment]``; ``allowed_urls`` left out means the hosts of the configured ``sources``."""
    p, d = "enrichment", EnrichmentConfig()
    r.known(t, p, set(EnrichmentConfig.__dataclass_fields__))
    allowed = r.urls(t, "allowed_urls", p, source_hosts(sources))
    if not allowed:
        r.fail(f"{p}.allowed_urls", "must not be empty (leave it out for the sources' hosts, or set enabled = false)")
    return EnrichmentConfig(
        enabled=r.value(t, "enabled", p, bool, d.enabled),
        timeout_seconds=r.positive(t, "timeout_seconds", p, d.timeout_seconds),
        allowed_urls=allowed,
    )


def _operator(r: Reader, t: Mapping[str, Any], channel_names: set[str]) -> OperatorConfig:
    p, d = "operator", OperatorConfig()
    r.known(t, p, set(OperatorConfig.__dataclass_fields__))
    chans = r.strings(t, "channels", p, d.channels)
    for i, name in enumerate(chans):
        _check_channel_name(r, f"{p}.channels[{i}]", name, channel_names)
    return OperatorConfig(
        channels=chans,
        failure_threshold=r.count(t, "failure_threshold", p, d.failure_threshold),
        stale_hours=r.positive(t, "stale_hours", p, d.stale_hours, maximum=24 * 366),
        delivery_stuck_minutes=r.positive(
            t, "delivery_stuck_minutes", p, d.delivery_stuck_minutes, maximum=60 * 24 * 366
        ),
    )


_LISTEN = re.compile(r"(?:(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):)?(?P<port>\d{1,5})")


def _web(r: Reader, t: Mapping[str, Any]) -> WebConfig:
    p = "web"
    if "token" in t:
        r.fail(f"{p}.token", "secrets are not read from the config file; use token_env")
    r.known({k: v for k, v in t.items() if k != "token"}, p, {"listen", "base_url", "token_env"})
    if not t:
        return WebConfig()
    raw = t.get("listen")
    if raw is None:
        r.fail(f"{p}.listen", 'required in [web]: "host:port" or a port (then 127.0.0.1)')
        return WebConfig()
    m = _LISTEN.fullmatch(str(raw).strip()) if isinstance(raw, (int, str)) and not isinstance(raw, bool) else None
    if m is None or not 0 < int(m["port"]) < 65536:
        r.fail(f"{p}.listen", f'not "host:port" or a port number: {raw!r}')
        return WebConfig()
    d = WebConfig()
    base = r.url(t, "base_url", p, d.base_url) if "base_url" in t else d.base_url
    token_env = r.value(t, "token_env", p, str, d.token_env)
    if "token_env" in t and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", token_env):
        r.fail(f"{p}.token_env", f"not an environment variable name: {token_env!r}")
    host = (m["host"] or "127.0.0.1").strip("[]")
    return WebConfig(host, int(m["port"]), base, token_env)


def _check_channel_name(r: Reader, path: str, name: str, channel_names: set[str]) -> None:
    """A channel named in a list must exist; a near miss gets the same hint as an unknown key."""
    if name not in channel_names:
        hint = closest(name, channel_names)
        r.fail(path, f"no channel named {name!r}" + (f" (did you mean '{hint}'?)" if hint else ""))


_SCHEDULE_KEYS = {"mode", "digest_time", "digest_day", "quiet_hours"}


def _schedule(r: Reader, t: Mapping[str, Any], p: str) -> Schedule | None:
    """``mode`` / ``digest_time`` / ``digest_day`` / ``quiet_hours``, or None when none is set."""
    if not _SCHEDULE_KEYS & set(t):
        return None
    d = Schedule()
    mode = r.value(t, "mode", p, str, d.mode)
    if mode not in MODES:
        r.fail(f"{p}.mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
        mode = d.mode
    out = Schedule(mode=mode)
    try:
        at = parse_time(r.value(t, "digest_time", p, str, d.at.strftime("%H:%M")))
        out = Schedule(mode, at, out.day, out.quiet)
    except ValueError as exc:
        r.fail(f"{p}.digest_time", str(exc))
    day = r.value(t, "digest_day", p, str, next(name for name, n in DAYS.items() if n == d.day)).lower()
    if day not in DAYS:
        r.fail(f"{p}.digest_day", f"not a day of the week: {day!r}")
    else:
        out = Schedule(out.mode, out.at, DAYS[day], out.quiet)
    if "quiet_hours" in t:
        raw = t["quiet_hours"]
        try:
            if not isinstance(raw, str):  # one message that names what was given (22, not '')
                raise ValueError(f"not a time range (HH:MM-HH:MM): {raw!r}")
            out = Schedule(out.mode, out.at, out.day, parse_quiet(raw))
        except ValueError as exc:
            r.fail(f"{p}.quiet_hours", str(exc))
    return out


def _channels(r: Reader, raw: Any) -> tuple[ChannelConfig, ...]:
    """The ``[[channel]]`` tables: name, type and schedule here; each type reads its own keys."""
    # Loaded here, not with this module: ``run`` sets its SIGTERM handler after importing the
    # CLI and before loading the configuration, and start-up should reach it quickly.
    from .notify.registry import CHANNEL_TYPES, secret_keys

    out = [ChannelConfig("console", "console")]
    if not isinstance(raw, list):
        r.fail("channel", "must be an array of tables ([[channel]])")
        return tuple(out)
    secrets = secret_keys()
    for i, t in enumerate(raw):
        p = f"channel[{i}]"
        if not isinstance(t, Mapping):
            r.fail(p, "must be a table")
            continue
        name = r.value(t, "name", p, str, "")
        kind = r.value(t, "type", p, str, "")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            r.fail(f"{p}.name", f"must be a simple name (letters, digits, - _ .), got {name!r}")
        elif any(c.name == name for c in out):
            r.fail(f"{p}.name", f"duplicate channel name {name!r}")
        channel_type = CHANNEL_TYPES.get(kind)
        if channel_type is None:
            r.fail(f"{p}.type", f"must be one of {', '.join(sorted(CHANNEL_TYPES))}, got {kind!r}")
            continue
        for key in t:
            if key in secrets:
                r.fail(f"{p}.{key}", f"secrets are not read from the config file; use {key}_env")
        allowed = {*channel_type.keys, "name", "type", *_SCHEDULE_KEYS}
        r.known({k: v for k, v in t.items() if k not in secrets}, p, allowed)
        options = channel_type.read(r, t, p)
        out.append(ChannelConfig(name, kind, options, _schedule(r, t, p)))
    return tuple(out)


def _watches(r: Reader, raw: Any, channel_names: set[str]) -> tuple[WatchConfig, ...]:
    if raw is None:
        return Settings().watches
    if not isinstance(raw, list) or not raw:
        r.fail("watch", "must be a non-empty array of tables ([[watch]])")
        return ()
    out: list[WatchConfig] = []
    names: set[str] = set()
    for i, t in enumerate(raw):
        p = f"watch[{i}]"
        if not isinstance(t, Mapping):
            r.fail(p, "must be a table")
            continue
        r.known(t, p, {"name", "dossiers", "kinds", "keywords", "channels", "followups"} | _SCHEDULE_KEYS)
        d = WatchConfig("")
        dossiers = _dossiers(r, t, p)
        keywords = r.strings(t, "keywords", p, d.keywords)
        if not t.get("dossiers") and not keywords:
            r.fail(p, "needs dossiers or keywords (or both)")
        name = r.value(t, "name", p, str, "") or (f"dossier-{dossiers[0]}" if dossiers else f"watch-{i}")
        if name in names:
            r.fail(f"{p}.name", f"duplicate watch name {name!r}")
        names.add(name)
        chans = r.strings(t, "channels", p, d.channels)
        for j, c in enumerate(chans):
            _check_channel_name(r, f"{p}.channels[{j}]", c, channel_names)
        kinds = r.strings(t, "kinds", p, d.kinds)
        if not kinds:
            # An empty list silently meaning "Brief*" would hide a mistake; say what to write.
            r.fail(f"{p}.kinds", 'must not be empty (leave it out for ["Brief*"], or use ["*"] for every kind)')
            kinds = d.kinds
        followups = r.value(t, "followups", p, bool, d.followups)
        out.append(WatchConfig(name, dossiers, kinds, keywords, chans, _schedule(r, t, p), followups))
    return tuple(out)


def _dossiers(r: Reader, t: Mapping[str, Any], p: str) -> tuple[DossierRef, ...]:
    raw = t.get("dossiers", [])
    if isinstance(raw, (str, int)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list):
        r.fail(f"{p}.dossiers", "must be a list of dossier numbers")
        return ()
    out: list[DossierRef] = []
    for j, item in enumerate(raw):
        try:
            ref = DossierRef.parse(item)
        except ValueError:
            r.fail(f"{p}.dossiers[{j}]", f"not a dossier number: {item!r}")
            continue
        if ref not in out:
            out.append(ref)
    return tuple(out)
