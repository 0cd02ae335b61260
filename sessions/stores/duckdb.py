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

from engine.errors import SessionNotFound, StoreError
from engine.records import EventRecord, canonical_json, utc_now
from sessions.database import Database
from sessions.stores.base import LISTING_COLUMNS, SESSION_COLUMNS, Build, NewSession, SessionRow, StoredEvent

_BULK = 16
_STAGED_BATCH = 20_000  # events buffered before a staged import writes them out


class DuckDBEventStore:
    """`EventStore` over one DuckDB file; see `sessions.stores.base` for the contract."""

    def __init__(self, path: str | Path, *, lock_timeout: float | None = None, linger: float | None = None) -> None:
        self.location = str(path)
        options = {k: v for k, v in {"lock_timeout": lock_timeout, "linger": linger}.items() if v is not None}
        self.db = Database(self.location, **options)

    def __repr__(self) -> str:
        return f"<DuckDBEventStore {self.location}>"

    # ---- reading ---------------------------------------------------------------------

    def list_sessions(self) -> list[dict[str, Any]]:
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
        return [dict(zip(LISTING_COLUMNS, row)) for row in rows]

    def resolve_prefix(self, prefix: str) -> str:
        with self.db.connect() as connection:
            rows = connection.execute(
                "SELECT id FROM sessions WHERE starts_with(id, ?) ORDER BY id LIMIT 6", [prefix]
            ).fetchall()
        ids = [row[0] for row in rows]
        if prefix in ids:
            return prefix
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise SessionNotFound(f"no session {prefix[:60]!r}; `python -m sessions list` shows the sessions")
        raise SessionNotFound(f"{prefix!r} matches several sessions ({', '.join(ids[:5])}); give more of the id")

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
            self._insert(connection, row.id, records)

    def append(self, session_id: str, after: int, build: Build) -> tuple[list[StoredEvent], list[EventRecord]]:
        with self.db.transaction() as connection:
            fresh = self._load(connection, session_id, after)
            if not fresh:
                self._holds(connection, session_id, after)
            events = list(build(fresh))
            start = fresh[-1].seq if fresh else after
            now = utc_now()
            records = [EventRecord(start + offset, now, event) for offset, event in enumerate(events, start=1)]
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
                "INSERT INTO events SELECT ?, seq, ts, kind, payload FROM events WHERE session_id = ? AND seq <= ?",
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
                    buffered.append((new.row.id, list(new.records)))
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
                    connection.execute("INSERT INTO events SELECT session_id, seq, ts, kind, payload "
                                       "FROM read_parquet(?)", [str(staged)])
                for session_id, source_id, count in copies:  # parents come first, so theirs are whole
                    connection.execute("INSERT INTO events SELECT ?, seq, ts, kind, payload FROM events "
                                       "WHERE session_id = ? AND seq <= ?", [session_id, source_id, count])
        return len(rows)

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
            raise SessionNotFound(f"no session {str(session_id)[:60]!r}; `python -m sessions list` shows the sessions")
        return SessionRow(*found)

    @staticmethod
    def _load(connection, session_id: str, after: int, upto: int | None = None) -> list[StoredEvent]:
        rows = connection.execute(
            "SELECT seq, ts, kind, payload FROM events WHERE session_id = ? AND seq > ? AND seq <= ? ORDER BY seq",
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
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                    [session_id, record.seq, record.ts, record.kind, canonical_json(record.payload())],
                )
            return
        table = _events_table([(session_id, list(records))])
        connection.register("_incoming_events", table)
        try:
            connection.execute("INSERT INTO events SELECT session_id, seq, ts, kind, payload FROM _incoming_events")
        finally:
            connection.unregister("_incoming_events")


_SESSIONS_SCHEMA = pa.schema([
    ("id", pa.string()), ("title", pa.string()), ("created_at", pa.timestamp("us")), ("forked_from", pa.string()),
    ("forked_at", pa.int64()), ("imported_from", pa.string()),
])


def _events_table(sessions: list[tuple[str, list[EventRecord]]]) -> pa.Table:
    pairs = [(session_id, record) for session_id, records in sessions for record in records]
    return pa.table(
        {
            "session_id": pa.array([session_id for session_id, _ in pairs], pa.string()),
            "seq": pa.array([r.seq for _, r in pairs], pa.int64()),
            "ts": pa.array([r.ts for _, r in pairs], pa.timestamp("us")),
            "kind": pa.array([r.kind for _, r in pairs], pa.string()),
            "payload": pa.array([canonical_json(r.payload()) for _, r in pairs], pa.string()),
        }
    )


def _write_staged(writer: "pq.ParquetWriter | None", path: Path,
                  sessions: list[tuple[str, list[EventRecord]]]) -> "pq.ParquetWriter":
    table = _events_table(sessions)
    if writer is None:
        writer = pq.ParquetWriter(str(path), table.schema)
    writer.write_table(table)
    return writer
