"""The task DAG and the memory graph live in the event log (issue 10), so they travel with the
session: a fork keeps them as they were at its step, and both trace formats bring them back."""

from __future__ import annotations

import json

from engine.memory import core_memory, memory_graph
from engine.tasks import task_board
from sessions import SessionStore
from engine.events import LLMCalled
from sessions.formats.otlp_export import otlp_document, write_otlp


def _busy(store):
    session = store.create_session("graphs")
    session.add_message("user", "Plan the offsite; remember that Ada chairs it.")
    flights = session.call_tool("add_task", {"title": "book flights"})["task_id"]
    session.call_tool("add_task", {"title": "book hotel", "depends_on": [flights]})
    session.call_tool("memory_insert", {"memory_type": "core", "content": "Ada chairs the offsite."})
    fact = session.call_tool("memory_insert", {"memory_type": "semantic", "content": "Ada likes window seats",
                                               "entities": ["Ada"]})["memory_id"]
    session.call_tool("memory_link", {"entities": ["Ada", "offsite"], "description": "Ada chairs the offsite"})
    fork_at = session.last_seq
    session.call_tool("update_task", {"task_id": flights, "details": "Tuesday, not Monday"})
    session.call_tool("memory_delete", {"memory_id": fact})
    session.call_tool("complete_task", {"task_id": flights, "summary": "flights booked for Tuesday"})
    return session, fork_at


def _graphs(state):
    return task_board(state), memory_graph(state)


def test_both_traces_bring_the_graphs_back_whole(tmp_path):
    store = SessionStore(":memory:")
    session, _ = _busy(store)
    back = store.import_session(session.export(tmp_path / "trace.jsonl"))
    assert _graphs(back.state()) == _graphs(session.state())
    otlp = store.open_session(store.import_file(write_otlp(tmp_path / "trace.json", session.info(),
                                                            session.records())).first_id)
    assert _graphs(otlp.state()) == _graphs(session.state())
    assert otlp.render() == session.render() and otlp.render()[0]["role"] == "system"


def test_the_model_inputs_in_otlp_start_with_core_memory():
    store = SessionStore(":memory:")
    session, _ = _busy(store)
    session.add_message("assistant", "On it.", before=[LLMCalled(model="openai/gpt-4.1-mini", latency_ms=5.0, finish_reason="stop",
                                                                 usage={"prompt_tokens": 9, "completion_tokens": 2})])
    [resource] = otlp_document(session.info(), session.records())["resourceSpans"]
    chats = [span for span in resource["scopeSpans"][0]["spans"] if span["name"].startswith("chat ")]
    inputs = next(json.loads(a["value"]["stringValue"]) for a in chats[-1]["attributes"]
                  if a["key"] == "gen_ai.input.messages")
    assert inputs[0]["role"] == "system" and inputs[0]["parts"][0]["content"].endswith("Ada chairs the offsite.")
    assert inputs[1]["role"] == "user"


def test_a_fork_keeps_the_graphs_as_they_were_at_its_step():
    store = SessionStore(":memory:")
    session, fork_at = _busy(store)
    fork = session.fork(at=fork_at)
    board, memories = _graphs(fork.state())
    assert [t.status for t in board.tasks] == ["open", "open"]
    assert len(memories.live()) == 3 and core_memory(fork.state()) == "Ada chairs the offsite."
    fork.call_tool("memory_update", {"memory_id": "core", "content": "Bo chairs it now."})
    assert core_memory(session.state()) == "Ada chairs the offsite."  # the original is not touched


def test_a_trace_whose_task_id_carries_markup_is_refused(tmp_path):
    import pytest

    from engine import WorkbenchError

    store = SessionStore(":memory:")
    session, _ = _busy(store)
    path = session.export(tmp_path / "trace.jsonl")
    task_id = task_board(session.state()).tasks[0].id
    crafted = tmp_path / "crafted.jsonl"
    crafted.write_text(path.read_text().replace(task_id, "a`![t](http://evil.example/track.png)`"))
    with pytest.raises(WorkbenchError, match="task_id"):
        store.import_session(crafted)
    assert len(store.list_sessions()) == 1  # nothing was imported


def test_otlp_shows_core_memory_opening_the_system_prompt_and_reimports_the_prompt_alone(tmp_path):
    store = SessionStore(":memory:")
    session = store.create_session("prompted")
    session.add_message("system", "You plan offsites.")
    session.add_message("user", "Hi.")
    session.call_tool("memory_insert", {"memory_type": "core", "content": "User: Ada."})
    session.add_message("assistant", "Hello Ada.", before=[LLMCalled(model="openai/gpt-4.1-mini", latency_ms=5.0,
                                                                   finish_reason="stop", usage={"prompt_tokens": 9})])
    document = otlp_document(session.info(), session.records())
    [resource] = document["resourceSpans"]
    chat = next(span for span in resource["scopeSpans"][0]["spans"] if span["name"].startswith("chat "))
    inputs = next(json.loads(a["value"]["stringValue"]) for a in chat["attributes"] if a["key"] == "gen_ai.input.messages")
    assert [item["role"] for item in inputs] == [m["role"] for m in session.render()[:2]] == ["system", "user"]
    assert inputs[0]["parts"][0]["content"] == session.render()[0]["content"]
    back = store.open_session(store.import_file(write_otlp(tmp_path / "t.json", session.info(),
                                                            session.records())).first_id)
    assert back.state().messages[0].content == "You plan offsites."  # the prompt itself, not what was sent
    assert back.render() == session.render()
