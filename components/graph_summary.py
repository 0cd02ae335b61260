"""One line under the Chat page's token bar: where the task DAG and the memory graph stand, with
links to their pages. It is drawn from the state the page shows, so it moves with every turn."""

from __future__ import annotations

import streamlit as st

from engine.memory import core_memory, memory_graph
from engine.state import ContextState
from engine.tasks import progress, task_board
from engine.tokens import TokenCounter


def render_graph_summary(state: ContextState, counter: TokenCounter) -> None:
    """Nothing while the session has no task and no memory."""
    board, graph = task_board(state), memory_graph(state)
    if not board.tasks and not graph.memories:
        return
    columns = st.columns(2)
    if board.tasks:
        columns[0].page_link("pages/tasks.py", label=f"Tasks: {progress(board)}", icon=":material/account_tree:")
    if graph.memories:
        live = [m for m in graph.live() if m.memory_type != "core"]
        core = core_memory(state)
        core_part = f", core memory {counter.count(core)} tokens" if core else ""
        columns[1].page_link("pages/memory.py", label=f"Memory: {len(live)} {'memory' if len(live) == 1 else 'memories'}{core_part}", icon=":material/hub:")
