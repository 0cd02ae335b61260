"""A log that does not fold never locks a person out: it opens at its last good event,
names the event at fault, refuses changes, and forks; `check` finds every such session."""

from __future__ import annotations

import json

import pytest

from engine import WorkbenchError
from sessions import SessionStore

from tests.sessions.test_cli import run


def _break(store: SessionStore, session_id: str, seq: int, kind: str, payload: dict) -> None:
    """Write an event row by hand, as a bug or an editor might."""
    with store.events.db.transaction() as connection:
        connection.execute("INSERT INTO events (session_id, seq, ts, kind, payload) VALUES (?, ?, now(), ?, ?)", [session_id, seq, kind, json.dumps(payload)])


@pytest.fixture
def broken(tmp_path):
    path = tmp_path / "broken.duckdb"
    store = SessionStore(path, linger=0)
    session = store.create_session("broken")
    session.add_message("user", "first words")
    session.add_message("assistant", "second words")
    _break(store, session.id, 3, "fragment_folded", {"fragment_id": "fdead0"})  # no such fragment
    _break(store, session.id, 4, "message_added", {"message_id": "m3", "role": "user", "content": "lost",
                                                   "fragment_id": "fbeef1"})
    healthy = store.create_session("healthy")
    healthy.add_message("user", "fine")
    store.close()
    return path, session.id, healthy.id


def test_a_session_that_does_not_replay_opens_at_its_last_good_event(broken):
    path, session_id, _ = broken
    store = SessionStore(path, linger=0)
    session = store.open_session(session_id)
    assert session.last_seq == 2
    assert [m.text for m in session.state().messages] == ["first words", "second words"]
    error = session.replay_error
    assert (error.seq, error.kind) == (3, "fragment_folded")
    assert "event 3 (fragment_folded)" in str(error) and "fdead0" in str(error)
    with pytest.raises(WorkbenchError, match=r"cannot be changed.*event 3.*fork it there.*--at 2"):
        session.add_message("user", "more")
    assert "error" not in session.render()[0]  # reading still works
    fork = session.fork(at=2)
    assert fork.replay_error is None
    assert fork.add_message("user", "carried on") == "m3"
    reopened = store.open_session(fork.id)
    assert [m.text for m in reopened.state().messages] == ["first words", "second words", "carried on"]
    store.close()


def test_an_event_that_cannot_be_read_at_all_is_named_too(tmp_path):
    store = SessionStore(tmp_path / "odd.duckdb", linger=0)
    session = store.create_session("from the future")
    session.add_message("user", "hello")
    _break(store, session.id, 2, "message_exploded", {})
    reopened = store.open_session(session.id)
    assert reopened.last_seq == 1 and "unknown event kind 'message_exploded'" in str(reopened.replay_error)
    store.close()


def test_check_lists_the_sessions_that_do_not_replay(broken):
    path, session_id, healthy_id = broken
    result = run("check", db=path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith(session_id) and "does not replay: event 3 (fragment_folded)" in line for line in lines)
    assert any(line.startswith(healthy_id) and line.endswith(": ok") for line in lines)
    assert "1 of 2 sessions replay" in result.stdout
    as_json = json.loads(run("check", "--json", db=path).stdout)
    assert {row["id"]: row["good_events"] for row in as_json} == {session_id: 2, healthy_id: 1}
    shown = run("show", session_id, db=path)
    assert shown.returncode == 0 and "warning: this session's event 3" in shown.stdout and "second words" in shown.stdout


def test_check_on_a_healthy_store_exits_zero(tmp_path):
    store = SessionStore(tmp_path / "ok.duckdb", linger=0)
    store.create_session("one").add_message("user", "x")
    store.close()
    result = run("check", db=tmp_path / "ok.duckdb")
    assert result.returncode == 0 and "1 of 1 sessions replay" in result.stdout


@pytest.mark.parametrize("settings, reason", [
    ({"backend": {"model": "gpt-4.1", "top_p": 0.5}}, "unknown backend settings ['top_p']"),
    ({"tools": 5}, "unknown tool profile 5"),
    ({"backend": "gpt-4.1"}, "a backend is an object"),
    ({"reasoning_budget": 100}, "unknown settings ['reasoning_budget']"),
])
def test_settings_this_version_cannot_use_stop_the_fold_instead_of_breaking_every_page(tmp_path, settings, reason):
    store = SessionStore(tmp_path / "future.duckdb", linger=0)
    session = store.create_session("from a newer version")
    session.add_message("user", "hello")
    _break(store, session.id, 2, "session_configured", {"settings": settings})
    reopened = store.open_session(session.id)
    assert reopened.last_seq == 1 and reason in str(reopened.replay_error)
    assert reopened.settings["tools"] == "sculptor"  # the pages read the defaults of the good part
    assert reopened.window_stats(8_192)["window_used_tokens"] > 0
    assert [row["error"] is not None for row in store.check()] == [True]
    store.close()


def test_an_absurdly_nested_payload_is_a_replay_error_not_a_crash(tmp_path):
    store = SessionStore(tmp_path / "deep.duckdb", linger=0)
    session = store.create_session("deep")
    session.add_message("user", "hello")
    with store.events.db.transaction() as connection:
        connection.execute("INSERT INTO events (session_id, seq, ts, kind, payload) VALUES (?, 2, now(), 'tool_failed', ?)",
                           [session.id, '{"arguments": ' + "[" * 100_000 + "]" * 100_000 + "}"])
    reopened = store.open_session(session.id)
    assert reopened.last_seq == 1 and reopened.replay_error.seq == 2
    assert store.check()[0]["error"]
    store.close()


@pytest.mark.parametrize("backend", [
    {"model": "gpt-4.1", "temperature": 3}, {"model": "gpt-4.1", "temperature": None},
    {"model": "gpt-4.1", "max_tokens": None}, {"model": "ollama_chat/qwen3", "api_base": "localhost:11434"},
])
def test_settings_earlier_versions_let_through_still_replay(tmp_path, backend):
    """The stricter checks apply where values are set, not to logs already written."""
    store = SessionStore(tmp_path / "older.duckdb", linger=0)
    session = store.create_session("older")
    session.add_message("user", "hello")
    _break(store, session.id, 2, "session_configured", {"settings": {"backend": backend}})
    _break(store, session.id, 3, "message_added", {"message_id": "m2", "role": "user", "content": "more",
                                                   "fragment_id": "fbeef2"})
    reopened = store.open_session(session.id)
    assert reopened.replay_error is None and reopened.last_seq == 3
    reopened.configure(tools="none")  # still changeable
    with pytest.raises(WorkbenchError, match="temperature must be a number"):
        reopened.configure(temperature=3)
    store.close()


def test_settings_that_would_not_replay_are_refused_before_they_are_written():
    from engine.events import SessionConfigured

    store = SessionStore(":memory:")
    session = store.create_session("guarded")
    session.add_message("user", "hello")
    with pytest.raises(WorkbenchError, match="unknown tool profile 5"):
        session.record([SessionConfigured(settings={"tools": 5})])
    assert [e["kind"] for e in store.open_session(session.id).events()] == ["message_added"]
    assert session.add_message("user", "still writable") == "m2"
