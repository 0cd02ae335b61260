"""Letta agent files: both schemas' samples, memory and tools, what the agent saw, detection."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from engine.errors import ImportFormatError
from engine.imports import IMPORTS
from sessions.formats import detect, letta
from sessions.formats.source import open_sources


def detected(path) -> str:
    return detect(open_sources(path)[0]).name


def text_part(text: str) -> list[dict]:
    return [{"type": "text", "text": text}]


def user_event(message: str) -> str:
    return json.dumps({"type": "user_message", "message": message, "time": "2025-03-31 08:51:08 PM"}, indent=2)


def statuses(session) -> list[list[str]]:
    """Each message's fragment statuses: a message with no fragment shows as [], never as vacuously visible."""
    return [[f.status for f in m.fragments] for m in session.state().messages]


def send(call_id: str, message: str) -> dict:
    return {"id": call_id, "type": "function",
            "function": {"name": "send_message", "arguments": json.dumps({"message": message})}}


def agent_file(agents: list[dict], blocks: list[dict] | None = None, tools: list[dict] | None = None) -> dict:
    return {"agents": agents, "groups": [], "blocks": blocks or [], "files": [], "sources": [], "tools": tools or [],
            "mcp_servers": [], "metadata": {}, "created_at": "2026-01-22T02:06:35+00:00"}


def new_agent(name: str, messages: list[dict], **fields) -> dict:
    agent = {"name": name, "agent_type": "letta_v1_agent", "id": f"agent-{name}", "messages": messages,
             "in_context_message_ids": [m["id"] for m in messages], "block_ids": [], "tool_ids": [],
             "llm_config": {"model": "claude-sonnet-4-5-20250929", "context_window": 90000}}
    return {**agent, **fields}


# ---- the real samples -------------------------------------------------------------------------


def test_old_schema_sample_keeps_what_the_agent_saw(sample, imported):
    path = sample("letta-agent-file/agent-file/memgpt_agent_with_convo.af")
    assert detected(path) == "letta"  # before the OpenAI list, which would take any "messages"
    report, (session,) = imported(path)
    file = report.files[0]
    assert session.title == "memgpt_agent"
    assert dict(file.messages_by_role) == {"system": 6, "user": 29, "assistant": 28, "tool": 28}
    assert file.tool_calls == 28 and file.tool_results == 28 and file.warnings == []
    assert file.model_calls == 28
    state = session.state()
    names = Counter(call["function"]["name"] for m in state.messages for call in m.tool_calls or ())
    assert names == {"send_message": 23, "core_memory_replace": 3, "core_memory_append": 2}
    # in_context_message_indices [89, 81, 80, 82, ..., 90]: the first 80 messages were evicted; the
    # messages stay in file order, the agent's window order (system prompt 89 first) is kept as given
    indices = json.loads(path.read_text(encoding="utf-8"))["in_context_message_indices"]
    assert indices == [89, 81, 80, 82, 83, 84, 85, 86, 87, 88, 90]
    assert file.folded_messages == 80
    assert statuses(session) == [["folded"]] * 80 + [["visible"]] * 11  # one fragment each: nothing vacuous
    assert [i for i, status in enumerate(statuses(session)) if status == ["visible"]] == sorted(indices)
    assert state.messages[89].role == "system"
    assert session.events()[0]["payload"]["attributes"]["in_context_message_indices"] == indices
    types = Counter(m.extra.get("letta_type") for m in state.messages if m.role == "user")
    assert types == {"user_message": 23, "heartbeat": 4, "login": 1, "system_alert": 1}
    alert = state.messages[81]
    assert alert.extra["letta_type"] == "system_alert"
    assert json.loads(alert.content)["message"].startswith("Note: prior messages (69 of 80 total messages)")
    assert state.messages[4].content.startswith('{\n  "type": "user_message",\n  "message": "hi my name is actually')
    origin = IMPORTS.slice_of(state)
    assert origin.format == "letta" and origin.model == "gpt-4-0613"
    assert [block["label"] for block in origin.memory] == ["persona", "human"]
    assert origin.memory[0]["limit"] == 5000 and "I am BigChungus." in origin.memory[0]["value"]
    assert len(origin.tools) == 6
    send = next(t["function"] for t in origin.tools if t["function"]["name"] == "send_message")
    assert send["parameters"]["required"] == ["message", "request_heartbeat"]
    imported_event = session.events()[0]
    assert imported_event["payload"]["attributes"]["context_window"] == 8192
    assert session.events()[1]["ts"].startswith("2025-04-01T03:47:27")
    assert state.messages[2].tool_call_id == state.messages[1].tool_calls[0]["id"]


def test_what_the_user_saw_in_send_message_is_searchable(sample, imported):
    _, (session,) = imported(sample("letta-agent-file/agent-file/memgpt_agent_with_convo.af"))
    phrase = "More human than human is our motto"  # only in a send_message argument
    assert all(phrase not in (m.content or "") for m in session.state().messages)
    found = session.call_tool("search_context", {"query": phrase, "role": "all"})
    assert found["total_matches"] == 1
    assert [(hit["part"], hit["snippet"]) for hit in found["results"]] == [
        ("tool_calls", "send_message(message=More human than human is our motto.)")]
    across = "a possible structure:\n\n1. Intr"  # a newline in the argument, as written
    found = session.call_tool("search_context", {"query": across, "role": "all"})
    assert found["total_matches"] == 1 and found["results"][0]["part"] == "tool_calls"
    assert session.call_tool("search_context", {"query": "structure:\\n", "role": "all"})["total_matches"] == 0


def test_quotes_newlines_and_accents_in_send_message_are_found_as_written(write, imported):
    said = 'She said "soon" at the café.\nThen: naïve?'
    agent = new_agent("Pip", [{"id": "m0", "role": "user", "content": text_part(user_event("when?"))},
                              {"id": "m1", "role": "assistant", "content": text_part("Answer."),
                               "tool_calls": [send("tc1", said)]}])
    raw = agent["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert '\\"soon\\"' in raw and "\\u00e9" in raw and "\\n" in raw  # JSON escapes in the file
    _, (session,) = imported(write("pip.af", agent_file([agent])))

    def total(query: str) -> int:
        return session.call_tool("search_context", {"query": query, "role": "all"})["total_matches"]

    assert [total(q) for q in ('said "soon"', "café", "CAFÉ.\nThen", "naïve?", 'message=She said "soon"')] == [
        1, 1, 1, 1, 1]
    assert [total(q) for q in ('\\"soon\\"', "caf\\u00e9", "\\nThen")] == [0, 0, 0]  # not the escapes


def test_new_schema_sample_resolves_blocks_and_tools(sample, imported):
    path = sample("letta-agent-file/agent-file/loop.af")
    assert detected(path) == "letta"
    report, (session,) = imported(path)
    file = report.files[0]
    assert session.title == "Loop"
    assert dict(file.messages_by_role) == {"system": 1, "assistant": 1, "tool": 1}
    assert file.folded_messages == 0
    assert file.warnings == ["Loop: core memory is over 512 tokens, so it is cut to fit; preferences is cut short; "
                             "left out: scratchpad, soul (the whole blocks stay in the import record)"]
    state = session.state()
    origin = IMPORTS.slice_of(state)
    assert origin.model == "claude-sonnet-4-5-20250929" and origin.source_id == "agent-0"
    assert len(origin.memory) == 9 and {"about_user", "persona"} <= {b["label"] for b in origin.memory}
    assert len(origin.tools) == 9 and all(t["type"] == "function" for t in origin.tools)
    assert session.events()[0]["payload"]["attributes"]["context_window"] == 90000
    call, result = state.messages[1], state.messages[2]
    assert call.tool_calls[0]["function"]["name"] == "send_message"
    assert result.tool_call_id == call.tool_calls[0]["id"]
    assert result.extra["tool_returns"][0]["status"] == "success"


# ---- awkward files ----------------------------------------------------------------------------


def test_agent_file_kept_as_a_json_string_of_json(write, imported):
    document = agent_file([new_agent("Pip", [{"id": "m0", "role": "user", "content": text_part(user_event("hi"))}])])
    path = write("string.af", json.dumps(json.dumps(document)))
    assert detected(path) == "letta"
    _, (session,) = imported(path)
    assert session.title == "Pip"
    assert session.state().messages[0].extra["letta_type"] == "user_message"


def test_a_large_json_string_file_is_detected_from_its_head(write, imported):
    blocks = [{"id": "block-0", "label": "notes", "value": "x" * (1 << 20), "limit": 2_000_000}]
    agent = new_agent("Big", [{"id": "m0", "role": "user", "content": text_part(user_event("hi"))}],
                      block_ids=["block-0"], system="A long prompt. " * 400)
    path = write("big.af", json.dumps(json.dumps(agent_file([agent], blocks))))
    source = open_sources(path)[0]
    assert source.sample.shape == "string" and not source.sample.complete
    assert detect(source).name == "letta"
    _, (session,) = imported(path)
    assert len(IMPORTS.slice_of(session.state()).memory[0]["value"]) == 1 << 20


def test_new_schema_folding_parts_and_several_agents(write, imported):
    messages = [
        {"id": "m0", "role": "system", "content": text_part("You are Pip.")},
        {"id": "m1", "role": "user", "content": text_part(user_event("an old question")),
         "created_at": "2026-01-22T02:00:00+00:00"},
        {"id": "m2", "role": "assistant", "created_at": "2026-01-22T02:00:05+00:00", "model": "claude-x",
         "content": [{"type": "reasoning", "reasoning": "They ask again.", "signature": "sig"},
                     {"type": "text", "text": "Thinking aloud."},
                     {"type": "image", "source": {"type": "base64", "data": "AAAA"}}],
         "tool_calls": [{"id": "tc1", "type": "function",
                         "function": {"name": "send_message", "arguments": '{"message": "Answer in full."}'}}]},
        {"id": "m3", "role": "tool", "content": text_part('{"status": "OK"}'), "tool_call_id": None,
         "tool_returns": [{"tool_call_id": "tc1", "status": "success", "func_response": '{"status": "OK"}'}]},
        {"id": "m4", "role": "user", "text": user_event("a new question")},
    ]
    first = new_agent("Pip", messages, in_context_message_ids=["m4", "m0"], block_ids=["block-0", "block-9"],
                      tool_ids=["tool-0"])
    second = new_agent("Pop", [{"id": "n0", "role": "user", "content": "plain text"},
                               {"id": "n1", "role": "approval", "content": [], "approve": False,
                                "denial_reason": "not now", "approval_request_id": "r1"}])
    blocks = [{"id": "block-0", "label": "human", "value": "Name: Ada", "limit": 5000, "description": None}]
    tools = [{"id": "tool-0", "name": "send_message", "tool_type": "letta_core",
              "json_schema": {"name": "send_message", "description": "Send", "parameters": {"type": "object"}}},
             {"id": "tool-1", "name": "unused", "json_schema": {"name": "unused", "parameters": {}}}]
    path = write("pip.af", agent_file([first, second], blocks, tools))
    report, (pip, pop) = imported(path)
    state = pip.state()
    assert statuses(pip) == [["visible"], ["folded"], ["folded"], ["folded"], ["visible"]]
    assistant = state.messages[2]
    assert assistant.reasoning == "They ask again." and assistant.content == "Thinking aloud."
    assert assistant.extra["content_part_fields"] == [{"part": 0, "type": "reasoning", "signature": "sig"}]
    assert assistant.attachments[0]["type"] == "letta_image" and assistant.attachments[0]["source"]["data"] == "AAAA"
    assert state.messages[3].tool_call_id == "tc1"  # from tool_returns
    assert state.messages[3].extra["tool_returns"] == [{"tool_call_id": "tc1", "status": "success"}]
    assert state.messages[4].extra["letta_type"] == "user_message"
    origin = IMPORTS.slice_of(state)
    assert origin.memory == ({"id": "block-0", "label": "human", "value": "Name: Ada", "limit": 5000},)
    assert [t["function"]["name"] for t in origin.tools] == ["send_message"]
    assert any("block-9" in warning for warning in report.files[0].warnings)
    assert pip.events()[1]["kind"] == "memory_inserted"  # the blocks are its core memory
    assert pip.events()[3]["ts"].startswith("2026-01-22T02:00:00")
    assert pop.title == "Pop" and pop.state().messages[0].content == "plain text"
    approval = pop.state().messages[1]  # a person's answer to a call awaiting approval: kept as theirs
    assert approval.role == "user" and approval.extra["letta_role"] == "approval"
    assert approval.extra["approve"] is False and approval.extra["denial_reason"] == "not now"
    assert report.files[0].model_calls == 1


def test_a_bad_message_is_named_and_nothing_is_stored(write, store):
    bad = new_agent("Bad", [{"id": "x0", "role": "user", "content": "hi"}, {"id": "x1", "role": "narrator"}])
    worse = new_agent("Worse", [{"id": "y0", "role": "assistant", "content": "ok", "tool_calls": {"id": 1}}])
    good = new_agent("Good", [{"id": "z0", "role": "user", "content": "hello"}])
    path = write("bad.af", agent_file([bad, good, worse, "not an agent"]))
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    message = str(caught.value)
    assert "3 bad records" in message
    assert "/agents/0/messages/1: role 'narrator' is not one of system, user, assistant, tool" in message
    assert "/agents/2/messages/0: assistant message: tool_calls must be a list" in message
    assert "/agents/3: an agent must be an object, not str" in message
    assert store.list_sessions() == []
    report = store.import_file(path, skip_invalid=True)
    assert [store.open_session(i).title for i in report.session_ids] == ["Good"]
    assert len(report.files[0].skipped) == 3


def test_old_schema_with_indices_outside_the_messages_warns(write, imported):
    agent = {"agent_type": "memgpt_agent", "name": "old", "core_memory": [{"label": "human", "value": "?"}],
             "in_context_message_indices": [1, 7],
             "messages": [{"role": "user", "text": user_event("first")},
                          {"role": "user", "text": user_event("second")}]}
    report, (session,) = imported(write("old.af", agent))
    assert statuses(session) == [["folded"], ["visible"]]
    assert report.files[0].warnings == ["old: in_context_message_indices names messages that are not in the file: [7]"]


def test_indices_that_are_not_whole_numbers_or_out_of_range_are_named(write, imported):
    agent = {"agent_type": "memgpt_agent", "name": "old", "core_memory": [],
             "in_context_message_indices": [0, "1", None, 1.5, True, 5, -1],
             "messages": [{"role": "system", "text": "sys"}, {"role": "user", "text": user_event("hi")}]}
    report, (session,) = imported(write("old.af", agent))
    assert statuses(session) == [["visible"], ["folded"]]  # "1" is not taken for 1: the window is what it names
    assert report.files[0].warnings == [
        "old: in_context_message_indices has entries that are not message positions, ignored: '1', None, 1.5, True",
        "old: in_context_message_indices names messages that are not in the file: [-1, 5]"]


def test_new_schema_ids_that_are_not_text_are_named(write, imported):
    messages = [{"id": "m0", "role": "user", "content": "a"}, {"id": "m1", "role": "user", "content": "b"}]
    agent = new_agent("Pip", messages, in_context_message_ids=["m1", 0, {"id": "m0"}, "m9"])
    report, (session,) = imported(write("pip.af", agent_file([agent])))
    assert statuses(session) == [["folded"], ["visible"]]
    assert report.files[0].warnings == [
        "Pip: in_context_message_ids has entries that are not message ids, ignored: 0, {'id': 'm0'}",
        "Pip: in_context_message_ids names messages that are not in the file: m9"]


def test_an_in_context_list_that_is_not_a_list_is_kept_and_everything_shown(write, imported):
    agent = {"agent_type": "memgpt_agent", "name": "old", "core_memory": [], "in_context_message_indices": "all",
             "messages": [{"role": "system", "text": "sys"}, {"role": "user", "text": user_event("hi")}]}
    report, (session,) = imported(write("old.af", agent))
    assert statuses(session) == [["visible"], ["visible"]]
    assert session.events()[0]["payload"]["attributes"]["in_context_message_indices"] == "all"
    assert report.files[0].warnings == [
        "old: in_context_message_indices is str, not a list; kept in the attributes, every message imported visible"]


def test_core_memory_config_and_tools_of_the_wrong_shape_are_kept_with_a_warning(write, imported):
    agent = {"name": "agent", "agent_type": "memgpt_agent", "core_memory": "Name: Ada", "llm_config": [1],
             "tools": "y", "messages": [{"role": "system", "text": "sys"}], "in_context_message_indices": [0]}
    report, (session,) = imported(write("odd.af", agent))
    origin = IMPORTS.slice_of(session.state())
    assert origin.memory == ({"label": "core_memory", "value": "Name: Ada"},) and origin.tools == ()
    attributes = session.events()[0]["payload"]["attributes"]
    assert (attributes["llm_config"], attributes["tools"]) == ([1], "y")
    assert report.files[0].warnings == [
        "agent: llm_config is list, not an object; kept in the attributes, no model read from it",
        "agent: tools is str, not a list; kept in the attributes, no tool definitions read from it",
        "agent: core_memory is text, not memory blocks; kept as one block labelled core_memory"]


def test_core_memory_of_no_known_shape_is_kept_in_the_attributes(write, imported):
    agent = {"name": "agent", "agent_type": "memgpt_agent", "core_memory": {"blocks": 3}, "llm_config": {},
             "messages": [{"role": "system", "text": "sys"}]}
    report, (session,) = imported(write("odd.af", agent))
    assert session.events()[0]["payload"]["attributes"]["core_memory"] == {"blocks": 3}
    assert report.files[0].warnings == ["agent: core memory is dict, not a list of blocks; kept in the attributes"]


# ---- detection ----------------------------------------------------------------------------------


def test_near_misses_say_what_is_missing(write):
    path = write("agents.json", {"agents": [{"name": "x", "messages": []}], "blocks": []})
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    assert 'Letta agent file (.af) (letta): an object with "agents", but the first agent has no "agent_type"' \
        in str(caught.value)
    verdict = letta.sniff(open_sources(write("nomsg.af", {"agent_type": "memgpt_agent", "core_memory": []}))[0].sample)
    assert not verdict.matched and 'no "messages" list' in verdict.reason


def test_a_plain_request_body_stays_openai(write):
    path = write("body.json", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    assert not letta.sniff(open_sources(path)[0].sample).matched
    assert detected(path) == "openai"
