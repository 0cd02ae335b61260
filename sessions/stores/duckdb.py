"""The DuckDB event store: sessions and their events in one file (or `:memory:`).

The `events` table is the only truth; a `sessions` row holds a title and where a fork or
an import came from. Sharing the file between processes (the app and the CLI) is
`sessions.database`'s job; this module is the SQL. Bulk writes (imports, forks) go through
an Arrow table in one statement, never `executemany`; a model step's few events use plain
inserts inside its transaction.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from engine.actors import ActorOf
from engine.errors import StoreError
from engine.records import EventRecord, canonical_json
from sessions.database import Database
from sessions.stores.base import (LISTING_COLUMNS, LISTING_SQL, SESSION_COLUMNS, Build, NewSession, SessionRow, Stamp, StoredEvent,
                                  no_session, one_for_prefix, stamped)

_BULK = 16
_STAGED_BATCH = 20_000  # events buffered before a staged import writes them out
EVENT_COLUMNS = "session_id, seq, ts, kind, payload, actor"
_COPIED = "seq, ts, kind, payload, actor"  # what a fork or a branch copies of another session's events


class DuckDBEventStore:
    """`EventStore` over one DuckDB file; see `sessions.stores.base` for the contract."""

    shared = False  # one machine's file: the actor is enough, no user or host
    read_only = False

    def __init__(self, path: str | Path, *, lock_timeout: float | None = None, linger: float | None = None) -> None:
        self.location = str(path)
        self.stamp = Stamp()
        options = {k: v for k, v in {"lock_timeout": lock_timeout, "linger": linger}.items() if v is not None}
        self.db = Database(self.location, **options)

    def __repr__(self) -> str:
        return f"<DuckDBEventStore {self.location}>"

    # ---- reading ---------------------------------------------------------------------

    def list_sessions(self) -> list[dict[str, Any]]:
        with self.db.connect() as connection:
            rows = connection.execute(LISTING_SQL).fetchall()
        return [dict(zip(LISTING_COLUMNS, row)) for row in rows]

    def resolve_prefix(self, prefix: str) -> str:
        with self.db.connect() as connection:
            rows = connection.execute("SELECT id FROM sessions WHERE starts_with(id, ?) ORDER BY id LIMIT 6",
                                      [prefix]).fetchall()
        return one_for_prefix(prefix, [row[0] for row in rows])

    def session_row(self, session_id: str) -> SessionRow:
        with self.db.connect() as connection:
            return self._row(connection, session_id)

    def load(self, session_id: str, after: int = 0, upto: int | None = None) -> list[StoredEvent]:
        with self.db.connect() as connection:
            return self._load(connection, session_id, after, upto)

    def fingerprint(self, session_id: str, upto: int) -> str:
        # DuckDB hashes the rows in its own threads: about 30 ms for the 100k events (40 MB) of a
        # 10M-token session, against seconds to read and fold them. Its hash may change between
        # DuckDB versions; a fingerprint that no longer matches only means folding the log again.
        with self.db.connect() as connection:
            count, last, total = connection.execute(
                "SELECT count(*), max(seq), sum(hash(seq, ts, kind, payload)) FROM events "
                "WHERE session_id = ? AND seq <= ?", [session_id, upto]
            ).fetchone()
        return f"duckdb {duckdb.__version__}: {count} events to {last}, {total}"

    # ---- writing ---------------------------------------------------------------------

    def create(self, row: SessionRow, records: Sequence[EventRecord]) -> None:
        with self.db.transaction() as connection:
            connection.execute(
                f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                [getattr(row, name) for name in SESSION_COLUMNS],
            )
            self._insert(connection, row.id, [stamped(record, self.stamp) for record in records])

    def append(self, session_id: str, after: int, build: Build,
               actor_of: ActorOf | None = None) -> tuple[list[StoredEvent], list[EventRecord]]:
        with self.db.transaction() as connection:
            fresh = self._load(connection, session_id, after)
            if not fresh:
                self._holds(connection, session_id, after)
            events = list(build(fresh))
            records = self.stamp.records(fresh[-1].seq if fresh else after, events, actor_of)
            self._insert(connection, session_id, records)
        return fresh, records

    def _holds(self, connection: Any, session_id: str, after: int) -> None:
        """Refuse to number new events after `after` unless the store holds exactly that many:
        fewer means the file changed under the caller (a restored copy), and the append would
        leave a gap that stops the log from replaying."""
        [(stored,)] = connection.execute("SELECT coalesce(max(seq), 0) FROM events WHERE session_id = ?",
                                         [session_id]).fetchall()  # fetched to the end: the connection goes on
        if stored != after:
            raise StoreError(f"session {session_id} holds {stored} events in {self.location} but this "
                             f"program has read {after}: the database changed under it; restart it to read it afresh")

    def fork(self, source_id: str, at: int, row: SessionRow) -> None:
        with self.db.transaction() as connection:
            self._row(connection, source_id)
            connection.execute(
                f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                [getattr(row, name) for name in SESSION_COLUMNS],
            )
            connection.execute(  # copied inside the database: a long prefix never passes through Python
                f"INSERT INTO events ({EVENT_COLUMNS}) SELECT ?, {_COPIED} FROM events WHERE session_id = ? AND seq <= ?",
                [row.id, source_id, at],
            )

    def create_many(self, sessions: Iterable[NewSession]) -> int:
        """Staged: the events go to a Parquet file as the iterable yields them (bounded memory,
        the store not held), then one transaction inserts the rows and the staged events, and
        copies each branch's shared events from its parent inside the database."""
        rows: list[SessionRow] = []
        copies: list[tuple[str, str, int]] = []
        with tempfile.TemporaryDirectory(prefix="workbench-import-") as folder:
            staged = Path(folder) / "events.parquet"
            writer: pq.ParquetWriter | None = None
            buffered: list[tuple[str, list[EventRecord]]] = []
            count = 0
            try:
                for new in sessions:
                    rows.append(new.row)
                    buffered.append((new.row.id, [stamped(record, self.stamp) for record in new.records]))
                    count += len(new.records)
                    if new.copy_from is not None and new.copy_count:
                        copies.append((new.row.id, new.copy_from, new.copy_count))
                    if count >= _STAGED_BATCH:
                        writer = _write_staged(writer, staged, buffered)
                        buffered, count = [], 0
                if buffered:
                    writer = _write_staged(writer, staged, buffered)
            finally:
                if writer is not None:
                    writer.close()
            if not rows:
                return 0
            sessions_table = pa.table({name: [getattr(row, name) for row in rows] for name in SESSION_COLUMNS},
                                      schema=_SESSIONS_SCHEMA)
            with self.db.transaction() as connection:
                connection.register("_incoming_sessions", sessions_table)
                try:
                    connection.execute(f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) "
                                       f"SELECT {', '.join(SESSION_COLUMNS)} FROM _incoming_sessions")
                finally:
                    connection.unregister("_incoming_sessions")
                if writer is not None:
                    connection.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} "
                                       "FROM read_parquet(?)", [str(staged)])
                for session_id, source_id, count in copies:  # parents come first, so theirs are whole
                    connection.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT ?, {_COPIED} FROM events "
                                       "WHERE session_id = ? AND seq <= ?", [session_id, source_id, count])
        return len(rows)

    def insert_exact(self, sessions: Iterable[tuple[SessionRow, Sequence[StoredEvent]]]) -> None:
        with self.db.transaction() as connection:  # a session at a time: memory holds the largest, not all
            for row, events in sessions:
                if _taken(connection, [row.id]):
                    raise StoreError(f"{self.location} already holds session {row.id}; nothing was copied "
                                     "(copy the others by naming them, or into another store)")
                connection.execute(f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?)",
                                   [getattr(row, name) for name in SESSION_COLUMNS])
                table = _stored_table([(row.id, events)])
                if not table.num_rows:
                    continue
                connection.register("_incoming_events", table)
                try:
                    connection.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM _incoming_events")
                finally:
                    connection.unregister("_incoming_events")

    def refusal(self) -> StoreError:
        return StoreError(f"{self.location} is read-only for this process")  # never: a file this process opened writes

    def change_token(self) -> tuple:
        return self.db.change_token()  # a stat of the file and its .wal, never a connection

    def close(self) -> None:
        self.db.close()

    # ---- SQL ---------------------------------------------------------------------------

    @staticmethod
    def _row(connection, session_id: str) -> SessionRow:
        found = connection.execute(
            f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE id = ?", [session_id]
        ).fetchone()
        if found is None:
            raise no_session(session_id)
        return SessionRow(*found)

    @staticmethod
    def _load(connection, session_id: str, after: int, upto: int | None = None) -> list[StoredEvent]:
        rows = connection.execute(
            "SELECT seq, ts, kind, payload, actor FROM events WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
            [session_id, after, upto if upto is not None else 2 ** 62],
        ).fetchall()
        return [StoredEvent(*row) for row in rows]

    @staticmethod
    def _insert(connection, session_id: str, records: Sequence[EventRecord]) -> None:
        if not records:
            return
        if len(records) < _BULK:
            for record in records:
                connection.execute(
                    f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    [session_id, record.seq, record.ts, record.kind, canonical_json(record.payload()),
                     record.actor_json()],
                )
            return
        table = _events_table([(session_id, list(records))])
        connection.register("_incoming_events", table)
        try:
            connection.execute(f"INSERT INTO events ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM _incoming_events")
        finally:
            connection.unregister("_incoming_events")


_SESSIONS_SCHEMA = pa.schema([
    ("id", pa.string()), ("title", pa.string()), ("created_at", pa.timestamp("us")), ("forked_from", pa.string()),
    ("forked_at", pa.int64()), ("imported_from", pa.string()),
])


def _events_table(sessions: list[tuple[str, list[EventRecord]]]) -> pa.Table:
    return _table([(session_id, r.seq, r.ts, r.kind, canonical_json(r.payload()), r.actor_json())
                   for session_id, records in sessions for r in records])


def _stored_table(sessions: list[tuple[str, Sequence[StoredEvent]]]) -> pa.Table:
    return _table([(session_id, e.seq, e.ts, e.kind, e.payload_json, e.actor_json)
                   for session_id, events in sessions for e in events])


_EVENTS_SCHEMA = pa.schema([
    ("session_id", pa.string()), ("seq", pa.int64()), ("ts", pa.timestamp("us")), ("kind", pa.string()),
    ("payload", pa.string()), ("actor", pa.string()),
])


def _table(rows: list[tuple]) -> pa.Table:
    columns = list(zip(*rows)) if rows else [[] for _ in _EVENTS_SCHEMA]
    return pa.table([pa.array(column, field.type) for column, field in zip(columns, _EVENTS_SCHEMA)],
                    schema=_EVENTS_SCHEMA)


def _taken(connection, ids: list[str]) -> list[str]:
    if not ids:
        return []
    rows = connection.execute("SELECT id FROM sessions WHERE list_contains(?, id) ORDER BY id", [ids]).fetchall()
    return [row[0] for row in rows]


def _write_staged(writer: "pq.ParquetWriter | None", path: Path,
                  sessions: list[tuple[str, list[EventRecord]]]) -> "pq.ParquetWriter":
    table = _events_table(sessions)
    if writer is None:
        writer = pq.ParquetWriter(str(path), table.schema)
    writer.write_table(table)
    return writer
