"""What is stored is what was seen: for any text, through any door, the live session and the
session reopened from the store render the same and count the same, after every call."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions import SessionStore

from tests.engine.test_properties import TOOL_NAMES, _arguments

ODD_PIECES = ["\ud83d", "\ude00", "\ud83d\ude00", "\udbff\udfff", "\x00", "\u200f", "\u202e", "\u200d", "e\u0301",
              "\r\n", "<|endoftext|>", "😀", "שלום", "\ufeff"]
odd_text = st.lists(st.sampled_from(ODD_PIECES) | st.text(max_size=12), min_size=1, max_size=12).map("".join)


def _same_when_reopened(store: SessionStore, session) -> None:
    reopened = store.open_session(session.id)
    assert reopened.replay_error is None, reopened.replay_error
    assert reopened.render() == session.render()
    assert reopened.stats() == session.stats()
    assert [m.text for m in reopened.state().messages] == [m.text for m in session.state().messages]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_any_text_and_any_calls_reopen_to_the_same_session(data):
    store = SessionStore(":memory:")
    session = store.create_session(data.draw(odd_text.filter(lambda t: t.strip()), label="title"))
    assert store.open_session(session.id).title == session.title
    for _ in range(data.draw(st.integers(1, 10), label="steps")):
        state = session.state()
        if data.draw(st.booleans(), label="add a message?") or not state.messages:
            role = data.draw(st.sampled_from(["system", "user", "assistant"]), label="role")
            reasoning = data.draw(st.none() | odd_text, label="reasoning") if role == "assistant" else None
            session.add_message(role, data.draw(odd_text, label="text"), reasoning=reasoning)
        elif data.draw(st.integers(0, 4), label="as a model?") == 0:
            name = data.draw(st.sampled_from(TOOL_NAMES), label="tool")
            arguments = data.draw(_arguments(state, name), label="arguments")
            session.run_model_tool_calls([{"id": data.draw(odd_text, label="call id"), "type": "function",
                                           "function": {"name": name, "arguments": json.dumps(arguments, default=str)}}])
        else:
            name = data.draw(st.sampled_from(TOOL_NAMES), label="tool")
            session.call_tool(name, data.draw(_arguments(state, name), label="arguments"))
        _same_when_reopened(store, session)


def test_a_surrogate_pair_as_two_code_points_survives_reopening_and_fragmenting(tmp_path):
    """The case found by a user: 86 characters live and 76 reopened, then no session at all."""
    store = SessionStore(tmp_path / "pairs.duckdb", linger=0)
    text = ("x\ud83d\ude00y " * 10) + "tail end"
    session = store.create_session("pairs")
    session.add_message("user", text)
    result = session.call_tool("fragment_context", {"start_marker": "x", "end_marker": "tail end", "num_fragments": 3})
    assert "error" not in result, result
    store.close()
    reopened = SessionStore(tmp_path / "pairs.duckdb", linger=0)
    again = reopened.open_session(session.id)
    assert again.replay_error is None
    assert len(again.state().messages[0].text) == len(session.state().messages[0].text) == 48
    assert again.render() == session.render()
    reopened.close()


def test_imported_and_exported_text_comes_back_the_same(tmp_path):
    messages = [{"role": "user", "content": "a\ud83d\ude00b \ud800 lone"},
                {"role": "assistant", "content": "ok", "reasoning_content": "think \ud83d\ude00"}]
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(messages), encoding="utf-8")  # JSON escapes keep the halves apart
    store = SessionStore(":memory:")
    imported = store.import_session(path)
    assert imported.state().messages[0].text == "a😀b \ud800 lone"
    assert imported.state().messages[1].reasoning == "think 😀"
    _same_when_reopened(store, imported)
    again = store.import_session(imported.export(tmp_path / "odd.jsonl"))
    assert again.render() == imported.render() and again.state().messages[1].reasoning == "think 😀"
