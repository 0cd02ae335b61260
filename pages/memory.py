"""Memory: the core memory, the memory graph (entities and the memories that join them), search,
the list, and one memory's details, history and source.

It follows the log live (components/follow.py): everything below the title is one keyed
fragment, rerun only when new events touch the memories (engine/changes.py), wherever they were
written (a chat, an MCP client, the CLI); other events leave it as drawn, and new settings rerun
the page. Or it follows the Replay page's step: a fixed step, so nothing reruns and only the
caption that says where it stands polls. A person's edit, delete and restore go through the
same tools a model calls.
"""

from __future__ import annotations

import streamlit as st

from components.actions import run_intent
from components.app_state import engine_errors, require_session, selected_session_id
from components.flash import show_flash
from components.follow import board_keys, follow_live, followed_step
from components.graph_summary import memory_summary
from components.graph_view import graph_html, render_graph
from components.memory_graph import filtered_memories, memory_drawing
from components.memory_view import (
    render_core_panel, render_filters, render_legend, render_memory_details, render_memory_list, render_search,
    run_core_save,
)
from components.plain import plain
from engine.changes import Touched
from engine.memory import memory_graph
from engine.text import one_line, printable
from engine.tokens import token_counter
from sessions.service import Workbench

BOARD = "memory-board"
service = Workbench.shared()


def live_keys(touched: Touched) -> list[str] | None:
    """What events written elsewhere rerun here: the memories for memory events, the page for settings."""
    return board_keys(BOARD, touched, touched.memory)


@st.fragment(key=BOARD)
def _board(session_id: str, at: int | None) -> None:
    """The core memory, the graph, the list, search and one memory, at step `at` (None: the latest)."""
    with engine_errors():
        session = service.find(session_id)
        if session is None:
            return
        pick, core = f"memory_pick-{session_id}", f"core-{session_id}"
        state = session.state(at)
        graph = memory_graph(state)
        editable = at is None and session.replay_error is None
        if not graph.memories:
            st.info(
                "No memories yet" + (" at this step." if at is not None else ".") + " Memories appear here as a "
                "model writes them: on the Chat page, set **Tools offered** to *memory* or *all* and tell it "
                "something worth keeping; it calls memory_insert, memory_link and memory_update, and this page "
                "follows along. Importing a Letta agent file (.af) on the Sessions page fills the core memory as it "
                "stood at each step.",
                icon=":material/hub:",
            )
            st.page_link("pages/chat.py", label="Go to Chat", icon=":material/chat:")
            st.page_link("pages/sessions.py", label="Import on Sessions", icon=":material/folder_open:")
            if editable:
                run_core_save(session.call_tool, render_core_panel(state, session.encoding, editable, key=core), key=core)
            return

        with st.container(border=True):
            run_core_save(session.call_tool, render_core_panel(state, session.encoding, editable, key=core), key=core)

        st.subheader("Memory graph", anchor=False)
        chosen = render_filters(graph, key=f"memory_filter-{session_id}")
        shown = filtered_memories(graph, chosen)
        st.caption(f"Live: {memory_summary(graph, token_counter(session.encoding))}. Shown: {len(shown):,} of the "
                   f"{len(graph.memories):,} written (the core memory, deleted and merged ones counted).")
        graph_tab, list_tab = st.tabs(["Graph", "List"])
        clicked = None
        with graph_tab:
            render_legend()
            nodes, edges = memory_drawing(graph, chosen)
            if nodes:
                height = 560 if len(nodes) > 12 else 420
                clicked = render_graph(graph_html(nodes, edges, layout="force", height=height,
                                                  channel=f"memory-{session_id}"), height,
                                       channel=f"memory-{session_id}", alt="memory graph")
                st.caption("Hover a node for its text; click a memory to open it here and below. "
                           "Drag to pan, scroll to zoom.")
            else:
                st.info("No memory matches these filters.", icon=":material/filter_alt_off:")
        with list_tab:
            render_memory_list(shown)

        with st.expander("Search memories", icon=":material/search:"):
            render_search(state, session.encoding, key=f"memory_search-{session_id}")

        st.subheader("A memory", anchor=False)
        ids = [memory.id for memory in reversed(graph.memories)]  # newest first; deleted and merged ones too
        if clicked in ids:
            st.session_state[pick] = clicked
        if st.session_state.get(pick) not in ids:
            st.session_state[pick] = ids[0]
        picked = st.selectbox(
            "Memory", ids, key=pick,
            format_func=lambda memory_id: printable(
                f"{memory_id} · {graph.get(memory_id).memory_type} · {graph.get(memory_id).status} · "
                f"{one_line(graph.get(memory_id).content, 60)}"))
        run_intent(session.call_tool, render_memory_details(graph.get(picked), state, editable))


session = require_session(service.find(selected_session_id()))
st.title("Memory")
st.caption(plain(session.title))
with st.container():  # one element whatever it holds: the board's place on the page (its fragment's id) stays put
    show_flash()
    at = followed_step(session, "memory", "the memory", service)
shown = session.last_seq  # read before the fold: an event landing in between costs one more rerun, never a miss
_board(session.id, at)
if at is None:
    follow_live(session, service, live_keys, shown)
