"""The Memory page with the rest of the app, under AppTest: the Replay step and the follow toggle
outlive the pages that do not draw them, a memory's source message opens on the Context page,
the filters live through updates, and the Chat page and the Memory page count alike.

Steps are chosen with the Replay page's own widgets and pages are switched as a person switches
them, so Streamlit drops each page's widget state as it does in a browser.
"""

from __future__ import annotations

from components.graph_summary import memory_summary
from components.memory_graph import written_steps
from components.plain import WORD_JOINER, plain
from engine.memory import memory_graph
from engine.tokens import token_counter
from sessions import SessionStore

from tests.ui.test_memory_page import _facts, _listing, _open, _pick, _run, _store, choose_on_replay, seed_memories


def _captions(at) -> list[str]:
    return [caption.value for caption in at.caption]


def test_the_step_and_the_toggle_outlive_the_pages_that_do_not_draw_them(app, db):
    session_id, ids = seed_memories(db)
    step = int(ids["before_delete"])
    at = _open(app, session_id)
    at.switch_page("pages/replay.py")
    last = _run(at).slider(key=f"replay_step-{session_id}").value
    at.button(key="back").click()
    assert _run(at).slider(key=f"replay_step-{session_id}").value == step == last - 1
    at.switch_page("pages/tasks.py")
    _run(at)  # a page without the slider runs: Streamlit forgets the slider's own value here
    at.switch_page("pages/memory.py")
    _run(at).toggle(key=f"memory_follow-{session_id}").set_value(True)
    assert any(f"Replay step {step} of {last};" in c for c in _captions(_run(at)))
    assert _listing(at)[lambda rows: rows["id"] == ids["wrong"]].iloc[0]["status"] == "live"

    at.switch_page("pages/replay.py")
    assert _run(at).slider(key=f"replay_step-{session_id}").value == step  # not reset to the latest
    at.switch_page("pages/memory.py")
    _run(at)
    assert at.toggle(key=f"memory_follow-{session_id}").value is True  # still on after the visit
    assert any(f"Replay step {step} of {last};" in c for c in _captions(at))


def test_replay_left_at_the_latest_opens_at_the_latest_after_the_session_grew(app, db):
    session_id, _ = seed_memories(db)
    at = _open(app, session_id)
    at.switch_page("pages/replay.py")
    last = _run(at).slider(key=f"replay_step-{session_id}").value
    at.switch_page("pages/memory.py")
    _run(at).toggle(key=f"memory_follow-{session_id}").set_value(True)
    assert any(f"Replay step {last} of {last} (the latest when the page was drawn" in c for c in _captions(_run(at)))
    with _store(db) as store:
        store.open_session(session_id).call_tool(
            "memory_insert", {"memory_type": "semantic", "content": "Bob flies in on Monday", "entities": ["Bob"]})
    at.switch_page("pages/replay.py")
    assert _run(at).slider(key=f"replay_step-{session_id}").value == last + 1


def test_following_a_step_says_the_session_grew_without_moving(app, db):
    session_id, ids = seed_memories(db)
    step = int(ids["before_delete"])
    at = choose_on_replay(_open(app, session_id), session_id, step)
    at.switch_page("pages/memory.py")
    _run(at).toggle(key=f"memory_follow-{session_id}").set_value(True)
    _run(at)
    with _store(db) as store:  # a chat goes on elsewhere
        store.open_session(session_id).call_tool(
            "memory_insert", {"memory_type": "semantic", "content": "Bob flies in on Monday", "entities": ["Bob"]})
    _run(at)
    caption = next(c for c in _captions(at) if "Replay step" in c)
    assert f"Replay step {step} of {step + 2};" in caption and "stays at that step as the session grows" in caption
    assert "Bob flies in on Monday" not in list(_listing(at)["content"])


def test_the_source_message_opens_on_its_page_of_the_context(app, db):
    store = SessionStore(db, linger=0)
    session = store.create_session("long talk")
    for number in range(1, 15):
        session.add_message("user" if number % 2 else "assistant", f"message number {number}")
    memory_id = session.call_tool("memory_insert", {"memory_type": "semantic", "content": "Ada likes tea",
                                                    "entities": ["Ada"]})["memory_id"]
    store.close()
    at = _pick(_open(app, session.id), session.id, memory_id)
    assert "m14 · assistant: message number 14" in [text.value for text in at.text]
    at.button(key=f"memory_source-{memory_id}").click()
    _run(at)
    assert at.title[0].value == "Context"
    assert at.info[0].value.startswith("Showing m14 on page 2 of 2")
    assert at.number_input(key="message_page").value == 2
    assert any("st-key-context_jump_target" in html.proto.body for html in at.html)
    assert any(m.value.startswith("**m14** · assistant") for m in at.markdown)
    at.number_input(key="message_page").set_value(1)
    _run(at)  # the jump is taken once: paging on works as before, with no mark
    assert not at.info and not any(m.value.startswith("**m14**") for m in at.markdown)


def test_a_jump_to_a_message_not_in_the_context_says_so(app, db):
    session_id, _ = seed_memories(db)
    at = app()
    at.session_state["selected_session_id"] = session_id
    at.session_state["context_jump"] = "m99"
    at.switch_page("pages/context.py")
    _run(at)
    assert at.warning[0].value == "Message m99 is not in this session's context."


def _steps(db, session_id) -> list[int]:
    with _store(db) as store:
        return written_steps(memory_graph(store.open_session(session_id).state()))


def test_the_written_between_filter_lives_through_new_memories(app, db):
    session_id, ids = seed_memories(db)
    at = _open(app, session_id)
    key = f"memory_filter-{session_id}-steps"
    steps = _steps(db, session_id)
    at.select_slider(key=key).set_range(steps[0], steps[1])  # the first two writes only
    assert set(_listing(_run(at))["id"]) == {ids["fact"], ids["event"]}
    with _store(db) as store:  # a chat writes a memory: the page reruns with one more step
        store.open_session(session_id).call_tool(
            "memory_insert", {"memory_type": "semantic", "content": "Bob flies in on Monday", "entities": ["Bob"]})
    _run(at)
    assert at.select_slider(key=key).value == (steps[0], steps[1])  # the choice stays
    assert set(_listing(at)["id"]) == {ids["fact"], ids["event"]}
    at.select_slider(key=key).set_range(steps[0], _steps(db, session_id)[-1])  # the whole range
    _run(at)
    with _store(db) as store:
        new = store.open_session(session_id).call_tool(
            "memory_insert", {"memory_type": "semantic", "content": "Erin is vegan", "entities": ["Erin"]})
    _run(at)
    assert at.select_slider(key=key).value == (steps[0], _steps(db, session_id)[-1])  # it grows with the log
    assert new["memory_id"] in list(_listing(at)["id"])


def test_facts_name_only_the_times_a_memory_has(app, db):
    session_id, ids = seed_memories(db)
    at = _pick(_open(app, session_id), session_id, ids["fact"])
    facts = _facts(at)
    assert "**happened:**" not in facts and "**when:**" not in facts and facts.count("**recorded:**") == 1
    at = _pick(at, session_id, ids["event"])
    facts = _facts(at)
    assert "**happened:** Tuesday 14:00" in facts and "**recorded:** 20" in facts and "**when:**" not in facts


def test_the_legend_names_the_deleted_and_merged_marks(app, db):
    session_id, _ = seed_memories(db)
    legend = next(html.proto.body for html in _open(app, session_id).html if "memories:" in html.proto.body)
    assert "✕ deleted" in legend and "⇢ merged into another" in legend


def test_the_chat_page_and_the_memory_page_count_memories_alike(app, db):
    session_id, _ = seed_memories(db)
    with _store(db) as store:
        state = store.open_session(session_id).state()
    summary = memory_summary(memory_graph(state), token_counter())
    tokens = token_counter().count("The user is Ada, who organises the team offsite.")
    assert summary == f"4 memories + core memory ({tokens} tokens)"  # core apart, the deleted one not counted
    at = _open(app, session_id)
    assert any(c.startswith(f"Live: {summary}. Shown: 5 of the 6 written") for c in _captions(at))
    at.switch_page("pages/chat.py")
    assert f"Memory: {summary}" in [link.proto.label for link in _run(at).get("page_link")]


def test_a_url_in_a_memory_is_no_link_in_its_details(app, db):
    session_id, ids = seed_memories(db)
    with _store(db) as store:
        store.open_session(session_id).call_tool("memory_update", {
            "memory_id": ids["fact"], "content": "see http://evil.example/x",
            "entities": ["http://evil.example/x", "www.evil.example", "me@evil.example"]})
    facts = _facts(_pick(_open(app, session_id), session_id, ids["fact"]))
    assert facts.startswith("**entities:** " + plain("http://evil.example/x, www.evil.example, me@evil.example"))
    assert "http://" not in facts and "www." not in facts and "@e" not in facts
    assert facts.replace(WORD_JOINER, "").startswith("**entities:** http://evil.example/x")
