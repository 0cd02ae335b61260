"""The task board as text: the progress line, the colour legend, the indented list, and one task's
details (its history and the message it came from).

Every title, detail, summary, message excerpt and id is text from a model, a person or a file:
it goes through `plain()` for the widgets that read Markdown, or into a dataframe, which shows
text as text. An id is shown in code style only when it is letters, digits, `_` and `-` (as
the engine's ids are): a crafted id in an imported trace once closed the backticks around it
and made the page load a remote image. The legend is our own constant HTML (st.html), never
task text.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import streamlit as st

from components.follow import open_on_context
from components.message_view import source_excerpt
from components.plain import plain, shown_value
from components.task_graph import BLOCKING, CRITICAL, ICONS, PALETTE, PARENT, shown_status
from engine.state import ContextState
from engine.tasks import Task, TaskBoard, blockers, is_blocked, progress

EXCERPT_CHARS = 400
LIST_LIMIT = 500  # past this many tasks the list shows the first ones and says how many more
_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def code_id(value: object) -> str:
    """An id for Markdown: in code style when it is only letters, digits, `_` and `-` (nothing
    there can close the backticks), else escaped as plain text."""
    text = str(value)
    return f"`{text}`" if _PLAIN_ID.fullmatch(text) else plain(text)


def status_breakdown(board: TaskBoard) -> str | None:
    """What the progress line's counts overlap on, as counts that add up: each task once, by the
    status the graph shows; None when nothing overlaps (no stale task waits)."""
    shown = Counter(shown_status(board, task) for task in board.tasks)
    waiting = sum(task.status == "stale" and is_blocked(board, task) for task in board.tasks)
    if not waiting:
        return None
    parts = [f"{shown[status]} {status}" for status in PALETTE if shown[status]]
    return (f"By status as drawn: {', '.join(parts)} ({len(board.tasks)} in all). \"Blocked\" above counts every "
            f"task waiting on a dependency, so it includes the {waiting} stale {'one' if waiting == 1 else 'ones'} that wait.")


def render_progress(board: TaskBoard) -> None:
    """The one-line summary the model reads too: "12 of 23 done, 3 active, 8 blocked", and, when
    its counts overlap, a caption with counts that add up."""
    st.markdown(f"**{plain(progress(board))}**")
    if breakdown := status_breakdown(board):
        st.caption(breakdown)


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
    line = f"{ICONS[status]} **{plain(task.title)}** · {code_id(task.id)} · {status}"
    waiting = blockers(board, task)
    if waiting and task.status != "done":
        line += " · waits for " + ", ".join(code_id(task_id) for task_id in waiting)
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


def history_rows(task: Task) -> list[dict[str, Any]]:
    """A row per past value: the step that changed it, the field, the value it had before, and why."""
    rows = []
    for entry in task.history:
        because = entry.get("because")
        for key, value in entry.items():
            if key in ("seq", "because"):
                continue
            note = f"made stale because {because} was revised" if because else ""
            rows.append({"step": entry.get("seq"), "field": key, "value before": shown_value(value), "note": note})
    return rows


def message_excerpt(state: ContextState, message_id: str | None) -> str:
    """Where the task came from, as plain text."""
    return source_excerpt(state, message_id, "made", EXCERPT_CHARS)


def _one_line(text: str) -> str:
    return plain(" ".join(text.split()))


def _named(board: TaskBoard, ids) -> str:
    """Markdown: each id with its task's title, both escaped."""
    return ", ".join(f"{plain(task_id)} ({_one_line(board.get(task_id).title)})" if board.get(task_id)
                     else plain(task_id) for task_id in ids)


def outcome(task: Task) -> str:
    """The task's summary, or what stands in for one."""
    if task.summary:
        return task.summary
    return "(done, no summary)" if task.status == "done" else "(not done yet)"


def render_task_details(board: TaskBoard, task: Task, state: ContextState) -> None:
    """A picked task: title, status, links, details, outcome, history and its source message,
    with a button that opens that message on the Context page."""
    status = shown_status(board, task)
    st.subheader(plain(task.title), anchor=False)
    recorded = "" if status == task.status else f" (recorded: {plain(task.status)})"
    st.markdown(f"{ICONS[status]} **{status}**{recorded} · {code_id(task.id)} · added at step {task.created_seq}")
    facts = {  # Markdown, every piece escaped
        "part of": _named(board, [task.parent]) if task.parent else "(a top-level goal)",
        "depends on": _named(board, task.depends_on) or "(nothing)",
        "waits for": (_named(board, blockers(board, task)) or "(nothing)") if task.status != "done" else "(done)",
        "details": _one_line(task.details) or "(none)",
        "outcome": _one_line(outcome(task)),
    }
    if task.folded_messages:
        facts["folded behind the outcome"] = ", ".join(plain(message_id) for message_id in task.folded_messages)
    st.markdown("  \n".join(f"**{key}:** {value}" for key, value in facts.items()))
    st.markdown("**History**")
    rows = history_rows(task)
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption("Never revised.")
    st.markdown("**The message it came from**")
    st.text(message_excerpt(state, task.message_id))
    if task.message_id and any(message.id == task.message_id for message in state.messages):
        if st.button(f"Read {plain(task.message_id)} on the Context page", key=f"task_source-{task.id}",
                     icon=":material/view_agenda:", help="opens the page of messages that holds it, marked"):
            open_on_context(task.message_id)
