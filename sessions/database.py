"""The DuckDB file: opening it briefly, sharing it between processes, migrating it.

DuckDB lets one process at a time hold a database file. The workbench app and the CLI
both want the same file, so a process holds it only while it works: a connection is
opened on first use, kept for a short linger (so the several reads of one page render
share it), and closed when idle.

Taking turns: the process with the connection open holds an advisory lock on `<name>.lock`,
and a process kept waiting holds one on the turnstile `<name>.wait`, so a busy holder steps
aside (`sessions.file_locks` says how and why). Waiting is a loop of non-blocking attempts
with a growing pause, until `lock_timeout`.

Within a process, every `Database` on one file shares one hold on `<name>.lock` (DuckDB
shares its instance between connections to one file in one process). Threads of one
`Database` share its connection, one block at a time. No thread lock is held while a
thread waits for the file: one thread opens, the others wait on a condition, and threads
that do not need the database are never held up. `:memory:` keeps one connection for the
life of the object (it cannot be reopened).

Watching for change without opening the file: `change_token()` is the file's and its
write-ahead log's size and modification time, a stat each. DuckDB appends every commit to
`<name>.wal` (its size grows) and folds the log into the file when the last connection closes
(the file is rewritten, the log removed); a read leaves both alone. So a page that polls for
other processes' events costs a stat while nothing happens, and opens DuckDB only once the
token moved. `:memory:` counts its commits instead.
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import duckdb

from engine.errors import StoreError
from sessions.file_locks import SharedFile, shared_file
from sessions.migrations import migrate

DEFAULT_LOCK_TIMEOUT = 5.0
DEFAULT_LINGER = 0.3
STEP_ASIDE_SECONDS = 1.0
TURN_SECONDS = 0.1  # a burst of operations keeps the file this long, even with somebody waiting
LINGER_CHECK_SECONDS = 0.01  # how often a lingering holder looks for waiters
MAX_PAUSE_SECONDS = 0.01  # the longest pause between two attempts of a waiter (a few syscalls each)
MAX_PAUSE_REFUSED_SECONDS = 0.1  # the same while DuckDB itself refuses (each attempt opens DuckDB)
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")
_FIX = "close that process or use another file with --db or WORKBENCH_DB"


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
        self._use = threading.RLock()  # one block at a time uses the connection
        self._state = threading.Condition(threading.Lock())  # guards everything below; never held while waiting
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._users = 0  # threads inside connect(), opening or using
        self._opening = False
        self._closer: threading.Event | None = None  # set: the lingering thread stops
        self._close_at = 0.0
        self._turn_ends = 0.0
        self._shared: SharedFile | None = None
        self._commits = 0  # `:memory:`'s change token: commits so far
        if self.in_memory:
            self._connection = duckdb.connect(":memory:")
        else:
            parent = Path(self.path).expanduser().resolve().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder {parent} for the database: {exc.strerror}") from None
            self._shared = shared_file(self.path)
        with self.connect() as connection:
            migrate(connection)
        self._identity = None if self.in_memory else _identity(self.path)  # the file we migrated

    def change_token(self) -> tuple:
        """A value that moves whenever a transaction committed to this database, in any process
        (equal tokens: nothing was committed in between); it never opens the database."""
        if self.in_memory:
            return ("memory", self._commits)
        return tuple(_stat(name) for name in (self.path, f"{self.path}.wal"))

    # ---- opening -----------------------------------------------------------------------

    def _open(self, deadline: float) -> duckdb.DuckDBPyConnection:
        """Wait for the file (holding no thread lock) and open it; StoreError when it stays locked."""
        shared = self._shared
        waiting: int | None = None  # our hold on the turnstile while we wait
        refused: Exception | None = None  # DuckDB's lock error, when DuckDB itself refused
        pause = 0.001
        try:
            while True:
                # While this process steps aside, it neither tries nor queues: the waiters go first.
                if waiting is not None or not shared.stepping_aside():
                    if shared.try_hold():
                        try:
                            self._still_there()
                            return self._checked(duckdb.connect(self.path))
                        except duckdb.IOException as exc:
                            shared.release()
                            if not _is_lock_error(exc):
                                raise self._cannot_open(exc) from None
                            refused = exc  # held by a process that ignores our lock file
                        except duckdb.Error as exc:
                            shared.release()
                            raise self._cannot_open(exc) from None
                        except BaseException:
                            shared.release()
                            raise
                    else:
                        refused = None
                    if waiting is None:
                        waiting = shared.start_waiting()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._stayed_locked(refused)
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, MAX_PAUSE_SECONDS if refused is None else MAX_PAUSE_REFUSED_SECONDS)
        finally:
            if waiting is not None:
                os.close(waiting)

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
        known = getattr(self, "_identity", None)
        if known is not None and _identity(self.path) != known:
            connection.close()
            raise self._replaced()
        return connection

    def _still_there(self) -> None:
        """Refuse a file removed since it was migrated, before DuckDB makes a new, empty one there."""
        if getattr(self, "_identity", None) is not None and not os.path.exists(self.path):
            raise self._replaced()

    def _replaced(self) -> StoreError:
        # what this process holds of its sessions is not what the file holds (gone, or a restored
        # copy), and an append would leave a gap in a session's log
        return StoreError(f"the database file {self.path} was removed or replaced while this program ran; "
                          "restart it (the workbench, the MCP server) to use the file as it is now")

    def _cannot_open(self, exc: Exception) -> StoreError:
        reason = str(exc).splitlines()[0]
        if "permission denied" in reason.lower() or "read-only" in reason.lower():
            reason += "; use a file you can write with --db or WORKBENCH_DB"
        return StoreError(f"cannot open the database {self.path}: {reason}")

    def _stayed_locked(self, refused: Exception | None) -> StoreError:
        found = _LOCK_HOLDER.search(str(refused)) if refused is not None else None
        if found:
            who = f"{found.group(1)} (PID {found.group(2)})"
        else:
            who = (self._shared.holder() if refused is None else None) or "another process"
        return StoreError(
            f"the database {self.path} is in use by {who} and stayed locked for "
            f"{self.lock_timeout:g} s; {_FIX}"
        )

    # ---- using -------------------------------------------------------------------------

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection for the duration of the block (opening it if needed)."""
        if self.in_memory:
            with self._use:
                yield self._connection
            return
        deadline = time.monotonic() + self.lock_timeout
        with self._state:
            self._users += 1  # from here on nobody closes the connection under us
            self._cancel_closer()
        try:
            self._ensure_open(deadline)
            with self._use:
                yield self._connection
        finally:
            with self._state:
                self._users -= 1
                if self._users == 0:
                    self._after_use()

    def _ensure_open(self, deadline: float) -> None:
        with self._state:
            while self._connection is None and self._opening:
                self._state.wait()  # another thread opens it; its deadline comes before ours
            if self._connection is not None:
                return
            self._opening = True
        connection = None
        try:
            connection = self._open(deadline)
            self._turn_ends = time.monotonic() + TURN_SECONDS
        finally:
            with self._state:
                self._connection, self._opening = connection, False
                self._state.notify_all()

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
            self._commits += 1

    # ---- closing (callers hold self._state) ----------------------------------------------

    def _after_use(self) -> None:
        if self._connection is None:
            return
        waiting = self._shared.others_waiting()
        if waiting and (self.linger <= 0 or time.monotonic() >= self._turn_ends):
            self._step_aside()
        elif self.linger <= 0:
            self._close_now()
        else:  # lingering; with somebody waiting, only until this burst of operations pauses
            self._close_at = time.monotonic() + self.linger
            self._schedule_close()

    def _step_aside(self) -> None:
        self._close_now()
        self._shared.step_aside_until = time.monotonic() + STEP_ASIDE_SECONDS

    def _schedule_close(self) -> None:
        _open_databases.add(self)
        cancelled = threading.Event()
        self._closer = cancelled
        threading.Thread(target=self._linger, args=(cancelled,), name="database-linger", daemon=True).start()

    def _linger(self, cancelled: threading.Event) -> None:
        """Close once idle for `linger`, or at once when somebody waits (no lock held between checks)."""
        while not cancelled.wait(LINGER_CHECK_SECONDS):
            with self._state:
                if cancelled.is_set() or self._users or self._connection is None:
                    return
                if self._shared.others_waiting():
                    self._step_aside()
                elif time.monotonic() >= self._close_at:
                    self._close_now()
                else:
                    continue
                if self._closer is cancelled:
                    self._closer = None
                return

    def _cancel_closer(self) -> None:
        if self._closer is not None:
            self._closer.set()
            self._closer = None

    def _close_now(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            try:
                connection.close()
            finally:
                self._shared.release()  # only once DuckDB has let go of the file

    def close(self) -> None:
        """Release the file now (the store reopens it on next use)."""
        if self.in_memory:
            return
        with self._state:
            self._cancel_closer()
            if self._users == 0:
                self._close_now()


_open_databases: "weakref.WeakSet[Database]" = weakref.WeakSet()


@atexit.register
def _close_all_at_exit() -> None:
    # At exit, a lingering thread caught closing a connection while the interpreter finalizes
    # would be unwound inside DuckDB's C++ and abort the process; close everything first.
    for database in list(_open_databases):
        try:
            database.close()
        except Exception as exc:  # exiting anyway: say so, but do not hide the real exit status
            print(f"warning: could not close {database.path} at exit: {exc}", file=sys.stderr)


def _stat(path: str) -> tuple[int, int, int] | None:
    """(inode, size, mtime in ns) of a file, or None when it does not exist."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_size, found.st_mtime_ns


def _identity(path: str) -> tuple[int, int] | None:
    """The file's device and inode: a new file at the same path has others."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def _is_lock_error(exc: Exception) -> bool:
    message = str(exc)
    return _LOCK_HOLDER.search(message) is not None or "lock" in message.lower()
