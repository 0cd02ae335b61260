"""The table of sessions, with token totals, and a way to open one."""

from __future__ import annotations

import streamlit as st


def render_session_table(rows: list[dict], tokens: dict[str, int]) -> str | None:
    """Every session (with its rendered `tokens` by id); returns the id of one the person asked to open."""
    table = [
        {
            "title": row["title"],
            "messages": row["messages"],
            "tokens": tokens.get(row["id"], 0),
            "events": row["events"],
            "created (UTC)": row["created_at"],
            "origin": (f"fork of {row['forked_from']} at event {row['forked_at']}" if row["forked_from"]
                       else f"imported from {row['imported_from']}" if row.get("imported_from") else ""),
            "id": row["id"],
        }
        for row in rows
    ]
    drawn = st.session_state.get("session_table_ids", [])  # the ids as the person saw them
    st.session_state["session_table_ids"] = [row["id"] for row in rows]
    event = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="session_table",
        column_config={
            "messages": st.column_config.NumberColumn(format="localized"),
            "tokens": st.column_config.NumberColumn(format="localized", help="rendered tokens, without tool schemas"),
            "events": st.column_config.NumberColumn(format="localized"),
        },
    )
    picked = event.selection.rows if event and event.selection else []
    if picked and picked[0] < len(drawn):
        chosen = drawn[picked[0]]
        return chosen if chosen in st.session_state["session_table_ids"] else None
    return None
