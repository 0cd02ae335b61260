"""One line under the Chat page's token bar: where the task DAG and the memory graph stand, with
links to their pages. It is drawn from the state the page shows, so it moves with every turn.

`memory_summary` words the live memories the same way here and on the Memory page: the core
memory apart (it is one text always at the top of the context, not a memory among others), with
its size in tokens, as the Memory page's core panel counts it."""

from __future__ import annotations

import streamlit as st

from engine.memory import CORE_ID, MemoryGraph, memory_graph
from engine.state import ContextState
from engine.tasks import progress, task_board
from engine.tokens import TokenCounter


def memory_summary(graph: MemoryGraph, counter: TokenCounter) -> str:
    """The live memories in words, such as "6 memories + core memory (45 tokens)"."""
    live = [memory for memory in graph.live() if memory.id != CORE_ID]
    words = f"{len(live):,} {'memory' if len(live) == 1 else 'memories'}"
    core = graph.get(CORE_ID)
    if core is not None and core.live and core.content:
        words += f" + core memory ({counter.count(core.content):,} tokens)"
    return words


def render_graph_summary(state: ContextState, counter: TokenCounter) -> None:
    """Nothing while the session has no task and no memory."""
    board, graph = task_board(state), memory_graph(state)
    if not board.tasks and not graph.memories:
        return
    columns = st.columns(2)
    if board.tasks:
        columns[0].page_link("pages/tasks.py", label=f"Tasks: {progress(board)}", icon=":material/account_tree:")
    if graph.memories:
        columns[1].page_link("pages/memory.py", label=f"Memory: {memory_summary(graph, counter)}", icon=":material/hub:")
