"""Following live under AppTest: what another process writes reruns only the fragments it touched
(the key choice), an idle poll opens no DuckDB connection (the gate), and a paused page reruns
nothing but says what waits.

The browser's half is replaced: AppTest runs no JavaScript, so the bridge's trigger is a button
that calls the same callback (`components.follow.mount_bridge` swapped), and AppTest runs every
click as a whole run, where in a browser the trigger comes from inside the poll fragment, a
fragment's run (`whole_run` answers so). tests/e2e/test_live_following.py drives the real
bridge in Chromium. Under AppTest the elements after a keyed rerun are those the rerun sent."""

from __future__ import annotations

import pytest
import streamlit as st

import components.follow as follow
import sessions.database as database
from sessions import SessionStore
from sessions.service import Workbench
from sessions.stores.duckdb import DuckDBEventStore
from tests.ui.conftest import events_of, fragmented_session


@pytest.fixture
def bridge(monkeypatch):
    """The trigger as a button; returns a function that presses it."""
    def double(data, on_moved):
        st.button("moved", key="follow-double", on_click=on_moved)

    monkeypatch.setattr(follow, "mount_bridge", double)
    monkeypatch.setattr(follow, "whole_run", lambda: False)

    def press(at):
        at.button(key="follow-double").click().run()
        assert not at.exception, at.exception
        return at

    return press


def _elsewhere(db, session_id, change):
    """A change made through another store object, as another process would make it."""
    store = SessionStore(db, linger=0)
    try:
        return change(store.open_session(session_id))
    finally:
        store.close()


def _headers(at) -> list[str]:
    return [m.value.split(" · ")[0] for m in at.markdown if m.value.startswith("**m")]


def _metric(at, label) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def test_a_fold_elsewhere_reruns_the_bar_and_that_card_only(app, db, bridge):
    session_id, ids = fragmented_session(db, 2, 3)
    at = app("pages/context.py")
    before = _metric(at, "In the window")
    target = ids[1][1]
    _elsewhere(db, session_id, lambda s: s.call_tool("fold_fragment", {"fragment_id": target}))
    bridge(at)
    assert _headers(at) == ["**m2**"]  # m1's card did not rerun
    assert at.button(key=f"m2-{target}-1-restore")
    assert _metric(at, "In the window") < before
    assert at.session_state[follow.SHOWN] == (session_id, len(events_of(db, session_id)))  # shown up to the fold


def test_a_message_added_elsewhere_reruns_the_list(app, db, bridge):
    session_id, _ = fragmented_session(db, 1, 3)
    at = app("pages/context.py")
    _elsewhere(db, session_id, lambda s: s.add_message("assistant", "A reply from the CLI."))
    bridge(at)
    assert _headers(at) == ["**m1**", "**m2**"]  # the list, with its cards
    assert "A reply from the CLI." in [t.value for t in at.text]


def test_nothing_new_reruns_nothing_and_opens_no_connection(app, db, bridge, monkeypatch):
    fragmented_session(db, 1, 3)
    at = app("pages/context.py")
    bridge(at)  # the poll has looked once: the token it keeps is the store's now
    opened, loads = [], []
    real, load = database.duckdb.connect, DuckDBEventStore.load
    monkeypatch.setattr(database.duckdb, "connect", lambda *a, **k: opened.append(a) or real(*a, **k))
    monkeypatch.setattr(DuckDBEventStore, "load", lambda self, *a, **k: loads.append(a) or load(self, *a, **k))
    for _ in range(3):
        bridge(at)
        assert _headers(at) == [] and not at.metric  # only the poll reran
    assert opened == [] and loads == []  # the poll looked at the file's stat, not into it


def test_paused_reruns_nothing_and_counts_what_waits_until_turned_on(app, db, bridge):
    session_id, ids = fragmented_session(db, 1, 3)
    at = app("pages/context.py")
    at.toggle(key="follow_live_toggle").set_value(False).run()
    assert at.session_state[follow.LIVE] is False
    target = ids[0][0]
    _elsewhere(db, session_id, lambda s: s.call_tool("fold_fragment", {"fragment_id": target}))
    bridge(at)
    assert _headers(at) == []  # nothing reran but the poll
    assert any(c.value == "Paused: 1 new event waiting." for c in at.caption)
    at.session_state[follow.LIVE] = True  # on again (the toggle's callback; its own run is a whole one)
    bridge(at)
    assert _headers(at) == ["**m1**"] and at.button(key=f"m1-{target}-0-restore")  # what waited, shown
    assert not any(c.value.startswith("Paused:") for c in at.caption)


def test_the_task_board_reruns_for_tasks_and_not_for_a_fold(app, db, bridge):
    session_id, ids = fragmented_session(db, 1, 3)
    at = app("pages/tasks.py")
    assert any("No tasks yet" in i.value for i in at.info)
    _elsewhere(db, session_id, lambda s: s.call_tool("fold_fragment", {"fragment_id": ids[0][0]}))
    bridge(at)
    assert not at.info and not at.markdown  # the board did not rerun for a fold
    _elsewhere(db, session_id, lambda s: s.call_tool("add_task", {"title": "Read the notes"}))
    bridge(at)
    assert any("0 of 1 done" in m.value for m in at.markdown)


def test_settings_written_elsewhere_rerun_the_whole_page(app, db, bridge):
    session_id, _ = fragmented_session(db, 2, 3)
    at = app("pages/context.py")
    _elsewhere(db, session_id, lambda s: s.configure(tools="all"))
    bridge(at)
    assert _headers(at) == ["**m1**", "**m2**"] and at.title  # every card, and the page around them


def test_a_store_that_cannot_be_read_is_said_in_the_sidebar_and_the_poll_goes_on(app, db, bridge):
    import os
    import shutil

    session_id, ids = fragmented_session(db, 1, 3)
    at = app("pages/context.py")
    shutil.copy(db, db.with_name("copy.duckdb"))
    os.replace(db.with_name("copy.duckdb"), db)  # a restored copy under the running app
    _elsewhere(db, session_id, lambda s: s.call_tool("fold_fragment", {"fragment_id": ids[0][0]}))
    Workbench.shared(str(db)).store.close()  # the app's connection to the old file, closed as its linger would
    bridge(at)  # the callback cannot read it either: it asks the poll to say so
    said = [c.value for c in at.caption if c.value.startswith("Not following for now:")]
    assert said and "was removed or replaced while this program ran; restart it" in said[0]
    assert not at.exception  # said, not raised: the next poll looks again


def test_every_run_tells_the_browser_whether_the_page_follows(app, db):
    """The choice travels as the toggle's default in each run's message, not once: a browser
    that missed the run that first drew the toggle (the next click interrupted it) still draws
    it as it stands, and does not send "off" back on its next poll."""
    fragmented_session(db, 1, 3)
    at = app("pages/context.py")
    at.run()  # a later run: the first one's message may never have reached the browser
    toggle = at.toggle(key=follow.LIVE_TOGGLE)
    assert toggle.value is True and toggle.proto.default is True
    toggle.set_value(False).run()
    at.switch_page("pages/sessions.py").run()  # a page without the toggle: Streamlit forgets its key
    at.switch_page("pages/context.py").run()
    toggle = at.toggle(key=follow.LIVE_TOGGLE)
    assert toggle.value is False and toggle.proto.default is False
    assert at.session_state[follow.LIVE] is False
