"""The settings: frozen dataclasses, one per table of the configuration, and their defaults.

Each default is written here once; :mod:`monitor.config` reads a TOML file into these
types (delegating ``[sources.*]`` to the sources and ``[[channel]]`` options to the
channels), and everything else only reads them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .configread import read_secret
from .logsetup import LogFormat
from .models import DossierRef
from .notify.options import Options
from .schedule import Schedule
from .sources import SourceConfig, default_configs
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
    pause_seconds: float = 0.5  # between two requests to the same host, on average
    burst: int = 4  # requests to one host that may go at once before the pause applies (monitor.pacing)
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
