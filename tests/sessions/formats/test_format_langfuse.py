"""Langfuse trace exports: the agent-prism sample, multi-step tool use without repeats, shapes, bad files."""

from __future__ import annotations

import json

import pytest

from engine.errors import ImportFormatError
from engine.imports import imported_tools
from sessions.formats import detect
from sessions.formats.source import open_sources

SAMPLE = "otel-traces/agent-prism/langfuse-1.json"

def detected(path) -> str:
    return detect(open_sources(path)[0]).name


def model_calls(session) -> list[dict]:
    return [event["payload"] for event in session.events() if event["kind"] == "llm_called"]


def observation(id_, type_, start, parent=None, **fields) -> dict:
    for key in ("input", "output", "metadata"):  # as Langfuse's API gives them: JSON text
        if key in fields and not isinstance(fields[key], str):
            fields[key] = json.dumps(fields[key])
    return {"id": id_, "traceId": "t1", "type": type_, "parentObservationId": parent,
            "startTime": f"2025-03-01T10:00:{start:02d}.000Z", "endTime": f"2025-03-01T10:00:{start + 1:02d}.000Z",
            **fields}


def vercel_steps() -> list[dict]:
    """What the Vercel AI SDK sends for a two-step answer: a streamText around two doStream
    calls, with the tool run between them."""
    system = {"role": "system", "content": "Answer with the docs."}
    user = {"role": "user", "content": [{"type": "text", "text": "What is x?"}]}
    called = {"role": "assistant", "content": [
        {"type": "text", "text": "Let me search."},
        {"type": "tool-call", "toolCallId": "call_1", "toolName": "search", "input": {"q": "x"}}]}
    result = {"role": "tool", "content": [
        {"type": "tool-result", "toolCallId": "call_1", "toolName": "search", "output": {"type": "json", "value": {"x": 42}}}]}
    first_attributes = {"ai.response.toolCalls": json.dumps(
        [{"toolCallType": "function", "toolCallId": "call_1", "toolName": "search", "args": '{"q":"x"}'}]),
        "ai.usage.cachedInputTokens": "10", "gen_ai.response.finish_reasons": '["tool-calls"]'}
    return [
        observation("root", "GENERATION", 0, input="What is x?", output="x is 42."),
        observation("stream", "GENERATION", 1, "root", input={"system": system["content"], "messages": [user]},
                    output="x is 42."),
        observation("step1", "GENERATION", 2, "stream", input=[system, user], output="Let me search.", model="gpt-4o",
                    usageDetails={"input": 50, "output": 5, "total": 55}, totalCost=0.001,
                    metadata={"attributes": first_attributes,
                              "tools": [json.dumps({"type": "function", "name": "search", "description": "Search",
                                                    "inputSchema": {"type": "object"}})]}),
        observation("tool", "SPAN", 4, "stream", name="ai.toolCall", input={"q": "x"}, output={"x": 42},
                    metadata={"attributes": {"ai.toolCall.name": "search", "ai.toolCall.id": "call_1"}}),
        observation("step2", "GENERATION", 6, "stream", input=[system, user, called, result], output="x is 42.",
                    model="gpt-4o", usage={"input": 80, "output": 7}, latency=900),
        observation("db", "SPAN", 3, "root", name="load-settings", output={"ok": True}),
    ]


# ---- the real sample --------------------------------------------------------------------------


def test_agent_prism_sample_is_one_session_from_its_innermost_generation(sample, imported):
    path = sample(SAMPLE)
    assert detected(path) == "langfuse"
    report, (session,) = imported(path)
    file = report.files[0]
    assert dict(file.messages_by_role) == {"system": 1, "assistant": 2, "user": 1}
    assert file.model_calls == 1 and file.tool_calls == 0 and file.warnings == []
    assert session.title == "QA-Chatbot"
    messages = session.state().messages
    assert messages[0].content.startswith("You are a helpful Langfuse support agent.")
    assert messages[1].content.startswith("**👋 Do you have any questions about Langfuse?")
    assert messages[2].content == "what's your name"
    assert messages[3].content.startswith("I’m the Langfuse Support Assistant.")
    assert messages[3].extra["cost"] == {"total": 0.00240375,
                                         "details": {"input": 0.00139375, "output": 0.00101, "total": 0.00240375}}
    (call,) = model_calls(session)
    assert call["model"] == "gpt-5" and call["latency_ms"] == 3573.0 and call["finish_reason"] == "stop"
    assert call["usage"] == {"prompt_tokens": 1115, "completion_tokens": 101, "cache_read_tokens": 1024,
                             "reasoning_tokens": 64}
    assert [t["function"]["name"] for t in imported_tools(session.state())] == [
        "searchLangfuseDocs", "getLangfuseDocsPage", "getLangfuseOverview"]
    origin = session.events()[0]["payload"]
    assert origin["source_id"] == "845c2c534cee1b98266081dd72ed3c30" and origin["model"] == "gpt-5"
    assert origin["started_at"].startswith("2025-09-19T12:23:29.231")
    facts = origin["attributes"]
    assert facts["userId"] == "u-V6W6PTVby8m2hV4pVzUuE" and facts["sessionId"].startswith("chat_")
    assert facts["observations"] == {"GENERATION": 3, "SPAN": 2}
    assert len(facts["scores"]) == 5 and facts["scores"][0]["name"] == "error-analysis_OffTopic"
    assert sorted(o["name"] for o in facts["other_observations"]) == [
        "ai.streamText", "create-mcp-client", "get-langfuse-prompt", "handle-chatbot-message"]


# ---- rebuilding the conversation ------------------------------------------------------------------


def test_vercel_steps_add_each_message_once_with_the_tool_span_as_the_result(write, imported):
    path = write("observations.json", {"data": vercel_steps(), "meta": {"page": 1}})
    assert detected(path) == "langfuse"
    report, (session,) = imported(path)
    messages = session.state().messages
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[1].content == "What is x?"
    assert messages[2].content == "Let me search."
    assert messages[2].tool_calls[0]["id"] == "call_1" and messages[2].tool_calls[0]["function"]["arguments"] == '{"q":"x"}'
    assert messages[3].tool_call_id == "call_1" and json.loads(messages[3].content) == {"x": 42}
    assert messages[4].content == "x is 42."
    first, second = model_calls(session)
    assert first["usage"] == {"prompt_tokens": 50, "completion_tokens": 5, "cache_read_tokens": 10}
    assert first["finish_reason"] == "tool_calls" and first["latency_ms"] == 1000.0  # from start and end
    assert second["usage"] == {"prompt_tokens": 80, "completion_tokens": 7} and second["latency_ms"] == 900.0
    assert messages[2].extra["cost"] == {"total": 0.001}
    assert [t["function"]["name"] for t in imported_tools(session.state())] == ["search"]
    assert session.title == "What is x?"  # no trace name: the first question
    facts = session.events()[0]["payload"]["attributes"]
    assert [o["name"] for o in facts["other_observations"] if o["type"] == "SPAN"] == ["load-settings"]
    assert report.files[0].warnings == []


def test_a_tool_span_whose_call_no_output_shows_gets_a_call_of_its_own(write, imported):
    steps = [
        observation("g1", "GENERATION", 0, input=[{"role": "user", "content": "Time?"}], output=""),
        observation("t", "TOOL", 2, "g1", name="clock", input={"zone": "UTC"}, output="12:00"),
        observation("g2", "GENERATION", 4, input=[{"role": "user", "content": "Time?"}], output="Noon.",
                    statusMessage=None),
    ]
    report, (session,) = imported(write("tool.json", steps))
    messages = session.state().messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1].tool_calls[0]["function"] == {"name": "clock", "arguments": '{"zone": "UTC"}'}
    assert messages[1].extra["from_tool_span"] is True
    assert messages[2].tool_call_id == messages[1].tool_calls[0]["id"] == "langfuse_t"
    assert any("/0 (GENERATION): the generation has no output" in w for w in report.files[0].warnings)


def test_a_list_of_exports_is_a_session_each_with_openai_and_anthropic_shapes(write, imported):
    openai_trace = {"trace": {"id": "a", "name": "OpenAI run", "timestamp": "2025-03-01T09:00:00Z", "tags": ["prod"]},
                    "observations": [observation("o1", "GENERATION", 0, model="gpt-4o-mini", input={
                        "messages": [{"role": "user", "content": "2+2?"}],
                        "tools": [{"type": "function", "function": {"name": "calc", "parameters": {}}}]},
                        output={"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
                            {"id": "c1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}]}}]},
                        usageDetails={"input": 9, "output": 3})]}
    anthropic_trace = {"trace": {"id": "b", "name": "Claude run"}, "observations": [
        observation("a1", "GENERATION", 0, model="claude-sonnet-4", input=[
            {"role": "user", "content": "Look"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "Hmm."},
                                              {"type": "tool_use", "id": "tu1", "name": "see", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": [
                {"type": "text", "text": "a cat"}, {"type": "image", "source": {"type": "base64", "data": "AAAA"}}]},
                {"type": "text", "text": "And?"}]}],
            output={"role": "assistant", "content": [{"type": "text", "text": "A cat."}]})]}
    report, (first, second) = imported(write("exports.json", [openai_trace, anthropic_trace]))
    assert (first.title, second.title) == ("OpenAI run", "Claude run")
    call = first.state().messages[1]
    assert call.tool_calls[0]["id"] == "c1"
    assert [t["function"]["name"] for t in imported_tools(first.state())] == ["calc"]
    assert first.events()[0]["payload"]["attributes"]["tags"] == ["prod"]
    messages = second.state().messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "user", "assistant"]
    assert messages[1].reasoning == "Hmm." and messages[1].tool_calls[0]["function"]["name"] == "see"
    assert messages[2].tool_call_id == "tu1" and messages[2].content == "a cat"
    assert messages[2].attachments[0]["type"] == "image"  # kept aside, not lost
    assert messages[3].content == "And?" and messages[4].content == "A cat."
    assert report.files[0].model_calls == 2


def test_an_input_that_changed_its_history_adds_the_new_messages_and_says_so(write, imported):
    steps = [
        observation("g1", "GENERATION", 0, input=[{"role": "user", "content": "one"}], output="1"),
        observation("g2", "GENERATION", 2, input=[{"role": "system", "content": "Be terse."},
                                                  {"role": "user", "content": "one"},
                                                  {"role": "assistant", "content": "1"},
                                                  {"role": "user", "content": "two"}], output="2"),
    ]
    report, (session,) = imported(write("changed.json", steps))
    assert [m.content for m in session.state().messages] == ["one", "1", "Be terse.", "two", "2"]
    assert any("its input puts 2 new messages among ones seen before" in w for w in report.files[0].warnings)


def test_a_trace_without_generations_is_its_own_input_and_output(write, imported):
    path = write("bare.json", {"id": "t9", "projectId": "p", "timestamp": "2025-03-01T10:00:00Z",
                               "input": json.dumps("hello"), "output": json.dumps({"answer": "hi"}),
                               "observations": [observation("s", "SPAN", 0, name="work")]})
    assert detected(path) == "langfuse"
    report, (session,) = imported(path)
    assert [(m.role, m.content) for m in session.state().messages] == [("user", "hello"), ("assistant", '{"answer": "hi"}')]
    assert session.title == "hello"


# ---- bad files ------------------------------------------------------------------------------------


def test_bad_observations_and_id_only_traces_are_named_and_skip_invalid_imports_the_rest(write, store):
    path = write("mixed.json", [
        {"trace": {"id": "a", "name": "good"}, "observations": [
            observation("g", "GENERATION", 0, input="hi", output="hello"), "junk"]},
        {"id": "b", "timestamp": "2025-03-01T10:00:00Z", "observations": ["obs-1", "obs-2"]},
    ])
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    message = str(caught.value)
    assert "/0/observations/1: an observation must be an object, not str" in message
    assert "/1/observations: the trace lists its observations by id only" in message
    assert store.list_sessions() == []
    report = store.import_file(path, skip_invalid=True)
    assert [s.split(":")[0] for s in report.files[0].skipped] == ["/0/observations/1", "/1/observations"]
    assert [m.content for m in store.open_session(report.first_id).state().messages] == ["hi", "hello"]


def test_a_message_of_an_unknown_role_is_refused_with_where_it_is(write, store):
    path = write("role.json", [observation("g", "GENERATION", 0, input=[{"role": "user", "content": "a"},
                                                                        {"role": "narrator", "content": "b"}])])
    with pytest.raises(ImportFormatError, match=r"/0/input message \[1\]: role 'narrator' is not one of"):
        store.import_file(path)
    assert store.list_sessions() == []


def test_a_trace_without_observations_is_a_near_miss_with_the_reason(write):
    path = write("trace.json", {"trace": {"id": "a", "name": "run"}})
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    assert ('Langfuse trace export (langfuse): a Langfuse export, but it has no "observations" beside "trace"'
            in str(caught.value))
