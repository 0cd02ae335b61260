"""The Tasks page under AppTest, and the board-to-drawing functions it is made of.

Boards are made the way a model makes them: `call_tool("add_task", ...)` on a real store.
"""

from __future__ import annotations

import html
import re

from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from components.follow import CONTEXT_JUMP
from components.plain import WORD_JOINER, plain
from components.task_graph import (
    BLOCKING, CRITICAL, PALETTE, PARENT, graph_height, levels, shown_status, task_graph, task_tooltip,
)
from components.task_view import code_id, history_rows, message_excerpt, status_breakdown, task_tree
from engine import replay
from engine.tasks import TaskAdded, TaskCompleted, progress, task_board
from sessions import SessionStore

from tests.conftest import ROOT

EVIL = "<img src=x onerror=alert(1)>"
CRAFTED = "a`![t](http://evil.example/track.png)`"  # an id edited into an imported trace (the engine now refuses it)


def seed_board(db, title: str = "offsite") -> tuple[str, dict[str, str]]:
    """Eight tasks under one goal, with dependencies; a revision makes the later ones stale; one done."""
    store = SessionStore(db, linger=0)
    session = store.create_session(title)
    session.add_message("user", "Plan a team offsite for 12 people in Lisbon.")
    session.add_message("assistant", "I will break this into tasks.")

    def add(**arguments) -> str:
        return session.call_tool("add_task", arguments)["task_id"]

    ids = {"goal": add(title="Team offsite", details="12 people, 9,000 EUR")}
    ids["dates"] = add(title="Pick the dates", parent=ids["goal"], details="Tuesday to Thursday")
    ids["venue"] = add(title="Book the venue", parent=ids["goal"], depends_on=[ids["dates"]])
    ids["flights"] = add(title="Book flights", parent=ids["goal"], depends_on=[ids["dates"]])
    ids["hotel"] = add(title="Reserve the hotel", parent=ids["goal"], depends_on=[ids["venue"]])
    ids["agenda"] = add(title="Draft the agenda", parent=ids["goal"], depends_on=[ids["venue"]])
    ids["dinner"] = add(title="Book the dinner", parent=ids["goal"], depends_on=[ids["hotel"], ids["agenda"]])
    ids["evil"] = add(title=EVIL, parent=ids["goal"], depends_on=[ids["agenda"]])
    session.add_message("user", "Actually, make it Wednesday to Friday.")
    ids["before_revision"] = str(session.last_seq)
    session.call_tool("update_task", {"task_id": ids["dates"], "details": "Wednesday to Friday"})
    session.call_tool("complete_task", {"task_id": ids["dates"], "summary": "Wed 14 to Fri 16, confirmed"})
    session.call_tool("update_task", {"task_id": ids["venue"], "status": "active"})
    store.close()
    return session.id, ids


def _board(db, session_id, at=None):
    store = SessionStore(db, linger=0)
    try:
        state = store.open_session(session_id).state(at)
    finally:
        store.close()
    return task_board(state), state


def _open(app, session_id):
    at = app()
    at.session_state["selected_session_id"] = session_id
    at.switch_page("pages/tasks.py").run()
    assert not at.exception, at.exception
    return at


# ---- the page ------------------------------------------------------------------------------


def test_a_session_without_tasks_says_how_they_appear(app, db):
    store = SessionStore(db, linger=0)
    session = store.create_session("no plan yet")
    session.add_message("user", "hello")
    store.close()
    at = _open(app, session.id)
    assert at.title[0].value == "Tasks"
    hint = at.info[0].value
    assert "No tasks yet" in hint and "add_task" in hint and "*tasks*" in hint and "Claude Code" in hint
    assert not at.selectbox  # nothing to pick
    assert not at.get("iframe")


def test_the_board_shows_progress_graph_list_and_a_picked_tasks_details(app, db):
    session_id, ids = seed_board(db)
    board, _ = _board(db, session_id)
    at = _open(app, session_id)
    assert f"**{plain(progress(board))}**" in [m.value for m in at.markdown]
    assert progress(board) == "1 of 8 done, 1 active, 4 blocked, 5 stale"
    assert len(at.get("iframe")) == 1
    listing = next(m.value for m in at.markdown if "Pick the dates" in m.value)
    assert listing.startswith("- ○ **Team offsite**")
    assert f"    - ✓ **Pick the dates** · `{ids['dates']}` · done · outcome: Wed 14 to Fri 16, confirmed" in listing
    assert f"    - ⚠ **Book the dinner** · `{ids['dinner']}` · stale · waits for `{ids['hotel']}`, `{ids['agenda']}`" \
        in listing
    assert plain(EVIL) in listing and EVIL not in listing  # a title is text, never HTML

    at.selectbox(key=f"tasks_pick-{session_id}").set_value(ids["hotel"]).run()
    assert not at.exception, at.exception
    assert at.subheader[0].value == "Reserve the hotel"
    facts = next(m.value for m in at.markdown if m.value.startswith("**part of:**"))
    assert f"**depends on:** {ids['venue']} (Book the venue)" in facts
    assert f"**waits for:** {ids['venue']} (Book the venue)" in facts
    history = at.dataframe[0].value
    assert list(history["field"]) == ["status"] and list(history["value before"]) == ["open"]
    assert list(history["note"]) == [f"made stale because {ids['dates']} was revised"]
    assert at.text[-1].value == "m2 · assistant: I will break this into tasks."


def test_a_finished_task_shows_its_revisions_and_outcome(app, db):
    session_id, ids = seed_board(db)
    at = _open(app, session_id)
    at.selectbox(key=f"tasks_pick-{session_id}").set_value(ids["dates"]).run()
    facts = next(m.value for m in at.markdown if m.value.startswith("**part of:**"))
    assert "**outcome:** Wed 14 to Fri 16, confirmed" in facts and "**details:** Wednesday to Friday" in facts
    history = at.dataframe[0].value
    assert list(history["field"]) == ["details", "status", "summary"]
    assert list(history["value before"]) == ["Tuesday to Thursday", "open", "(none)"]


def test_following_replay_shows_the_board_as_it_was_at_that_step(app, db):
    session_id, ids = seed_board(db)
    step = int(ids["before_revision"])
    earlier, _ = _board(db, session_id, step)
    at = _open(app, session_id)
    at.session_state[f"replay_at-{session_id}"] = step  # the step the Replay page keeps (components/follow.py)
    at.toggle(key=f"tasks_follow-{session_id}").set_value(True).run()
    assert not at.exception, at.exception
    assert progress(earlier) == "0 of 8 done, 0 active, 6 blocked"
    assert f"**{plain(progress(earlier))}**" in [m.value for m in at.markdown]
    assert any(f"Replay step {step} of " in c.value for c in at.caption)
    at.selectbox(key=f"tasks_pick-{session_id}").set_value(ids["dates"]).run()
    assert any(c.value == "Never revised." for c in at.caption)  # the revision came after that step

    at.session_state[f"replay_at-{session_id}"] = 1  # before the first task
    at.run()
    assert "No tasks yet at this step." in at.info[0].value
    at.toggle(key=f"tasks_follow-{session_id}").set_value(False).run()
    assert "**1 of 8 done, 1 active, 4 blocked, 5 stale**" in [m.value for m in at.markdown]


def test_the_page_picks_up_events_appended_elsewhere(app, db):
    session_id, _ = seed_board(db)
    at = _open(app, session_id)
    store = SessionStore(db, linger=0)  # another process, such as the CLI or a chat in another tab
    store.open_session(session_id).call_tool("add_task", {"title": "Send the invitations"})
    store.close()
    at.run()
    assert "**1 of 9 done, 1 active, 4 blocked, 5 stale**" in [m.value for m in at.markdown]


# ---- the pieces ----------------------------------------------------------------------------


def test_the_drawing_marks_status_staleness_blockers_and_the_critical_path(db):
    session_id, ids = seed_board(db)
    board, _ = _board(db, session_id)
    nodes, edges = task_graph(board)
    by_id = {node.id: node for node in nodes}
    assert [shown_status(board, board.get(ids[name])) for name in ("goal", "dates", "venue", "hotel")] == \
        ["open", "done", "active", "stale"]
    assert by_id[ids["dates"]].color == PALETTE["done"][0]
    assert by_id[ids["hotel"]].dashed and "⚠ stale" in by_id[ids["hotel"]].label
    assert not by_id[ids["venue"]].dashed
    assert by_id[ids["agenda"]].border == PALETTE["blocked"][1] and "stale, waits" in by_id[ids["agenda"]].label
    assert by_id[ids["flights"]].border == PALETTE["stale"][1] and "waits" not in by_id[ids["flights"]].label
    assert levels(board)[ids["dates"]] == 0 and levels(board)[ids["venue"]] == 1
    assert levels(board)[ids["dinner"]] == 3 and by_id[ids["dinner"]].level == 3
    style = {(edge.source, edge.target): edge for edge in edges}
    path = [ids["venue"], ids["hotel"], ids["dinner"]]  # the longest chain not done
    for source, target in zip(path, path[1:]):
        assert style[source, target].color == CRITICAL and style[source, target].width == 4.0
    assert {by_id[task_id].border for task_id in path} == {CRITICAL}
    assert style[ids["venue"], ids["agenda"]].color == BLOCKING  # agenda waits for the venue, not done
    assert style[ids["dates"], ids["flights"]].color not in (BLOCKING, CRITICAL)  # dates are done
    parent = style[ids["goal"], ids["flights"]]
    assert parent.dashes and parent.arrows == "" and parent.color == PARENT
    assert by_id[ids["evil"]].title.splitlines()[1] == EVIL  # the drawing escapes it (test_graph_view)


def test_a_task_marked_blocked_shows_blocked_and_one_with_its_dependencies_done_open():
    board = task_board(replay([TaskAdded(task_id="t00001", title="waiting on a reply", status="blocked"),
                               TaskAdded(task_id="t00002", title="first"),
                               TaskAdded(task_id="t00003", title="second", depends_on=["t00002"]),
                               TaskCompleted(task_id="t00002", summary="done")]))
    assert [shown_status(board, task) for task in board.tasks] == ["blocked", "done", "open"]


def test_the_tree_puts_each_subtask_under_its_goal(db):
    session_id, ids = seed_board(db)
    board, state = _board(db, session_id)
    tree = task_tree(board)
    assert tree[0] == (0, board.get(ids["goal"])) and {depth for depth, _ in tree[1:]} == {1}
    assert len(tree) == len(board.tasks)
    rows = history_rows(board.get(ids["venue"]))
    assert [row["field"] for row in rows] == ["status", "status"]  # made stale, then started
    assert message_excerpt(state, None).startswith("It was made before any message")
    assert message_excerpt(state, "m99") == "Message m99 is not in this session's context at this step."


def test_a_done_task_without_a_summary_says_so():
    board = task_board(replay([TaskAdded(task_id="t00001", title="ticked off in a todo list", status="done")]))
    assert "outcome: (done, no summary)" in task_tooltip(board, board.tasks[0])


def test_a_single_task_is_no_critical_path():
    board = task_board(replay([TaskAdded(task_id="t00001", title="one"), TaskAdded(task_id="t00002", title="two")]))
    nodes, _ = task_graph(board)
    assert CRITICAL not in {node.border for node in nodes} and {node.border_width for node in nodes} == {1.5}
    chained = task_board(replay([TaskAdded(task_id="t00001", title="one"),
                                 TaskAdded(task_id="t00002", title="two", depends_on=["t00001"])]))
    assert {node.border for node in task_graph(chained)[0]} == {CRITICAL}


def test_a_flat_todo_list_gets_a_frame_as_tall_as_its_folded_columns():
    flat = task_board(replay([TaskAdded(task_id=f"t{i:05x}", title=f"todo {i}") for i in range(20)]))
    assert graph_height(flat) == 110 + 70 * 7  # three columns of 7, 7 and 6 rows (vis drew one of 20)
    assert graph_height(task_board(replay([TaskAdded(task_id="t00001", title="one")]))) == 300


def test_the_breakdown_adds_up_where_the_progress_line_overlaps(db):
    session_id, _ = seed_board(db)
    board, _ = _board(db, session_id)
    breakdown = status_breakdown(board)
    counts = [int(n) for n in re.findall(r"(\d+) (?:open|active|done|blocked|stale)\b", breakdown.split(" (")[0])]
    assert sum(counts) == len(board.tasks) == 8  # "4 blocked, 5 stale" of 8 overlap; these do not
    assert "includes the 4 stale ones that wait" in breakdown
    at = _open(app_for(db), session_id)
    assert breakdown in [c.value for c in at.caption]
    assert status_breakdown(task_board(replay([TaskAdded(task_id="t00001", title="one")]))) is None


def app_for(db):
    from tests.ui.conftest import APP

    return lambda: AppTest.from_file(APP, default_timeout=60).run()


def test_the_source_message_opens_on_the_context_page(app, db):
    session_id, ids = seed_board(db)
    at = _open(app, session_id)
    at.selectbox(key=f"tasks_pick-{session_id}").set_value(ids["hotel"]).run()
    at.button(key=f"task_source-{ids['hotel']}").click().run()
    assert not at.exception, at.exception
    assert CONTEXT_JUMP not in at.session_state  # handed to the Context page, which took it ...
    assert any(info.value.startswith("Showing m2") for info in at.info)  # ... and shows that message, marked


def _crafted_details():
    """A page that shows a hand-built task whose ids (its own, a dependency's, its message's) hold Markdown."""
    from components.task_view import render_task_details, render_task_list
    from engine.state import ContextState
    from engine.tasks import Task, TaskBoard

    crafted = "a`![t](http://evil.example/track.png)`"
    tasks = (Task(id=crafted, title="crafted id", details="", status="done", parent=None, depends_on=(),
                  message_id="![p](http://evil.example/p.png)", created_seq=1,
                  folded_messages=("m1`![f](http://evil.example/f.png)`",)),
             Task(id="t1f3de", title="second", details="", status="open", parent=crafted, depends_on=(crafted,),
                  message_id=None, created_seq=2))
    board = TaskBoard(tasks, {task.id: position for position, task in enumerate(tasks)})
    render_task_list(board)
    render_task_details(board, tasks[0], ContextState())
    render_task_details(board, tasks[1], ContextState())


def _shown_text(markdown: str) -> str:
    """What a CommonMark reader makes of `markdown`, checked for links and images, as text."""
    rendered = MarkdownIt("commonmark").render(markdown)
    assert "<a " not in rendered and "<img" not in rendered, rendered
    return html.unescape(re.sub(r"<[^>]+>", "", rendered))


def test_a_crafted_id_shows_as_text_and_loads_nothing():
    at = AppTest.from_function(_crafted_details, default_timeout=30).run()
    assert not at.exception, at.exception
    shown = [element.value for element in [*at.markdown, *at.subheader, *at.caption]]
    assert any(CRAFTED in _shown_text(value).replace(WORD_JOINER, "") for value in shown)  # the id, as it is
    for value in shown:
        text = _shown_text(value)
        assert not re.search(r"(?i)https?://|www\.", text.replace(WORD_JOINER + "://", "")), text  # GFM would link it
    assert code_id("t1f3de") == "`t1f3de`" and code_id(CRAFTED) == plain(CRAFTED)


CLAUDE_CODE = ROOT.parent / "shared" / "data" / "conversations" / "claude-code-jsonl" / "claude-code-viewer" \
    / "fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"


def test_an_imported_claude_code_todo_list_fills_the_board(app, db):
    store = SessionStore(db, linger=0)
    try:
        report = store.import_file(CLAUDE_CODE)
        boards = {session_id: task_board(store.open_session(session_id).state()) for session_id in report.session_ids}
    finally:
        store.close()
    session_id, board = max(boards.items(), key=lambda item: len(item[1].tasks))
    assert len(board.tasks) > 1 and "done" in {task.status for task in board.tasks}
    at = _open(app, session_id)
    assert f"**{plain(progress(board))}**" in [m.value for m in at.markdown]
    assert len(at.get("iframe")) == 1
    listing = next(m.value for m in at.markdown if board.tasks[0].title in m.value and m.value.startswith("- "))
    assert all(task.title in listing for task in board.tasks)  # every todo item, in the list view too
