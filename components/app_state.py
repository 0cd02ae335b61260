"""The app's shared plumbing: the store, the selected session, and errors shown in one way.

`st.session_state` holds UI facts only (the selected session id and widget keys); the
conversation itself always comes from the store.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from engine import WorkbenchError
from sessions import DB_ENV, Session, SessionStore, default_db_path

SELECTED = "selected_session_id"


def db_path() -> str:
    return os.environ.get(DB_ENV) or str(default_db_path())


@st.cache_resource(show_spinner=False)
def store_for(path: str) -> SessionStore:
    """The process-wide store for a file (opened once)."""
    return SessionStore(path)


def get_store() -> SessionStore:
    """The store for the configured file."""
    return store_for(db_path())


@st.cache_resource(show_spinner=False, max_entries=16)
def _session(path: str, session_id: str) -> Session:
    # Kept between reruns so a long session is not reloaded each time; every read still
    # picks up events that other processes (the CLI) appended.
    return store_for(path).open_session(session_id)


@contextmanager
def engine_errors() -> Iterator[None]:
    """Show a WorkbenchError as an error box instead of a traceback; the page goes on."""
    try:
        yield
    except WorkbenchError as exc:
        st.error(str(exc), icon=":material/error:")


def selected_session_id() -> str | None:
    return st.session_state.get(SELECTED)


def select_session(session_id: str | None) -> None:
    st.session_state[SELECTED] = session_id


def current_session() -> Session:
    """The session picked in the sidebar; stops the page with a hint when there is none."""
    session_id = selected_session_id()
    if not session_id:
        st.info("No session selected. Pick one in the sidebar, or create, import or load the demo on the Sessions page.")
        st.page_link("pages/sessions.py", label="Go to Sessions", icon=":material/folder_open:")
        st.stop()
    try:
        return _session(db_path(), session_id)
    except WorkbenchError as exc:
        select_session(None)
        st.error(str(exc))
        st.stop()
