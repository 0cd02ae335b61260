"""Context Workbench, minimal view: pick a session, see what the model sees and what it costs.

The full workbench (navigation, sculpting, replay, export) arrives with the UI issue; this
page already reads only through the session API and shows model text as plain text.
"""

from __future__ import annotations

import os

import streamlit as st

from engine import WorkbenchError
from engine.text import printable
from sessions import DB_ENV, SessionStore, default_db_path


@st.cache_resource
def get_store(path: str) -> SessionStore:
    return SessionStore(path)


st.set_page_config(page_title="Context Workbench", layout="wide")
st.title("Context Workbench")

db_path = os.environ.get(DB_ENV) or str(default_db_path())
try:
    store = get_store(db_path)
    sessions = store.list_sessions()
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()

st.caption(f"Store: {db_path}")
if not sessions:
    st.info(
        "No sessions yet. Import a conversation with "
        "`python -m sessions import FILE` (a workbench trace or an OpenAI message list), then reload."
    )
    st.stop()

labels = {row["id"]: f"{row['title']} · {row['messages']} messages · {row['id']}" for row in sessions}
st.subheader("Sessions")
st.dataframe(
    [
        {
            "title": row["title"],
            "messages": row["messages"],
            "events": row["events"],
            "created (UTC)": row["created_at"],
            "forked from": row["forked_from"] or "",
            "id": row["id"],
        }
        for row in sessions
    ],
    hide_index=True,
    width="stretch",
)
chosen = st.selectbox("Session", list(labels), format_func=labels.get, key="session_id")

try:
    session = store.open_session(chosen)
    stats = session.stats()
    rendered = session.render()
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()

st.subheader("Token breakdown")
columns = st.columns(5)
columns[0].metric("Rendered", f"{stats['rendered_tokens']:,}")
columns[1].metric("Visible", f"{stats['visible_tokens']:,}")
columns[2].metric("Folded", f"{stats['folded_tokens']:,}")
columns[3].metric("Summarized", f"{stats['summarized_tokens']:,}")
columns[4].metric("Total original", f"{stats['total_tokens']:,}")
st.dataframe(
    [{"role": role, **numbers} for role, numbers in stats["by_role"].items()],
    hide_index=True,
)

st.subheader("What the model sees")
for message_id, message in zip((m.id for m in session.state().messages), rendered):
    content = message["content"]
    if isinstance(content, list):
        content = "\n".join(part.get("text", f"[{part.get('type', 'part')}]") for part in content)
    header = f"{message_id} · {message['role']}"
    if message.get("tool_call_id"):
        header += f" · result of {message['tool_call_id']}"
    with st.container(border=True):
        st.caption(printable(header))
        if content:
            st.text(printable(content))
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            st.text(printable(f"→ {function.get('name')}({function.get('arguments', '')})"))
