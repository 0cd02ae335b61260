"""Where events are kept: an explicit list of event-store implementations.

`open_event_store(target)` picks one by the target's form. Only DuckDB exists today: a file
path, or `:memory:` for tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sessions.stores.base import EventStore, SessionRow, StoredEvent


def open_event_store(target: str | Path, **options: Any) -> EventStore:
    """The store for `target`: a DuckDB file path (created if missing) or `:memory:`."""
    text = str(target)
    if "://" in text:
        from engine.errors import StoreError

        scheme = text.split("://", 1)[0]
        raise StoreError(f"no event store for {scheme}:// addresses yet; give a DuckDB file path (or :memory:)")
    from sessions.stores.duckdb import DuckDBEventStore

    return DuckDBEventStore(text, **options)


__all__ = ["EventStore", "SessionRow", "StoredEvent", "open_event_store"]
