"""Context Workbench: the router. Pages live in pages/; widgets in components/."""

from __future__ import annotations

import streamlit as st

from components.app_state import engine_errors, selected_session_id, set_read_only
from components.plain import plain
from components.session_picker import render_session_picker
from components.token_bar import render_window_picker
from sessions.service import Workbench

# An emoji favicon is a data: URL; a ":material/...:" favicon would be fetched from Google Fonts.
st.set_page_config(page_title="Context Workbench", page_icon="🪟", layout="wide")


sessions: list[dict] = []
service = None
with engine_errors():
    service = Workbench.shared()
    sessions = service.list_sessions()
read_only = f"Read-only: {service.store.read_only_reason}" if service and service.store.read_only else None
set_read_only(read_only)  # the pages disable their edits, saying why

PAGES = [  # a new user with an empty store lands on Sessions, where the demo is offered
    st.Page("pages/context.py", title="Context", icon=":material/view_agenda:", default=bool(sessions)),
    st.Page("pages/sessions.py", title="Sessions", icon=":material/folder_open:", default=not sessions),
    st.Page("pages/chat.py", title="Chat", icon=":material/chat:"),
    st.Page("pages/tasks.py", title="Tasks", icon=":material/account_tree:"),
    st.Page("pages/memory.py", title="Memory", icon=":material/hub:"),
    st.Page("pages/replay.py", title="Replay", icon=":material/history:"),
    st.Page("pages/export.py", title="Export", icon=":material/download:"),
]
navigation = st.navigation(PAGES)
render_session_picker(sessions)
if service is not None:
    with st.sidebar, engine_errors():
        model, window = service.model_window(service.find(selected_session_id()))
        render_window_picker(model, window, service.known_windows())
    st.sidebar.caption(f"Store: {service.path}")
    if read_only:
        st.sidebar.info(plain(read_only), icon=":material/lock:")  # a role name is text
navigation.run()
