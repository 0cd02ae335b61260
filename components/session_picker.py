"""The sidebar's session picker, the same on every page.

The choice lives under its own session-state key (not the widget's), so it survives pages
that do not draw the picker and can be set by actions such as "fork" or "open".
"""

from __future__ import annotations

import streamlit as st

from components.app_state import select_session, selected_session_id
from components.follow import only_polled
from engine.text import printable

PICKER = "session_picker"


def _picked() -> None:
    if only_polled():  # the browser's old choice, sent with the poll's request while a fork or an open set a new one
        st.session_state[PICKER] = selected_session_id()
        return
    select_session(st.session_state[PICKER])


def render_session_picker(sessions: list[dict]) -> None:
    """A select box of sessions; the choice is kept for every page."""
    if not sessions:
        st.sidebar.caption("No sessions yet: load the demo or import one on the Sessions page.")
        select_session(None)
        return
    ids = [row["id"] for row in sessions]
    labels = {
        row["id"]: printable(("↳ " if row["forked_from"] else "") + f"{row['title']} · {row['id'][:6]} · {row['messages']} msgs")
        for row in sessions
    }
    if selected_session_id() not in ids:
        select_session(ids[0])
    st.session_state[PICKER] = selected_session_id()
    st.sidebar.selectbox("Session", ids, format_func=labels.get, key=PICKER, on_change=_picked)
