"""The Context page at scale (issue 11): a Hide or Restore click reruns only the token bar, the
search hits and that one message's card (keyed `st.fragment`s named by the click's callback),
the message list is paged by fragment rows as well as by messages, and the other tabs run only
while open. Under AppTest, the elements after a fragment's rerun are those the rerun sent."""

from __future__ import annotations

import re

from components.message_view import CONTROLS_HELP, FRAGMENTS_SHOWN, message_pages
from engine.settings import settings_of, window_stats
from engine.tools import registry
from sessions import SessionStore

from tests.conftest import long_text
from tests.ui.conftest import events_of, fragmented_session


def _seed(db, messages: int = 3, fragments: int = 20, text: str | None = None) -> tuple[str, list[list[str]]]:
    return fragmented_session(db, messages, fragments, text)


def _in_window(db, session_id) -> int:
    store = SessionStore(db, linger=0)
    try:
        state = store.open_session(session_id).state()
    finally:
        store.close()
    numbers = window_stats(state, settings_of(state), None, "o200k_base")
    return numbers["rendered_tokens"] + numbers["tool_schema_tokens"]


def _metric(at, label) -> int:
    return int(next(m.value for m in at.metric if m.label == label).replace(",", ""))


def _headers(at) -> list[str]:
    return [m.value.split(" · ")[0] for m in at.markdown if m.value.startswith("**m")]


def test_a_hide_click_reruns_the_bar_and_that_message_only_and_leaves_its_event(app, db):
    session_id, ids = _seed(db, messages=2)
    at = app("pages/context.py")
    assert _headers(at) == ["**m1**", "**m2**"]
    before = _metric(at, "In the window")
    assert before == _in_window(db, session_id)

    target = ids[1][3]
    at.button(key=f"m2-{target}-3-hide").click().run()
    assert not at.exception, at.exception
    events = events_of(db, session_id)
    assert (events[-1]["kind"], events[-1]["payload"]) == ("fragment_folded", {"fragment_id": target})
    assert sum(e["kind"] == "fragment_folded" for e in events) == 1  # the click left one event, its fold
    after = _metric(at, "In the window")
    assert after < before and after == _in_window(db, session_id)  # the bar shows what the store holds
    assert _headers(at) == ["**m2**"]  # m1's card was not run again
    assert at.button(key=f"m2-{target}-3-restore")  # the card shows the fold
    assert any(f"Hid {target}" in toast.value for toast in at.toast)

    at.button(key=f"m2-{target}-3-restore").click().run()  # Restore takes the same path back
    assert events_of(db, session_id)[-1]["kind"] == "fragment_restored"
    assert _metric(at, "In the window") == before
    assert _headers(at) == ["**m2**"] and at.button(key=f"m2-{target}-3-hide")  # that card only, showing the restore
    at.run()  # a whole run afterwards draws every card from the same store
    assert _headers(at) == ["**m1**", "**m2**"] and at.button(key=f"m2-{target}-3-hide")


def test_the_search_hits_follow_a_hide_in_the_message_list(app, db):
    session_id, ids = _seed(db, messages=1, fragments=5, text=long_text(5).replace("Paragraph 3.", "Paragraph 3. HERON."))
    at = app("pages/context.py")
    at.text_input(key="search_query").input("heron")
    at.button(key="FormSubmitter:search-Search").click().run()
    assert not any("in a folded fragment" in c.value for c in at.caption)
    hit = events_of(db, session_id)[-1]["payload"]["hits"][0]["search_id"]
    holder = next(f for f in ids[0] if _holds(db, session_id, f, "HERON"))
    position = ids[0].index(holder)
    at.button(key=f"m1-{holder}-{position}-hide").click().run()
    assert any("in a folded fragment" in c.value for c in at.caption)  # the hits reran with the bar
    assert at.button(key=f"restore-{hit}")


def _holds(db, session_id, fragment_id, word) -> bool:
    store = SessionStore(db, linger=0)
    try:
        return word in store.open_session(session_id).state().fragment(fragment_id).text
    finally:
        store.close()


def test_pages_hold_ten_messages_or_forty_fragment_rows(app, db):
    session_id, _ = _seed(db, messages=5, fragments=20)
    at = app("pages/context.py")
    assert _headers(at) == ["**m1**", "**m2**"]  # 40 rows: two messages of 20
    assert "of 3;" in at.number_input(key="message_page").label
    at.number_input(key="message_page").set_value(3).run()
    assert _headers(at) == ["**m5**"]


class _Message:
    """What `message_pages` reads of a message: its fragments."""

    def __init__(self, fragments: int) -> None:
        self.fragments = tuple(range(fragments))


def test_message_pages_by_messages_and_rows():
    assert message_pages([_Message(1)] * 25, 10, 40) == [0, 10, 20]  # short messages: ten a page
    assert message_pages([_Message(20)] * 5, 10, 40) == [0, 2, 4]
    assert message_pages([_Message(5), _Message(60), _Message(5)], 10, 30) == [0, 1, 2]  # a big one alone
    assert message_pages([_Message(0)] * 3, 10, 2) == [0, 2]  # a message without fragments is a row
    assert message_pages([_Message(FRAGMENTS_SHOWN + 50)] * 2, 10, FRAGMENTS_SHOWN) == [0, 1]
    assert message_pages([], 10, 40) == [0]


def test_the_other_tabs_run_when_opened_and_show_the_fold(app, db):
    session_id, ids = _seed(db, messages=1, fragments=4)
    at = app("pages/context.py")
    assert not at.code  # closed: not run
    at.button(key=f"m1-{ids[0][0]}-0-hide").click().run()
    at.session_state["context_tab"] = "What the model sees"
    at.run()
    assert any(f"[folded fragment {ids[0][0]}" in code.value for code in at.code)
    assert not _headers(at)  # the Messages tab does not run while closed


def _labels(node) -> set[str]:
    """The labels of every button and popover under `node` in AppTest's tree."""
    proto = getattr(node, "proto", None)
    found = {node.label} if getattr(node, "type", None) == "button" else set()
    if getattr(node, "type", None) == "popover":
        found.add(proto.popover.label)
    for child in getattr(node, "children", {}).values():
        found |= _labels(child)
    return found


def test_the_controls_help_names_each_control_as_it_is_labelled(app, db):
    _, ids = _seed(db, messages=1, fragments=2)
    at = app("pages/context.py")
    at.button(key=f"m1-{ids[0][0]}-0-hide").click().run()
    at.run()  # the whole page: one fragment visible (Hide, Summarize), one folded (Restore)
    named = dict(re.findall(r"(\S+) runs (\w+)", CONTROLS_HELP))
    assert set(named) == {"Hide", "Restore", "Summarize"}
    assert set(named) <= _labels(at.main)
    assert set(named.values()) <= set(registry.names)
    assert CONTROLS_HELP in [caption.value for caption in at.caption]
