"""Kernel locks beside a database file: who holds it, and who waits for it.

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

Within a process, every `Database` on one file shares one `SharedFile` (DuckDB shares its
instance between connections to one file in one process).
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
import threading
import time
from pathlib import Path

from engine.errors import StoreError


def _describe_this_process() -> str:
    words = [Path(word).name if "/" in word and not word.startswith("-") else word for word in sys.orig_argv[:4]]
    command = " ".join(" ".join(words).split())
    command = command if len(command) <= 60 else command[:57] + "..."
    return f"{os.getpid()}\t{socket.gethostname()}\t{command}\n"


class SharedFile:
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


_shared: dict[str, SharedFile] = {}
_shared_guard = threading.Lock()


def shared_file(path: str) -> SharedFile:
    key = os.path.realpath(path)
    with _shared_guard:
        if key not in _shared:
            _shared[key] = SharedFile(key)
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
