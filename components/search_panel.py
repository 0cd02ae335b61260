"""Search: a form that runs search_context, and the hits of the latest search in the log.

The hits shown are read back from the session's last `context_searched` event, so what the
panel shows is exactly what the log recorded (and a model's search shows up here too). On a
store this process may only read, a search is a look (`Session.looks`): the same event, kept in
memory instead of the log, so a viewer searches and opens hits all the same.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.app_state import edit_guard
from components.intents import Intent
from engine.state import ContextState
from engine.records import EventRecord
from engine.text import printable
from engine.tools.search import text_window

MODES = {"exact": "Exact text", "regex": "Regular expression", "ranked": "Ranked (BM25)"}


def render_search_form() -> Intent | None:
    with st.form("search", clear_on_submit=False, border=False):
        query_column, mode_column, role_column, go = st.columns([5, 2, 2, 1.2], vertical_alignment="bottom")
        query = query_column.text_input("Search the conversation (folded text included)", key="search_query")
        mode = mode_column.selectbox("Mode", list(MODES), format_func=MODES.get, key="search_mode")
        role = role_column.selectbox("In", ["all", "user", "assistant", "tool", "system"], key="search_role")
        reasoning = st.checkbox("Include the assistants' reasoning", key="search_reasoning",
                                help="a person's option: models are not offered it")
        if go.form_submit_button("Search", type="primary", help="search_context (recorded in the log, unless the "
                                 "store is read-only)"):
            return Intent("search_context", {"query": query, "mode": mode, "role": role, "max_results": 20,
                                             "include_reasoning": reasoning})
    return None


def latest_search(records: list[EventRecord]) -> tuple[EventRecord | None, dict[str, Any] | None]:
    """The newest search in `records` and the detail opened from it, unless a newer search failed."""
    detail = None
    for record in reversed(records):
        if record.kind == "tool_failed" and record.payload()["tool"] == "search_context":
            return None, None  # the newest search failed: its error is what the person needs to see
        if record.kind == "search_detail_viewed" and detail is None:
            detail = record.payload()
        if record.kind == "context_searched":
            return record, detail
    return None, None


def render_search_results(state: ContextState, search: EventRecord | None, detail: dict[str, Any] | None,
                          cleared_key: str) -> Intent | None:
    """The hits of the newest search, each with Open, and Restore when hidden; Clear hides them."""
    if search is None or st.session_state.get(cleared_key, 0) >= search.seq:
        return None
    payload = search.payload()
    hits = payload["hits"]
    total = payload["total_matches"]
    title = (f"{total:,} match{'es' if total != 1 else ''} for {printable(payload['query'])!r} "
             f"({MODES.get(payload['mode'], payload['mode'])}, "
             f"{'best first' if payload['mode'] == 'ranked' else 'most recent first'}; showing {len(hits)})")
    intent = None
    with st.expander(title, expanded=True):
        if st.button("Clear results", key="clear_search", icon=":material/close:"):
            st.session_state[cleared_key] = search.seq
            st.rerun()
        intent = _render_hits(state, hits, detail)
    return intent


def _render_hits(state: ContextState, hits: list[dict[str, Any]], detail: dict[str, Any] | None) -> Intent | None:
    intent = None
    for hit in hits:
        record = state.searches.get(hit["search_id"])
        if record is None:
            continue
        message = state.message(record.message_id)
        in_reasoning = record.part == "reasoning"
        fragment = None if in_reasoning else state.fragment_at(record.message_id, record.start)
        status = "reasoning" if in_reasoning else fragment.status if fragment else "visible"
        with st.container(border=True, key=f"hit-{hit['search_id']}"):
            info, text, buttons = st.columns([2, 7, 2])
            info.text(f"{hit['search_id']}\n{message.id} · {message.role}\n{fragment.id if fragment else ''} {status}")
            snippet, match_start, match_end = text_window(message.part_text(record.part), record.start, record.end, 160)
            # the match between ⟦ ⟧, so it stands out in plain text
            text.text(printable(snippet[:match_start] + "⟦" + snippet[match_start:match_end] + "⟧" + snippet[match_end:]))
            with buttons:
                if st.button("Open", key=f"open-{hit['search_id']}", help="get_search_detail: the text around the hit"):
                    intent = Intent("get_search_detail", {"search_id": hit["search_id"], "extended_context": 800})
                if fragment and status not in ("visible", "reasoning"):
                    st.caption(f"in a {status} fragment")
                    if st.button("Restore", key=f"restore-{hit['search_id']}", **edit_guard("restore_fragment")):
                        intent = Intent("restore_fragment", {"fragment_id": fragment.id})
            if detail and detail["search_id"] == hit["search_id"]:
                record_text = text_window(message.part_text(record.part), record.start, record.end,
                                          detail["extended_context"])[0]
                st.text(printable(record_text))
    return intent
