"""engine/changes.py: what a run of new events touches, read from events that real tool calls
made through the registry (a session on `:memory:`), not from events written by hand."""

from __future__ import annotations

from engine.changes import Touched, touched
from engine.events import Event
from tests.conftest import long_text


def _since(session, seq: int) -> Touched:
    """What the events after `seq` touch, as a following page would ask."""
    records = session.tail(session.last_seq - seq)
    return touched((record.event for record in records), session.state())


def _fragmented(session, messages: int = 3, pieces: int = 3) -> list[list[str]]:
    ids = []
    for number in range(1, messages + 1):
        message_id = session.add_message("user", f"Start {number}.\n{long_text(pieces)}\nEnd {number}.")
        cut = session.call_tool("fragment_context", {"start_marker": f"Start {number}.", "end_marker": f"End {number}.",
                                                     "num_fragments": pieces, "message_id": message_id})
        ids.append([piece["fragment_id"] for piece in cut["fragments"]])
    return ids


def test_a_fold_touches_its_message_and_the_window_only(session):
    ids = _fragmented(session)
    seq = session.last_seq
    assert "error" not in session.call_tool("fold_fragment", {"fragment_id": ids[1][0]})
    found = _since(session, seq)
    assert found == Touched(events=1, messages=frozenset({"m2"}))
    assert found.window and found.fragments


def test_summaries_and_restores_name_their_messages(session):
    ids = _fragmented(session)
    session.call_tool("fold_fragment", {"fragment_id": ids[0][1]})
    seq = session.last_seq
    session.call_tool("restore_fragment", {"fragment_id": ids[0][1]})
    session.call_tool("summarize_fragment", {"fragment_id": ids[2][2], "focus": "figures"})
    assert _since(session, seq).messages == {"m1", "m3"}


def test_a_cut_names_its_message_and_a_fragment_cut_away_later_in_the_run_is_no_mystery(session):
    ids = _fragmented(session, messages=2, pieces=2)
    seq = session.last_seq
    session.call_tool("fold_fragment", {"fragment_id": ids[1][0]})
    session.call_tool("restore_fragment", {"fragment_id": ids[1][0]})
    cut = session.call_tool("fragment_context", {"start_marker": "Start 2.", "end_marker": "End 2.",
                                                 "num_fragments": 4, "message_id": "m2"})
    assert "error" not in cut and not session.state().has_fragment(ids[1][0])  # the folded one is gone
    found = _since(session, seq)
    assert found.messages == {"m2"} and not found.other


def test_an_added_message_changes_the_list_not_the_cards(session):
    _fragmented(session, messages=1)
    seq = session.last_seq
    session.add_message("assistant", "A reply from elsewhere.")
    found = _since(session, seq)
    assert found.added == ("m2",) and found.messages == frozenset() and found.window


def test_a_search_a_failure_and_settings(session):
    _fragmented(session, messages=1)
    seq = session.last_seq
    session.call_tool("search_context", {"query": "committee"})
    found = _since(session, seq)
    assert found.searched and not found.window and found.messages == frozenset()
    seq = session.last_seq
    assert "error" in session.call_tool("fold_fragment", {"fragment_id": "nope"})
    found = _since(session, seq)
    assert found == Touched(events=1, failed=True) and not found.window
    seq = session.last_seq
    session.configure(tools="all")
    assert _since(session, seq) == Touched(events=1, settings=True)


def test_tasks_and_memory_are_told_apart(session):
    seq = session.last_seq
    session.call_tool("add_task", {"title": "Read the notes"})
    found = _since(session, seq)
    assert found.tasks and not found.memory and not found.window
    seq = session.last_seq
    session.call_tool("memory_insert", {"memory_type": "core", "content": "The user prefers short replies."})
    found = _since(session, seq)
    assert found.memory and not found.tasks and found.window  # the core memory is sent first


def test_an_event_of_a_kind_it_does_not_sort_redraws_everything(session):
    class Unheard(Event):  # a subsystem this module was not told of
        pass

    found = touched([Unheard()], session.state())
    assert found.other and found.window


def test_a_fragment_nobody_knows_is_other(session):
    from engine.events import FragmentFolded

    assert touched([FragmentFolded(fragment_id="f000000")], session.state()).other
