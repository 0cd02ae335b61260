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


DUCKDB: list[Migration] = [
    ("001_sessions_and_events", _sessions_and_events),
    ("002_sessions_imported_from", _sessions_imported_from),
]

MIGRATIONS: dict[str, list[Migration]] = {"duckdb": DUCKDB}


def apply_migrations(connection, migrations: list[Migration]) -> list[str]:
    """Apply the migrations this database lacks, each in its own transaction; return their names."""
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
            connection.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied


def migrate(connection, dialect: str = "duckdb") -> list[str]:
    """Bring a database of `dialect` up to date; return the names of the migrations applied."""
    return apply_migrations(connection, MIGRATIONS[dialect])
