"""Persistent state: schema, engine, and the queries each part of the monitor needs."""

from .db import open_engine, utcnow

__all__ = ["open_engine", "utcnow"]
