"""The task DAG (issue 10, first part): tasks as events, revisions propagated as TME does,
cycles refused, HiAgent's fold on completion, and the list a model reads."""

from __future__ import annotations

import json

import pytest

from engine.fold import replay
from engine.tasks import critical_path, progress, task_board
from sessions import SessionStore


def _session():
    session = SessionStore(":memory:").create_session("tasks")
    session.add_message("user", "Plan the offsite: flights, then the hotel, then dinner.")
    return session


def _add(session, title, **arguments):
    result = session.call_tool("add_task", {"title": title, **arguments})
    assert "task_id" in result, result
    return result["task_id"]


def test_a_revision_keeps_the_old_value_and_marks_everything_downstream_stale():
    session = _session()
    flights = _add(session, "book flights", details="Monday")
    hotel = _add(session, "book hotel", depends_on=[flights])
    dinner = _add(session, "book dinner", depends_on=[hotel])
    unrelated = _add(session, "order badges")
    result = session.call_tool("update_task", {"task_id": flights, "details": "actually, make it Tuesday"})
    assert result["marked_stale"] == [hotel, dinner]
    board = task_board(session.state())
    assert board.get(flights).details == "actually, make it Tuesday"
    assert board.get(flights).history[-1]["details"] == "Monday"
    assert [board.get(t).status for t in (hotel, dinner, unrelated)] == ["stale", "stale", "open"]
    assert board.get(hotel).history[-1] == {"seq": board.get(hotel).history[-1]["seq"], "status": "open", "because": flights}
    status_only = session.call_tool("update_task", {"task_id": unrelated, "status": "active"})
    assert status_only["marked_stale"] == []


def test_cycles_unknown_tasks_and_empty_changes_are_refused_and_change_nothing():
    session = _session()
    a = _add(session, "a")
    b = _add(session, "b", depends_on=[a])
    c = _add(session, "c", depends_on=[b])
    events = len(session.events())
    cycle = session.call_tool("update_task", {"task_id": a, "depends_on": [c]})
    assert "would make a cycle" in cycle["error"] and f"{a} -> " in cycle["error"]
    assert "cannot depend on itself" in session.call_tool("update_task", {"task_id": a, "depends_on": [a]})["error"]
    assert "no parent task 'tzzzzz'" in session.call_tool("add_task", {"title": "x", "parent": "tzzzzz"})["error"]
    assert "no dependency 'tq'" in session.call_tool("add_task", {"title": "x", "depends_on": ["tq"]})["error"]
    assert "no task 'tnope'" in session.call_tool("complete_task", {"task_id": "tnope", "summary": "s"})["error"]
    assert "nothing to change" in session.call_tool("update_task", {"task_id": a, "title": "a"})["error"]
    assert "own parent" in session.call_tool("update_task", {"task_id": a, "parent": a})["error"]
    assert "status" in session.call_tool("update_task", {"task_id": a, "status": "finished"})["error"]
    assert "title is empty" in session.call_tool("add_task", {"title": "  "})["error"]
    assert len(session.events()) == events + 9  # nine tool_failed events, nothing else
    assert {e["kind"] for e in session.events()[events:]} == {"tool_failed"}


def test_completing_a_task_folds_its_work_behind_the_summary_and_restore_brings_it_back():
    session = _session()
    flights = _add(session, "book flights")
    session.call_tool("update_task", {"task_id": flights, "status": "active"})
    work = session.add_message("assistant", "Searching flights: LH123 at 10:00, BA456 at 14:00, both on Tuesday.")
    result = session.run_model_tool_calls([{"id": "c1", "type": "function", "function": {
        "name": "search_context", "arguments": '{"query": "flights"}'}}])  # a call and its result
    call, result = [m.id for m in session.state().messages[-2:]]
    session.add_message("user", "Take the morning one.")  # the person's words stay
    booking = session.add_message("assistant", "Booking LH123.")
    before = session.stats()["rendered_tokens"]
    done = session.call_tool("complete_task", {"task_id": flights, "summary": "LH123 booked, Tuesday 10:00"})
    assert done["folded_messages"] == [work, result, booking]  # the call itself has no text to fold
    rendered = session.render()
    assert "LH123 booked, Tuesday 10:00" in rendered[1]["content"] and "[folded fragment" in rendered[3]["content"]
    assert rendered[2]["tool_calls"] and rendered[4]["content"] == "Take the morning one."
    assert rendered[5]["content"].startswith("[folded fragment")
    assert session.stats()["rendered_tokens"] < before + 20
    task = task_board(session.state()).get(flights)
    assert task.status == "done" and task.summary == "LH123 booked, Tuesday 10:00"
    hidden = [f for m in session.state().messages for f in m.fragments if f.status != "visible"]
    assert len(hidden) == 3
    for fragment in hidden:
        assert "error" not in session.call_tool("restore_fragment", {"fragment_id": fragment.id})
    assert session.render()[1]["content"].startswith("Searching flights")
    assert "done already" in session.call_tool("complete_task", {"task_id": flights, "summary": "again"})["error"]
    assert "one line of at most" in session.call_tool("complete_task", {"task_id": _add(session, "x"),
                                                                        "summary": "y" * 400})["error"]


def test_list_tasks_gives_the_tree_what_is_ready_what_is_blocked_and_progress():
    session = _session()
    trip = _add(session, "offsite")
    flights = _add(session, "book flights", parent=trip)
    hotel = _add(session, "book hotel", parent=trip, depends_on=[flights])
    session.call_tool("update_task", {"task_id": flights, "status": "active"})
    listed = session.call_tool("list_tasks", {})
    assert listed["summary"] == "0 of 3 done, 1 active, 1 blocked"
    assert listed["tasks"].splitlines() == [f"- {trip} offsite [open]", f"  - {flights} book flights [active]",
                                            f"  - {hotel} book hotel [open; waits for {flights}]"]
    assert listed["ready"] == [trip] and listed["blocked"] == {hotel: [flights]}  # flights is under way
    session.add_message("assistant", "done")
    session.call_tool("complete_task", {"task_id": flights, "summary": "booked"})
    listed = session.call_tool("list_tasks", {})
    assert listed["summary"] == "1 of 3 done, 0 active, 0 blocked" and hotel in listed["ready"]
    board = task_board(session.state())
    assert progress(board) == listed["summary"] and critical_path(board) in ([hotel], [trip])
    assert SessionStore(":memory:").create_session("e").call_tool("list_tasks", {})["summary"] == "no tasks yet"


def test_the_task_board_replays_to_the_live_state():
    session = _session()
    a = _add(session, "a")
    _add(session, "b", depends_on=[a])
    session.call_tool("update_task", {"task_id": a, "title": "a, revised"})
    session.add_message("assistant", "work")
    session.call_tool("complete_task", {"task_id": a, "summary": "did a"})
    replayed = replay([record.event for record in session.records()])
    assert task_board(replayed).tasks == task_board(session.state()).tasks
    assert task_board(session.state(at=3)).get(a).title == "a"  # Replay: before the revision


def test_tasks_travel_through_the_workbench_trace(tmp_path):
    session = _session()
    a = _add(session, "a", details="first")
    session.call_tool("update_task", {"task_id": a, "details": "second"})
    path = tmp_path / "t.jsonl"
    session.export(path)
    store = SessionStore(":memory:")
    copy = store.open_session(store.import_file(path).files[0].sessions[0]["id"])
    assert task_board(copy.state()).tasks == task_board(session.state()).tasks


def test_a_model_completing_a_task_keeps_its_own_request_and_the_results_before_it():
    session = _session()
    task = _add(session, "find the key")
    session.call_tool("update_task", {"task_id": task, "status": "active"})
    work = session.add_message("assistant", "Looking through the notes for the key: it is 42.")
    results = session.run_model_tool_calls(
        [{"id": "a", "type": "function", "function": {"name": "list_tasks", "arguments": "{}"}},
         {"id": "b", "type": "function", "function": {"name": "complete_task",
                                                      "arguments": json.dumps({"task_id": task, "summary": "key is 42"})}}],
        content="Now I finish: the key result is 42.")
    assert results[1]["folded_messages"] == [work]
    rendered = session.render()
    assert rendered[-3]["content"] == "Now I finish: the key result is 42." and "summary" in rendered[-2]["content"]


def test_replay_refuses_a_revision_that_breaks_the_dag_and_update_task_points_to_complete_task():
    from engine.errors import ReplayError
    from engine.tasks import TaskRevised

    session = _session()
    a = _add(session, "a")
    b = _add(session, "b", depends_on=[a])
    state = session.state()
    for changes, words in (({"depends_on": [b]}, "cycle"), ({"parent": "tzz"}, "not a task"), ({"status": "finished"}, "status"),
                           ({"title": 5}, "text"), ({"depends_on": "tb"}, "list of task ids"), ({"parent": a}, "under itself")):
        with pytest.raises(ReplayError, match=words):
            replay([TaskRevised(task_id=a, changes=changes, previous={})], state)
    assert "complete_task" in session.call_tool("update_task", {"task_id": a, "status": "done"})["error"]
    same = session.call_tool("update_task", {"task_id": b, "depends_on": [a, a]})
    assert "nothing to change" in same["error"]  # duplicates and order are no revision


def test_revising_a_goal_marks_its_subtasks_stale_and_the_list_says_why():
    session = _session()
    trip = _add(session, "plan the trip", details="Monday")
    flights = _add(session, "book flights", parent=trip)
    seats = _add(session, "pick seats", parent=flights)
    badges = _add(session, "order badges")
    result = session.call_tool("update_task", {"task_id": trip, "details": "Tuesday"})
    assert result["marked_stale"] == [flights, seats]
    listed = session.call_tool("list_tasks", {})["tasks"]
    assert f"{flights} book flights [stale; check again: {trip} changed]" in listed
    assert f"{badges} order badges [open]" in listed
    assert session.call_tool("update_task", {"task_id": seats, "details": "aisle"})["marked_stale"] == []


def test_an_empty_parent_moves_a_task_to_the_top_level():
    session = _session()
    goal = _add(session, "goal")
    step = _add(session, "step", parent=goal)
    moved = session.call_tool("update_task", {"task_id": step, "parent": ""})
    assert moved["changed"] == ["parent"]
    task = task_board(session.state()).get(step)
    assert task.parent is None and task.history[-1]["parent"] == goal
    assert "nothing to change" in session.call_tool("update_task", {"task_id": step, "parent": ""})["error"]
    assert task_board(replay(r.event for r in session.records())).get(step).parent is None
