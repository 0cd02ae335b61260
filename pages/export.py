"""Export: download the session as an open trace."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from components.app_state import engine_errors, require_session, selected_session_id
from sessions.service import Workbench

session = require_session(Workbench.shared().find(selected_session_id()))
st.title("Export")
st.caption(session.title)
st.write(
    "The workbench trace is JSON lines: a header naming the session, then one event per line "
    "(`seq`, `ts`, `kind`, `payload`) in canonical JSON. Importing it on the Sessions page, or with "
    "`python -m sessions import`, reproduces the session exactly. API keys are never part of it."
)


def trace_bytes() -> bytes:
    """The trace, written only when the person asks for the download."""
    with tempfile.TemporaryDirectory() as folder:
        return session.export(Path(folder) / "trace.jsonl").read_bytes()


safe_title = "".join(c if c.isalnum() or c in "-_" else "-" for c in session.title)[:60].strip("-") or "session"
with engine_errors():
    st.download_button(
        f"Download JSONL trace ({session.last_seq} events)",
        data=trace_bytes,
        file_name=f"{safe_title}-{session.id}.jsonl",
        mime="application/jsonl",
        type="primary",
        key="download_trace",
    )
    with st.expander("First lines"):
        st.code("\n".join(json.dumps(r.to_dict(), ensure_ascii=False)[:1_000] for r in session.tail(session.last_seq)[:4]),
                language="json")
