"""The task board as a drawing: nodes and edges for components/graph_view.py, from plain engine data.

What users of task graphs ask for (field-notes.md, "Graph visualizers": Claude Code #91888,
#76963; bernstein #184; codeframe #476): a layered layout, status colours, per-task history,
the critical path, blockers highlighted. So:

- Columns by dependency depth: networkx's topological generations of the dependency DAG (a task
  sits one column right of its deepest dependency), drawn left to right.
- A colour per shown status. A task not started that waits on an unfinished dependency (or is
  marked so) shows as blocked, and the edges from what blocks it are red; a stale task (TME: a
  task it rests on was revised) has a dashed outline and a "⚠ stale" line, the outline red
  when it also waits (the progress line counts it as blocked).
- The critical path (the longest chain of unfinished dependencies, `engine.tasks.critical_path`)
  in thick purple edges with a purple outline on its tasks, when it has two tasks or more (one
  task alone is no path, and every flat todo list would have its first item outlined).
- Dependency edges are arrows from the task that must be done first; parent links (goal to
  subtask) are dashed grey lines without an arrow, so the tree and the DAG read apart.
- A done task without a summary says so ("done, no summary"), never "not done yet".

Everything here is plain text for vis (drawn on a canvas or set as innerText), never Markdown.
"""

from __future__ import annotations

import networkx as nx

from components.graph_layout import ROW_GAP, layered_rows
from components.graph_view import GraphEdge, GraphNode
from engine.tasks import Task, TaskBoard, blockers, critical_path, dependency_graph, is_blocked

# status shown -> (fill, outline, what it means); fills light enough for dark text
PALETTE: dict[str, tuple[str, str, str]] = {
    "open": ("#ddeeff", "#4a78b5", "not started, nothing in its way"),
    "active": ("#fff0a8", "#9a6700", "being worked on"),
    "done": ("#d2f4d8", "#2f8a46", "finished, with its summary"),
    "blocked": ("#ffd9d6", "#cf222e", "waits on a dependency not done (or marked blocked)"),
    "stale": ("#ffe3c4", "#bc4c00", "a task it rests on was revised: check it again"),
}
CRITICAL = "#8250df"  # the critical path's edges and outlines
BLOCKING = "#cf222e"  # an edge from an unfinished dependency to the task it blocks
DEPENDENCY = "#8c959f"
PARENT = "#c4cbd3"  # light: the tree is secondary to the DAG in this drawing
ICONS = {"open": "○", "active": "▶", "done": "✓", "blocked": "⊘", "stale": "⚠"}  # glyphs common fonts have
LABEL_CHARS = 48  # the label shows the start of a long title; the tooltip has all of it
TOOLTIP_CHARS = 400


def shown_status(board: TaskBoard, task: Task) -> str:
    """The status the drawing shows: stale and done as recorded, blocked when it waits on
    something (engine.tasks.is_blocked), else the recorded one."""
    if task.status in ("stale", "done", "active"):
        return task.status
    return "blocked" if is_blocked(board, task) else "open"


def levels(board: TaskBoard) -> dict[str, int]:
    """Each task's column: its dependency depth (topological generation; roots are 0)."""
    graph = dependency_graph(board)
    try:
        return {task_id: depth for depth, generation in enumerate(nx.topological_generations(graph))
                for task_id in generation}
    except nx.NetworkXUnfeasible:  # a cycle cannot be folded from a log, but draw something anyway
        return {task.id: 0 for task in board.tasks}


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _titles(board: TaskBoard, ids) -> str:
    return ", ".join(f"{task_id} ({_cut(board.get(task_id).title, 30)})" if board.get(task_id) else task_id
                     for task_id in ids)


def task_tooltip(board: TaskBoard, task: Task) -> str:
    """Plain text for the hover tooltip: id, status, title, what it waits for, the outcome."""
    status = shown_status(board, task)
    lines = [f"{task.id} · {status}" + (f" (recorded {task.status})" if status != task.status else ""),
             _cut(task.title, TOOLTIP_CHARS)]
    waiting = blockers(board, task)
    if waiting:
        lines.append("waits for: " + _titles(board, waiting))
    if task.summary:
        lines.append("outcome: " + _cut(task.summary, TOOLTIP_CHARS))
    elif task.status == "done":
        lines.append("outcome: (done, no summary)")
    return "\n".join(lines)


def task_details(board: TaskBoard, task: Task) -> str:
    """Plain text for the panel a click opens: the tooltip plus details, parent, dependencies
    and how often it was revised."""
    lines = [task_tooltip(board, task)]
    if task.details:
        lines.append("details: " + _cut(task.details, TOOLTIP_CHARS))
    if task.parent:
        lines.append("part of: " + _titles(board, [task.parent]))
    if task.depends_on:
        lines.append("depends on: " + _titles(board, task.depends_on))
    if task.history:
        lines.append(f"revised {len(task.history)} time(s); the history is below the graph")
    return "\n".join(lines)


def graph_height(board: TaskBoard) -> int:
    """The graph's height in px, from its tallest column as drawn: vis spaces rows ROW_GAP + 30
    apart; a column folded by graph_layout (a flat todo list) is ROW_GAP a row."""
    rows, folded = layered_rows(list(levels(board).values()))
    return min(max(110 + (ROW_GAP if folded else ROW_GAP + 30) * rows, 300), 760)


def task_graph(board: TaskBoard) -> tuple[list[GraphNode], list[GraphEdge]]:
    """The board's nodes (one per task) and edges (dependencies, then parent links)."""
    depth = levels(board)
    path = critical_path(board)
    path = path if len(path) >= 2 else []
    on_path = set(path)
    path_edges = set(zip(path, path[1:]))
    nodes = []
    for task in board.tasks:
        status = shown_status(board, task)
        fill, outline, _ = PALETTE[status]
        label = f"{ICONS[status]} {_cut(task.title, LABEL_CHARS)}\n{task.id}"
        if status == "stale":
            waiting = is_blocked(board, task)  # counted as blocked by the progress line too
            outline = PALETTE["blocked"][1] if waiting else outline
            label += " · ⚠ stale" + (", waits" if waiting else "")
        nodes.append(GraphNode(
            id=task.id, label=label, title=task_tooltip(board, task), details=task_details(board, task),
            color=fill, border=CRITICAL if task.id in on_path else outline,
            border_width=3.0 if task.id in on_path else 1.5, dashed=status == "stale",
            level=depth.get(task.id, 0), group=status, shape="box",
        ))
    edges = []
    for task in board.tasks:
        waiting = set(blockers(board, task)) if is_blocked(board, task) else set()
        for dependency in task.depends_on:
            if (dependency, task.id) in path_edges:
                edges.append(GraphEdge(dependency, task.id, color=CRITICAL, width=4.0, title="on the critical path"))
            elif dependency in waiting:
                edges.append(GraphEdge(dependency, task.id, color=BLOCKING, width=2.5,
                                       title=f"{task.id} waits for {dependency}"))
            else:
                edges.append(GraphEdge(dependency, task.id, color=DEPENDENCY, width=1.5))
    for task in board.tasks:
        if task.parent and board.get(task.parent) is not None:
            edges.append(GraphEdge(task.parent, task.id, arrows="", color=PARENT, dashes=True, width=1.0,
                                   title=f"{task.id} is part of {task.parent}"))
    return nodes, edges
