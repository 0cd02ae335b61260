"""Context Workbench: the router. Pages live in pages/; widgets in components/."""

from __future__ import annotations

import streamlit as st

from components.app_state import db_path, engine_errors, get_store
from components.session_picker import render_session_picker
from components.token_bar import render_window_picker

# An emoji favicon is a data: URL; a ":material/...:" favicon would be fetched from Google Fonts.
st.set_page_config(page_title="Context Workbench", page_icon="🪟", layout="wide")

sessions: list[dict] = []
with engine_errors():
    sessions = get_store().list_sessions()

PAGES = [  # a new user with an empty store lands on Sessions, where the demo is offered
    st.Page("pages/context.py", title="Context", icon=":material/view_agenda:", default=bool(sessions)),
    st.Page("pages/sessions.py", title="Sessions", icon=":material/folder_open:", default=not sessions),
    st.Page("pages/chat.py", title="Chat", icon=":material/chat:"),
    st.Page("pages/replay.py", title="Replay", icon=":material/history:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
]
navigation = st.navigation(PAGES)
render_session_picker(sessions)
with st.sidebar:
    render_window_picker()
st.sidebar.caption(f"Store: {db_path()}")
navigation.run()
