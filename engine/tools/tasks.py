"""The task DAG's tools for a model: add, revise, complete and list tasks (engine/tasks.py).

`complete_task` is HiAgent's move (arXiv 2408.09559; algorithms.md §5): the assistant and tool
messages written since the task was started (made active, else added) are folded behind one
summary line through the usual fragment events, so a finished subgoal frees its context and
`restore_fragment` brings any of it back. The person's and the system's messages stay.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from engine.errors import ToolInputError
from engine.events import Event, FragmentFolded, FragmentSummarized
from engine.ids import IdAllocator
from engine.state import ContextState
from engine.tasks import (
    TaskAdded, TaskBoard, TaskCompleted, TaskRevised, TaskStatus, blockers, critical_path, cycle_if_added, downstream,
    is_blocked, lineage, progress, ready, stale_reason, subtasks, task_board, task_value,
)
from engine.tools.registry import ToolContext, ToolResult

SUMMARY_CHARS = 300  # a one-line summary (ours: HiAgent asks for one line)
TITLE_CHARS, DETAILS_CHARS = 200, 4_000  # a name, and what is worth remembering about it (ours)
CONTENT_REVISIONS = ("title", "details", "parent", "depends_on")  # what makes downstream tasks stale (TME)


def _last_message(state: ContextState) -> str | None:
    return state.messages[-1].id if state.messages else None


def _task(board: TaskBoard, task_id: str, what: str = "task") -> Any:
    task = board.get(task_id)
    if task is None:
        known = ", ".join(t.id for t in board.tasks[-10:]) or "none yet (add one with add_task)"
        raise ToolInputError(f"no {what} {task_id!r}; the tasks are {known}")
    return task


def _check_sizes(title: str | None, details: str | None) -> None:
    if title is not None and len(title) > TITLE_CHARS:
        raise ToolInputError(f"title is {len(title):,} characters; name the task in at most {TITLE_CHARS}, and put "
                             "the rest in details")
    if details is not None and len(details) > DETAILS_CHARS:
        raise ToolInputError(f"details are {len(details):,} characters; keep them to {DETAILS_CHARS:,} (where the "
                             "facts are, not the facts themselves)")


def _check_links(board: TaskBoard, task_id: str, parent: str | None, depends_on: list[str]) -> None:
    if parent is not None:
        _task(board, parent, "parent task")
        if parent == task_id:
            raise ToolInputError(f"{task_id!r} cannot be its own parent")
        if task_id in lineage(board, parent):  # a task may not sit under itself
            raise ToolInputError(f"{parent!r} is under {task_id!r}: a task cannot be put under its own subtask")
    for dependency in depends_on:
        _task(board, dependency, "dependency")
        if dependency == task_id:
            raise ToolInputError(f"{task_id!r} cannot depend on itself")
    cycle = cycle_if_added(board, task_id, depends_on)
    if cycle:
        raise ToolInputError("that dependency would make a cycle: " + " -> ".join([*cycle, cycle[0]])
                             + "; a task can only depend on tasks that do not (in the end) depend on it")


def add_task(ctx: ToolContext, title: str, details: str = "", parent: str | None = None,
             depends_on: list[str] = []) -> ToolResult:  # noqa: B006 (read only)
    """Add a task (a goal or a subtask) to your task list, so you can track what is left to do.

    Break a long job into tasks; give a subtask its parent goal, and list the tasks that must be
    done before it can start in depends_on. Returns the new task's id, such as "t1a2b3".

    Args:
        title: A short name for the task, such as "book the venue".
        details: Anything worth remembering about it: constraints, values, where the facts are.
        parent: Optional: the id of the goal this task is part of.
        depends_on: Ids of tasks that must be done before this one can start.
    """
    if not title.strip():
        raise ToolInputError('title is empty; name the task, such as "book the venue"')
    _check_sizes(title, details)
    parent = parent or None  # models often send "" for "none"
    depends_on = [dependency for dependency in depends_on if dependency]
    board = task_board(ctx.state)
    task_id = IdAllocator("t", board.index, seed=f"task:{ctx.state.event_count}").next(title)
    _check_links(board, task_id, parent, list(depends_on))
    event = TaskAdded(task_id=task_id, title=title.strip(), details=details, parent=parent,
                      depends_on=list(dict.fromkeys(depends_on)), message_id=_last_message(ctx.state))
    return ToolResult.ok({"task_id": task_id, "title": event.title}, [event])


def update_task(ctx: ToolContext, task_id: str, title: str | None = None, details: str | None = None,
                status: TaskStatus | None = None, parent: str | None = None,
                depends_on: list[str] | None = None) -> ToolResult:
    """Revise a task: change its title, details, status, parent or dependencies.

    Use it when plans change ("actually, make it Tuesday"): the old value is kept in the task's
    history, and every task that depends on this one (directly or not), and every subtask under
    it, is marked stale, so you know to check it again. Set status to "active" when you start
    working on a task.

    Args:
        task_id: The task to revise, such as "t1a2b3".
        title: A new title for the task, such as "book the venue for Tuesday".
        details: New details for the task; they replace the old ones, which stay in its history.
        status: "open", "active", "blocked" or "stale" (finish a task with complete_task).
        parent: The id of the goal this task now belongs under; "" makes it a top-level task.
        depends_on: The complete new list of ids of the tasks it depends on.
    """
    board = task_board(ctx.state)
    task = _task(board, task_id)
    if status == "done":
        raise ToolInputError("to finish a task, call complete_task with a one-line summary: it records the outcome "
                             "and folds the work behind it")
    _check_sizes(title, details)
    depends_on = list(dict.fromkeys(d for d in depends_on if d)) if depends_on is not None else None
    given = {"title": title, "details": details, "status": status, "parent": parent, "depends_on": depends_on}
    changes = {key: value for key, value in given.items() if value is not None and value != task_value(task, key)}
    if parent == "":  # to the top level
        changes.pop("parent", None)
        if task.parent is not None:
            changes["parent"] = None
    if "depends_on" in changes and set(changes["depends_on"]) == set(task.depends_on):
        del changes["depends_on"]  # the same dependencies in another order: no revision
    if not changes:
        raise ToolInputError("nothing to change: give at least one of title, details, status, parent, "
                             "depends_on with a value different from the task's")
    if "title" in changes and not changes["title"].strip():
        raise ToolInputError("title cannot be empty")
    _check_links(board, task_id, changes.get("parent"), list(changes.get("depends_on", task.depends_on)))
    content = any(key in changes for key in CONTENT_REVISIONS)
    # done ones too: what they rested on changed. A goal's subtasks were planned under its old value.
    affected = set(downstream(board, task_id)) | set(subtasks(board, task_id)) if content else set()
    stale = [t.id for t in board.tasks if t.id in affected]
    event = TaskRevised(task_id=task_id, changes=changes, previous={key: task_value(task, key) for key in changes},
                        made_stale=stale, message_id=_last_message(ctx.state))
    result = {"task_id": task_id, "changed": sorted(changes), "marked_stale": stale}
    return ToolResult.ok(result, [event])


def complete_task(ctx: ToolContext, task_id: str, summary: str) -> ToolResult:
    """Mark a task done, and fold the work you did on it behind your one-line summary.

    The assistant and tool messages written since the task was started are folded (hidden) and
    replaced in your context by the summary, which frees room; nothing is lost:
    restore_fragment brings any of it back. Say in the summary what was found or decided.

    Args:
        task_id: The task that is done, such as "t1a2b3".
        summary: One line: the outcome, such as "venue booked: Hall B, Tuesday 10:00".
    """
    board = task_board(ctx.state)
    task = _task(board, task_id)
    line = " ".join(summary.split())
    if not line:
        raise ToolInputError('summary is empty; say in one line what the task came to, such as "venue booked"')
    if len(line) > SUMMARY_CHARS:
        raise ToolInputError(f"summary is {len(line)} characters; keep it to one line of at most {SUMMARY_CHARS}")
    if task.status == "done":
        raise ToolInputError(f"{task_id!r} is done already")
    events, folded = _fold_work(ctx.state, task, line, ctx.from_model)
    completed = TaskCompleted(task_id=task_id, summary=line, folded_messages=folded, message_id=_last_message(ctx.state))
    unblocked = [t for t in ready(_after(board, task_id)) if t != task_id and t not in ready(board)]
    return ToolResult.ok({"task_id": task_id, "folded_messages": folded, "now_ready": unblocked},
                         [completed, *events])


def _after(board: TaskBoard, task_id: str) -> TaskBoard:
    return board.with_task(replace(board.get(task_id), status="done"))


def _fold_work(state: ContextState, task: Any, summary: str, from_model: bool) -> tuple[list[Event], list[str]]:
    """Fold the visible fragments of the assistant and tool messages after the task's start (for
    a model, up to the request calling this tool), the first one summarized by the summary line."""
    start = task.started_at or task.message_id
    index = next((i for i, m in enumerate(state.messages) if m.id == start), -1)
    end = len(state.messages)
    if from_model:  # the request calling this tool, and the results of its earlier calls, stay
        end = next((i for i in range(end - 1, index, -1) if state.messages[i].role == "assistant"
                    and state.messages[i].tool_calls), end)
    work = [m for m in state.messages[index + 1 : end] if m.role in ("assistant", "tool")]
    events: list[Event] = []
    folded = []
    for message in work:
        visible = [fragment for fragment in message.fragments if fragment.status == "visible"]
        for fragment in visible:
            if not events:
                events.append(FragmentSummarized(fragment_id=fragment.id, focus=f"task {task.id}",
                                                 summary=f"Task {task.id} ({task.title}) done: {summary}",
                                                 summarizer="task summary"))
            else:
                events.append(FragmentFolded(fragment_id=fragment.id))
        if visible:
            folded.append(message.id)
    return events, folded


def list_tasks(ctx: ToolContext) -> ToolResult:
    """List your tasks: each one's status, what is ready to start, what is blocked and by what.

    Returns the task tree as text (subtasks under their goals), a one-line progress summary such
    as "12 of 23 done, 3 active, 8 blocked", the ids ready to start (every dependency done), and
    for each blocked task the tasks it waits for.
    """
    board = task_board(ctx.state)
    if not board.tasks:
        return ToolResult.ok({"summary": "no tasks yet", "tasks": "", "ready": [], "blocked": {}})
    children: dict[str | None, list[Any]] = {}
    for task in board.tasks:
        children.setdefault(task.parent if board.get(task.parent or "") else None, []).append(task)
    waiting = {task.id: blockers(board, task) or ["marked blocked"] for task in board.tasks if is_blocked(board, task)}
    lines: list[str] = []

    def walk(parent: str | None, depth: int) -> None:
        for task in children.get(parent, []):
            facts = [task.status]
            if task.id in waiting:
                facts.append("waits for " + ", ".join(waiting[task.id]))
            if stale_reason(task):
                facts.append(f"check again: {stale_reason(task)} changed")
            if task.summary:
                facts.append(f"outcome: {task.summary}")
            lines.append(f"{'  ' * depth}- {task.id} {task.title} [{'; '.join(facts)}]")
            walk(task.id, depth + 1)

    walk(None, 0)
    return ToolResult.ok({"summary": progress(board), "tasks": "\n".join(lines), "ready": ready(board),
                          "blocked": waiting, "critical_path": critical_path(board)})
