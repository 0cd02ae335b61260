"""The workbench service: everything the pages ask of the store, behind one object per store.

Streamlit reruns a page script on every click, in a thread per browser tab. The service is
what survives between reruns and is shared by every tab of one process: the store, the
open sessions (kept so a long session is not reloaded on each rerun; every read still picks
up what other processes appended), the token totals of the session list (kept until a
session's event count changes), and the turns running now (so a Stop click, or a rerun
after leaving the page, can reach the turn a previous run started). Components never see
it: pages call it and hand engine values to components.

No Streamlit here: the service is plain Python, so it is tested without a browser and the
CLI could use it too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Hashable

from engine.actors import Actor
from engine.errors import SessionNotFound, WorkbenchError
from sessions.formats.report import ImportReport
from sessions.session import Session
from sessions.store import SessionStore, default_db_path

PERSON = Actor.person("workbench")  # what a click in the workbench is recorded as
_SESSIONS_KEPT = 16
_TOTALS_KEPT = 512


class Workbench:
    """One store's sessions for the UI; `Workbench.shared(path)` gives the process's instance."""

    _instances: dict[str, "Workbench"] = {}
    _instances_lock = threading.Lock()

    def __init__(self, path: str | Path) -> None:
        self.store = SessionStore(str(path))
        self.path = self.store.path  # as it may be shown: a server's address without its password
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._totals: OrderedDict[tuple[str, int], int] = OrderedDict()
        self._turns: dict[str, tuple[str, Any]] = {}  # session id -> (the tab that started it, its Turn)

    @classmethod
    def shared(cls, path: str | Path | None = None) -> "Workbench":
        """The instance for `path` (default: `$WORKBENCH_DB`, else the user's data folder)."""
        key = str(path if path is not None else default_db_path())
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(key)
            return cls._instances[key]

    # ---- sessions ----------------------------------------------------------------------

    def list_sessions(self) -> list[dict[str, Any]]:
        return self.store.list_sessions()

    def session(self, session_id: str) -> Session:
        """The open session with this id (opened once, then kept); SessionNotFound if none."""
        with self._lock:
            found = self._sessions.get(session_id)
            if found is not None:
                self._sessions.move_to_end(session_id)
                return found
        opened = self.store.open_session(session_id)
        opened.actor = PERSON
        with self._lock:
            found = self._sessions.setdefault(session_id, opened)
            while len(self._sessions) > _SESSIONS_KEPT:
                self._sessions.popitem(last=False)
        return found

    def find(self, session_id: str | None) -> Session | None:
        """The session, or None when no id is given or it no longer exists."""
        if not session_id:
            return None
        try:
            return self.session(session_id)
        except SessionNotFound:
            return None

    def rendered_tokens(self, session_id: str, events: int) -> int:
        """A session's rendered tokens for the session list, kept until its event count changes."""
        key = (session_id, events)
        with self._lock:
            if key in self._totals:
                return self._totals[key]
        tokens = self.session(session_id).stats()["rendered_tokens"]
        with self._lock:
            self._totals[key] = tokens
            while len(self._totals) > _TOTALS_KEPT:
                self._totals.popitem(last=False)
        return tokens

    def create_session(self, title: str) -> Session:
        return self._keep(self.store.create_session(title))

    def import_file(self, path: str | Path, **options: Any) -> ImportReport:
        """Import every conversation in a file (options as `SessionStore.import_file` takes them)."""
        return self.store.import_file(path, **options)

    @staticmethod
    def import_format_names() -> list[str]:
        from sessions.formats import IMPORT_FORMATS

        return [fmt.name for fmt in IMPORT_FORMATS]

    def fork(self, session_id: str, at: int) -> Session:
        return self._keep(self.session(session_id).fork(at=at))

    def load_demo(self) -> list[Session]:
        from sessions.demo import load_demo_sessions

        return [self._keep(session) for session in load_demo_sessions(self.store)]

    def _keep(self, session: Session) -> Session:
        session.actor = PERSON
        with self._lock:
            self._sessions[session.id] = session
        return session

    # ---- following -------------------------------------------------------------------

    def latest(self, session_id: str, seen: Hashable = None) -> tuple[int, Hashable]:
        """(the session's last event number, the store's change token) for a page that follows
        the log. The store is read only when its token moved since `seen` (the token this gave
        last time), so a poll with nothing new costs a stat of the file, never a DuckDB open
        that would make the CLI or an MCP server wait. The token is taken before the read: a
        commit landing in between moves it again, so the next poll reads it."""
        token = self.store.change_token()
        session = self.session(session_id)
        if token != seen:
            session.refresh()
        return session.last_seq, token

    # ---- turns ---------------------------------------------------------------------------

    def start_turn(self, session: Session, text: str | None, tab: str):
        """Start a turn on `session` for the browser tab `tab` (None text: ask again after the
        last message). Refused while another turn on the session is still running."""
        from sessions.agent import Turn  # the agent loop imports the model library: only when chatting

        with self._lock:
            running = self._turns.get(session.id)
            if running is not None and not running[1].done:
                raise WorkbenchError("a turn is already running on this session (in another tab?); "
                                     "wait for its reply, or stop it there")
            turn = Turn(session, text).start()  # started under the lock: no moment where it looks done
            self._turns[session.id] = (tab, turn)
        return turn

    def running_turn(self, session_id: str) -> tuple[str, Any] | None:
        """(the tab that started it, the Turn) while a turn on the session runs; else None."""
        with self._lock:
            running = self._turns.get(session_id)
            if running is not None and running[1].done:
                del self._turns[session_id]
                return None
            return running

    # ---- windows -----------------------------------------------------------------------

    def model_window(self, session: Session | None) -> tuple[str | None, int | None]:
        """The session's model and its window (its own setting, else the model table's)."""
        if session is None:
            return None, None
        from engine.windows import settings_window  # the one table of model windows

        return settings_window(session.settings)

    @staticmethod
    def known_windows() -> dict[str, int | None]:
        """Model string -> window, for the models the workbench offers by name."""
        from engine.windows import model_windows

        return model_windows()
