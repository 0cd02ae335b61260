"""The Context page's tabs run only while open (issue 11), yet a person's choices in them stay:
the page of messages, the message picked in "Original and rendered" and the range of "What the
model sees" are what they were when the person comes back to the tab. A widget not drawn in a
run loses its value unless it is kept (`persist_state`), and a closed tab draws nothing."""

from __future__ import annotations

from sessions import SessionStore

TAB = "context_tab"


def _seed(db, messages: int) -> str:
    store = SessionStore(db, linger=0)
    session = store.create_session("many short messages")
    for number in range(1, messages + 1):
        session.add_message("user", f"Message number {number}.")
    store.close()
    return session.id


def _headers(at) -> list[str]:
    return [m.value.split(" · ")[0] for m in at.markdown if m.value.startswith("**m")]


def _open(at, tab: str):
    at.session_state[TAB] = tab  # as a click on the tab sets it (tests/ui/test_pages.py)
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_message_page_survives_a_visit_to_another_tab(app, db):
    _seed(db, 25)
    at = app("pages/context.py")
    at.number_input(key="message_page").set_value(3).run()
    assert _headers(at) == [f"**m{n}**" for n in range(21, 26)]
    _open(at, "What the model sees")
    assert not _headers(at)  # the Messages tab did not run
    _open(at, "Messages")
    assert at.number_input(key="message_page").value == 3
    assert _headers(at) == [f"**m{n}**" for n in range(21, 26)]


def test_the_other_tabs_keep_their_choices_while_closed(app, db):
    _seed(db, 12)
    at = _open(app("pages/context.py"), "Original and rendered")
    at.selectbox(key="side_by_side").select("m7").run()
    _open(at, "What the model sees")
    at.slider(key="model_range").set_value((3, 8)).run()
    assert "Message number 3." in at.code[0].value
    _open(at, "Messages")
    _open(at, "Original and rendered")
    assert at.selectbox(key="side_by_side").value == "m7"
    assert "Message number 7." in [t.value for t in at.text]
    _open(at, "What the model sees")
    assert at.slider(key="model_range").value == (3, 8)
    assert "Message number 3." in at.code[0].value and "Message number 2." not in at.code[0].value


def test_a_range_kept_from_a_longer_session_starts_over_in_a_shorter_one(app, db):
    long, short = _seed(db, 12), _seed(db, 2)
    at = app("pages/context.py")
    at.session_state["selected_session_id"] = long  # as the sidebar picker would set it
    _open(at, "What the model sees").slider(key="model_range").set_value((3, 8)).run()
    at.session_state["selected_session_id"] = short
    at.run()
    assert at.slider(key="model_range").value == (1, 2)
    assert "Message number 1." in at.code[0].value
