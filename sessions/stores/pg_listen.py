"""Hearing commits made anywhere: LISTEN/NOTIFY as the PostgreSQL store's change token.

Every transaction that writes events calls `pg_notify` on one channel; PostgreSQL delivers it
to every listening connection when (and only if) the transaction commits, whichever machine
wrote it. One thread per store listens on its own connection and counts what it hears, so
`token()` is a counter read: a page that polls it twice a second costs no query while nothing
happens, exactly as the DuckDB file's stat does, and reads the store only once it moved.

A listener that loses its connection (the server restarted, the network dropped) moves the
token once (`generation`), so the pages read the store once and say what is wrong, then once
more when it listens again, because notifications sent meanwhile are lost. It reconnects with a
growing pause, at most `MAX_PAUSE`.

A hot standby (a read replica) cannot LISTEN, and NOTIFY never reaches it: there the thread asks
the server every `STANDBY_POLL` seconds how far it has replayed the primary's log, and the token
moves when that moved (one small query a poll, on the listener's own connection).
"""

from __future__ import annotations

import threading
from typing import Callable

CHANNEL = "context_workbench_events"  # a constant identifier: never built from input
FIRST_LISTEN_SECONDS = 2.0  # how long the first token waits for LISTEN to be in force
MAX_PAUSE = 5.0
STANDBY_POLL = 0.5
_WAKE_SECONDS = 0.25  # how often the thread looks whether it should stop


class ChangeListener:
    """Counts the store's notifications in a background thread; started by the first `token()`."""

    def __init__(self, connect: Callable[[], object], scrub: Callable[[str], str] = str,
                 standby: bool = False) -> None:
        self._connect = connect  # a new autocommit psycopg connection
        self.standby = standby
        self._scrub = scrub
        self.heard = 0
        self.generation = 0  # connections made, or lost: each may have missed notifications
        self.error: str | None = None  # why it is not listening now (never with a password)
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()

    def token(self) -> tuple:
        if self._thread is None:
            self._start()
        return ("postgresql", self.generation, self.heard)

    def _start(self) -> None:
        with self._started:
            if self._thread is not None:
                return
            self._stop.clear()
            self._listening.clear()
            self._thread = threading.Thread(target=self._run, name="workbench-listen", daemon=True)
            self._thread.start()
        # a commit after the first token must be heard: wait until LISTEN is in force (bounded)
        self._listening.wait(FIRST_LISTEN_SECONDS)

    def _run(self) -> None:
        import psycopg

        pause = 0.1
        while not self._stop.is_set():
            try:
                connection = self._connect()
            except psycopg.Error as exc:
                self._lost(exc)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE)
                continue
            try:
                (self._follow_replay if self.standby else self._listen)(connection)
                pause = 0.1
            except psycopg.Error as exc:
                if not self._stop.is_set():
                    self._lost(exc)
                    self._stop.wait(pause)
                    pause = min(pause * 2, MAX_PAUSE)
            finally:
                try:
                    connection.close()
                except psycopg.Error:
                    pass

    def _listen(self, connection) -> None:
        connection.execute(f"LISTEN {CHANNEL}")
        self._found()
        while not self._stop.is_set():
            for _ in connection.notifies(timeout=_WAKE_SECONDS):
                self.heard += 1

    def _follow_replay(self, connection) -> None:
        [replayed] = connection.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
        self._found()
        while not self._stop.wait(STANDBY_POLL):
            [now] = connection.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
            if now != replayed:
                replayed = now
                self.heard += 1

    def _found(self) -> None:
        self.generation += 1  # (re)connected: whatever was committed while not listening is unknown
        self.error = None
        self._listening.set()

    def _lost(self, exc: Exception) -> None:
        if self.error is None:  # the first failure moves the token (the pages read once, and say why)
            self.generation += 1
        text = str(exc).strip()
        self.error = self._scrub(text.splitlines()[0] if text else type(exc).__name__)
        self._listening.set()  # not listening, but the first token must not wait for it

    def close(self) -> None:
        with self._started:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stop.set()
        thread.join(timeout=_WAKE_SECONDS * 4)
        self.generation += 1  # heard nothing while closed: whatever was committed meanwhile is unknown
