"""What the webhook-like channel types (Teams, signed webhook, Apprise) read alike from their tables.

Each names its secrets through ``*_env`` options (the variable, or ``<VAR>_FILE``), which
are required; each takes a ``timeout``.  A secret that must be an http(s) URL is checked
for that form by ``check-config`` without ever being printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..configread import Reader, secret_and_problem
from .options import Options


def required_var(r: Reader, t: Mapping[str, Any], p: str, key: str, holds: str) -> str:
    """The environment variable the option ``key`` names; a problem when it is missing or not a name."""
    var = t.get(key)
    if not isinstance(var, str) or not var.strip():
        r.fail(f"{p}.{key}", f"required: the environment variable holding {holds}")
        return ""
    return var.strip()


def timeout(r: Reader, t: Mapping[str, Any], p: str, default: float) -> float:
    return r.positive(t, "timeout", p, default, maximum=3600)


def url_problem(var: str, value: str) -> str | None:
    return None if re.match(r"^https?://[^\s/?#]+", value, re.I) else f"{var} does not hold an http(s) URL"


def secret(var: str) -> str:
    """The secret in ``$var`` (or its file); ValueError naming why there is none (the channel is unusable)."""
    value, problem = secret_and_problem(var)
    if problem or not value:
        raise ValueError(problem or f"{var} is empty")
    return value


@dataclass(frozen=True)
class WebhookUrlOptions(Options):
    """A type whose one secret is its webhook URL, in the variable ``webhook_url_env`` names (Slack, Teams).

    Each type reads its own table (:meth:`read`); what the URL is and how it is checked is shared.
    """

    webhook_url_env: str = ""
    timeout: float = 15.0

    def secret_vars(self) -> Mapping[str, str]:
        return {"webhook_url": self.webhook_url_env}

    def secret_problem(self, key: str, var: str, value: str) -> str | None:
        return url_problem(var, value)
