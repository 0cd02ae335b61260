"""The Chat page under AppTest, with a scripted model registered with litellm."""

from __future__ import annotations

import litellm

from engine import scripted_model
from sessions import SessionStore

from tests.ui.conftest import events_of


def _seed(db):
    store = SessionStore(db, linger=0)
    session = store.create_session("chatty")
    session.add_message("user", "The code word is PELICAN.")
    store.close()
    return session.id


def _configure(at, model):
    at.text_input(key="chat_model_typed").input(model)  # a form: sent with Apply
    at.button(key="chat_apply").click().run()
    assert not at.exception, at.exception


def test_a_turn_with_tool_calls_streams_into_the_page(app, db):
    session_id = _seed(db)
    scripted_model.reset("ui-chat")
    scripted_model.enqueue(
        "ui-chat",
        {"tool_calls": [{"name": "search_context", "arguments": {"query": "code word"}}]},
        "The code word is PELICAN.",
    )
    at = app("pages/chat.py")
    _configure(at, "scripted/ui-chat")
    assert events_of(db, session_id)[-1]["kind"] == "session_configured"
    at.chat_input[0].set_value("What is the code word?").run()
    assert not at.exception, at.exception
    kinds = [e["kind"] for e in events_of(db, session_id)]
    assert kinds[-7:] == ["message_added", "llm_called", "message_added", "context_searched", "message_added",
                          "llm_called", "message_added"]
    texts = [t.value for t in at.text]
    assert "The code word is PELICAN." in texts and "What is the code word?" in texts
    assert any(e.label.startswith("✓ search_context(") for e in at.expander)


def test_a_failing_backend_shows_the_error_and_retry_works(app, db):
    session_id = _seed(db)
    scripted_model.reset("ui-fail")
    scripted_model.enqueue("ui-fail", litellm.RateLimitError("slow down", "scripted", "scripted/ui-fail"), "Back again.")
    at = app("pages/chat.py")
    _configure(at, "scripted/ui-fail")
    at.chat_input[0].set_value("Hello?").run()
    assert any("rate limited" in e.value for e in at.error)
    assert events_of(db, session_id)[-1]["kind"] == "llm_failed"
    at.button(key="retry_turn").click().run()
    assert "Back again." in [t.value for t in at.text] and not at.error
    assert [e["payload"].get("content") for e in events_of(db, session_id) if e["kind"] == "message_added"][-2:] == \
        ["Hello?", "Back again."]


def test_a_turn_started_in_another_tab_is_left_running_and_said_so(app, db):
    import threading

    from sessions.service import Workbench

    session_id = _seed(db)
    scripted_model.reset("ui-tabs")
    gate = threading.Event()
    scripted_model.enqueue("ui-tabs", {"content": "the other tab's reply", "gate": gate, "chunk_size": 4})
    service = Workbench.shared(str(db))  # the process's service, as the pages get it
    session = service.session(session_id)
    session.configure(model="scripted/ui-tabs", tools="none")
    turn = service.start_turn(session, "from the other tab", tab="another-tab")
    try:
        at = app("pages/chat.py")  # this tab: a browser session of its own
        assert any("started in another tab" in info.value for info in at.info)
        assert at.chat_input[0].proto.disabled
        assert not turn.done and not turn.signal.is_set()  # not stopped by someone else opening the page
    finally:
        gate.set()
    assert turn.join(30) and turn.outcome()["reply"] == "the other tab's reply" and not turn.outcome()["stopped"]
    scripted_model.reset("ui-tabs")


def test_a_turn_that_plans_and_remembers_moves_the_graph_summary(app, db):
    session_id = _seed(db)
    scripted_model.reset("ui-graphs")
    scripted_model.enqueue(
        "ui-graphs",
        {"tool_calls": [{"name": "add_task", "arguments": {"title": "find the code word"}},
                        {"name": "memory_insert", "arguments": {"memory_type": "semantic",
                                                                "content": "The code word is PELICAN.",
                                                                "entities": ["code word"]}}]},
        "Noted.",
    )
    at = app("pages/chat.py")
    assert not [link for link in at.get("page_link") if "Tasks:" in link.proto.label]  # nothing to sum up yet
    _configure(at, "scripted/ui-graphs")
    at.chat_input[0].set_value("Plan it and remember it.").run()
    assert not at.exception, at.exception
    labels = [link.proto.label for link in at.get("page_link")]
    assert "Tasks: 0 of 1 done, 0 active, 0 blocked" in labels
    assert "Memory: 1 memory" in labels
    kinds = [e["kind"] for e in events_of(db, session_id)]
    assert "task_added" in kinds and "memory_inserted" in kinds
