"""The report of an import, as the CLI prints it: per file, the format found and what was made.

Everything shown is text from a file, so it goes through widgets that never read HTML:
metrics, a table, and code blocks.
"""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from components.plain import plain

_SHOWN = 50


def render_import_report(report: dict[str, Any], open_session: Callable[[str], None]) -> None:
    """`report` is ImportReport.as_dict(); `open_session(id)` is called for the session picked to open."""
    for position, file in enumerate(report["files"]):
        with st.container(border=True):
            st.markdown(f"**{plain(file['file'])}**: {plain(file['label'])} (`{file['format']}`)")
            columns = st.columns(5)
            columns[0].metric("Sessions made", f"{len(file['sessions']):,}")
            columns[1].metric("Messages", f"{file['messages']:,}")
            columns[2].metric("Tool calls", f"{file['tool_calls']:,}")
            columns[3].metric("Reasoning parts", f"{file['reasoning_parts']:,}")
            columns[4].metric("Attachments kept aside", f"{file['attachments']:,}")
            roles = ", ".join(f"{count:,} {role}" for role, count in sorted(file["messages_by_role"].items()))
            extras = [f"messages by role: {roles}" if roles else "no messages",
                      f"{file['tool_results']:,} tool results"]
            if file["folded_messages"] or file["compactions"]:
                extras.append(f"{file['folded_messages']:,} imported folded, {file['compactions']:,} compactions")
            st.caption("; ".join(extras))
            for title, items in (("Skipped", file["skipped"]), ("Warnings", file["warnings"])):
                if items:
                    with st.expander(f"{title} ({len(items):,})", expanded=title == "Skipped"):
                        st.code("\n".join(items[:_SHOWN]) + (f"\n... and {len(items) - _SHOWN:,} more"
                                                             if len(items) > _SHOWN else ""), language=None)
            sessions = file["sessions"]
            if sessions:
                labels = {s["id"]: f"{s['title']}" + (f" ({s['relation']})" if s["relation"] else "") for s in sessions}
                picked = st.selectbox("Session", list(labels)[:1000], format_func=labels.get,
                                      key=f"report_pick_{position}", label_visibility="collapsed")
                if st.button("Open in Context", key=f"report_open_{position}", type="primary"):
                    open_session(picked)



