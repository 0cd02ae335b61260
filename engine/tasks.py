"""The task DAG: goals, subtasks, dependencies and revisions, as events, with networkx for the graph.

A task has an id (`t` + 5 hex), a title, details, a status (open, active, done, blocked, stale), a
parent (the tree of goals and subtasks), dependencies (the DAG: a task depends on others being
done first), the message that was last in the context when it was made, and the history of its
past values. Task Memory Engine (arXiv 2505.19436, `TaskMemoryStructure.py`
`replace_slot_and_propagate`; algorithms.md §2) keeps a revised task's old value in its history
and tells every task downstream; here a revision marks every task that depends on the revised
one, directly or not, stale. HiAgent (arXiv 2408.09559; §5) replaces a finished subgoal's
action-observation pairs by one summary line: `complete_task` records the summary, and the
fragment events that fold that work follow it (engine/tools/tasks.py).

Three events, each folded into an immutable `TaskBoard` slice: `task_added`, `task_revised`
(changed fields with their old values, and the tasks it made stale), `task_completed`. The graph
algorithms (cycles, what is ready, blockers, the critical path) are networkx's, run on a
`DiGraph` built from the board when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import networkx as nx
from pydantic import Field

from engine.errors import ReplayError
from engine.events import Event
from engine.ids import RecordId
from engine.state import ContextState
from engine.subsystem import Subsystem, upserted

TaskStatus = Literal["open", "active", "done", "blocked", "stale"]
STATUSES: tuple[str, ...] = ("open", "active", "done", "blocked", "stale")
REVISABLE = ("title", "details", "status", "parent", "depends_on")


class TaskAdded(Event):
    kind: Literal["task_added"] = "task_added"
    task_id: RecordId
    title: str
    details: str = ""
    parent: RecordId | None = None
    depends_on: list[RecordId] = Field(default_factory=list)
    status: TaskStatus = "open"
    message_id: RecordId | None = None  # the last message in the context when the task was made


class TaskRevised(Event):
    kind: Literal["task_revised"] = "task_revised"
    task_id: RecordId
    changes: dict[str, Any]  # field -> new value (title, details, status, parent, depends_on)
    previous: dict[str, Any]  # field -> the value it replaced
    made_stale: list[RecordId] = Field(default_factory=list)  # tasks downstream, marked stale by this revision
    message_id: RecordId | None = None


class TaskCompleted(Event):
    kind: Literal["task_completed"] = "task_completed"
    task_id: RecordId
    summary: str
    folded_messages: list[RecordId] = Field(default_factory=list)  # the work the summary stands for
    message_id: RecordId | None = None


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    title: str
    details: str
    status: str
    parent: str | None
    depends_on: tuple[str, ...]
    message_id: str | None
    created_seq: int  # the event that made it
    summary: str | None = None
    history: tuple[dict[str, Any], ...] = ()  # each past revision: {"seq", field: old value, ...}
    folded_messages: tuple[str, ...] = ()
    started_at: str | None = None  # the last message in the context when it was last made active


@dataclass(frozen=True, slots=True)
class TaskBoard:
    """The slice: every task, in the order they were added."""

    tasks: tuple[Task, ...] = ()
    index: dict[str, int] = field(default_factory=dict, compare=False)

    def get(self, task_id: str) -> Task | None:
        position = self.index.get(task_id)
        return self.tasks[position] if position is not None else None

    def with_task(self, task: Task) -> "TaskBoard":
        return TaskBoard(*upserted(self.tasks, self.index, task))


def task_board(state: ContextState) -> TaskBoard:
    return TASKS.slice_of(state)


def _known(board: TaskBoard, task_id: str | None, what: str) -> None:
    if task_id is not None and board.get(task_id) is None:
        raise ReplayError(f"{what} {task_id!r} is not a task")


def _task_added(state: ContextState, event: TaskAdded) -> None:
    board = task_board(state)
    if board.get(event.task_id) is not None:
        raise ReplayError(f"task {event.task_id!r} exists already")
    for dependency in event.depends_on:
        _known(board, dependency, "dependency")
    _known(board, event.parent, "parent")
    task = Task(event.task_id, event.title, event.details, event.status, event.parent, tuple(event.depends_on),
                event.message_id, state.event_count + 1)
    state.slices[TASKS.name] = board.with_task(task)


def _task_revised(state: ContextState, event: TaskRevised) -> None:
    board = task_board(state)
    task = board.get(event.task_id)
    if task is None:
        raise ReplayError(f"task {event.task_id!r} is not a task")
    unknown = set(event.changes) - set(REVISABLE)
    if unknown:
        raise ReplayError(f"a task has no field {sorted(unknown)[0]!r}")
    _check_revision(board, task, event.changes)
    values = {key: tuple(value) if key == "depends_on" else value for key, value in event.changes.items()}
    past = {"seq": state.event_count + 1, **{key: task_value(task, key) for key in event.changes}}
    started = event.message_id if event.changes.get("status") == "active" else task.started_at
    board = board.with_task(replace(task, **values, history=(*task.history, past), started_at=started))
    for stale_id in event.made_stale:
        stale = board.get(stale_id)
        if stale is None:
            raise ReplayError(f"task {stale_id!r} is not a task")
        board = board.with_task(replace(stale, status="stale",
                                        history=(*stale.history, {"seq": state.event_count + 1, "status": stale.status,
                                                                  "because": event.task_id})))
    state.slices[TASKS.name] = board


def _task_completed(state: ContextState, event: TaskCompleted) -> None:
    board = task_board(state)
    task = board.get(event.task_id)
    if task is None:
        raise ReplayError(f"task {event.task_id!r} is not a task")
    past = {"seq": state.event_count + 1, "status": task.status, "summary": task.summary}
    state.slices[TASKS.name] = board.with_task(replace(
        task, status="done", summary=event.summary, folded_messages=tuple(event.folded_messages),
        history=(*task.history, past)))


def _check_revision(board: TaskBoard, task: Task, changes: dict[str, Any]) -> None:
    """A revision read from a log must keep the board a DAG of known tasks, as the tools do."""
    if "status" in changes and changes["status"] not in STATUSES:
        raise ReplayError(f"task status {changes['status']!r} is not one of {', '.join(STATUSES)}")
    for key in ("title", "details"):
        if key in changes and not isinstance(changes[key], str):
            raise ReplayError(f"a task's {key} is text, not {type(changes[key]).__name__}")
    if "depends_on" in changes:
        depends_on = changes["depends_on"]
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            raise ReplayError("a task's depends_on is a list of task ids")
        for dependency in depends_on:
            _known(board, dependency, "dependency")
        if cycle_if_added(board, task.id, depends_on):
            raise ReplayError(f"the dependencies of {task.id!r} would make a cycle")
    if "parent" in changes:
        _known(board, changes["parent"], "parent")
        if task.id in lineage(board, changes["parent"]):
            raise ReplayError(f"{task.id!r} would be under itself")


def lineage(board: TaskBoard, task_id: str | None) -> list[str]:
    """`task_id` and its parents up to the top goal (a parent the board does not hold ends it)."""
    found: list[str] = []
    while task_id is not None and task_id not in found and board.get(task_id) is not None:
        found.append(task_id)
        task_id = board.get(task_id).parent
    return found


def task_value(task: Task, key: str) -> Any:
    value = getattr(task, key)
    return list(value) if isinstance(value, tuple) else value


TASKS = Subsystem(
    "tasks",
    {TaskAdded: _task_added, TaskRevised: _task_revised, TaskCompleted: _task_completed},
    empty_slice=TaskBoard(),
    description="the task DAG: goals, subtasks, dependencies, revisions (TME) and finished subgoals (HiAgent)",
)


# ---- the graph ------------------------------------------------------------------------------


def dependency_graph(board: TaskBoard) -> nx.DiGraph:
    """Tasks as nodes; an edge from each dependency to the task that needs it done first."""
    graph = nx.DiGraph()
    for task in board.tasks:
        graph.add_node(task.id)
        graph.add_edges_from((dependency, task.id) for dependency in task.depends_on)
    return graph


def cycle_if_added(board: TaskBoard, task_id: str, depends_on: list[str]) -> list[str] | None:
    """The cycle that `task_id` depending on `depends_on` would close (ids in order), or None."""
    graph = dependency_graph(board)
    graph.add_node(task_id)
    graph.remove_edges_from([(source, task_id) for source, _ in list(graph.in_edges(task_id))])
    graph.add_edges_from((dependency, task_id) for dependency in depends_on)
    try:
        cycle = nx.find_cycle(graph, source=task_id)
    except nx.NetworkXNoCycle:
        return None
    return [edge[0] for edge in cycle]


def downstream(board: TaskBoard, task_id: str) -> list[str]:
    """Every task that depends on `task_id`, directly or through others, in the order they were added."""
    reached = nx.descendants(dependency_graph(board), task_id)
    return [task.id for task in board.tasks if task.id in reached]


def subtasks(board: TaskBoard, task_id: str) -> list[str]:
    """Every task under `task_id` in the tree of goals (children, theirs, ...), in the order added."""
    tree = nx.DiGraph((task.parent, task.id) for task in board.tasks if task.parent is not None)
    reached = nx.descendants(tree, task_id) if task_id in tree else set()
    return [task.id for task in board.tasks if task.id in reached]


def stale_reason(task: Task) -> str | None:
    """Which revised task made `task` stale, from its history (None if it is not stale)."""
    if task.status != "stale":
        return None
    return next((entry["because"] for entry in reversed(task.history) if "because" in entry), None)


def blockers(board: TaskBoard, task: Task) -> list[str]:
    """The dependencies of `task` not done yet."""
    return [dependency for dependency in task.depends_on if (board.get(dependency) or task).status != "done"]


def ready(board: TaskBoard) -> list[str]:
    """Tasks ready to start: open (or stale, to be checked again) with every dependency done."""
    return [task.id for task in board.tasks if task.status in ("open", "stale") and not blockers(board, task)]


def is_blocked(board: TaskBoard, task: Task) -> bool:
    """Not started, and marked blocked or waiting on a dependency not done."""
    return task.status in ("open", "stale", "blocked") and (task.status == "blocked" or bool(blockers(board, task)))


def critical_path(board: TaskBoard) -> list[str]:
    """The longest chain of dependencies among the tasks not done (what bounds the finish)."""
    graph = dependency_graph(board)
    graph.remove_nodes_from([task.id for task in board.tasks if task.status == "done"])
    if not graph.number_of_nodes() or not nx.is_directed_acyclic_graph(graph):
        return []
    return list(nx.dag_longest_path(graph))


def progress(board: TaskBoard) -> str:
    """One line: "12 of 23 done, 3 active, 8 blocked" (blocked: waiting on a dependency, or marked so)."""
    done = sum(task.status == "done" for task in board.tasks)
    active = sum(task.status == "active" for task in board.tasks)
    blocked = sum(is_blocked(board, task) for task in board.tasks)
    stale = sum(task.status == "stale" for task in board.tasks)
    line = f"{done} of {len(board.tasks)} done, {active} active, {blocked} blocked"
    return line + (f", {stale} stale" if stale else "")
