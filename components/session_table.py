"""The table of sessions, with token totals, and a way to open one."""

from __future__ import annotations

import streamlit as st


def tree_order(rows: list[dict]) -> list[tuple[dict, int]]:
    """Rows with each fork and subagent under the session it came from, as (row, depth).
    Roots keep their order (newest first); children follow their parent, oldest first."""
    ids = {row["id"] for row in rows}
    children: dict[str, list[dict]] = {}
    roots = []
    for row in rows:
        parent = row.get("forked_from")
        if parent in ids and parent != row["id"]:
            children.setdefault(parent, []).append(row)
        else:
            roots.append(row)
    ordered: list[tuple[dict, int]] = []
    seen: set[str] = set()
    stack = [(row, 0) for row in reversed(roots)]
    while stack:
        row, depth = stack.pop()
        if row["id"] in seen:
            continue
        seen.add(row["id"])
        ordered.append((row, depth))
        stack += [(child, depth + 1) for child in children.get(row["id"], [])]  # reversed oldest-first
    ordered += [(row, 0) for row in rows if row["id"] not in seen]  # a cycle cannot happen; never drop a row
    return ordered


def origin_of(row: dict, titles: dict[str, str]) -> str:
    parent = row.get("forked_from")
    if parent:
        name = f"“{titles[parent]}”" if parent in titles else parent
        if row.get("forked_at") == 0 and "subagent" in (row.get("imported_from") or ""):
            return f"subagent of {name}"
        return f"fork of {name} at event {row['forked_at']}"
    return f"imported from {row['imported_from']}" if row.get("imported_from") else ""


def render_session_table(rows: list[dict], tokens: dict[str, int]) -> str | None:
    """Every session (with its rendered `tokens` by id, where known), forks and subagents under
    their parents; returns the id of one the person asked to open."""
    titles = {row["id"]: row["title"] for row in rows}
    ordered = tree_order(rows)
    rows = [row for row, _ in ordered]
    table = [
        {
            "title": ("    " * (depth - 1) + "└─ " if depth else "") + row["title"],
            "messages": row["messages"],
            "tokens": tokens.get(row["id"]),
            "events": row["events"],
            "created (UTC)": row["created_at"],
            "origin": origin_of(row, titles),
            "id": row["id"],
        }
        for row, depth in ordered
    ]
    drawn = st.session_state.get("session_table_ids", [])  # the ids as the person saw them
    st.session_state["session_table_ids"] = [row["id"] for row in rows]
    event = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="session_table",
        column_config={
            "messages": st.column_config.NumberColumn(format="localized"),
            "tokens": st.column_config.NumberColumn(format="localized", help="rendered tokens, without tool schemas (counted for the newest sessions)"),
            "events": st.column_config.NumberColumn(format="localized"),
        },
    )
    picked = event.selection.rows if event and event.selection else []
    if picked and picked[0] < len(drawn):
        chosen = drawn[picked[0]]
        return chosen if chosen in st.session_state["session_table_ids"] else None
    return None
