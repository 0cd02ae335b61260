"""OTLP JSON traces and the SDK's span JSON: the two real samples, each message convention, the
history each model span repeats added once, tool spans, ids in every spelling, bad files."""

from __future__ import annotations

import base64
import json

import pytest

from engine.errors import ImportFormatError
from engine.imports import imported_tools
from sessions.formats import detect
from sessions.formats.otlp_attributes import any_value, hex_id, nanos
from sessions.formats.source import open_sources

SMOL = "otel-traces/agent-prism/smol_deep_research_agent.json"
ANY_AGENT = "otel-traces/any-agent/OPENAI_trace.json"
T1, T2 = "0af7651916cd43dd8448eb211c80319c", "5b8aa5a2d2c872e8321cf37308d69df2"
NS = 1_751_474_400_000_000_000


def detected(path) -> str:
    return detect(open_sources(path)[0]).name


def messages(session) -> list[tuple]:
    return [(m.role, m.content, m.reasoning, [(c["id"], c["function"]["name"], c["function"]["arguments"])
                                              for c in m.tool_calls or []], m.tool_call_id)
            for m in session.state().messages]


def model_calls(session) -> list[dict]:
    return [event["payload"] for event in session.events() if event["kind"] == "llm_called"]


# ---- building OTLP JSON the way exporters write it -----------------------------------------------


def av(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}  # int64 is text in OTLP/JSON
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [av(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": [{"key": k, "value": av(v)} for k, v in value.items()]}}
    return {"stringValue": value}


def span(trace, span_id, name, start, attributes=None, parent=None, events=None, end=None):
    found = {"traceId": trace, "spanId": span_id, "name": name, "kind": 3,
             "startTimeUnixNano": str(NS + start * 1_000_000_000),
             "endTimeUnixNano": str(NS + (end if end is not None else start + 1) * 1_000_000_000),
             "attributes": [{"key": k, "value": av(v)} for k, v in (attributes or {}).items()]}
    if parent:
        found["parentSpanId"] = parent
    if events:
        found["events"] = events
    return found


def body(*spans):
    return {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": av("weather-bot")}]},
                               "scopeSpans": [{"scope": {"name": "test"}, "spans": list(spans)}]}]}


def text(content):
    return {"type": "text", "content": content}


USER = {"role": "user", "parts": [text("Weather in Paris?"),
                                  {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBOR"}]}
CALLED = {"role": "assistant", "parts": [{"type": "reasoning", "content": "I need the tool."},
                                         {"type": "tool_call", "id": "call_1", "name": "get_weather",
                                          "arguments": {"location": "Paris"}}], "finish_reason": "tool_call"}
RESULT = {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "rainy, 57°F"}]}
WEATHER = [{"type": "function", "name": "get_weather", "description": "Current weather",
            "parameters": {"type": "object", "properties": {"location": {"type": "string"}}}}]


def weather_trace() -> list[dict]:
    """Today's conventions: message parts, two chat spans (the second repeats the first's history)
    and the tool span between them, listed out of order (the tool span first)."""
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-sonnet-4",
              "gen_ai.system_instructions": json.dumps([text("Be brief.")]), "gen_ai.tool.definitions": json.dumps(WEATHER)}
    first = span(T1, "00f067aa0ba902b7", "chat claude-sonnet-4", 1, parent="aaaaaaaaaaaaaaaa", attributes={
        **common, "gen_ai.response.model": "claude-sonnet-4-20250514",
        "gen_ai.input.messages": json.dumps([USER]), "gen_ai.output.messages": json.dumps([CALLED]),
        "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 20,
        "gen_ai.usage.cache_read.input_tokens": 80, "gen_ai.usage.cache_creation.input_tokens": 10})
    tool = span(T1, "00f067aa0ba902b8", "execute_tool get_weather", 3, parent="aaaaaaaaaaaaaaaa", attributes={
        "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "get_weather", "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.call.result": "rainy, 57°F"})
    second = span(T1, "00f067aa0ba902b9", "chat claude-sonnet-4", 5, parent="aaaaaaaaaaaaaaaa", attributes={
        **common, "gen_ai.input.messages": json.dumps([USER, CALLED, RESULT]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [text("Rainy, 57°F.")], "finish_reason": "stop"}]),
        "gen_ai.usage.input_tokens": 140, "gen_ai.usage.output_tokens": 8})
    root = span(T1, "aaaaaaaaaaaaaaaa", "invoke_agent weather", 0, end=7, attributes={
        "gen_ai.operation.name": "invoke_agent", "gen_ai.conversation.id": "conv_42"})
    return [tool, root, first, second]


# ---- the real samples ---------------------------------------------------------------------------


def test_the_smolagents_openinference_trace_is_one_session_without_repeats(imported, sample):
    report, [session] = imported(sample(SMOL))
    facts = report.files[0]
    assert facts.format == "otlp"
    assert dict(facts.messages_by_role) == {"system": 2, "user": 8, "assistant": 8}
    assert (facts.tool_calls, facts.tool_results, facts.model_calls) == (2, 0, 6)
    calls = model_calls(session)
    assert {call["model"] for call in calls} == {"o1-2024-12-17"}
    assert calls[0]["usage"] == {"prompt_tokens": 941, "completion_tokens": 1202, "cache_read_tokens": 0,
                                 "reasoning_tokens": 896}
    assert [call["finish_reason"] for call in calls] == ["stop", "stop", "stop", "tool_calls", "tool_calls", "stop"]
    state = session.state()
    names = [c["function"]["name"] for m in state.messages for c in m.tool_calls or []]
    assert names == ["web_search", "final_answer"]
    texts = [m.content for m in state.messages if m.role == "assistant" and m.content]
    assert len(texts) == len(set(texts)) == 6  # the replies smolagents re-renders as history are not added again
    assert state.messages[3].content == "New task:\nwhat are the AI trends in 2025"
    tools = imported_tools(state)
    assert len(tools) == 9 and {"web_search", "final_answer"} <= {t["function"]["name"] for t in tools}
    assert session.imported_from == "smol_deep_research_agent.json (id ba8ab01bf086833c989ce2a7a29eee31)"
    assert str(session.records()[0].ts).startswith("2025-07-02 16:40:38.519")  # the root span's startTimeUnixNano
    assert sum("has no result" in w for w in facts.warnings) == 2  # its tool results come back as user text


def test_the_any_agent_sdk_spans_pair_tool_spans_with_the_calls(imported, sample):
    report, [session] = imported(sample(ANY_AGENT))
    facts = report.files[0]
    assert facts.format == "otel-spans"
    assert dict(facts.messages_by_role) == {"system": 1, "user": 1, "assistant": 3, "tool": 2}
    assert (facts.tool_calls, facts.tool_results, facts.model_calls) == (2, 2, 3)
    got = messages(session)
    assert [m[3][0][1] for m in got if m[3]] == ["get_current_time", "write_file"]
    assert got[2][3][0][2] == '{"timezone": "America/New_York"}'
    assert got[3][4] == got[2][3][0][0] and '"is_dst": true' in got[3][1]
    assert got[5] == ("tool", "{}", None, [], got[4][3][0][0])
    assert got[6][1].startswith('{"steps": [{"number": 1')
    assert [c["usage"] for c in model_calls(session)] == [{"prompt_tokens": 269, "completion_tokens": 16},
                                                          {"prompt_tokens": 359, "completion_tokens": 14},
                                                          {"prompt_tokens": 392, "completion_tokens": 46}]
    assert {c["model"] for c in model_calls(session)} == {"mistral/mistral-small-latest"}
    # a 128-bit decimal trace id, read exactly (a double would lose its last digits)
    assert session.imported_from.endswith(f"(id {100927429609276267646756448943279827607:032x})")
    assert session.title.startswith("Find what year it is in the America/New_York timezone")
    assert facts.warnings == []


def test_the_samples_are_detected_as_their_formats(sample):
    assert detected(sample(SMOL)) == "otlp"
    assert detected(sample(ANY_AGENT)) == "otel-spans"


# ---- each convention --------------------------------------------------------------------------------


def test_message_parts_json_lines_one_session_per_trace(imported, write):
    other = span(T2, "1111111111111111", "chat llama3.2", 30, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "ollama", "gen_ai.request.model": "llama3.2",
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [text("hi")]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [text("hello")]}])})
    path = write("traces.jsonl", json.dumps(body(*weather_trace())) + "\n" + json.dumps(body(other)) + "\n")
    assert detected(path) == "otlp"
    report, [weather, greeting] = imported(path)
    assert messages(weather) == [
        ("system", "Be brief.", None, [], None),
        ("user", "Weather in Paris?", None, [], None),
        ("assistant", None, "I need the tool.", [("call_1", "get_weather", '{"location": "Paris"}')], None),
        ("tool", "rainy, 57°F", None, [], "call_1"),  # from the tool span; the second chat span repeats it
        ("assistant", "Rainy, 57°F.", None, [], None),
    ]
    assert list(weather.state().messages[1].attachments) == [
        {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBOR"}]
    first, second = model_calls(weather)
    assert first["model"] == "claude-sonnet-4-20250514"  # the name implies its provider: kept bare
    assert first["usage"] == {"prompt_tokens": 100, "completion_tokens": 20, "cache_read_tokens": 80,
                              "cache_write_tokens": 10}
    assert (first["finish_reason"], second["finish_reason"]) == ("tool_calls", "stop")
    assert first["latency_ms"] == 1000.0
    assert [t["function"]["name"] for t in imported_tools(weather.state())] == ["get_weather"]
    assert weather.title == "Weather in Paris?" and weather.imported_from.endswith("(id conv_42)")
    assert messages(greeting) == [("user", "hi", None, [], None), ("assistant", "hello", None, [], None)]
    assert model_calls(greeting)[0]["model"] == "ollama/llama3.2"  # a bare name gets its provider's prefix
    assert report.files[0].warnings == []


def test_the_older_span_events_and_base64_ids(imported, write):
    trace_b64 = base64.b64encode(bytes.fromhex(T1)).decode()
    events = [
        {"name": "gen_ai.system.message", "attributes": [{"key": "content", "value": av("Be brief.")}]},
        {"name": "gen_ai.user.message", "attributes": [{"key": "content", "value": av("Add 2 and 3")}]},
        {"name": "gen_ai.assistant.message", "attributes": [{"key": "gen_ai.event.content", "value": av(json.dumps(
            {"tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": {"a": 2, "b": 3}}}]}))}]},
        {"name": "gen_ai.tool.message", "attributes": [{"key": "content", "value": av("5")}, {"key": "id", "value": av("c1")}]},
        {"name": "gen_ai.choice", "body": av({"index": 0, "finish_reason": "stop", "message": {"content": "It is 5."}})},
    ]
    chat = span(trace_b64, base64.b64encode(bytes.fromhex("00f067aa0ba902b7")).decode(), "chat gpt-4o", 1,
                attributes={"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o"}, events=events)
    report, [session] = imported(write("events.json", body(chat)))
    assert report.files[0].format == "otlp"
    assert messages(session) == [
        ("system", "Be brief.", None, [], None), ("user", "Add 2 and 3", None, [], None),
        ("assistant", None, None, [("c1", "add", '{"a": 2, "b": 3}')], None), ("tool", "5", None, [], "c1"),
        ("assistant", "It is 5.", None, [], None)]
    assert session.imported_from.endswith(f"(id {T1})")  # base64 read as the bytes it holds
    assert model_calls(session)[0]["model"] == "gpt-4o"


def test_openinference_tool_spans_answer_the_call_and_nested_spans_add_nothing(imported, write):
    llm = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4.1", "llm.provider": "openai",
           "llm.input_messages.0.message.role": "user", "llm.input_messages.0.message.content": "What is x?",
           "llm.output_messages.0.message.role": "assistant",
           "llm.output_messages.0.message.tool_calls.0.tool_call.id": "call_9",
           "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "lookup",
           "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"q": "x"}',
           "llm.token_count.prompt": 12, "llm.token_count.completion": 5,
           "llm.tools.0.tool.json_schema": json.dumps({"type": "function", "function": {"name": "lookup", "parameters": {}}})}
    spans = [span(T1, "1000000000000001", "ChatCompletion", 1, llm, end=3),
             span(T1, "1000000000000002", "openai.chat", 2, llm, parent="1000000000000001"),  # the same call, instrumented twice
             span(T1, "1000000000000003", "lookup", 4, {"openinference.span.kind": "TOOL", "tool.name": "lookup",
                                                         "input.value": '{"q": "x"}', "output.value": "42"})]
    report, [session] = imported(write("oi.json", [body(*spans)]))
    assert messages(session) == [("user", "What is x?", None, [], None),
                                 ("assistant", None, None, [("call_9", "lookup", '{"q": "x"}')], None),
                                 ("tool", "42", None, [], "call_9")]
    assert len(model_calls(session)) == 1 and model_calls(session)[0]["usage"] == {"prompt_tokens": 12, "completion_tokens": 5}


def test_a_tool_span_no_model_span_recorded_adds_its_call_and_result(imported, write):
    spans = [span(T1, "2000000000000001", "chat", 1, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                                      "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [text("Run it")]}])}),
             span(T1, "2000000000000002", "execute_tool run", 2, {
                 "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "run", "gen_ai.tool.call.id": "t1",
                 "gen_ai.tool.call.arguments": '{"cmd": "ls"}', "gen_ai.tool.call.result": "a.txt"})]
    _, [session] = imported(write("tool.json", body(*spans)))
    assert messages(session) == [("user", "Run it", None, [], None),
                                 ("assistant", None, None, [("t1", "run", '{"cmd": "ls"}')], None),
                                 ("tool", "a.txt", None, [], "t1")]


def test_a_compaction_part_from_another_tool_folds_what_came_before(imported, write):
    def chat(n, given, reply):
        return span(T1, f"500000000000000{n}", "chat", n, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                                           "gen_ai.input.messages": json.dumps(given),
                                                           "gen_ai.output.messages": json.dumps([reply])})
    asked = {"role": "user", "parts": [text("Old question")]}
    summary = {"role": "user", "parts": [{"type": "compaction", "content": "Summary: asked and answered."}]}
    spans = [chat(1, [asked], {"role": "assistant", "parts": [text("Old answer")]}),
             chat(2, [summary, {"role": "user", "parts": [text("Next?")]}], {"role": "assistant", "parts": [text("OK")]})]
    report, [session] = imported(write("compacted.json", body(*spans)))
    assert report.files[0].compactions == 1
    state = session.state()
    assert [m.content for m in state.messages] == ["Old question", "Old answer", "Summary: asked and answered.", "Next?", "OK"]
    assert [f.status for m in state.messages[:2] for f in m.fragments] == ["folded", "folded"]
    assert all(f.status == "visible" for m in state.messages[2:] for f in m.fragments)


# ---- the SDK's span JSON ------------------------------------------------------------------------------


def sdk_span(name, span_id, start, attributes, parent=None, trace="0x" + T2):
    return {"name": name, "context": {"trace_id": trace, "span_id": span_id, "trace_state": "[]"},
            "kind": "SpanKind.CLIENT", "parent_id": parent, "start_time": f"2025-05-07T14:33:0{start}.112321Z",
            "end_time": f"2025-05-07T14:33:0{start + 1}.000000Z", "status": {"status_code": "UNSET"},
            "attributes": attributes, "events": [], "links": [],
            "resource": {"attributes": {"service.name": "demo"}, "schema_url": ""}}


def sdk_trace(trace="0x" + T2):
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [text("Say hi")]}]),
            "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [text("Hi!")], "finish_reason": "stop"}]),
            "gen_ai.usage.input_tokens": 9, "gen_ai.usage.output_tokens": 2}
    return [sdk_span("chat gpt-4o-mini", "0x00f067aa0ba902b7", 2, chat, parent="0x00f067aa0ba902b6", trace=trace),
            sdk_span("invoke_agent greeter", "0x00f067aa0ba902b6", 1, {"gen_ai.operation.name": "invoke_agent"}, trace=trace)]


def test_console_exporter_output_pretty_objects_one_after_another(imported, write):
    path = write("console.txt", "".join(json.dumps(s, indent=4) + "\n" for s in sdk_trace()))
    assert detected(path) == "otel-spans"
    report, [session] = imported(path)
    assert messages(session) == [("user", "Say hi", None, [], None), ("assistant", "Hi!", None, [], None)]
    assert session.imported_from.endswith(f"(id {T2})")
    assert str(session.records()[0].ts) == "2025-05-07 14:33:01.112321"  # ISO start_time


@pytest.mark.parametrize("shape", ["list", "lines", "object"])
def test_sdk_spans_as_a_list_lines_or_an_object_with_big_integer_ids(imported, write, shape):
    trace = 2**127 + 12345  # needs all 128 bits
    spans = sdk_trace(trace=trace)
    for item in spans:
        item["context"]["span_id"] = int(item["context"]["span_id"], 16)
    content = {"list": json.dumps(spans), "lines": "".join(json.dumps(s) + "\n" for s in spans),
               "object": json.dumps({"spans": spans, "final_output": "Hi!"})}[shape]
    report, [session] = imported(write(f"spans-{shape}.json", content))
    assert report.files[0].format == "otel-spans"
    assert session.imported_from.endswith(f"(id {trace:032x})")
    assert [m[1] for m in messages(session)] == ["Say hi", "Hi!"]


# ---- values ---------------------------------------------------------------------------------------------


def test_ids_in_every_spelling_and_any_values():
    assert hex_id("uoqwG/CGgzyYnOKnop7uMQ==", 16) == "ba8ab01bf086833c989ce2a7a29eee31"
    assert hex_id("BA8AB01BF086833C989CE2A7A29EEE31", 16) == "ba8ab01bf086833c989ce2a7a29eee31"
    assert hex_id("0x00f067aa0ba902b7", 8) == hex_id(0x00F067AA0BA902B7, 8) == "00f067aa0ba902b7"
    assert hex_id("0000000000000000", 8) is None and hex_id("", 8) is None and hex_id(None, 16) is None
    assert any_value({"intValue": "12"}) == 12 and any_value({"boolValue": False}) is False
    assert any_value({"arrayValue": {"values": [{"stringValue": "a"}, {"doubleValue": 1.5}]}}) == ["a", 1.5]
    assert any_value({"kvlistValue": {"values": [{"key": "k", "value": {"string_value": "v"}}]}}) == {"k": "v"}
    assert nanos("1751474439280943000") == 1751474439280943000 and nanos(1751474439) == 1751474439 * 10**9
    assert nanos("2025-07-02T16:40:39.280943Z") == 1751474439280943000


# ---- bad input --------------------------------------------------------------------------------------------


def test_an_export_without_spans_is_a_near_miss(write):
    path = write("empty.json", {"resourceSpans": [{"resource": {"attributes": []}}]})
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    assert 'OTLP JSON traces (otlp): an OTLP export with "resourceSpans", but no "scopeSpans" holding "spans"' in str(caught.value)
    path = write("spans.json", {"spans": [{"name": "GET /", "attributes": {}}]})
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    assert 'OpenTelemetry SDK span JSON (otel-spans): spans with a "name", but no "context"' in str(caught.value)


def test_a_bad_span_refuses_the_file_or_is_skipped(store, write):
    spans = weather_trace()
    del spans[1]["spanId"]
    spans.append("not a span")
    path = write("bad.json", body(*spans))
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    message = str(caught.value)
    assert "/resourceSpans/0/scopeSpans/0/spans/1: a span needs a \"traceId\" and a \"spanId\"" in message
    assert "/resourceSpans/0/scopeSpans/0/spans/4: a span must be an object" in message
    assert store.list_sessions() == []
    report = store.import_file(path, skip_invalid=True)
    assert len(report.session_ids) == 1 and len(report.files[0].skipped) == 2
    assert report.files[0].messages_by_role["assistant"] == 2


def test_a_trace_without_model_or_tool_spans_is_named(store, write):
    plain = span(T2, "3000000000000001", "GET /health", 50, {"http.method": "GET"})
    path = write("mixed.json", [body(*weather_trace()), body(plain)])
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    assert f"/1/resourceSpans/0/scopeSpans/0/spans/0: trace {T2}: 1 spans, but none holds a model call" in str(caught.value)
    assert store.list_sessions() == []
    assert len(store.import_file(path, skip_invalid=True).session_ids) == 1


def test_a_line_that_is_not_json_is_named(store, write):
    path = write("broken.jsonl", json.dumps(body(*weather_trace())) + "\n{not json\n")
    with pytest.raises(ImportFormatError, match="line 2: not valid JSON"):
        store.import_file(path)
    assert store.list_sessions() == []


def test_odd_roles_and_non_text_parts_import_with_warnings(imported, write):
    given = [{"role": "narrator", "parts": [text("Once upon a time")]}, {"role": "user", "parts": [text({"n": 1})]}]
    chats = [span(T1, f"400000000000000{n}", "chat", n, {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                                         "gen_ai.input.messages": json.dumps(given[:n])}) for n in (1, 2)]
    report, [session] = imported(write("odd.json", body(*chats)))
    assert messages(session) == [("user", "Once upon a time", None, [], None), ("user", '{"n": 1}', None, [], None)]
    warnings = report.files[0].warnings
    assert sum("role 'narrator' imported as user" in w for w in warnings) == 1  # the repeated history is not warned twice
    assert sum("a text part held dict" in w for w in warnings) == 1
