"""Export and import: our JSONL trace round-trips exactly; OpenAI message lists import; bad files
name the line or item at fault and import nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import ImportFormatError
from sessions import SessionStore

from tests.conftest import long_text


def _busy_session(store):
    session = store.create_session("busy ✓")
    session.add_message("system", "Be exact.")
    session.add_message("user", long_text(12) + " odd: \ud800 \x00 👨‍👩‍👧 مرحبا e\u0301")
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 2.", "end_marker": "End of notes.", "num_fragments": 4})
    ids = [p["fragment_id"] for p in pieces["fragments"]]
    session.call_tool("fold_fragment", {"fragment_id": ids[0]})
    session.call_tool("summarize_fragment", {"fragment_id": ids[1], "focus": "budget"})
    session.call_tool("fold_fragment", {"fragment_id": "nope"})
    session.run_model_tool_calls([{"id": "c1", "type": "function", "function": {"name": "search_context", "arguments": '{"query": "committee"}'}}])
    session.call_tool("restore_fragment", {"fragment_id": ids[0]})
    return session


def test_export_then_import_reproduces_the_session_exactly(store, tmp_path):
    session = _busy_session(store)
    path = session.export(tmp_path / "trace.jsonl")
    imported = store.import_session(path)
    assert imported.id != session.id and imported.title == session.title
    assert imported.imported_from == f"trace.jsonl (session {session.id})"
    assert imported.events() == session.events()
    assert imported.render() == session.render()
    assert imported.stats() == session.stats()
    for at in range(len(session.events()) + 1):
        assert imported.render(at=at) == session.render(at=at)


def test_the_trace_is_canonical_json_lines(store, tmp_path):
    session = _busy_session(store)
    path = session.export(tmp_path / "trace.jsonl")
    raw = path.read_bytes()
    raw.decode("utf-8")  # valid UTF-8 even with a lone surrogate in a message
    lines = raw.decode("utf-8").splitlines()
    header, events = json.loads(lines[0]), [json.loads(line) for line in lines[1:]]
    assert header["format"] == "context-workbench-trace" and header["version"] == 1
    assert header["session"]["id"] == session.id
    assert len(events) == len(session.events())
    for line, event in zip(lines[1:], events):
        assert set(event) == {"seq", "ts", "kind", "payload", "actor"}
        assert line == json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).replace("\ud800", "\\ud800")
    assert "\\ud800" in lines[2]
    again = session.export(tmp_path / "again.jsonl")
    assert again.read_bytes() == raw


def test_an_exported_fork_keeps_its_origin(store, tmp_path):
    session = _busy_session(store)
    fork = session.fork(at=3)
    imported = store.import_session(fork.export(tmp_path / "fork.jsonl"))
    assert (imported.forked_from, imported.forked_at) == (session.id, 3)


def test_openai_message_lists_import_as_messages(store, tmp_path):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Use tools."},
        {"role": "user", "content": [{"type": "text", "text": "What's in this image?"}, {"type": "image_url", "image_url": {"url": "https://example.com/x.png"}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": {"q": "x"}}}], "refusal": None},
        {"role": "tool", "tool_call_id": "call_1", "content": "found it"},
        {"role": "assistant", "content": "Done."},
    ]
    as_array = tmp_path / "chat.json"
    as_array.write_text(json.dumps(messages))
    as_object = tmp_path / "wrapped.json"
    as_object.write_text(json.dumps({"title": "Wrapped chat", "messages": messages}, indent=2))
    pretty = tmp_path / "pretty.json"
    pretty.write_text('{"title": "Pretty",\n "messages": ' + json.dumps(messages, indent=2) + "\n}")
    assert store.import_session(pretty).title == "Pretty"
    as_lines = tmp_path / "lines.jsonl"
    as_lines.write_text("\n".join(json.dumps(m) for m in messages) + "\n")
    sessions = [store.import_session(p) for p in (as_array, as_object, as_lines)]
    assert sessions[0].title == "chat" and sessions[1].title == "Wrapped chat"
    rendered = sessions[0].render()
    assert rendered == sessions[1].render() == sessions[2].render()
    assert [m["role"] for m in rendered] == ["system", "system", "user", "assistant", "tool", "assistant"]
    assert rendered[2]["content"][1]["type"] == "image_url"
    assert rendered[3]["tool_calls"][0]["function"]["arguments"] == '{"q": "x"}'
    extra = sessions[0].state().messages
    assert extra[1].extra == {"original_role": "developer"} and extra[3].extra == {"refusal": None}


BAD_FILES = [
    ("empty.json", "", "the file is empty"),
    ("garbage.txt", "hello there", "matches no format the workbench reads"),
    ("broken.json", '[{"role": "user", "content": "x"}', "line 1, column 34: not valid JSON"),
    ("role.json", '[{"role": "user", "content": "ok"}, {"role": "robot", "content": "x"}]', "message [1]: role 'robot'"),
    ("norole.json", '[{"content": "x"}]', 'array items are not messages (they have no "role"'),
    ("notobj.json", '["just text"]', "array items are not messages"),
    ("content.json", '[{"role": "user", "content": 7}]', "content must be a string"),
    ("msgs.json", '{"messages": "nope"}', '"messages" is not a list of chat messages'),
    ("trace-badline.jsonl", None, "line 3: not valid JSON"),
    ("trace-gap.jsonl", None, "line 3: seq is 3, expected 2"),
    ("trace-kind.jsonl", None, "line 2: unknown event kind 'message_exploded'"),
    ("trace-replay.jsonl", None, "line 3: event 2 (fragment_folded): no fragment 'f000000'"),
    ("trace-version.jsonl", None, "line 1: trace version 99 is not supported"),
    ("trace-ts.jsonl", None, "line 2: ts 'yesterday' is not an ISO timestamp"),
]


def _trace_text(name: str) -> str:
    header = {"format": "context-workbench-trace", "version": 1, "session": {"title": "t"}}
    ok = {"seq": 1, "ts": "2026-01-01T00:00:00.000000Z", "kind": "message_added", "payload": {"message_id": "m1", "role": "user", "content": "hi", "fragment_id": "f00001"}}
    lines = [header, ok]
    if name == "trace-badline.jsonl":
        return "\n".join(json.dumps(x) for x in lines) + "\n{oops\n"
    if name == "trace-gap.jsonl":
        lines.append({**ok, "seq": 3})
    if name == "trace-kind.jsonl":
        lines[1] = {**ok, "kind": "message_exploded"}
    if name == "trace-replay.jsonl":
        lines.append({"seq": 2, "ts": ok["ts"], "kind": "fragment_folded", "payload": {"fragment_id": "f000000"}})
    if name == "trace-version.jsonl":
        lines[0] = {**header, "version": 99}
    if name == "trace-ts.jsonl":
        lines[1] = {**ok, "ts": "yesterday"}
    return "\n".join(json.dumps(x) for x in lines) + "\n"


@pytest.mark.parametrize(("name", "content", "expected"), BAD_FILES)
def test_bad_files_are_refused_with_the_line_or_item_and_nothing_is_imported(store, tmp_path, name, content, expected):
    store.create_session("already here")
    path = tmp_path / name
    path.write_text(_trace_text(name) if content is None else content, encoding="utf-8")
    with pytest.raises(ImportFormatError) as error:
        store.import_session(path)
    assert expected in str(error.value)
    assert [row["title"] for row in store.list_sessions()] == ["already here"]


def test_unreadable_files(store, tmp_path):
    with pytest.raises(ImportFormatError, match="no such file"):
        store.import_session(tmp_path / "missing.json")
    with pytest.raises(ImportFormatError, match="is a folder"):
        store.import_session(tmp_path)
    latin = tmp_path / "latin1.json"
    latin.write_bytes('[{"role": "user", "content": "café"}]'.encode("latin-1"))
    with pytest.raises(ImportFormatError, match="not UTF-8 text"):
        store.import_session(latin)


def test_a_byte_order_mark_is_accepted(store, tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'[{"role": "user", "content": "hi"}]')
    assert store.import_session(path).render() == [{"role": "user", "content": "hi"}]


def test_export_to_a_missing_folder_is_a_clear_error(store, tmp_path):
    from engine import WorkbenchError

    session = store.create_session("x")
    with pytest.raises(WorkbenchError, match="does not exist"):
        session.export(tmp_path / "no" / "such" / "dir" / "t.jsonl")


_texts = st.text(alphabet=st.characters(codec=None), max_size=80)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(st.tuples(st.sampled_from(["system", "user", "assistant"]), _texts), min_size=0, max_size=6),
       folds=st.lists(st.integers(0, 20), max_size=4), query=_texts)
def test_round_trip_property(tmp_path, messages, folds, query):
    store = SessionStore(":memory:")
    session = store.create_session("prop")
    for role, text in messages:
        session.add_message(role, text)
    ids = [f.id for f in session.state().fragments()]
    for n in folds:
        if ids:
            session.call_tool("fold_fragment", {"fragment_id": ids[n % len(ids)]})
    session.call_tool("search_context", {"query": query, "role": "all"})
    path = session.export(tmp_path / "prop.jsonl")
    imported = store.import_session(path)
    assert imported.events() == session.events()
    assert imported.render() == session.render()
    assert imported.stats() == session.stats()


def test_a_reply_that_opens_with_think_tags_is_imported_as_reasoning_and_reply(tmp_path):
    from sessions import SessionStore

    path = tmp_path / "local-server.json"
    path.write_text(json.dumps([{"role": "user", "content": "When?"},
                                {"role": "assistant", "content": "<think>The log says six.</think>\nAt six."},
                                {"role": "user", "content": "<think> is how I write tags</think>"}]), encoding="utf-8")
    session = SessionStore(":memory:").import_session(path)
    reply, user = session.state().messages[1:]
    assert (reply.text, reply.reasoning) == ("At six.", "The log says six.")
    assert user.text == "<think> is how I write tags</think>" and user.reasoning is None  # only a model's reply


@pytest.mark.parametrize("depth", [700, 100_000])
def test_json_nested_too_deeply_is_refused_with_one_line(tmp_path, depth):
    from sessions import SessionStore

    path = tmp_path / "deep.json"
    path.write_text('[{"role": "user", "content": "x", "meta": ' + "[" * depth + "]" * depth + "}]", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="nested deeper than 200 levels") as error:
        SessionStore(":memory:").import_session(path)
    assert str(error.value).startswith("deep.json: at /0/meta/0/0") and "\n" not in str(error.value)
