"""The task board as text: the progress line, the colour legend, the indented list, and one task's
details (its history and the message it came from).

Every title, detail, summary and message excerpt is text from a model or a person: it goes
through `plain()` for the widgets that read Markdown, or into a dataframe, which shows text as text.
The legend is our own constant HTML (st.html), never task text.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from components.plain import plain
from components.task_graph import BLOCKING, CRITICAL, ICONS, PALETTE, PARENT, shown_status
from engine.state import ContextState
from engine.tasks import Task, TaskBoard, blockers, progress

EXCERPT_CHARS = 400
LIST_LIMIT = 500  # past this many tasks the list shows the first ones and says how many more


def render_progress(board: TaskBoard) -> None:
    """The one-line summary the model reads too: "12 of 23 done, 3 active, 8 blocked"."""
    st.markdown(f"**{plain(progress(board))}**")


def render_legend() -> None:
    """What the colours, outlines and lines of the graph mean."""
    boxes = [(f"{ICONS[status]} {status}", fill, outline, status == "stale") for status, (fill, outline, _) in PALETTE.items()]
    boxes += [("⚠ stale, waits (counted blocked)", PALETTE["stale"][0], PALETTE["blocked"][1], True),
              ("on the critical path", "#ffffff", CRITICAL, False)]
    swatches = "".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:14px;white-space:nowrap">'
        f'<span style="display:inline-block;width:14px;height:14px;background:{fill};border:2px '
        f'{"dashed" if dashed else "solid"} {outline};border-radius:3px;margin-right:5px"></span>{what}</span>'
        for what, fill, outline, dashed in boxes
    )
    lines = "".join(
        f'<span style="display:inline-flex;align-items:center;margin-right:14px;white-space:nowrap">'
        f'<span style="display:inline-block;width:26px;border-top:{width}px {style} {colour};margin-right:5px">'
        f'</span>{what}</span>'
        for colour, width, style, what in ((CRITICAL, 4, "solid", "critical path"),
                                            (BLOCKING, 3, "solid", "blocks (dependency not done)"),
                                            ("#8c959f", 2, "solid", "depends on (arrow to the later task)"),
                                            (PARENT, 2, "dashed", "part of (goal to subtask)"))
    )
    st.html(f'<div style="font:13px sans-serif;line-height:1.9;color:#1f2328">{swatches}<br>{lines}</div>')


def _children(board: TaskBoard) -> dict[str | None, list[Task]]:
    found: dict[str | None, list[Task]] = {}
    for task in board.tasks:
        parent = task.parent if task.parent and board.get(task.parent) is not None else None
        found.setdefault(parent, []).append(task)
    return found


def task_tree(board: TaskBoard) -> list[tuple[int, Task]]:
    """The tasks as (depth, task), each goal followed by its subtasks, in the order they were added."""
    children = _children(board)
    order: list[tuple[int, Task]] = []
    stack = [(0, task) for task in reversed(children.get(None, []))]
    seen: set[str] = set()
    while stack:
        depth, task = stack.pop()
        if task.id in seen:
            continue
        seen.add(task.id)
        order.append((depth, task))
        stack.extend((depth + 1, child) for child in reversed(children.get(task.id, [])))
    return order


def task_line(board: TaskBoard, task: Task) -> str:
    """One list item in Markdown, every piece of task text escaped."""
    status = shown_status(board, task)
    line = f"{ICONS[status]} **{plain(task.title)}** · `{task.id}` · {status}"
    waiting = blockers(board, task)
    if waiting and task.status != "done":
        line += " · waits for " + ", ".join(f"`{plain(task_id)}`" for task_id in waiting)
    if task.summary:
        line += f" · outcome: {plain(' '.join(task.summary.split()))}"
    return line


def render_task_list(board: TaskBoard) -> None:
    """Goals and their subtasks as an indented list, with status, what each waits for, and outcomes."""
    tree = task_tree(board)
    shown = tree[:LIST_LIMIT]
    st.markdown("\n".join(f"{'    ' * depth}- {task_line(board, task)}" for depth, task in shown))
    if len(tree) > len(shown):
        st.caption(f"… and {len(tree) - len(shown):,} more tasks (pick one above to see it)")


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "(none)"
    return str(value)


def history_rows(task: Task) -> list[dict[str, Any]]:
    """A row per past value: the step that changed it, the field, the value it had before, and why."""
    rows = []
    for entry in task.history:
        because = entry.get("because")
        for key, value in entry.items():
            if key in ("seq", "because"):
                continue
            note = f"made stale because {because} was revised" if because else ""
            rows.append({"step": entry.get("seq"), "field": key, "value before": _value(value), "note": note})
    return rows


def message_excerpt(state: ContextState, message_id: str | None) -> str:
    """Where the task came from, as plain text: the message's role and the start of its text."""
    if message_id is None:
        return "It was made before any message was in the context (or by an import that named none)."
    found = next((message for message in state.messages if message.id == message_id), None)
    if found is None:
        return f"Message {message_id} is not in this session's context at this step."
    text = found.text or found.calls_text or found.reasoning or ""
    text = " ".join(text.split())
    excerpt = text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1] + "…"
    return f"{message_id} · {found.role}: {excerpt or '(no text)'}"


def _named(board: TaskBoard, ids) -> str:
    return ", ".join(f"{task_id} ({board.get(task_id).title})" if board.get(task_id) else task_id for task_id in ids)


def render_task_details(board: TaskBoard, task: Task, state: ContextState) -> None:
    """A picked task: title, status, links, details, outcome, history and its source message."""
    status = shown_status(board, task)
    st.subheader(plain(task.title), anchor=False)
    recorded = "" if status == task.status else f" (recorded: {task.status})"
    st.markdown(f"{ICONS[status]} **{status}**{recorded} · `{task.id}` · added at step {task.created_seq}")
    facts = {
        "part of": _named(board, [task.parent]) if task.parent else "(a top-level goal)",
        "depends on": _named(board, task.depends_on) or "(nothing)",
        "waits for": (_named(board, blockers(board, task)) or "(nothing)") if task.status != "done" else "(done)",
        "details": task.details or "(none)",
        "outcome": task.summary or "(not done yet)",
    }
    if task.folded_messages:
        facts["folded behind the outcome"] = ", ".join(task.folded_messages)
    st.markdown("  \n".join(f"**{key}:** {plain(' '.join(value.split()))}" for key, value in facts.items()))
    st.markdown("**History**")
    rows = history_rows(task)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption("Never revised.")
    st.markdown("**The message it came from**")
    st.text(message_excerpt(state, task.message_id))
