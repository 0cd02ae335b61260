"""Claude Code's todo list fills the task DAG on import, with each item's status over time."""

from __future__ import annotations

import json

from engine import new_message
from engine.fold import replay
from engine.state import ContextState
from engine.tasks import progress, task_board
from sessions.formats.todo_tasks import todo_events


def _todo_call(message_id_state: ContextState, todos, name="TodoWrite"):
    return new_message(message_id_state, "assistant", "", tool_calls=[
        {"id": f"c{len(message_id_state.messages)}", "type": "function",
         "function": {"name": name, "arguments": json.dumps({"todos": todos})}}])


def test_todo_writes_become_tasks_whose_status_changes_over_time():
    state = ContextState()
    first = _todo_call(state, [{"content": "write tests", "status": "pending", "activeForm": "Writing tests"},
                               {"content": "fix the bug", "status": "in_progress"}])
    events = todo_events(state, first)
    state = replay([first, *events], state)
    board = task_board(state)
    assert [(t.title, t.status, t.details) for t in board.tasks] == [("write tests", "open", "Writing tests"),
                                                                    ("fix the bug", "active", "")]
    second = _todo_call(state, [{"content": "write tests", "status": "in_progress"},
                                {"content": "fix the bug", "status": "completed"},
                                {"content": "  ", "status": "pending"}, "junk",
                                {"content": "release", "status": "weird"}])
    later = todo_events(state, second)
    assert [e.kind for e in later] == ["task_revised", "task_revised", "task_added"]
    state = replay([second, *later], state)
    board = task_board(state)
    assert progress(board) == "1 of 3 done, 1 active, 0 blocked"
    assert board.get(board.tasks[1].id).history[-1]["status"] == "active"
    assert board.tasks[2].status == "open"  # an unknown status reads as open
    other = _todo_call(state, [{"content": "x", "status": "pending"}], name="Write")
    assert todo_events(state, other) == []
    broken = new_message(state, "assistant", "", tool_calls=[{"id": "z", "type": "function", "function": {
        "name": "TodoWrite", "arguments": "{not json"}}])
    assert todo_events(state, broken) == []


def test_the_real_claude_code_session_imports_its_todo_list(imported, sample):
    report, sessions = imported(sample("claude-code-jsonl/claude-code-viewer/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"))
    main = sessions[0]
    board = task_board(main.state())
    assert len(board.tasks) == 5 and progress(board) == "5 of 5 done, 0 active, 0 blocked"
    assert board.tasks[0].title == "Set up Next.js project structure and dependencies"
    first = next(e["seq"] for e in main.events() if e["kind"] == "task_added")
    early = task_board(main.state(at=first + 4))
    assert [t.status for t in early.tasks] == ["open"] * 5  # Replay: the list as it stood then
    assert sum(len(task_board(s.state()).tasks) for s in sessions) == 21


def test_odd_todo_items_never_break_an_import():
    state = ContextState()
    odd = _todo_call(state, [{"content": "a", "status": ["pending"]}, {"content": "a", "status": "completed"},
                             {"content": "b", "status": {"x": 1}}, {"content": 7}])
    events = todo_events(state, odd)
    assert [(e.title, e.status) for e in events] == [("a", "open"), ("b", "open")]  # the same text twice: the first
