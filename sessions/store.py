"""`SessionStore`: create, open, list, import and check sessions, over one event store.

The events live in an `EventStore` (`sessions.stores`): a DuckDB file by default, a
PostgreSQL server for a team (`postgresql://...`), or `:memory:` in tests. This class is what
people and programs use; it knows sessions, not SQL.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Hashable, Sequence

from engine import WorkbenchError
from engine.records import EventRecord
from sessions.formats.report import ImportReport
from sessions.formats.source import Progress
from sessions.importing import import_into
from sessions.session import Session
from sessions.snapshots import Snapshots
from sessions.stores.base import SessionRow
from sessions.stores import EventStore, open_event_store
from sessions.stores.pg_target import is_postgres_target, redact_url

DB_ENV = "WORKBENCH_DB"


def default_db_path() -> str:
    """`$WORKBENCH_DB` (a DuckDB file or a postgresql:// URL), else
    `<XDG data home>/context-workbench/workbench.duckdb`."""
    if os.environ.get(DB_ENV):
        target = os.environ[DB_ENV].strip()
        return target if is_postgres_target(target) else str(Path(target).expanduser())
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return str(Path(data_home) / "context-workbench" / "workbench.duckdb")


def shown_target(target: str) -> str:
    """A store's address as it may be printed (a help text, a log line): never with a password."""
    return redact_url(target) if is_postgres_target(target) else target


def _snapshots(events: EventStore, target: str) -> Snapshots:
    """Snapshots beside a DuckDB file; for a server, in this user's cache folder, one folder per
    server and database (a snapshot is only a shortcut: its fingerprint is checked on the server)."""
    if not events.shared:
        return Snapshots.beside(target)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    key = hashlib.sha256(events.location.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Snapshots(Path(cache) / "context-workbench" / "snapshots" / key)


class SessionStore:
    """Creates, opens, lists, imports and checks sessions held in one event store."""

    def __init__(self, path: str | Path | None = None, *, lock_timeout: float | None = None,
                 linger: float | None = None, snapshots: bool = True) -> None:
        target = str(path) if path is not None else default_db_path()
        self.events: EventStore = open_event_store(target, lock_timeout=lock_timeout, linger=linger)
        self.path = self.events.location  # the file or server as it may be shown: never with a password
        # snapshots of long sessions' folded state (never authoritative: see sessions.snapshots)
        self.snapshots = _snapshots(self.events, target) if snapshots else Snapshots(None)

    def __repr__(self) -> str:
        return f"<SessionStore {self.path}>"

    @property
    def read_only(self) -> bool:
        """True when this process may read the store but not write it (a viewer's role)."""
        return self.events.read_only

    @property
    def read_only_reason(self) -> str | None:
        """Why this process may read the store but not change it, as its writes are told; None
        when it may write."""
        return str(self.events.refusal()) if self.events.read_only else None

    def close(self) -> None:
        """Release the store now; it reopens when used again."""
        self.events.close()

    def change_token(self) -> Hashable:
        """Moves whenever anything was committed to the store, by any process; reading it never
        opens the store (`EventStore.change_token`)."""
        return self.events.change_token()

    def create_session(
        self,
        title: str = "Untitled",
        *,
        records: Sequence[EventRecord] = (),
        forked_from: str | None = None,
        forked_at: int | None = None,
        imported_from: str | None = None,
    ) -> Session:
        """A new session, empty or holding `records` (their seqs must run 1, 2, 3, ...)."""
        if [r.seq for r in records] != list(range(1, len(records) + 1)):
            raise WorkbenchError("event records must be numbered 1, 2, 3, ... without gaps")
        row = SessionRow.new(title, forked_from=forked_from, forked_at=forked_at, imported_from=imported_from)
        session = Session(self.events, row, records=records)  # folds the events first: a bad log raises here
        self.events.create(row, records)
        return session

    def open_session(self, session_id: str) -> Session:
        """The session with this id. A log that does not fold opens at its last good event,
        with `session.replay_error` saying which event is at fault. A long session opens from
        a snapshot of its folded state when one matches its log (`sessions.snapshots`)."""
        return Session.open(self.events, session_id, self.snapshots)

    def resolve_id(self, prefix: str) -> str:
        """The id of the one session whose id starts with `prefix`."""
        return self.events.resolve_prefix(prefix)

    def list_sessions(self) -> list[dict[str, Any]]:
        """Every session, newest first, with its event and message counts and last change."""
        return self.events.list_sessions()

    def check(self) -> list[dict[str, Any]]:
        """Replay every session; one row each: id, title, events, and `error` (None when it folds)."""
        results = []
        for row in self.list_sessions():
            session = Session.open(self.events, row["id"])  # the log itself, never a snapshot
            error = session.replay_error
            results.append({"id": row["id"], "title": row["title"], "events": row["events"],
                            "good_events": session.last_seq, "error": str(error) if error else None})
        return results

    def import_file(self, path: str | Path, title: str | None = None, *, format_name: str | None = None,
                    skip_invalid: bool = False, progress: Progress | None = None) -> ImportReport:
        """Import every conversation in a file (`sessions.formats` lists the formats, found from
        the content; `format_name` forces one). The file is stored whole or not at all: a bad
        record raises ImportFormatError naming every bad record and leaves the store unchanged,
        unless `skip_invalid` imports the rest. Returns the report: sessions made, counts, warnings."""
        return import_into(self.events, path, title=title, format_name=format_name, skip_invalid=skip_invalid,
                           progress=progress)

    def import_session(self, path: str | Path, title: str | None = None, **options: Any) -> Session:
        """Import a file and open the first session it made (the usual case: one conversation)."""
        return self.open_session(self.import_file(path, title, **options).first_id)
