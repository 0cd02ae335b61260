"""Sessions: every conversation in the store; create, import, fork, pick; the demo."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from components.app_state import edit_guard, engine_errors, select_session, selected_session_id
from components.flash import flash
from components.import_report import render_import_report
from components.plain import plain
from components.session_table import render_session_table
from engine import WorkbenchError
from sessions.service import Workbench

TOKENS_COUNTED = 200  # the newest sessions' token totals; each total folds the session once

st.title("Sessions")
service = Workbench.shared()
rows = service.list_sessions()


def open_in_context(session_id: str) -> None:
    select_session(session_id)
    st.switch_page("pages/context.py")


if not rows:
    st.info(
        "The store is empty. Load the two demo sessions to see a full window at once: a key-tracking "
        "stream in the PI-LLM style that an assistant sculpts, and an agent run flooded by tool output."
    )
    if st.button("Load the demo sessions", type="primary", key="load_demo", **edit_guard()):
        with engine_errors():
            demos = service.load_demo()
            open_in_context(demos[0].id)
else:
    chosen = render_session_table(rows, {row["id"]: service.rendered_tokens(row["id"], row["events"])
                                         for row in rows[:TOKENS_COUNTED]})
    if chosen:
        open_in_context(chosen)

create, upload, fork = st.columns(3)
with create.container(border=True):
    st.subheader("New session")
    title = st.text_input("Title", value="Untitled", key="new_title")
    if st.button("Create", key="create_session", **edit_guard()):
        with engine_errors():
            open_in_context(service.create_session(title).id)

with upload.container(border=True):
    st.subheader("Import")
    imports = st.session_state.get("imports_done", 0)  # a new uploader after each import, so it starts empty
    uploaded = st.file_uploader(
        "A saved conversation: ChatGPT export (.zip), Claude Code, Anthropic, OpenAI, ShareGPT, Letta, OTLP, "
        "Langfuse, SWE-agent, OpenHands or a workbench trace; .gz and .zip are read as they are",
        key=f"import_file-{imports}", **edit_guard(),
    )
    formats = ["detect"] + service.import_format_names()
    chosen_format = st.selectbox("Format", formats, key="import_format",
                                 format_func=lambda name: "Detect from the content" if name == "detect" else name)
    skip_invalid = st.checkbox("Import the good conversations of a file with bad ones (and list what was skipped)",
                               key="import_skip_invalid")
    if uploaded is not None and st.button("Import", key="import_button", type="primary", **edit_guard()):
        bar = st.progress(0.0, text=f"Reading {uploaded.name}")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / (Path(uploaded.name).name or "upload")
            path.write_bytes(uploaded.getvalue())

            def progress(done: int, total: int) -> None:
                bar.progress(min(1.0, done / max(total, 1)), text=f"Reading {uploaded.name}: {done / 2**20:,.1f} of "
                             f"{total / 2**20:,.1f} MiB")

            try:
                report = service.import_file(path, format_name=None if chosen_format == "detect" else chosen_format,
                                             skip_invalid=skip_invalid, progress=progress)
            except WorkbenchError as exc:  # name the file as the person knows it, not our temporary copy
                bar.empty()
                st.error(plain(str(exc).replace(str(path), uploaded.name)), icon=":material/error:")
            else:
                st.session_state["imports_done"] = imports + 1
                st.session_state["import_report"] = report.as_dict()
                made = len(report.session_ids)
                flash("ok", f"Imported {uploaded.name}: {made:,} session{'s' if made != 1 else ''}.")
                select_session(report.first_id)
                st.rerun()

with fork.container(border=True):
    st.subheader("Fork")
    current = next((row for row in rows if row["id"] == selected_session_id()), None)
    if current is None:
        st.caption("Pick a session in the sidebar to fork it.")
    else:
        at = st.number_input(
            f"Keep the first N events of “{plain(current['title'])}”", min_value=0, max_value=current["events"],
            value=current["events"], key="fork_at",
        )
        if st.button("Fork", key="fork_button", **edit_guard()):
            with engine_errors():
                fork = service.fork(current["id"], int(at))
                flash("ok", f"Forked “{current['title']}” at event {int(at)}.")
                open_in_context(fork.id)

if st.session_state.get("import_report"):
    st.subheader("Last import")
    render_import_report(st.session_state["import_report"], open_in_context)

if rows:
    with st.expander("Demo sessions"):
        if st.button("Load the demo sessions again", key="load_demo_again", **edit_guard()):
            with engine_errors():
                open_in_context(service.load_demo()[0].id)
