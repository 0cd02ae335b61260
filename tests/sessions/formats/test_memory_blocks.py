"""Letta memory in an import (issue 10): the blocks become core memory as it stood at each step,
archival inserts become semantic memories, and what cannot be traced is said, not guessed."""

from __future__ import annotations

import json

from engine import render
from engine.memory import CORE_MEMORY_TOKENS, core_memory, memory_graph
from engine.render import CORE_MEMORY_HEADER
from engine.tokens import token_counter
from sessions.formats.memory_blocks import TRUNCATED, within_bound


def _call(call_id: str, name: str, **arguments) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}


def _agent_file(blocks: list[dict], calls: list[dict]) -> dict:
    messages = [{"id": "m0", "role": "user", "content": [{"type": "text", "text": "Hi, I'm Ada."}]}]
    for n, call in enumerate(calls, 1):
        messages.append({"id": f"a{n}", "role": "assistant", "content": [], "tool_calls": [call]})
        messages.append({"id": f"t{n}", "role": "tool", "tool_call_id": call["id"],
                         "content": [{"type": "text", "text": '{"status": "OK"}'}]})
    agent = {"name": "Pip", "agent_type": "letta_v1_agent", "id": "agent-pip", "messages": messages,
             "in_context_message_ids": [m["id"] for m in messages], "block_ids": [b["id"] for b in blocks],
             "tool_ids": [], "llm_config": {"model": "gpt-x", "context_window": 9000}}
    return {"agents": [agent], "groups": [], "blocks": blocks, "files": [], "sources": [], "tools": [],
            "mcp_servers": [], "metadata": {}, "created_at": "2026-01-22T02:06:35+00:00"}


def _core_by_step(session) -> list[str]:
    return [core_memory(session.state(at)) for at in range(1, session.last_seq + 1)]


def test_the_real_sample_shows_core_memory_as_it_changed(sample, imported):
    report, (session,) = imported(sample("letta-agent-file/agent-file/memgpt_agent_with_convo.af"))
    assert report.files[0].warnings == []
    records = session.records()
    changes = [r for r in records if r.event.kind.startswith("memory_")]
    assert [r.event.kind for r in changes] == ["memory_inserted"] + ["memory_updated"] * 5
    first, last = core_memory(session.state(changes[0].seq)), core_memory(session.state())
    assert "First name: Chad" in first and "I am Sam." in first and "Favorite ice cream" not in first
    assert "First name: Sam" in last and "I am BigChungus." in last and "Sailing partner: Jean-Luc" in last
    for change in changes[1:]:  # each change lands right after the assistant message that made it
        message = session.state(change.seq).messages[-1]
        assert message.role == "assistant" and "core_memory" in message.calls_text
        assert change.event.message_id == message.id
    assert render(session.state())[0]["content"].startswith(CORE_MEMORY_HEADER + "\n<persona>")
    assert session.stats()["core_memory_tokens"] > 0


def test_an_over_long_core_memory_is_cut_to_512_tokens_and_said(sample, imported):
    report, (session,) = imported(sample("letta-agent-file/agent-file/loop.af"))
    assert any("over 512 tokens" in warning for warning in report.files[0].warnings)
    text = core_memory(session.state())
    assert text.endswith(TRUNCATED) and text.startswith("<about_user>")
    assert token_counter().count(text) <= CORE_MEMORY_TOKENS
    counter = token_counter()
    cut, was_cut = within_bound("word " * 2_000, counter)
    assert was_cut and counter.count(cut) <= CORE_MEMORY_TOKENS and counter.count(cut + " word") > CORE_MEMORY_TOKENS - 20
    assert within_bound("short", counter) == ("short", False)


def test_appends_and_replaces_are_undone_to_the_first_blocks(write, imported):
    blocks = [{"id": "b0", "label": "human", "value": "Name: Ada\nLikes: tea\nCity: Oslo"}]
    calls = [_call("c1", "core_memory_replace", label="human", old_content="Likes: coffee", new_content="Likes: tea"),
             _call("c2", "core_memory_append", label="human", content="City: Oslo"),
             _call("c3", "archival_memory_insert", content="Ada moved to Oslo in 2025")]
    _, (session,) = imported(write("pip.af", _agent_file(blocks, calls)))
    steps = [text for text in _core_by_step(session) if text]
    assert steps[0] == "<human>\nName: Ada\nLikes: coffee\n</human>"
    assert steps[-1] == "<human>\nName: Ada\nLikes: tea\nCity: Oslo\n</human>"
    assert len(set(steps)) == 3
    (archived,) = memory_graph(session.state()).live("semantic")
    assert archived.content == "Ada moved to Oslo in 2025" and archived.message_id is not None


def test_a_call_that_cannot_be_traced_keeps_the_final_blocks_from_the_start(write, imported):
    blocks = [{"id": "b0", "label": "human", "value": "Name: Ada"}]
    calls = [_call("c1", "core_memory_replace", label="human", old_content="Name: Bo", new_content="Name: Cy")]
    report, (session,) = imported(write("pip.af", _agent_file(blocks, calls)))
    assert any("could not be traced back" in warning for warning in report.files[0].warnings)
    assert {text for text in _core_by_step(session) if text} == {"<human>\nName: Ada\n</human>"}
    kinds = [r.event.kind for r in session.records()]
    assert kinds.count("memory_inserted") == 1 and "memory_updated" not in kinds


def test_an_agent_without_blocks_has_no_core_memory(write, imported):
    _, (session,) = imported(write("pip.af", _agent_file([], [])))
    assert memory_graph(session.state()).memories == () and render(session.state())[0]["role"] == "user"
