"""Persistent state: schema, engine, and the queries each part of the monitor needs."""

from .db import NoDatabase, open_engine, utcnow

__all__ = ["NoDatabase", "open_engine", "utcnow"]
