"""Every page under AppTest: it renders, and each action leaves the events a tool call would."""

from __future__ import annotations

import json

from components.plain import plain
from engine.tools import ToolContext, registry
from sessions import SessionStore

from tests.conftest import long_text
from tests.ui.conftest import events_of


def _seed(db, text=None):
    store = SessionStore(db, linger=0)
    session = store.create_session("seeded")
    session.add_message("system", "Be helpful.")
    session.add_message("user", text or long_text(12))
    store.close()
    return session.id


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def _click(at, key):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


def test_a_new_user_lands_on_sessions_and_loads_the_demo(app, db):
    at = app()
    assert at.title[0].value == "Sessions"
    assert any("Load the two demo sessions" in info.value for info in at.info)
    _click(at, "load_demo")
    assert at.title[0].value == "Context"
    rows = SessionStore(db, linger=0).list_sessions()
    assert {row["title"] for row in rows} == {"Demo: key tracking (PI-LLM style)", "Demo: agent run with large tool results"}
    # the scripted assistant folded the stale updates: what was over the window now fits in it
    hidden = int(_metric(at, "Hidden by folds").replace(",", ""))
    in_window = int(_metric(at, "In the window").replace(",", ""))
    assert in_window < 8_192 < in_window + hidden


def test_sessions_page_lists_creates_and_forks(app, db):
    session_id = _seed(db)
    at = app("pages/sessions.py")
    table = at.dataframe[0].value
    assert list(table["title"]) == ["seeded"] and list(table["messages"]) == [2] and table["tokens"][0] > 100
    at.text_input(key="new_title").input("fresh start").run()
    _click(at, "create_session")
    assert "fresh start" in [row["title"] for row in SessionStore(db, linger=0).list_sessions()]
    at.session_state["selected_session_id"] = session_id  # as the sidebar picker would set it
    at.switch_page("pages/sessions.py").run()
    at.number_input(key="fork_at").set_value(1).run()
    _click(at, "fork_button")
    fork = next(r for r in SessionStore(db, linger=0).list_sessions() if r["forked_from"] == session_id)
    assert fork["forked_at"] == 1 and fork["events"] == 1


def test_import_by_upload_and_a_clear_error_for_a_bad_file(app, db):
    at = app("pages/sessions.py")
    messages = [{"role": "user", "content": "imported hello"}, {"role": "assistant", "content": "hi"}]
    at.file_uploader(key="import_file-0").upload("chat.json", json.dumps(messages).encode(), "application/json").run()
    _click(at, "import_button")
    assert [r["title"] for r in SessionStore(db, linger=0).list_sessions()] == ["chat"]
    at = app("pages/sessions.py")
    at.file_uploader(key="import_file-0").upload("broken.json", b'[{"role": "robot", "content": "x"}]',
                                                 "application/json").run()
    _click(at, "import_button")
    assert any(e.value.startswith("broken.json (OpenAI chat messages): 1 bad record") and "robot" in e.value
               for e in at.error)
    assert [r["title"] for r in SessionStore(db, linger=0).list_sessions()] == ["chat"]


def test_context_page_hide_summarize_restore_leave_tool_events(app, db):
    session_id = _seed(db)
    at = app("pages/context.py")
    assert _metric(at, "Hidden by folds") == "0"
    _click(at, "frag-m2-even")  # split evenly into the default 5
    events = events_of(db, session_id)
    assert events[-1]["kind"] == "context_fragmented" and events[-1]["payload"]["cuts"][0]["message_id"] == "m2"
    pieces = events[-1]["payload"]["cuts"][0]["pieces"]
    assert len(pieces) == 5
    first, second = pieces[0]["fragment_id"], pieces[1]["fragment_id"]

    state_before = SessionStore(db, linger=0).open_session(session_id).state()
    _click(at, f"m2-{first}-0-hide")
    events = events_of(db, session_id)
    assert (events[-1]["kind"], events[-1]["payload"]) == ("fragment_folded", {"fragment_id": first})
    model_call = registry.call("fold_fragment", {"fragment_id": first}, ToolContext.for_state(state_before))
    assert [e.payload() for e in model_call.events] == [events[-1]["payload"]]  # a click leaves what a model's call would
    assert _metric(at, "Hidden by folds") != "0"
    assert any("Hid " in t.value for t in at.toast)

    at.text_input(key=f"m2-{second}-1-focus").input("budget").run()
    _click(at, f"m2-{second}-1-summarize")
    last = events_of(db, session_id)[-1]
    assert last["kind"] == "fragment_summarized" and last["payload"]["focus"] == "budget"

    _click(at, f"m2-{first}-0-restore")
    assert events_of(db, session_id)[-1] == {**events_of(db, session_id)[-1], "kind": "fragment_restored"}
    assert _metric(at, "Hidden by folds") == "0"


def test_context_page_search_open_and_restore_a_folded_hit(app, db):
    session_id = _seed(db, "The secret word is HERON.\n" + long_text(6))
    store = SessionStore(db, linger=0)
    session = store.open_session(session_id)
    fragment_id = session.state().messages[1].fragments[0].id
    session.call_tool("fold_fragment", {"fragment_id": fragment_id})
    store.close()
    at = app("pages/context.py")
    at.text_input(key="search_query").input("heron")
    at.button(key="FormSubmitter:search-Search").click().run()  # a form sends its fields on submit
    assert not at.exception
    searched = events_of(db, session_id)[-1]
    assert searched["kind"] == "context_searched" and searched["payload"]["total_matches"] == 1
    search_id = searched["payload"]["hits"][0]["search_id"]
    assert any("in a folded fragment" in c.value for c in at.caption)
    _click(at, f"open-{search_id}")
    assert events_of(db, session_id)[-1]["kind"] == "search_detail_viewed"
    assert any("The secret word is HERON." in t.value for t in at.text)
    _click(at, f"restore-{search_id}")
    assert events_of(db, session_id)[-1]["payload"] == {"fragment_id": fragment_id}


def test_context_page_errors_show_as_messages_and_the_page_keeps_working(app, db):
    session_id = _seed(db)
    at = app("pages/context.py")
    at.text_input(key="frag-m2-start").input("no such text anywhere")  # a form: sent with its submit button
    at.text_input(key="frag-m2-end").input("nor this")
    _click(at, "frag-m2-markers")
    assert any(plain("start_marker 'no such text anywhere' was not found") in e.value for e in at.error)
    assert events_of(db, session_id)[-1]["kind"] == "tool_failed"
    assert at.title[0].value == "Context" and at.metric


def test_model_and_user_text_is_shown_as_text_not_html(app, db):
    _seed(db, "<script>alert('x')</script> <img src=x onerror=alert(1)> **not bold**")
    at = app("pages/context.py")
    assert any("<script>alert('x')</script>" in t.value for t in at.text)
    assert not any("<script>" in m.value or "onerror" in m.value for m in at.markdown)
    assert not any("<script>" in h.proto.body for h in at.get("html"))


def test_what_the_model_sees_and_side_by_side(app, db):
    session_id = _seed(db)
    store = SessionStore(db, linger=0)
    session = store.open_session(session_id)
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 3})
    session.call_tool("fold_fragment", {"fragment_id": pieces["fragments"][0]["fragment_id"]})
    rendered = session.render()
    store.close()
    at = app("pages/context.py")
    assert not at.code  # a tab runs only while open
    at.session_state["context_tab"] = "What the model sees"  # as a click on the tab sets it
    code = at.run().code[0].value
    assert json.loads(code) == rendered[:2]
    at.session_state["context_tab"] = "Original and rendered"
    at.run().selectbox(key="side_by_side").select("m2").run()
    texts = [t.value for t in at.text]
    assert rendered[1]["content"] in texts and long_text(12) in texts


def test_replay_page_steps_diffs_and_forks(app, db):
    session_id = _seed(db)
    store = SessionStore(db, linger=0)
    session = store.open_session(session_id)
    fragment_id = session.state().messages[1].fragments[0].id
    session.call_tool("fold_fragment", {"fragment_id": fragment_id})
    store.close()
    at = app("pages/replay.py")
    step = f"replay_step-{session_id}"
    assert at.slider(key=step).value == 3
    assert any("fragment_folded" in t.value for t in at.text)
    assert _metric(at, "Hidden by folds") != "0"
    _click(at, "back")
    assert at.slider(key=step).value == 2 and _metric(at, "Hidden by folds") == "0"
    assert not any("folded fragment" in c.value for c in at.code)  # step 2 against step 1: no fold yet
    at.radio(key="diff_mode").set_value("another step").run()
    at.number_input(key="diff_other").set_value(3).run()
    assert any("+[folded fragment" in c.value for c in at.code)
    timeline = at.dataframe[-1].value
    assert list(timeline["kind"]) == ["message_added", "message_added", "fragment_folded"]
    assert timeline["what happened"][2] == f"{fragment_id} folded"
    at.slider(key=step).set_value(1).run()
    _click(at, "fork_here")
    fork = next(r for r in SessionStore(db, linger=0).list_sessions() if r["forked_from"] == session_id)
    assert fork["forked_at"] == 1
    assert at.title[0].value == "Context"


def test_export_page_offers_the_trace(app, db):
    session_id = _seed(db)
    at = app("pages/export.py")
    assert not at.exception
    button = at.get("download_button")[0]
    assert "JSONL trace" in button.proto.label and "2 events" in button.proto.label
    first = json.loads(at.code[0].value.splitlines()[0])
    assert first["seq"] == 1 and first["kind"] == "message_added" and first["payload"]["role"] == "system"


def test_pages_without_a_session_explain_what_to_do(app, db):
    for page in ("pages/context.py", "pages/replay.py", "pages/export.py"):
        at = app(page)
        assert any("No session selected" in info.value for info in at.info)


def _picker_script():
    import streamlit as st

    from components.app_state import selected_session_id, select_session
    from components.session_picker import render_session_picker

    render_session_picker([{"id": "a1", "title": "First", "messages": 1, "forked_from": None},
                           {"id": "b2", "title": "Second", "messages": 2, "forked_from": None}])
    st.text(f"selected {selected_session_id()}")
    if st.button("fork", key="pretend_fork"):  # an action elsewhere choosing a session
        select_session("b2")
        st.rerun()


def test_the_sidebar_picker_keeps_the_choice_for_every_page():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_picker_script).run()
    assert at.text[0].value == "selected a1"
    assert at.selectbox(key="session_picker").options == ["First · a1 · 1 msgs", "Second · b2 · 2 msgs"]
    at.selectbox(key="session_picker").select("b2").run()
    assert at.text[0].value == "selected b2"
    at.selectbox(key="session_picker").select("a1").run()
    at.button(key="pretend_fork").click().run()
    assert at.text[0].value == "selected b2" and at.selectbox(key="session_picker").value == "b2"
