"""Tasks: the task DAG the model builds as it works, as a graph and as a list; one task's details.

It follows the log live (components/follow.py): the board (progress, graph, list, details) is
one keyed fragment, rerun only when new events touch the tasks (engine/changes.py), wherever
they were written (a chat in this tab or another, an MCP client, the CLI); other events leave
it as drawn, and new settings rerun the page. With "Follow the Replay step" on, it shows the
board as it was at the Replay page's step instead, and only the caption that says where it
stands polls. A task's source message opens on the Context page (components/follow.py
`open_on_context`).
"""

from __future__ import annotations

import streamlit as st

from components.app_state import engine_errors, require_session, selected_session_id
from components.follow import board_keys, follow_live, followed_step
from components.graph_view import graph_html, render_graph
from components.plain import plain
from components.task_graph import graph_height, task_graph
from components.task_view import render_legend, render_progress, render_task_details, render_task_list
from engine.changes import Touched
from engine.tasks import task_board
from engine.text import printable
from sessions.service import Workbench

BOARD = "tasks-board"
service = Workbench.shared()


def live_keys(touched: Touched) -> list[str] | None:
    """What events written elsewhere rerun here: the board for tasks, the page for settings."""
    return board_keys(BOARD, touched, touched.tasks)


@st.fragment(key=BOARD)
def _board(session_id: str, at: int | None) -> None:
    """Everything the board shows, at step `at` (None: the latest, read afresh on each rerun)."""
    with engine_errors():
        session = service.find(session_id)
        if session is None:
            return
        state = session.state(at)
        board = task_board(state)
        follow = at is not None
        if not board.tasks:
            st.info(
                "No tasks yet" + (" at this step." if follow else ".") + " Tasks appear here as a model plans its "
                "work: on the Chat page, set **Tools offered** to *tasks* or *all* and ask for a plan; the model then "
                "calls add_task, update_task and complete_task, and this page follows along. Importing a Claude Code "
                "session fills the board from its todo lists (TodoWrite) as they stood over time.",
                icon=":material/account_tree:",
            )
            st.page_link("pages/chat.py", label="Go to Chat", icon=":material/chat:")
            return
        pick = f"tasks_pick-{session_id}"
        render_progress(board)
        graph_tab, list_tab = st.tabs(["Graph", "List"])
        with graph_tab:
            render_legend()
            height = graph_height(board)
            nodes, edges = task_graph(board)
            clicked = render_graph(graph_html(nodes, edges, height=height, channel=f"tasks-{session_id}"), height,
                                   channel=f"tasks-{session_id}", alt="task graph")
            st.caption("Hover a task for a summary; click it to open its details here and below (× closes them). "
                       "Drag to pan, scroll to zoom: the view is kept while the board grows.")
        with list_tab:
            render_task_list(board)
        ids = [task.id for task in board.tasks]
        if clicked in ids:
            st.session_state[pick] = clicked
        if st.session_state.get(pick) not in ids:
            st.session_state[pick] = ids[0]
        picked = st.selectbox("Task", ids, key=pick,
                              format_func=lambda task_id: printable(f"{task_id} · {board.get(task_id).title}"))
        render_task_details(board, board.get(picked), state)


session = require_session(service.find(selected_session_id()))
st.title("Tasks")
st.caption(plain(session.title))
with st.container():  # one element whatever it holds: the board's place on the page (its fragment's id) stays put
    at = followed_step(session, "tasks", "the board", service)
shown = session.last_seq  # read before the fold: an event landing in between costs one more rerun, never a miss
_board(session.id, at)
if at is None:
    follow_live(session, service, live_keys, shown)
