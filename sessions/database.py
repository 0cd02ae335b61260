"""The DuckDB file: opening it briefly, sharing it between processes, migrating it.

DuckDB lets one process at a time hold a database file. The workbench app and the CLI
both want the same file, so a process holds it only while it works: a connection is
opened on first use, kept for a short linger (so the several reads of one page render
share it), and closed when idle.

Taking turns, with kernel locks. Two files sit beside the database, and both are only ever
locked with `flock`, never read for liveness: the kernel drops a lock when its process
dies, however it dies, so a killed process leaves nothing that slows the next one, and
nothing depends on PIDs (reused, and different in each container sharing a volume).

- `<name>.lock`: held exclusively by the process that has the DuckDB connection open.
  A process takes it before opening DuckDB and drops it after closing. The holder writes
  its PID, host and command into it, for the error message only.
- `<name>.wait`: the turnstile. A process kept waiting holds a shared lock on it for as
  long as it waits. A holder that finishes an operation tries, without blocking, to lock
  it exclusively: if it cannot, somebody waits, so it closes and stays off the file for a
  moment (`STEP_ASIDE_SECONDS`, or until the waiters are gone), so a busy app cannot
  starve the CLI. It closes at once if its turn (`TURN_SECONDS` since it opened) is over,
  else as soon as its burst of operations pauses: a lingering holder checks every
  `LINGER_CHECK_SECONDS`. The turn exists because a handover costs a DuckDB close and
  open (about 20 ms): the reads of one page render, or the calls of one CLI command, go
  through in one turn instead of one handover each.

Waiting is a loop of non-blocking attempts with a growing pause, until `lock_timeout`.
DuckDB's own lock is still handled the same way, since a process that ignores our lock
file (the duckdb CLI, say) may hold the database. If the wait runs out, or the folder
cannot hold the lock file, the error is one line saying who holds the file, where known,
and what to do. The lock files are never deleted: deleting a lock file while somebody
holds it would let two processes believe they hold it (DuckDB's own lock would still
protect the data, but not the turn taking).

Within a process, every `Database` on one file shares one hold on `<name>.lock` (DuckDB
shares its instance between connections to one file in one process). Threads of one
`Database` share its connection, one block at a time. No thread lock is held while a
thread waits for the file: one thread opens, the others wait on a condition, and threads
that do not need the database are never held up. `:memory:` keeps one connection for the
life of the object (it cannot be reopened).
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
import sys
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
TURN_SECONDS = 0.1  # a burst of operations keeps the file this long, even with somebody waiting
LINGER_CHECK_SECONDS = 0.01  # how often a lingering holder looks for waiters
MAX_PAUSE_SECONDS = 0.01  # the longest pause between two attempts of a waiter (a few syscalls each)
MAX_PAUSE_REFUSED_SECONDS = 0.1  # the same while DuckDB itself refuses (each attempt opens DuckDB)
_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")
_FIX = "close that process or use another file with --db or WORKBENCH_DB"


def _describe_this_process() -> str:
    words = [Path(word).name if "/" in word and not word.startswith("-") else word for word in sys.orig_argv[:4]]
    command = " ".join(" ".join(words).split())
    command = command if len(command) <= 60 else command[:57] + "..."
    return f"{os.getpid()}\t{socket.gethostname()}\t{command}\n"


class _SharedFile:
    """This process's side of the two lock files of one database (one per file, shared)."""

    def __init__(self, path: str) -> None:
        self.lock_path = f"{path}.lock"  # beside the real file, however each process names it
        self.wait_path = f"{path}.wait"
        self.guard = threading.Lock()
        self.holders = 0
        self.fd: int | None = None
        self.step_aside_until = 0.0

    @staticmethod
    def _open(path: str) -> int:
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            try:
                return os.open(path, os.O_RDONLY)  # an existing lock file we may not write still locks
            except OSError:
                error = (exc.strerror or str(exc)).lower()
        raise StoreError(
            f"cannot create the lock file {path} beside the database ({error}); use a folder you can "
            "write with --db or WORKBENCH_DB"
        ) from None

    def stepping_aside(self) -> bool:
        """Whether this process should leave the file to a waiter for now."""
        with self.guard:
            return not self.holders and time.monotonic() < self.step_aside_until and self.others_waiting()

    def try_hold(self) -> bool:
        """Take (or share, within this process) the exclusive lock, without blocking."""
        with self.guard:
            if self.holders:
                self.holders += 1
                return True
            fd = self._open(self.lock_path)
            if not _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, self.lock_path):
                return False
            self.fd, self.holders = fd, 1
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, _describe_this_process().encode(), 0)
            except OSError:
                pass  # only the error message of a waiter would miss it
            return True

    def release(self) -> None:
        with self.guard:
            if self.holders == 0:
                return
            self.holders -= 1
            if self.holders == 0 and self.fd is not None:
                fd, self.fd = self.fd, None
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def start_waiting(self) -> int | None:
        """A shared lock on the turnstile, held while waiting; None if not granted this instant."""
        try:
            fd = self._open(self.wait_path)
            if _flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, self.wait_path):
                return fd
        except StoreError:
            pass  # a turnstile we cannot make (a read-only folder) costs the turn taking, not the wait
        return None  # or a holder is testing the turnstile right now: join on the next attempt

    def others_waiting(self) -> bool:
        """Whether a process holds the turnstile, i.e. waits for the file."""
        try:
            fd = os.open(self.wait_path, os.O_RDONLY)
        except OSError:
            return False  # no turnstile yet: nobody has waited
        try:
            return not _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, self.wait_path, keep=True)
        except StoreError:
            return False
        finally:
            os.close(fd)  # closing drops the test lock too

    def holder(self) -> str | None:
        """Who holds the lock file, as its holder described itself (for messages only)."""
        try:
            with open(self.lock_path, encoding="utf-8", errors="replace") as file:
                pid, host, command = file.read(400).rstrip("\n").split("\t")
        except (OSError, ValueError):
            return None
        if not pid.isdigit():
            return None
        where = "" if host == socket.gethostname() else f" on host {host}"
        return f"{command or 'a process'} (PID {pid}{where})"


def _flock(fd: int, operation: int, path: str, keep: bool = False) -> bool:
    """True if granted; False if held by somebody else; StoreError if locks do not work there.

    Unless granted (or `keep`), `fd` is closed."""
    try:
        fcntl.flock(fd, operation)
        return True
    except BlockingIOError:
        if not keep:
            os.close(fd)
        return False
    except OSError as exc:
        if not keep:
            os.close(fd)
        raise StoreError(
            f"cannot lock {path} ({(exc.strerror or str(exc)).lower()}); keep the database on a local "
            "disk, or use another file with --db or WORKBENCH_DB"
        ) from None


_shared: dict[str, _SharedFile] = {}
_shared_guard = threading.Lock()


def _shared_file(path: str) -> _SharedFile:
    key = os.path.realpath(path)
    with _shared_guard:
        if key not in _shared:
            _shared[key] = _SharedFile(key)
        return _shared[key]


def _forget_inherited_locks() -> None:
    # A forked child shares its parent's lock files (same open file descriptions). Close its
    # copies so that the child never keeps a lock alive for, or releases it under, the parent.
    global _shared_guard
    _shared_guard = threading.Lock()
    for shared in _shared.values():
        if shared.fd is not None:
            os.close(shared.fd)
        shared.fd, shared.holders, shared.guard = None, 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_inherited_locks)


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
        self._shared: _SharedFile | None = None
        if self.in_memory:
            self._connection = duckdb.connect(":memory:")
        else:
            parent = Path(self.path).expanduser().resolve().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the folder {parent} for the database: {exc.strerror}") from None
            self._shared = _shared_file(self.path)
        with self.connect() as connection:
            migrate(connection)

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
        return connection

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


def _is_lock_error(exc: Exception) -> bool:
    message = str(exc)
    return _LOCK_HOLDER.search(message) is not None or "lock" in message.lower()
