"""Configuration: TOML file → frozen settings, checked before anything starts.

Every problem is reported with its key path (``watch[1].dossiers[0]: not a dossier
number: '26 643x'``) and all problems are collected, so one run of ``check-config``
shows them all.  Secrets are never read from the file: a channel names the environment
variable that holds them (``password_env``), and ``<NAME>_FILE`` is honoured too.
With no file at all the monitor watches letters in dossier 26643 and prints to the console.
"""

from __future__ import annotations

import fnmatch
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from .configread import (
    MAX_RESPONSE_MB,
    ConfigError,
    Reader,
    closest,
    read_secret,
    secret_and_problem,
)
from .logsetup import LOG_FORMATS, LogFormat
from .models import DossierRef
from .notify.options import Options
from .schedule import DAYS, MODES, Schedule, parse_quiet, parse_time
from .sources import SOURCES, SourceConfig, default_configs
from .urls import origin

DEFAULT_CONFIG_NAME = "kamermonitor.toml"
DEFAULT_DATABASE = "sqlite:///kamermonitor.db"
DEFAULT_KINDS = ("Brief*",)


USER_AGENT = "kamermonitor/0.1 (+https://github.com/kamermonitor/kamermonitor)"


@dataclass(frozen=True, slots=True)
class HttpConfig:
    """``[http]``: the limits every request to a source obeys (:class:`monitor.http.Fetcher`)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_response_mb: float = 20.0
    pause_seconds: float = 0.5  # between two requests to the same host
    user_agent: str = USER_AGENT
    deadline_seconds: float = 120.0  # the whole request: connect, headers and body

    @property
    def max_bytes(self) -> int:
        return int(self.max_response_mb * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    interval_seconds: float = 15.0
    max_attempts: int = 12
    backoff_base_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    lease_seconds: float = 120.0
    digest_threshold: int = 5  # more new letters than this for one watch in one poll → one digest


def source_hosts(sources: Iterable[SourceConfig]) -> tuple[str, ...]:
    """``scheme://host:port`` of each source's ``base_url``, once each: where letters are read by default.

    A source without a base URL names no host.
    """
    urls = (getattr(cfg, "base_url", None) for cfg in sources)
    return tuple(dict.fromkeys(origin(url) for url in urls if isinstance(url, str)))


@dataclass(frozen=True, slots=True)
class EnrichmentConfig:
    enabled: bool = True
    timeout_seconds: float = 60.0  # never hold an alert back longer than this
    # A letter is read only from under one of these URLs: a link in a source's answer is
    # hostile input, never followed elsewhere.  Not in the file: the configured sources' hosts.
    allowed_urls: tuple[str, ...] = field(default_factory=lambda: source_hosts(default_configs().values()))


@dataclass(frozen=True, slots=True)
class OperatorConfig:
    channels: tuple[str, ...] = ()
    failure_threshold: int = 5
    stale_hours: float = 6.0
    delivery_stuck_minutes: float = 60.0


@dataclass(frozen=True, slots=True)
class WebConfig:
    """``[web]``: the HTTP surface (health, metrics, feeds, status page); off unless ``listen`` is set."""

    host: str = ""
    port: int = 0
    base_url: str = ""  # for absolute links in feeds, digests and Slack messages; "" = none
    token_env: str = ""  # the variable holding the token that / and /feeds require; "" = open

    @property
    def enabled(self) -> bool:
        return self.port > 0

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    type: str  # a key of monitor.notify.registry.CHANNEL_TYPES
    options: Options = Options()  # the type's own, read and checked by it
    schedule: Schedule | None = None

    def secret(self, key: str) -> str | None:
        """Resolve ``<key>_env``: the variable's value, or the content of ``<VAR>_FILE``."""
        var = self.options.secret_vars().get(key)
        return read_secret(var) if var else None

    def targets(self) -> tuple[str, ...]:
        """One outbox row per target: each e-mail recipient, or the single target "" for the rest."""
        return self.options.targets()


@dataclass(frozen=True, slots=True)
class WatchConfig:
    name: str
    dossiers: tuple[DossierRef, ...] = ()
    kinds: tuple[str, ...] = DEFAULT_KINDS
    keywords: tuple[str, ...] = ()
    channels: tuple[str, ...] = ("console",)
    schedule: Schedule | None = None  # None: each channel's own (default immediate)
    followups: bool = True

    def kind_matches(self, kind: str | None) -> bool:
        if "*" in self.kinds:
            return True
        if not kind:
            return False
        low = kind.lower()
        return any(fnmatch.fnmatchcase(low, pattern.lower()) for pattern in self.kinds)

    def fingerprint(self) -> str:
        """Changes when what the watch matches changes: such a watch is baselined anew."""
        parts = [
            ",".join(sorted(str(d) for d in self.dossiers)),
            ",".join(sorted(k.lower() for k in self.kinds)),
            ",".join(sorted(k.lower() for k in self.keywords)),
        ]
        return "|".join(parts)


@dataclass(frozen=True, slots=True)
class Settings:
    database: str = DEFAULT_DATABASE
    timezone: str = "Europe/Amsterdam"
    baseline_grace_days: int = 14
    template_dir: str | None = None
    log_format: LogFormat = "text"
    max_wait_seconds: float = 6 * 3600.0  # the longest Retry-After or backoff taken
    http: HttpConfig = HttpConfig()
    sources: Mapping[str, SourceConfig] = field(default_factory=default_configs)  # by name, as in SOURCES
    delivery: DeliveryConfig = DeliveryConfig()
    enrichment: EnrichmentConfig = EnrichmentConfig()
    operator: OperatorConfig = OperatorConfig()
    web: WebConfig = WebConfig()
    channels: tuple[ChannelConfig, ...] = (ChannelConfig("console", "console"),)
    watches: tuple[WatchConfig, ...] = (WatchConfig("dossier-26643", (DossierRef(26643),)),)
    source_path: str | None = None

    def channel(self, name: str) -> ChannelConfig | None:
        return next((c for c in self.channels if c.name == name), None)

    def enabled_sources(self) -> list[str]:
        return [name for name, cfg in self.sources.items() if cfg.enabled]


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


def channel_problems(settings: Settings, env_check: Callable[[str], str | None] | None = None) -> list[str]:
    """Problems that only show at run time: secrets named but not set, unreadable or unusable.

    ``env_check`` (tests) replaces reading the environment.  The secret itself never
    appears in a problem.
    """

    def secret(var: str) -> tuple[str | None, str | None]:
        if env_check is None:
            return secret_and_problem(var)
        value = env_check(var)
        return value, None if value else f"environment variable {var} (or {var}_FILE) is not set"

    problems = []
    for i, ch in enumerate(settings.channels[1:]):
        for key, var in ch.options.secret_vars().items():
            value, problem = secret(var)
            if problem is None and value is not None:
                problem = ch.options.secret_problem(key, var, value)
            if problem:
                problems.append(f"channel[{i}].{key}_env: {problem}")
    var = settings.web.token_env
    if settings.web.enabled and var:
        _, problem = secret(var)
        if problem:
            problems.append(f"web.token_env: {problem}")
    return problems
