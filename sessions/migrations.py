"""Schema migrations: one named list per SQL dialect, applied in order on every open.

A migration is a function of a connection, so it may move data as well as change the
schema (as `llm/migrations.py` does). Each runs once, in its own transaction, and its name
is recorded in `_migrations`. Never edit one that has shipped: add a new one. A server
database gets its own list beside DuckDB's, under the same names where the change is the
same. The events table is append-only by convention: nothing updates or deletes an event.
"""

from __future__ import annotations

from typing import Any, Callable

Migration = tuple[str, Callable[[Any], None]]


def _sessions_and_events(connection) -> None:
    connection.execute(
        """
        CREATE TABLE sessions (
            id VARCHAR PRIMARY KEY,
            title VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL,
            forked_from VARCHAR,
            forked_at BIGINT
        );
        CREATE TABLE events (
            session_id VARCHAR NOT NULL,
            seq BIGINT NOT NULL,
            ts TIMESTAMP NOT NULL,
            kind VARCHAR NOT NULL,
            payload VARCHAR NOT NULL,  -- canonical JSON; VARCHAR because DuckDB's JSON type refuses lone surrogate escapes
            PRIMARY KEY (session_id, seq)
        );
        """
    )


def _sessions_imported_from(connection) -> None:
    connection.execute("ALTER TABLE sessions ADD COLUMN imported_from VARCHAR")


def _events_actor(connection) -> None:
    # who wrote each event (`engine.actors.Actor` as JSON); NULL for events written before
    connection.execute("ALTER TABLE events ADD COLUMN actor VARCHAR")


DUCKDB: list[Migration] = [
    ("001_sessions_and_events", _sessions_and_events),
    ("002_sessions_imported_from", _sessions_imported_from),
    ("003_events_actor", _events_actor),
]

# PostgreSQL: the same tables and names (TEXT is its VARCHAR; payloads stay text, not jsonb, so
# they come back byte for byte as written). No foreign keys, as in DuckDB: a fork's parent may
# be copied to another store without it.
def _pg_sessions_and_events(connection) -> None:
    connection.execute(
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            created_at TIMESTAMP NOT NULL,
            forked_from TEXT,
            forked_at BIGINT
        );
        CREATE TABLE events (
            session_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            ts TIMESTAMP NOT NULL,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        );
        """
    )


def _pg_sessions_imported_from(connection) -> None:
    connection.execute("ALTER TABLE sessions ADD COLUMN imported_from TEXT")


def _pg_events_actor(connection) -> None:
    connection.execute("ALTER TABLE events ADD COLUMN actor TEXT")


POSTGRESQL: list[Migration] = [
    ("001_sessions_and_events", _pg_sessions_and_events),
    ("002_sessions_imported_from", _pg_sessions_imported_from),
    ("003_events_actor", _pg_events_actor),
]

MIGRATIONS: dict[str, list[Migration]] = {"duckdb": DUCKDB, "postgresql": POSTGRESQL}
MARKERS = {"duckdb": "?", "postgresql": "%s"}  # each driver's parameter marker


def apply_migrations(connection, migrations: list[Migration], marker: str = "?") -> list[str]:
    """Apply the migrations this database lacks, each in its own transaction; return their names.
    (On PostgreSQL the connection is in autocommit mode, so BEGIN and COMMIT are ours.)"""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT now())"
    )
    done = {row[0] for row in connection.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, migration in migrations:
        if name in done:
            continue
        connection.execute("BEGIN TRANSACTION")
        try:
            migration(connection)
            connection.execute(f"INSERT INTO _migrations (name) VALUES ({marker})", [name])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def migrate(connection, dialect: str = "duckdb") -> list[str]:
    """Bring a database of `dialect` up to date; return the names of the migrations applied."""
    return apply_migrations(connection, MIGRATIONS[dialect], MARKERS[dialect])
