"""Hearing commits made anywhere: LISTEN/NOTIFY as the PostgreSQL store's change token.

Every transaction that writes events calls `pg_notify` on one channel; PostgreSQL delivers it
to every listening connection when (and only if) the transaction commits, whichever machine
wrote it. One thread per store listens on its own connection and counts what it hears, so
`token()` is a counter read: a page that polls it twice a second costs no query while nothing
happens, exactly as the DuckDB file's stat does, and reads the store only once it moved.

A listener that loses its connection (the server restarted, the network dropped) counts that
too (`generation`), because notifications sent meanwhile are lost: the next poll then reads
the store and finds what it missed. It reconnects with a growing pause, at most `MAX_PAUSE`.
"""

from __future__ import annotations

import threading
from typing import Callable

CHANNEL = "context_workbench_events"  # a constant identifier: never built from input
FIRST_LISTEN_SECONDS = 2.0  # how long the first token waits for LISTEN to be in force
MAX_PAUSE = 5.0
_WAKE_SECONDS = 0.25  # how often the thread looks whether it should stop


class ChangeListener:
    """Counts the store's notifications in a background thread; started by the first `token()`."""

    def __init__(self, connect: Callable[[], object], location: str) -> None:
        self._connect = connect  # a new autocommit psycopg connection
        self.location = location
        self.heard = 0
        self.generation = 0  # connections made or lost: each may have missed notifications
        self.error: str | None = None  # why it is not listening now
        self._started = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._connection = None

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
                self._lost(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE)
                continue
            self._connection = connection
            try:
                connection.execute(f"LISTEN {CHANNEL}")
                self.generation += 1
                self.error = None
                self._listening.set()
                pause = 0.1
                while not self._stop.is_set():
                    for _ in connection.notifies(timeout=_WAKE_SECONDS):
                        self.heard += 1
            except psycopg.Error as exc:
                if not self._stop.is_set():
                    self._lost(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
                    self._stop.wait(pause)
            finally:
                self._connection = None
                try:
                    connection.close()
                except psycopg.Error:
                    pass

    def _lost(self, reason: str) -> None:
        self.generation += 1
        self.error = reason
        self._listening.set()  # not listening, but the first token must not wait for it

    def close(self) -> None:
        with self._started:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._stop.set()
        thread.join(timeout=_WAKE_SECONDS * 4)
        self.generation += 1  # heard nothing while closed: whatever was committed meanwhile is unknown

