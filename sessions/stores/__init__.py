"""Where events are kept: an explicit list of event-store implementations.

`open_event_store(target)` picks one by the target's form: a `postgresql://` (or `postgres://`)
URL is a PostgreSQL server (`sessions.stores.postgres`, for a team); anything else is a DuckDB
file path (`sessions.stores.duckdb`, for one machine), or `:memory:` for tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sessions.stores.base import EventStore, SessionRow, StoredEvent
from sessions.stores.pg_target import is_postgres_target


def open_event_store(target: str | Path, **options: Any) -> EventStore:
    """The store for `target`: a PostgreSQL URL, a DuckDB file path (created if missing) or `:memory:`."""
    text = str(target)
    if is_postgres_target(text):
        from sessions.stores.postgres import PostgresEventStore

        return PostgresEventStore(text, **options)
    if "://" in text:
        from engine.errors import StoreError

        scheme = text.split("://", 1)[0]
        raise StoreError(f"no event store for {scheme}:// addresses; give a postgresql:// URL or a DuckDB file "
                         "path (or :memory:)")
    from sessions.stores.duckdb import DuckDBEventStore

    return DuckDBEventStore(text, **options)


__all__ = ["EventStore", "SessionRow", "StoredEvent", "open_event_store"]
