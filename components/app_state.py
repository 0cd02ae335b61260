"""UI facts shared by every page: the selected session, errors shown one way, and the guard
that stops a page when it has no session to show.

`st.session_state` holds UI facts only (the selected session id and widget keys); the
conversation itself always comes from the store, through the pages' service
(`sessions.service.Workbench`). Nothing here opens a session.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, TypeVar

import streamlit as st

from components.plain import plain
from engine import WorkbenchError

SELECTED = "selected_session_id"
READ_ONLY = "store_read_only"  # why this process may not change the store (a viewer's role), or None
T = TypeVar("T")


@contextmanager
def engine_errors(toast: bool = False) -> Iterator[None]:
    """Show a WorkbenchError as an error box instead of a traceback; the page goes on. `toast`
    also shows it in a corner, for a form long enough that its box may be out of sight."""
    try:
        yield
    except WorkbenchError as exc:
        st.error(plain(str(exc)), icon=":material/error:")
        if toast:
            st.toast(plain(str(exc)), icon=":material/error:")


def set_read_only(reason: str | None) -> None:
    """Said by the router on every run: why the store may be read but not changed, or None."""
    st.session_state[READ_ONLY] = reason


def read_only_reason() -> str | None:
    return st.session_state.get(READ_ONLY)


def edit_guard(help: str | None = None, disabled: bool = False) -> dict:
    """A widget's `disabled` and `help` for an edit: disabled, with the reason as its help, when
    the store is read-only (what is left enabled still meets the store's own refusal)."""
    reason = read_only_reason()
    return {"disabled": disabled or reason is not None, "help": plain(reason) if reason else help}


def selected_session_id() -> str | None:
    return st.session_state.get(SELECTED)


def select_session(session_id: str | None) -> None:
    st.session_state[SELECTED] = session_id


def require_session(session: T | None) -> T:
    """The page's session, or a hint and a stop when none is selected (or it is gone).

    A session whose log does not fold past some event is shown as far as it goes, under a
    warning that names the event at fault."""
    if session is None:
        select_session(None)
        st.info("No session selected. Pick one in the sidebar, or create, import or load the demo on the Sessions page.")
        st.page_link("pages/sessions.py", label="Go to Sessions", icon=":material/folder_open:")
        st.stop()
    problem = getattr(session, "replay_error", None)
    if problem is not None:
        st.warning(f"This session's {problem}. It is shown up to the event before, and cannot be changed; "
                   "fork it on the Replay page to carry on.", icon=":material/warning:")
    return session
