"""The DuckDB file: opening it briefly, sharing it between processes, migrating it.

DuckDB lets one process at a time hold a database file. The workbench app and the CLI
both want the same file, so a process holds it only while it works: a connection is
opened on first use, kept for a short linger (so the several reads of one page render
share it), and closed when idle. A process that finds the file locked retries for a few
seconds; if the lock stays, it fails with one line naming the process that holds it.

Taking turns: a process that is kept waiting leaves a marker file beside the database
(`<name>.waiting.<pid>`). A holder looks for markers whenever it finishes an operation; if
another live process is waiting, it closes at once and stays off the file for a moment,
so a busy app cannot starve the CLI.

`:memory:` keeps one connection for the life of the object (it cannot be reopened).
Within a process, threads share the connection under one lock.
"""

from __future__ import annotations

import os
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from engine.errors import StoreError
from sessions.migrations import migrate

DEFAULT_LOCK_TIMEOUT = 5.0
DEFAULT_LINGER = 0.3
STEP_ASIDE_SECONDS = 1.0
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


class Database:
    """A DuckDB file (or `:memory:`) opened on demand; use `connect()` or `transaction()`."""

    def __init__(
        self,
        path: str | Path,
        *,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
        linger: float = DEFAULT_LINGER,
    ) -> None:
        self.path = str(path)
        self.in_memory = self.path == ":memory:"
        self.lock_timeout = lock_timeout
        self.linger = linger
        self._lock = threading.RLock()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._depth = 0
        self._closer: threading.Timer | None = None
        self._step_aside_until = 0.0
        if not self.in_memory:
            parent = Path(self.path).expanduser().resolve().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder {parent} for the database: {exc.strerror}") from None
        with self.connect() as connection:
            migrate(connection)

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self.in_memory:
            return duckdb.connect(":memory:")
        deadline = time.monotonic() + self.lock_timeout
        pause = 0.01
        marker = Path(f"{self.path}.waiting.{os.getpid()}")
        try:
            while True:
                try:
                    return self._checked(duckdb.connect(self.path))
                except duckdb.IOException as exc:
                    if not marker.exists():
                        marker.touch()
                    self._wait_or_fail(exc, deadline)
                    time.sleep(pause)
                    pause = min(pause * 2, 0.1)
                except duckdb.Error as exc:
                    raise StoreError(f"cannot open the database {self.path}: {str(exc).splitlines()[0]}") from None
        finally:
            marker.unlink(missing_ok=True)

    def _checked(self, connection: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
        # DuckDB opens some other files (a .json, a .csv) as an empty in-memory database;
        # writing there would silently lose everything, so refuse such a file.
        row = connection.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
        if row is None or row[0] is None:
            connection.close()
            raise StoreError(
                f"{self.path} is not a DuckDB database (is it a file to import? use "
                "`python -m sessions import FILE`); point --db or WORKBENCH_DB at a .duckdb file"
            )
        return connection

    def _wait_or_fail(self, exc: Exception, deadline: float) -> None:
        """Return if the lock is worth waiting for; raise a one-line StoreError otherwise."""
        message = str(exc)
        holder = _LOCK_HOLDER.search(message)
        if holder is None and "lock" not in message.lower():
            raise StoreError(f"cannot open the database {self.path}: {message.splitlines()[0]}") from None
        if time.monotonic() >= deadline:
            who = f"{holder.group(1)} (PID {holder.group(2)})" if holder else "another process"
            raise StoreError(
                f"the database {self.path} is in use by {who} and stayed locked for "
                f"{self.lock_timeout:g} s; close that process or use another file "
                "with --db or WORKBENCH_DB"
            ) from None

    def _others_waiting(self) -> bool:
        """Whether another live process left a marker saying it waits for this file."""
        folder, name = os.path.split(os.path.abspath(self.path))
        prefix = f"{name}.waiting."
        try:
            entries = [entry.name for entry in os.scandir(folder or ".") if entry.name.startswith(prefix)]
        except OSError:
            return False
        waiting = False
        for entry in entries:
            pid = entry[len(prefix):]
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                os.kill(int(pid), 0)
                waiting = True
            except ProcessLookupError:
                Path(folder, entry).unlink(missing_ok=True)  # left by a process that died
            except PermissionError:
                waiting = True
        return waiting

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection for the duration of the block (opening it if needed)."""
        with self._lock:
            if self._closer is not None:
                self._closer.cancel()
                self._closer = None
            if self._connection is None:
                while time.monotonic() < self._step_aside_until and self._others_waiting():
                    time.sleep(0.02)
                self._connection = self._open()
            self._depth += 1
            try:
                yield self._connection
            finally:
                self._depth -= 1
                if self._depth == 0 and not self.in_memory:
                    if self._others_waiting():
                        self._close_now()
                        self._step_aside_until = time.monotonic() + STEP_ASIDE_SECONDS
                    else:
                        self._schedule_close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside BEGIN ... COMMIT; an exception rolls everything back."""
        with self.connect() as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            try:
                connection.execute("COMMIT")
            except duckdb.Error as exc:
                raise StoreError(f"could not commit to {self.path}: {str(exc).splitlines()[0]}") from None

    def _schedule_close(self) -> None:
        if self.linger <= 0:
            self._close_now()
            return
        self._closer = threading.Timer(self.linger, self._close_if_idle)
        self._closer.daemon = True
        self._closer.start()

    def _close_if_idle(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._close_now()

    def _close_now(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        """Release the file now (the store reopens it on next use)."""
        with self._lock:
            if self._closer is not None:
                self._closer.cancel()
                self._closer = None
            if self._depth == 0:
                self._close_now()
