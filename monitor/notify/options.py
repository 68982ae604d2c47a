"""The base of every channel type's options; imported by the configuration, so it imports nothing."""

from __future__ import annotations

from collections.abc import Mapping


class Options:
    """A channel type's own options, read from its ``[[channel]]`` table (a frozen dataclass).

    Subclasses override what applies to them; a channel with no secrets and one target
    (the console) needs nothing else.
    """

    __slots__ = ()

    def secret_vars(self) -> Mapping[str, str]:
        """Secret name ("password") → the environment variable its ``<name>_env`` option names."""
        return {}

    def targets(self) -> tuple[str, ...]:
        """One outbox row per target: e-mail recipients each get their own; the rest have ""."""
        return ("",)

    def secret_problem(self, key: str, var: str, value: str) -> str | None:
        """Why the secret ``value`` (found in ``$var``) cannot work, checked by ``check-config``."""
        return None
