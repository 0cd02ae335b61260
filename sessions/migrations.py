"""Schema migrations, as a named list applied in order on every open.

A migration runs once; its name is recorded in `_migrations`. Never edit one that has
shipped: add a new one. The events table is append-only by convention: nothing in the
workbench updates or deletes an event row.
"""

from __future__ import annotations

import duckdb

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_sessions_and_events",
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
        """,
    ),
    (
        "002_sessions_imported_from",
        "ALTER TABLE sessions ADD COLUMN imported_from VARCHAR;",
    ),
]


def migrate(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations this database lacks; return their names."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT now())"
    )
    done = {row[0] for row in connection.execute("SELECT name FROM _migrations").fetchall()}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute(sql)
            connection.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        applied.append(name)
    return applied
