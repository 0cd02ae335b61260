"""The Session API over both real stores (a DuckDB file and a PostgreSQL database): messages,
tools, events, fork, persistence."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from engine import MessageError, SessionNotFound, WorkbenchError
from engine.tools import tool_schemas
from sessions import SessionStore

from tests.conftest import ROOT, long_text


@pytest.fixture
def store(backend_store):  # every test here runs on DuckDB and on PostgreSQL
    return backend_store


@pytest.fixture
def file_store(backend_store):
    return backend_store


def test_the_public_face_end_to_end(store):
    session = store.create_session(title="demo")
    assert isinstance(session.id, str) and session.title == "demo"
    assert session.add_message("system", "You are helpful.") == "m1"
    assert session.add_message("user", long_text(10)) == "m2"
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 5})
    fragment_id = pieces["fragments"][0]["fragment_id"]
    folded = session.call_tool("fold_fragment", json.dumps({"fragment_id": fragment_id}))
    assert folded["tokens_hidden"] == pieces["fragments"][0]["tokens"]
    rendered = session.render()
    assert [m["role"] for m in rendered] == ["system", "user"]  # a person's tool calls add no messages
    assert f"[folded fragment {fragment_id}" in rendered[1]["content"]
    numbers = session.stats()
    assert numbers["folded_tokens"] == folded["tokens_hidden"]
    events = session.events()
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert [e["kind"] for e in events] == ["message_added", "message_added", "context_fragmented", "fragment_folded"]
    assert set(events[0]) == {"seq", "ts", "kind", "payload", "actor"}
    assert events[3]["payload"] == {"fragment_id": fragment_id}


def test_render_and_stats_at_an_earlier_event(session):
    session.add_message("user", "first message here")
    session.add_message("user", "second message here")
    fragment_id = session.state().messages[0].fragments[0].id
    session.call_tool("fold_fragment", {"fragment_id": fragment_id})
    assert session.render(at=0) == []
    assert session.render(at=1) == [{"role": "user", "content": "first message here"}]
    assert session.render(at=2)[0]["content"] == "first message here"
    assert "folded" in session.render(at=3)[0]["content"]
    assert session.stats(at=2)["folded_tokens"] == 0 and session.stats()["folded_tokens"] > 0
    with pytest.raises(WorkbenchError, match="has events 1 to 3"):
        session.render(at=9)


def test_failed_tool_calls_are_recorded_and_change_nothing(session):
    session.add_message("user", "hello there")
    before = session.render()
    result = session.call_tool("fold_fragment", {"fragment_id": "f000000"})
    assert "error" in result
    assert session.render() == before
    last = session.events()[-1]
    assert last["kind"] == "tool_failed" and last["payload"]["tool"] == "fold_fragment"


def test_a_models_tool_calls_become_messages_and_search_results_land_at_the_end(session):
    session.add_message("user", "The code word is PELICAN. " + long_text(5))
    session.add_message("assistant", "Noted.")
    results = session.run_model_tool_calls(
        [
            {"id": "call_1", "type": "function", "function": {"name": "search_context", "arguments": '{"query": "pelican"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "fold_fragment", "arguments": "{broken"}},
            {"id": "call_3", "type": "function", "function": {"name": "no_such_tool", "arguments": "{}"}},
        ]
    )
    assert results[0]["total_matches"] == 1 and "error" in results[1] and "unknown tool" in results[2]["error"]
    rendered = session.render()
    assert [m["role"] for m in rendered] == ["user", "assistant", "assistant", "tool", "tool", "tool"]
    assert rendered[2]["tool_calls"][0]["id"] == "call_1"
    assert [m["tool_call_id"] for m in rendered[3:]] == ["call_1", "call_2", "call_3"]
    assert "PELICAN" in json.loads(rendered[3]["content"])["results"][0]["snippet"]
    kinds = [e["kind"] for e in session.events()]
    assert kinds[2:] == ["message_added", "context_searched", "message_added", "tool_failed", "message_added", "tool_failed", "message_added"]


def test_person_and_model_calls_leave_the_same_tool_events(store):
    person, model = store.create_session("person"), store.create_session("model")
    for session in (person, model):
        session.add_message("user", long_text(6))
    arguments = {"start_marker": "Paragraph 2.", "end_marker": "action 4.", "num_fragments": 3}
    person.call_tool("fragment_context", arguments)
    model.run_model_tool_calls([{"id": "c1", "type": "function", "function": {"name": "fragment_context", "arguments": json.dumps(arguments)}}])
    def tool_events(session):
        text = json.dumps([(e["kind"], e["payload"]) for e in session.events() if e["kind"] != "message_added"])
        for fragment in session.state().fragments():  # ids depend on position in the log
            text = text.replace(fragment.id, "f-ID")
        return json.loads(text)

    assert tool_events(person) == tool_events(model)
    assert [kind for kind, _ in tool_events(person)] == ["context_fragmented"]


def test_bad_messages_raise_a_clear_error_and_write_nothing(session):
    with pytest.raises(MessageError, match="role 'robot' is not one of"):
        session.add_message("robot", "beep")
    with pytest.raises(MessageError, match="tool_call_id"):
        session.add_message("tool", "result without a call id")
    with pytest.raises(MessageError, match="only assistant messages carry tool_calls"):
        session.add_message("user", "x", tool_calls=[{"id": "c", "function": {"name": "f", "arguments": "{}"}}])
    with pytest.raises(MessageError, match="content must be"):
        session.add_message("user", 42)
    assert session.events() == []


def test_fork_copies_a_prefix_and_records_its_origin(store):
    session = store.create_session("original")
    for n in range(4):
        session.add_message("user", f"message {n}")
    fork = session.fork(at=2)
    assert fork.id != session.id and fork.forked_from == session.id and fork.forked_at == 2
    assert fork.events() == session.events()[:2]
    assert fork.render() == session.render(at=2)
    fork.add_message("user", "only in the fork")
    assert len(session.render()) == 4 and len(fork.render()) == 3
    listed = {row["id"]: row for row in store.list_sessions()}
    assert listed[fork.id]["forked_from"] == session.id and listed[fork.id]["forked_at"] == 2
    assert listed[fork.id]["messages"] == 3 and listed[session.id]["events"] == 4
    with pytest.raises(WorkbenchError, match="from 0 to 4"):
        session.fork(at=5)
    assert session.fork().events() == session.events()


def test_unknown_sessions_and_prefixes(store):
    session = store.create_session("x")
    with pytest.raises(SessionNotFound, match="no session 'nope'"):
        store.open_session("nope")
    assert store.resolve_id(session.id[:5]) == session.id
    with pytest.raises(WorkbenchError, match="needs a title"):
        store.create_session("   ")


def test_two_session_objects_see_each_others_changes(file_store):
    first = file_store.create_session("shared")
    second = file_store.open_session(first.id)
    first.add_message("user", "written through the first object")
    assert second.render() == first.render()
    fragment_id = second.state().messages[0].fragments[0].id
    second.call_tool("fold_fragment", {"fragment_id": fragment_id})
    assert "folded" in first.render()[0]["content"]
    assert [e["seq"] for e in first.events()] == [1, 2]


def test_sessions_survive_a_process_restart(backend_target):
    db = backend_target
    script = (
        "import sys; from sessions import SessionStore\n"
        "s = SessionStore(sys.argv[1]).create_session('kept')\n"
        "s.add_message('user', 'persist me ' * 50)\n"
        "r = s.call_tool('fragment_context', {'start_marker': 'persist', 'end_marker': 'me', 'num_fragments': 1})\n"
        "s.call_tool('fold_fragment', {'fragment_id': r['fragments'][0]['fragment_id']})\n"
        "print(s.id)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(db)], cwd=ROOT, capture_output=True, text=True, check=True)
    session_id = out.stdout.strip()
    store = SessionStore(db, linger=0)
    reopened = store.open_session(session_id)
    assert reopened.title == "kept"
    assert [e["kind"] for e in reopened.events()] == ["message_added", "context_fragmented", "fragment_folded"]
    assert reopened.stats()["folded_tokens"] > 0
    store.close()


def test_stats_with_tool_schemas_and_window(session):
    session.add_message("user", "hi")
    numbers = session.stats(tools=tool_schemas("sculptor"), window=2048)
    assert numbers["window_free_tokens"] == 2048 - numbers["rendered_tokens"] - numbers["tool_schema_tokens"]


def test_a_ten_megabyte_message_through_the_store(file_store, tmp_path):
    text = "".join(f"line {n}: status ok, latency {n % 97} ms, user {n % 13} region eu\n" for n in range(200_000))
    assert len(text) > 10_000_000
    session = file_store.create_session("huge")
    session.add_message("tool", text, tool_call_id="call_dump")
    pieces = session.call_tool("fragment_context", {"start_marker": "line 0:", "end_marker": "line 199999:", "role": "tool", "num_fragments": 10})
    for piece in pieces["fragments"][:9]:
        session.call_tool("fold_fragment", {"fragment_id": piece["fragment_id"]})
    assert session.stats()["rendered_tokens"] < 0.2 * session.stats()["total_tokens"]
    imported = file_store.import_session(session.export(tmp_path / "huge.jsonl"))
    assert imported.render() == session.render()
    reopened = file_store.open_session(session.id)
    assert reopened.state().messages[0].text == text


def test_an_older_database_is_migrated_on_open(tmp_path):
    import duckdb

    from sessions.migrations import DUCKDB

    path = tmp_path / "old.duckdb"
    connection = duckdb.connect(str(path))  # a file written before migration 002 existed, exactly as it was
    connection.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT now())")
    connection.execute(
        "CREATE TABLE sessions (id VARCHAR PRIMARY KEY, title VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, "
        "forked_from VARCHAR, forked_at BIGINT); CREATE TABLE events (session_id VARCHAR NOT NULL, seq BIGINT NOT NULL, "
        "ts TIMESTAMP NOT NULL, kind VARCHAR NOT NULL, payload VARCHAR NOT NULL, PRIMARY KEY (session_id, seq))"
    )
    connection.execute("INSERT INTO _migrations (name) VALUES (?)", [DUCKDB[0][0]])
    connection.execute("INSERT INTO sessions VALUES ('abc123def456', 'old one', now(), NULL, NULL)")
    connection.close()
    store = SessionStore(path, linger=0)
    [row] = store.list_sessions()
    assert row["title"] == "old one" and row["imported_from"] is None
    assert store.open_session("abc123def456").render() == []
    store.close()
