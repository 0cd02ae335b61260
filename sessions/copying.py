"""Moving sessions between stores: a DuckDB file and a PostgreSQL server, either way, or two of one kind.

A copy is exact: the same session ids, titles, creation times and origins, and every event
with its number, time, kind, payload and actor as the source holds them (nothing is parsed and
written again), so the copy replays to the same render and stats. It is one transaction on the
target: whole, or (an id the target holds already, a source that fails mid-read) nothing. The
copy is read back and compared with the source before the command says it is done.

Snapshots are not copied (the target makes its own), and neither is anything outside the log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from engine.errors import StoreError, WorkbenchError
from sessions.store import SessionStore
from sessions.stores.base import SessionRow, StoredEvent


@dataclass
class CopyReport:
    source: str
    target: str
    sessions: list[dict] = field(default_factory=list)  # id, title, events: one per session copied

    @property
    def events(self) -> int:
        return sum(row["events"] for row in self.sessions)

    def summary(self) -> str:
        count = len(self.sessions)
        return (f"Copied {count} session{'s' if count != 1 else ''} ({self.events:,} events) "
                f"from {self.source} to {self.target}.")


def copy_sessions(source: SessionStore, target: SessionStore, ids: Sequence[str] = ()) -> CopyReport:
    """Copy the sessions `ids` (unique prefixes will do; none: every session) from `source` to `target`."""
    if _same_store(source, target):
        raise WorkbenchError(f"--from and --to are the same store ({source.path}); give another --to")
    chosen = _chosen(source, ids)
    report = CopyReport(source.path, target.path)

    def rows() -> Iterator[tuple[SessionRow, list[StoredEvent]]]:
        for session_id in chosen:
            row = source.events.session_row(session_id)
            events = source.events.load(session_id)
            report.sessions.append({"id": row.id, "title": row.title, "events": len(events)})
            yield row, events

    target.events.insert_exact(rows())
    for copied in report.sessions:
        _check_copied(source, target, copied["id"])
    return report


def _same_store(source: SessionStore, target: SessionStore) -> bool:
    """Whether both name one store: the same server and database, or the same file however its path
    is spelled (`./a.duckdb`, `a.duckdb`, a link to it). Two `:memory:` stores are two stores."""
    one, other = source.events, target.events
    if one is other:
        return True
    if one.shared or other.shared:
        return one.shared == other.shared and one.location == other.location
    if ":memory:" in (one.location, other.location):
        return False
    try:
        return os.path.samefile(one.location, other.location)
    except OSError:  # one of them is not made yet
        return os.path.realpath(one.location) == os.path.realpath(other.location)


def _chosen(source: SessionStore, ids: Sequence[str]) -> list[str]:
    if not ids:
        every = [row["id"] for row in source.list_sessions()]
        if not every:
            raise WorkbenchError(f"{source.path} holds no sessions: nothing to copy")
        return list(reversed(every))  # oldest first, so a fork's parent comes before it
    chosen: list[str] = []
    for prefix in ids:
        found = source.resolve_id(prefix)
        if found not in chosen:
            chosen.append(found)
    return chosen


def _check_copied(source: SessionStore, target: SessionStore, session_id: str) -> None:
    """The copy reads back as the source holds it, field by field (a store that changed a value
    on the way, such as a timestamp's precision, fails here rather than later)."""
    if source.events.session_row(session_id) != target.events.session_row(session_id):
        raise StoreError(f"session {session_id}'s row reads back differently from {target.path}")
    original, copied = source.events.load(session_id), target.events.load(session_id)
    if len(original) != len(copied):
        raise StoreError(f"session {session_id} has {len(copied)} events in {target.path}, not {len(original)}: "
                         "another writer added some since the copy (copy it again into an empty store to compare)")
    for before, after in zip(original, copied):
        if before != after:
            raise StoreError(f"session {session_id}'s event {before.seq} reads back differently from {target.path}")
