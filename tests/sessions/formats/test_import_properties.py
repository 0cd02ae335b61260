"""Properties of the import path: whatever OpenAI-format messages a file holds, importing it and
round-tripping the session through the JSONL trace gives back the same session."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.text import normalize_text
from sessions import SessionStore

_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
_call = st.fixed_dictionaries({"id": st.text("abc123", min_size=1, max_size=6),
                               "function": st.fixed_dictionaries({"name": st.sampled_from(["lookup", "send_message"]),
                                                                  "arguments": st.dictionaries(st.sampled_from(["q", "message"]), _text, max_size=2)})})
_message = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user"]), "content": _text}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": st.one_of(st.none(), _text)},
                          optional={"reasoning_content": _text, "tool_calls": st.lists(_call, min_size=1, max_size=2)}),
    st.fixed_dictionaries({"role": st.just("tool"), "content": _text}, optional={"tool_call_id": st.text("abc", min_size=1, max_size=4)}),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(_message, min_size=1, max_size=8), gz=st.booleans())
def test_an_imported_message_list_survives_the_trace_round_trip(tmp_path, messages, gz):
    import gzip

    data = json.dumps(messages).encode()
    path = tmp_path / ("in.json.gz" if gz else "in.json")
    path.write_bytes(gzip.compress(data) if gz else data)
    store = SessionStore(":memory:")
    report = store.import_file(path)
    [session] = [store.open_session(session_id) for session_id in report.session_ids]
    state = session.state()
    assert [m.role for m in state.messages] == [m["role"] for m in messages]
    assert sum(report.files[0].messages_by_role.values()) == len(messages)
    assert report.files[0].tool_calls == sum(len(m.get("tool_calls") or ()) for m in messages)
    for imported, original in zip(state.messages, messages):
        if "reasoning_content" in original:
            assert imported.reasoning == (normalize_text(original["reasoning_content"]) or None)
        elif original["role"] != "assistant" and original["content"] is not None:
            assert imported.text == normalize_text(original["content"])
    again = store.import_session(session.export(tmp_path / "trace.jsonl"))
    assert again.events() == session.events() and again.render() == session.render()
    assert again.stats() == session.stats()
