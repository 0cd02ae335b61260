"""Letta memory in an import (issue 10): the blocks become core memory as it stood at each step,
archival inserts become semantic memories, and what cannot be traced is said, not guessed."""

from __future__ import annotations

import json

from engine import render
from engine.memory import CORE_MEMORY_TOKENS, TRUNCATED, core_memory, memory_graph, within_bound
from engine.render import CORE_MEMORY_HEADER
from engine.tokens import token_counter


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
    (warning,) = [w for w in report.files[0].warnings if "over 512 tokens" in w]
    text = core_memory(session.state())
    assert text.endswith(TRUNCATED) and text.startswith("<about_user>")
    assert token_counter().count(text) <= CORE_MEMORY_TOKENS
    assert "left out: " in warning and "soul" in warning.split("left out: ")[1]  # the blocks past the cut are named
    counter = token_counter()
    cut, was_cut = within_bound("word " * 2_000, counter)
    assert was_cut and counter.count(cut) <= CORE_MEMORY_TOKENS and counter.count(cut) > CORE_MEMORY_TOKENS - 20
    assert cut.endswith("word" + TRUNCATED)  # at a word
    chinese, _ = within_bound("记忆" * 800, counter)  # no spaces at all: cut at a token, never emptied
    assert chinese.startswith("记忆记忆") and len(chinese) > 200 and counter.count(chinese) <= CORE_MEMORY_TOKENS
    assert "\ufffd" not in chinese
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
    blocks = [{"id": "b0", "label": "human", "value": "Name: Ada\nCity: Oslo"}]
    calls = [_call("c1", "core_memory_append", label="human", content="City: Oslo"),  # traceable alone
             _call("c2", "core_memory_replace", label="human", old_content="Name: Bo", new_content="Name: Cy")]
    report, (session,) = imported(write("pip.af", _agent_file(blocks, calls)))
    assert any("could not be traced back" in warning for warning in report.files[0].warnings)
    assert {text for text in _core_by_step(session) if text} == {"<human>\nName: Ada\nCity: Oslo\n</human>"}
    kinds = [r.event.kind for r in session.records()]
    assert kinds.count("memory_inserted") == 1 and "memory_updated" not in kinds


def test_a_replacement_whose_text_is_in_the_block_twice_is_not_guessed(write, imported):
    blocks = [{"id": "b0", "label": "human", "value": "Likes: tea\nShop: the tea room"}]
    calls = [_call("c1", "core_memory_replace", label="human", old_content="coffee", new_content="tea")]
    report, (session,) = imported(write("pip.af", _agent_file(blocks, calls)))
    assert any("could not be traced back" in warning for warning in report.files[0].warnings)
    assert "coffee" not in "".join(_core_by_step(session))


def test_emptied_blocks_clear_core_memory_and_a_new_text_brings_it_back(write, imported):
    blocks = [{"id": "b0", "label": "human", "value": "Name: Cy"}]
    calls = [_call("c1", "core_memory_replace", label="human", old_content="Name: Ada", new_content="Name: Bo"),
             _call("c2", "memory_replace", label="human", old_str="Name: Bo", new_str=" "),
             _call("c3", "memory_replace", label="human", old_str=" ", new_str="Name: Cy")]
    report, (session,) = imported(write("pip.af", _agent_file(blocks, calls)))
    assert report.files[0].warnings == []
    kinds = [r.event.kind for r in session.records() if r.event.kind.startswith("memory_")]
    assert kinds == ["memory_inserted", "memory_updated", "memory_deleted", "memory_restored", "memory_updated"]
    assert core_memory(session.state()) == "<human>\nName: Cy\n</human>"
    assert session.call_tool("memory_update", {"memory_id": "core", "content": "Name: Di"})["memory_id"] == "core"


def test_odd_blocks_are_kept_under_a_label_of_their_own_and_said(write, imported):
    blocks = [{"id": "b0", "label": "human", "value": "Name: Ada"}, {"id": "b1", "label": "human", "value": "Tea"},
              {"id": "b2", "value": "no label"}, {"id": "b3", "label": "numbers", "value": [1, 2]}]
    report, (session,) = imported(write("pip.af", _agent_file(blocks, [])))
    text = core_memory(session.state())
    assert "<human>\nName: Ada" in text and "<human-2>\nTea" in text and "<block 3>\nno label" in text
    assert "<numbers>\n[1, 2]" in text
    warnings = " ".join(report.files[0].warnings)
    assert "labelled 'human'" in warnings and "no label" in warnings and "not text" in warnings


def test_archival_inserts_are_kept_without_any_block(write, imported):
    calls = [_call("c1", "archival_memory_insert", content="Ada moved to Oslo")]
    _, (session,) = imported(write("pip.af", _agent_file([], calls)))
    (archived,) = memory_graph(session.state()).live()
    assert archived.memory_type == "semantic" and archived.content == "Ada moved to Oslo"
    assert archived.recorded_at is not None and core_memory(session.state()) == ""


def test_an_agent_without_blocks_has_no_core_memory(write, imported):
    _, (session,) = imported(write("pip.af", _agent_file([], [])))
    assert memory_graph(session.state()).memories == () and render(session.state())[0]["role"] == "user"
