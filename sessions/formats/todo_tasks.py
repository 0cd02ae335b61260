"""Tasks from a saved conversation's own todo list: Claude Code's `TodoWrite` calls become the
session's task DAG, with each item's status over time (issue 10).

Each `TodoWrite` call carries the whole list (`todos: [{content, status, activeForm}]`). An item
seen for the first time becomes `task_added`; a later call that changes its status becomes
`task_revised`, so Replay shows the list as it stood at each step. Items are matched by their
text, as the list has no ids. Statuses: pending -> open, in_progress -> active, completed ->
done. An item dropped from a later list stays as it was: the list says nothing of why.
"""

from __future__ import annotations

import json
from typing import Any

from engine.events import Event, MessageAdded
from engine.ids import derive_id
from engine.state import ContextState
from engine.tasks import TaskAdded, TaskRevised, task_board

TODO_TOOLS = ("TodoWrite",)
STATUSES = {"pending": "open", "in_progress": "active", "completed": "done"}


def _todos(arguments: Any) -> list[dict[str, Any]]:
    try:
        value = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        return []
    todos = value.get("todos") if isinstance(value, dict) else None
    return [todo for todo in todos if isinstance(todo, dict)] if isinstance(todos, list) else []


def todo_events(state: ContextState, message: MessageAdded) -> list[Event]:
    """The task events a message's todo-list calls stand for, given the tasks so far in `state`."""
    calls = [call for call in message.tool_calls or () if call.get("function", {}).get("name") in TODO_TOOLS]
    if not calls:
        return []
    board = task_board(state)
    known = {task.title: (task.id, task.status) for task in board.tasks}
    taken = set(board.index)
    events: list[Event] = []
    for position, call in enumerate(calls):
        in_this_list: set[str] = set()
        for index, todo in enumerate(_todos(call["function"].get("arguments"))):
            title = todo.get("content")
            if not isinstance(title, str) or not title.strip() or title.strip() in in_this_list:
                continue  # an item with no text, or the same text twice in one list: the first one counts
            title = title.strip()
            in_this_list.add(title)
            raw = todo.get("status")
            status = STATUSES.get(raw, "open") if isinstance(raw, str) else "open"
            if title in known:
                task_id, before = known[title]
                if before != status:
                    events.append(TaskRevised(task_id=task_id, changes={"status": status}, previous={"status": before},
                                              message_id=message.message_id))
            else:
                task_id = derive_id("t", f"todo:{message.message_id}:{position}:{index}", taken)
                taken.add(task_id)
                details = todo.get("activeForm") if isinstance(todo.get("activeForm"), str) else ""
                events.append(TaskAdded(task_id=task_id, title=title, details=details, status=status,
                                        message_id=message.message_id))
            known[title] = (task_id, status)
    return events
