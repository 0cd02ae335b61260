"""The sidebar's session picker, the same on every page."""

from __future__ import annotations

import streamlit as st

from components.app_state import SELECTED, select_session
from engine.text import printable


def render_session_picker(sessions: list[dict]) -> None:
    """A select box of sessions; the choice is kept in st.session_state for every page."""
    if not sessions:
        st.sidebar.caption("No sessions yet: load the demo or import one on the Sessions page.")
        select_session(None)
        return
    ids = [row["id"] for row in sessions]
    labels = {row["id"]: printable(f"{row['title']} · {row['messages']} msgs") for row in sessions}
    if st.session_state.get(SELECTED) not in ids:
        select_session(ids[0])
    st.sidebar.selectbox("Session", ids, format_func=labels.get, key=SELECTED)
