"""Export: download the session as an open trace."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from components.app_state import current_session, engine_errors

session = current_session()
st.title("Export")
st.caption(session.title)
st.write(
    "The workbench trace is JSON lines: a header naming the session, then one event per line "
    "(`seq`, `ts`, `kind`, `payload`) in canonical JSON. Importing it on the Sessions page, or with "
    "`python -m sessions import`, reproduces the session exactly. API keys are never part of it."
)
with engine_errors(), tempfile.TemporaryDirectory() as folder:
    path = session.export(Path(folder) / "trace.jsonl")
    data = path.read_bytes()
    safe_title = "".join(c if c.isalnum() or c in "-_" else "-" for c in session.title)[:60].strip("-") or "session"
    st.download_button(
        f"Download JSONL trace ({len(data) / 1024:,.1f} KiB, {session.last_seq} events)",
        data=data,
        file_name=f"{safe_title}-{session.id}.jsonl",
        mime="application/jsonl",
        type="primary",
        key="download_trace",
    )
    with st.expander("First lines"):
        st.code("\n".join(data.decode("utf-8").splitlines()[:5])[:5_000], language="json")
