"""`SessionStore`: sessions and their events in one DuckDB file.

The `events` table is the only truth; a `sessions` row holds a title and where a fork came
from. Bulk writes (imports, forks) go through an Arrow table in one statement; single
turns use plain inserts inside the session's transaction.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Sequence

import pyarrow as pa

from engine import SessionNotFound, WorkbenchError
from sessions.database import Database
from sessions.records import EventRecord, canonical_json, utc_now
from sessions.session import Session

DB_ENV = "WORKBENCH_DB"
_BULK = 16


def default_db_path() -> Path:
    """`$WORKBENCH_DB`, else `<XDG data home>/context-workbench/workbench.duckdb`."""
    if os.environ.get(DB_ENV):
        return Path(os.environ[DB_ENV]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(data_home) / "context-workbench" / "workbench.duckdb"


class SessionStore:
    """Creates, opens, lists and imports sessions held in one DuckDB file (or `:memory:`)."""

    def __init__(self, path: str | Path | None = None, *, lock_timeout: float | None = None, linger: float | None = None) -> None:
        self.path = str(path) if path is not None else str(default_db_path())
        options = {k: v for k, v in {"lock_timeout": lock_timeout, "linger": linger}.items() if v is not None}
        self.db = Database(self.path, **options)

    def __repr__(self) -> str:
        return f"<SessionStore {self.path}>"

    def close(self) -> None:
        """Release the database file now; the store reopens it when used again."""
        self.db.close()

    # ---- rows and events (used by Session) ---------------------------------------------

    @staticmethod
    def last_seq(connection, session_id: str) -> int:
        row = connection.execute("SELECT max(seq) FROM events WHERE session_id = ?", [session_id]).fetchone()
        return row[0] or 0

    @staticmethod
    def load_records(connection, session_id: str, after: int = 0) -> list[EventRecord]:
        rows = connection.execute(
            "SELECT seq, ts, kind, payload FROM events WHERE session_id = ? AND seq > ? ORDER BY seq",
            [session_id, after],
        ).fetchall()
        return [EventRecord.from_row(*row) for row in rows]

    @staticmethod
    def insert_records(connection, session_id: str, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        if len(records) < _BULK:
            for record in records:
                connection.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                    [session_id, record.seq, record.ts, record.kind, canonical_json(record.payload())],
                )
            return
        table = pa.table(
            {
                "session_id": pa.array([session_id] * len(records), pa.string()),
                "seq": pa.array([r.seq for r in records], pa.int64()),
                "ts": pa.array([r.ts for r in records], pa.timestamp("us")),
                "kind": pa.array([r.kind for r in records], pa.string()),
                "payload": pa.array([canonical_json(r.payload()) for r in records], pa.string()),
            }
        )
        connection.register("_incoming_events", table)
        try:
            connection.execute(
                "INSERT INTO events SELECT session_id, seq, ts, kind, payload FROM _incoming_events"
            )
        finally:
            connection.unregister("_incoming_events")

    @staticmethod
    def _row(connection, session_id: str) -> dict[str, Any]:
        row = connection.execute(
            "SELECT id, title, created_at, forked_from, forked_at, imported_from FROM sessions WHERE id = ?", [session_id]
        ).fetchone()
        if row is None:
            raise SessionNotFound(f"no session {session_id!r}; `python -m sessions list` shows the sessions")
        return dict(zip(("id", "title", "created_at", "forked_from", "forked_at", "imported_from"), row))

    # ---- public ------------------------------------------------------------------------

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
        if not isinstance(title, str) or not title.strip():
            raise WorkbenchError("a session needs a title that is not empty")
        if [r.seq for r in records] != list(range(1, len(records) + 1)):
            raise WorkbenchError("event records must be numbered 1, 2, 3, ... without gaps")
        row = {
            "id": uuid.uuid4().hex[:12],
            "title": title.strip(),
            "created_at": utc_now(),
            "forked_from": forked_from,
            "forked_at": forked_at,
            "imported_from": imported_from,
        }
        session = Session(self, row, list(records))  # folds the events first: a bad log raises here
        with self.db.transaction() as connection:
            connection.execute(
                "INSERT INTO sessions (id, title, created_at, forked_from, forked_at, imported_from) VALUES (?, ?, ?, ?, ?, ?)",
                list(row.values()),
            )
            self.insert_records(connection, row["id"], records)
        return session

    def open_session(self, session_id: str) -> Session:
        with self.db.connect() as connection:
            row = self._row(connection, session_id)
            return Session(self, row, self.load_records(connection, session_id))

    def resolve_id(self, prefix: str) -> str:
        """The id of the one session whose id starts with `prefix`."""
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT id FROM sessions WHERE starts_with(id, ?) ORDER BY id LIMIT 6", [prefix]
            ).fetchall()
        ids = [row[0] for row in rows]
        if prefix in ids or len(ids) == 1:
            return prefix if prefix in ids else ids[0]
        if not ids:
            raise SessionNotFound(f"no session {prefix!r}; `python -m sessions list` shows the sessions")
        raise SessionNotFound(f"{prefix!r} matches several sessions ({', '.join(ids[:5])}); give more of the id")

    def list_sessions(self) -> list[dict[str, Any]]:
        """Every session, newest first, with its event and message counts and last change."""
        with self.db.connect() as connection:
            rows = connection.execute(
                """
                SELECT s.id, s.title, s.created_at, s.forked_from, s.forked_at, s.imported_from,
                       count(e.seq) AS events,
                       count(e.seq) FILTER (WHERE e.kind = 'message_added') AS messages,
                       coalesce(max(e.ts), s.created_at) AS updated_at
                FROM sessions s LEFT JOIN events e ON e.session_id = s.id
                GROUP BY s.id, s.title, s.created_at, s.forked_from, s.forked_at, s.imported_from
                ORDER BY s.created_at DESC, s.id
                """
            ).fetchall()
        keys = ("id", "title", "created_at", "forked_from", "forked_at", "imported_from", "events", "messages", "updated_at")
        return [dict(zip(keys, row)) for row in rows]

    def import_file(self, path: str | Path, title: str | None = None) -> Session:
        """Import a workbench trace (JSON lines) or an OpenAI-format message list.

        The whole file is checked before anything is written; a bad file raises
        ImportFormatError naming the line or item at fault and leaves the store unchanged.
        """
        from sessions.traces import read_import

        parsed = read_import(Path(path))
        return self.create_session(
            title or parsed.title,
            records=parsed.records,
            forked_from=parsed.forked_from,
            forked_at=parsed.forked_at,
            imported_from=Path(path).name + (f" (session {parsed.source_id})" if parsed.source_id else ""),
        )
