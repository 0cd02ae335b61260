"""The Memory page under AppTest, on a real store.

Memories are made the way a model makes them (`session.call_tool("memory_insert", ...)`), and
the page's own buttons and forms must leave the same events.
"""

from __future__ import annotations

from contextlib import contextmanager

from components.plain import plain
from engine.memory import core_memory, memory_graph
from engine.tokens import token_counter
from sessions import SessionStore

from tests.conftest import ROOT
from tests.ui.conftest import events_of

LETTA = ROOT.parent / "shared" / "data" / "conversations" / "letta-agent-file" / "agent-file" / "memgpt_agent_with_convo.af"
EVIL = "<img src=x onerror=alert(1)>"


def seed_memories(db, title: str = "venue") -> tuple[str, dict[str, str]]:
    """A fact, an event, a link, core memory, and a fact that is deleted afterwards."""
    store = SessionStore(db, linger=0)
    session = store.create_session(title)
    session.add_message("user", "Ada booked Hall B for Tuesday; she prefers tea.")
    session.add_message("assistant", "Noted.")

    def call(name, **arguments):
        result = session.call_tool(name, arguments)
        assert "error" not in result, result
        return result

    ids = {
        "fact": call("memory_insert", memory_type="semantic", content="Ada prefers tea", entities=["Ada", "tea"])["memory_id"],
        "event": call("memory_insert", memory_type="episodic", content="Ada booked Hall B",
                      entities=["Ada", "Hall B"], when="Tuesday 14:00")["memory_id"],
        "link": call("memory_link", entities=["Ada", "Bob", "Hall B"], description="Ada and Bob share Hall B")["memory_id"],
        "wrong": call("memory_insert", memory_type="semantic", content="Bob hates Hall B",
                      entities=["Bob", "Hall B"])["memory_id"],
        "evil": call("memory_insert", memory_type="semantic", content=EVIL, entities=["Mallory"])["memory_id"],
    }
    call("memory_update", memory_id="core", content="The user is Ada, who organises the team offsite.")
    ids["before_delete"] = str(session.last_seq)
    call("memory_delete", memory_id=ids["wrong"])
    store.close()
    return session.id, ids


@contextmanager
def _store(db):
    store = SessionStore(db, linger=0)
    try:
        yield store
    finally:
        store.close()


def _open(app, session_id):
    at = app()
    at.session_state["selected_session_id"] = session_id
    at.switch_page("pages/memory.py").run()
    assert not at.exception, at.exception
    return at


def _run(at):
    at.run()
    assert not at.exception, at.exception
    return at


def _listing(at):
    """The memory list (the dataframe with a status column)."""
    return next(frame.value for frame in at.dataframe if "status" in frame.value.columns and "when" in frame.value.columns)


def _pick(at, session_id, memory_id):
    at.selectbox(key=f"memory_pick-{session_id}").set_value(memory_id)
    return _run(at)


def _facts(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**entities:**"))


def _tokens(at) -> str:
    return at.get("progress")[0].proto.text


def test_a_session_without_memories_says_how_they_appear(app, db):
    store = SessionStore(db, linger=0)
    session = store.create_session("nothing kept")
    session.add_message("user", "hello")
    store.close()
    at = _open(app, session.id)
    assert at.title[0].value == "Memory"
    hint = at.info[0].value
    assert "No memories yet" in hint and "memory_insert" in hint and "*memory*" in hint and "Letta" in hint
    assert not at.get("iframe")
    assert _tokens(at) == "0 of 512 tokens"


def test_memories_made_by_tool_calls_show_in_the_list_graph_and_core_panel(app, db):
    session_id, ids = seed_memories(db)
    at = _open(app, session_id)
    listing = _listing(at)
    # live ones only by default, newest first
    assert list(listing["id"]) == ["core", ids["evil"], ids["link"], ids["event"], ids["fact"]]
    row = listing[listing["id"] == ids["event"]].iloc[0]
    assert (row["type"], row["entities"], row["when"], row["status"]) == ("episodic", "Ada, Hall B", "Tuesday 14:00", "live")
    assert listing[listing["id"] == ids["evil"]].iloc[0]["content"] == EVIL  # a dataframe shows text as text
    frames = at.get("iframe")
    assert len(frames) == 1
    page = frames[0].proto.srcdoc
    assert ids["fact"] in page and "entity:hall b" in page and ids["wrong"] not in page  # deleted: not drawn
    assert EVIL not in page  # escaped inside the script
    assert at.code[0].value == "The user is Ada, who organises the team offsite."
    assert _tokens(at) == f"{token_counter().count(at.code[0].value)} of 512 tokens"
    assert any("Sent first with every request, opening the system prompt" in caption.value for caption in at.caption)


def test_filters_narrow_the_list_and_show_deleted_memories_greyed(app, db):
    session_id, ids = seed_memories(db)
    at = _open(app, session_id)
    key = f"memory_filter-{session_id}"
    at.multiselect(key=f"{key}-types").set_value(["semantic"])
    assert list(_listing(_run(at))["id"]) == [ids["evil"], ids["fact"]]
    at.checkbox(key=f"{key}-gone").check()
    listing = _listing(_run(at))
    assert list(listing["id"]) == [ids["evil"], ids["wrong"], ids["fact"]]
    assert listing[listing["id"] == ids["wrong"]].iloc[0]["status"] == "deleted"
    assert ids["wrong"] in at.get("iframe")[0].proto.srcdoc
    at.multiselect(key=f"{key}-types").set_value(["semantic", "episodic", "link", "core"])
    at.selectbox(key=f"{key}-focus").set_value("tea")
    assert list(_listing(_run(at))["id"]) == [ids["fact"]]
    at.number_input(key=f"{key}-hops").set_value(2)  # tea, its fact, Ada, and what else names Ada
    assert set(_listing(_run(at))["id"]) == {ids["fact"], ids["event"], ids["link"]}
    at.number_input(key=f"{key}-hops").set_value(3)  # ... and what names Bob or Hall B
    assert set(_listing(_run(at))["id"]) == {ids["fact"], ids["event"], ids["link"], ids["wrong"]}


def test_the_edit_form_changes_core_memory_through_memory_update(app, db):
    session_id, _ = seed_memories(db)
    at = _open(app, session_id)
    before = len(events_of(db, session_id))
    at.text_area(key=f"core-{session_id}-text-0").input("The user is Ada. She drinks tea.")
    at.button(key=f"core-{session_id}-save").click()
    _run(at)
    events = events_of(db, session_id)
    assert len(events) == before + 1
    assert events[-1]["kind"] == "memory_updated" and events[-1]["payload"]["memory_id"] == "core"
    assert events[-1]["payload"]["previous"] == "The user is Ada, who organises the team offsite."
    assert at.code[0].value == "The user is Ada. She drinks tea."
    assert any(toast.value == plain("Saved core.") for toast in at.toast)
    with _store(db) as store:
        assert core_memory(store.open_session(session_id).state()) == "The user is Ada. She drinks tea."
    assert "History (1 change)" in [expander.label for expander in at.expander]
    history = next(frame.value for frame in at.dataframe if "value before" in frame.value.columns)
    assert list(history["value before"]) == ["The user is Ada, who organises the team offsite."]


def test_an_over_long_core_memory_is_refused_with_the_tools_error(app, db):
    session_id, _ = seed_memories(db)
    at = _open(app, session_id)
    at.text_area(key=f"core-{session_id}-text-0").input("word " * 600)
    at.button(key=f"core-{session_id}-save").click()
    _run(at)
    [error] = at.error  # once, and inside the form, which stays open with the text to fix
    assert "at most 512 tokens" in error.value
    form = next(expander for expander in at.expander if expander.label == "Edit core memory")
    assert form.proto.expanded and [e.value for e in form.error] == [error.value]
    assert at.text_area(key=f"core-{session_id}-text-0").value == "word " * 600
    assert not at.toast
    events = events_of(db, session_id)
    assert events[-1]["kind"] == "tool_failed"  # as a model's bad call is recorded
    assert at.code[0].value == "The user is Ada, who organises the team offsite."
    at.text_area(key=f"core-{session_id}-text-0").input("The user is Ada.")  # fixed: saved, the error gone
    at.button(key=f"core-{session_id}-save").click()
    _run(at)
    assert not at.error and at.code[0].value == "The user is Ada."
    assert not next(expander for expander in at.expander if expander.label == "Edit core memory").proto.expanded


def test_delete_then_restore_through_the_pages_buttons(app, db):
    session_id, ids = seed_memories(db)
    at = _pick(_open(app, session_id), session_id, ids["fact"])
    at.button(key=f"memory_delete-{ids['fact']}").click()
    _run(at)
    events = events_of(db, session_id)
    assert (events[-1]["kind"], events[-1]["payload"]["memory_id"]) == ("memory_deleted", ids["fact"])
    assert ids["fact"] not in list(_listing(at)["id"])
    assert at.selectbox(key=f"memory_pick-{session_id}").value == ids["fact"]  # still picked, to restore
    at.button(key=f"memory_restore-{ids['fact']}").click()
    _run(at)
    events = events_of(db, session_id)
    assert (events[-1]["kind"], events[-1]["payload"]["memory_id"]) == ("memory_restored", ids["fact"])
    assert ids["fact"] in list(_listing(at)["id"])
    history = next(frame.value for frame in at.dataframe if "value before" in frame.value.columns)
    assert list(history["change"]) == ["deleted", "restored"]


def test_a_picked_memory_shows_its_history_merge_and_source_message(app, db):
    session_id, ids = seed_memories(db)
    with _store(db) as store:
        session = store.open_session(session_id)
        session.call_tool("memory_update", {"memory_id": ids["fact"], "content": "Ada prefers green tea"})
        merged = session.call_tool("memory_merge", {"memory_ids": [ids["fact"], ids["event"]],
                                                    "description": "Ada: green tea, Hall B on Tuesday"})["memory_id"]
    at = _pick(_open(app, session_id), session_id, ids["fact"])
    assert any(m.value.startswith(f"**{ids['fact']}** · semantic · **{plain('merged into ' + merged)}**")
               for m in at.markdown)
    assert f"**merged into:** {merged}" in _facts(at)
    history = next(frame.value for frame in at.dataframe if "value before" in frame.value.columns)
    assert list(history["change"])[:1] == ["updated"] and list(history["value before"])[0] == "Ada prefers tea"
    assert "-Ada prefers tea" in at.code[-1].value and "+Ada prefers green tea" in at.code[-1].value
    assert "m2 · assistant: Noted." in [text.value for text in at.text]
    assert f"memory_restore-{ids['fact']}" in [button.key for button in at.button]  # a merged one can come back
    at = _pick(at, session_id, merged)
    assert f"**merged from:** {ids['fact']}, {ids['event']}" in _facts(at)


def test_a_hostile_memory_is_text_in_the_details(app, db):
    session_id, ids = seed_memories(db)
    with _store(db) as store:
        store.open_session(session_id).call_tool("memory_update", {"memory_id": ids["evil"], "content": EVIL + " v2",
                                                                   "entities": [EVIL]})
    at = _pick(_open(app, session_id), session_id, ids["evil"])
    assert EVIL + " v2" in [text.value for text in at.text]  # st.text: never parsed
    assert f"**entities:** {plain(EVIL)}" in _facts(at) and EVIL not in _facts(at)
    assert "-" + EVIL in at.code[-1].value and "+" + EVIL + " v2" in at.code[-1].value


def test_search_goes_through_memory_search_with_scores(app, db):
    session_id, ids = seed_memories(db)
    at = _open(app, session_id)
    key = f"memory_search-{session_id}"
    at.text_input(key=f"{key}-query").input("Hall B")
    at.button(key=f"{key}-go").click()
    _run(at)
    hits = next(frame.value for frame in at.dataframe if "score" in frame.value.columns)
    assert set(hits["id"]) == {ids["event"], ids["link"]}  # the deleted one is not found
    assert list(hits["score"]) == sorted(hits["score"], reverse=True) and hits["score"].min() > 0
    at.text_input(key=f"{key}-query").input("   ")
    at.button(key=f"{key}-go").click()
    _run(at)
    assert any("query is empty" in error.value for error in at.error)


def choose_on_replay(at, session_id, step):
    """Go to Replay and move its slider to `step`, as a person does (the step is kept for other pages)."""
    at.switch_page("pages/replay.py")
    _run(at).slider(key=f"replay_step-{session_id}").set_value(step)
    assert _run(at).slider(key=f"replay_step-{session_id}").value == step
    return at


def test_following_replay_shows_a_deleted_memory_as_it_was_before(app, db):
    session_id, ids = seed_memories(db)
    at = choose_on_replay(_open(app, session_id), session_id, int(ids["before_delete"]))
    at.switch_page("pages/memory.py")
    _run(at).toggle(key=f"memory_follow-{session_id}").set_value(True)
    _run(at)
    assert any(f"Replay step {ids['before_delete']} of {int(ids['before_delete']) + 1};" in caption.value
               for caption in at.caption)
    listing = _listing(at)
    assert listing[listing["id"] == ids["wrong"]].iloc[0]["status"] == "live"
    at = _pick(at, session_id, ids["wrong"])
    assert "Bob hates Hall B" in [text.value for text in at.text]
    assert f"memory_delete-{ids['wrong']}" not in [button.key for button in at.button]  # the past is read-only
    assert not at.get("text_area")

    at = choose_on_replay(at, session_id, 2)  # before any memory; the toggle stays on meanwhile
    at.switch_page("pages/memory.py")
    _run(at)
    assert at.toggle(key=f"memory_follow-{session_id}").value is True
    assert "No memories yet at this step." in at.info[0].value
    at.toggle(key=f"memory_follow-{session_id}").set_value(False)
    assert ids["wrong"] not in list(_listing(_run(at))["id"])


def test_the_page_picks_up_memories_written_elsewhere(app, db):
    session_id, _ = seed_memories(db)
    at = _open(app, session_id)
    with _store(db) as store:  # another process, such as a chat in another tab
        new = store.open_session(session_id).call_tool(
            "memory_insert", {"memory_type": "semantic", "content": "Bob flies in on Monday", "entities": ["Bob"]})
    assert new["memory_id"] in list(_listing(_run(at))["id"])


def test_a_letta_import_fills_the_core_panel_and_its_history(app, db):
    with _store(db) as store:
        session = store.import_session(LETTA)
        state = session.state()
        final = core_memory(state)
        core = memory_graph(state).get("core")
    assert len(core.history) == 5  # Letta changed its blocks five times over the conversation
    at = _open(app, session.id)
    assert at.code[0].value == final and "BigChungus" in final
    tokens = int(_tokens(at).split()[0].replace(",", ""))
    assert 0 < tokens <= 512
    assert any(expander.label == "History (5 changes)" for expander in at.expander)
    history = next(frame.value for frame in at.dataframe if "value before" in frame.value.columns)
    assert list(history["step"]) == [entry["seq"] for entry in core.history]

    at = choose_on_replay(at, session.id, core.created_seq)  # core memory as Letta first had it
    at.switch_page("pages/memory.py")
    _run(at).toggle(key=f"memory_follow-{session.id}").set_value(True)
    _run(at)
    assert at.code[0].value == core.history[0]["content"] != final


def test_the_chat_page_offers_the_memory_tools_the_empty_page_points_to(app, db):
    store = SessionStore(db, linger=0)
    session = store.create_session("to chat")
    store.close()
    at = app()
    at.session_state["selected_session_id"] = session.id
    at.switch_page("pages/chat.py").run()
    assert not at.exception, at.exception
    assert {"memory", "all"} <= set(at.selectbox(key="chat_tools").options)
