"""Reading one table of the configuration: typed values, bounds and secrets, problems collected.

Every part of the monitor that owns configuration (the settings, each source, each channel)
reads its own table through a ``Reader``: each problem is recorded with its key path
(``channel[0].port: not a port number``) and reading goes on, so one run of ``check-config``
shows them all.  Defaults are not written here: callers pass the field's default from their
own dataclass, so each default is written once.  Secrets never come from the file: an option
names the environment variable (or ``<VAR>_FILE``) that holds them.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from .settings import Settings


class ConfigError(Exception):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_secret(var: str) -> str | None:
    value, _ = secret_and_problem(var)
    return value


def secret_and_problem(var: str) -> tuple[str | None, str | None]:
    """The secret in ``$var`` (or the file ``$var_FILE`` names), or why there is none."""
    value = os.environ.get(var)
    if value:
        return value, None
    path = os.environ.get(f"{var}_FILE")
    if not path:
        return None, f"environment variable {var} (or {var}_FILE) is not set"
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return None, f"cannot read {path} (named by {var}_FILE): {reason}"
    if not text:
        return None, f"{path} (named by {var}_FILE) is empty"
    return text, None


T = TypeVar("T")

# Sane maxima: a value above them is a typo or an attack on the arithmetic (1e308 seconds
# overflows every date), never a setting.
MAX_SECONDS = 7 * 24 * 3600.0
MAX_COUNT = 1_000_000
MAX_RESPONSE_MB = 1024.0


class Reader:
    """Walks the parsed TOML, collecting problems with their key paths."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def table(self, data: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.fail(_join(path, key), "must be a table")
            return {}
        return value

    def known(self, data: Mapping[str, Any], path: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                hint = closest(key, allowed)
                self.fail(_join(path, key), "unknown key" + (f" (did you mean '{hint}'?)" if hint else ""))

    def value(self, data: Mapping[str, Any], key: str, path: str, kind: type[T], default: T) -> T:
        if key not in data:
            return default
        value = data[key]
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not ok:
            self.fail(_join(path, key), f"must be {kind.__name__}, got {value!r}")
            return default
        return value  # type: ignore[no-any-return]

    def positive(
        self, data: Mapping[str, Any], key: str, path: str, default: float, maximum: float = MAX_SECONDS
    ) -> float:
        """A finite number above zero and at most ``maximum`` (TOML allows nan, inf and 1e308)."""
        value = self.value(data, key, path, float, default)
        if math.isfinite(value) and value <= 0:
            self.fail(_join(path, key), f"must be positive, got {value!r}")
            return default
        if not math.isfinite(value) or value > maximum:
            self.fail(_join(path, key), f"must be a finite number of at most {maximum:g}, got {value!r}")
            return default
        return value

    def non_negative(
        self, data: Mapping[str, Any], key: str, path: str, default: float, maximum: float = MAX_SECONDS
    ) -> float:
        value = self.value(data, key, path, float, default)
        if not math.isfinite(value) or value < 0 or value > maximum:
            self.fail(_join(path, key), f"must be a number from 0 to {maximum:g}, got {value!r}")
            return default
        return value

    def count(
        self, data: Mapping[str, Any], key: str, path: str, default: int, minimum: int = 1, maximum: int = MAX_COUNT
    ) -> int:
        value = self.value(data, key, path, int, default)
        if not minimum <= value <= maximum:
            self.fail(_join(path, key), f"must be from {minimum} to {maximum}, got {value!r}")
            return default
        return value

    def header_safe(self, data: Mapping[str, Any], key: str, path: str) -> None:
        """A value that goes into a mail or HTTP header: no line break, not even an encoded one."""
        value = data.get(key)
        if isinstance(value, str):
            from .notify.headers import unsafe_reason

            why = unsafe_reason(value)
            if why:
                self.fail(_join(path, key), f"{why}: {value!r}")

    def strings(self, data: Mapping[str, Any], key: str, path: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(_join(path, key), "must be a list of strings")
            return default
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{_join(path, key)}[{i}]", f"must be a non-empty string, got {item!r}")
            else:
                out.append(item.strip())
        return tuple(out)

    def url(self, data: Mapping[str, Any], key: str, path: str, default: str) -> str:
        value = self.value(data, key, path, str, default)
        if not _HTTP_URL.match(value):
            self.fail(_join(path, key), f"not an http(s) URL: {value!r}")
            return default
        return value.rstrip("/")

    def urls(self, data: Mapping[str, Any], key: str, path: str, default: tuple[str, ...]) -> tuple[str, ...]:
        """A list of http(s) URLs (a single string is a list of one); bad entries are reported and left out."""
        out = []
        for i, value in enumerate(self.strings(data, key, path, default)):
            if _HTTP_URL.match(value):
                out.append(value.rstrip("/"))
            else:
                self.fail(f"{_join(path, key)}[{i}]", f"not an http(s) URL: {value!r}")
        return tuple(out)


_HTTP_URL = re.compile(r"^https?://[^\s/]+")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def closest(key: str, allowed: set[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
    return found[0] if found else None


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
