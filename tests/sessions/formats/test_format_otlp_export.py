"""OTLP export: the GenAI conventions' spans (what the model saw, failed calls, tool errors, finish
reasons), edits as span events with their payload and token change, a document protobuf reads,
the same document each time, no keys or URL credentials; back through the importer to the same
messages. Sending is in test_format_otlp_send, replaying our own traces in
test_format_otlp_reimport."""

from __future__ import annotations

import base64
import copy
import json

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from engine import WorkbenchError
from engine.events import FragmentFolded, LLMCalled, LLMFailed
from engine.fold import replay
from engine.imports import ContextCompacted
from engine.render import stats
from sessions.formats import detect
from sessions.formats.otlp_export import otlp_document, write_otlp
from sessions.formats.source import open_sources

NOTES = "Paragraph 1. " + "alpha " * 80 + "Paragraph 2. " + "beta " * 80 + "Paragraph 3. " + "gamma " * 80 + "End."
CALL = {"id": "c1", "type": "function", "function": {"name": "search_context", "arguments": '{"query": "beta"}'}}


def called(model="openai/gpt-4.1-mini", **usage):
    return LLMCalled(model=model, usage=usage or {"prompt_tokens": 10, "completion_tokens": 2},
                     latency_ms=250.0, finish_reason="tool_calls" if model.endswith("mini") else "stop")


@pytest.fixture
def busy(store):
    """A session with a system prompt, reasoning, a tool call and its result, fragments folded and
    summarized, a second model call, and a question no model answered yet."""
    session = store.create_session("Notes ✓")
    session.add_message("system", "Be exact.")
    session.add_message("user", NOTES)
    session.add_message("assistant", "Let me search.", reasoning="The notes are long; search first.", tool_calls=[CALL],
                        before=[called(prompt_tokens=120, completion_tokens=30, cache_read_tokens=100,
                                       cache_write_tokens=7, reasoning_tokens=9)])
    session.add_message("tool", '{"matches": 1}', tool_call_id="c1")
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 2.", "end_marker": "End.", "num_fragments": 3})
    ids = [piece["fragment_id"] for piece in pieces["fragments"]]
    session.call_tool("fold_fragment", {"fragment_id": ids[0]})
    session.call_tool("summarize_fragment", {"fragment_id": ids[1], "focus": "gamma"})
    session.add_message("assistant", "One match, in paragraph 2.", reasoning="Done.",
                        before=[called("embedded/smollm2-135m-instruct", prompt_tokens=200, completion_tokens=6)])
    session.add_message("user", "And paragraph 3?")
    session.fragment_ids = ids
    return session


def spans_of(document) -> list[dict]:
    [resource] = document["resourceSpans"]
    [scope] = resource["scopeSpans"]
    return scope["spans"]


def attributes(span) -> dict:
    def value(any_value):
        (kind, inner), = any_value.items()
        if kind == "arrayValue":
            return [value(v) for v in inner.get("values", [])]
        return int(inner) if kind == "intValue" else inner
    return {item["key"]: value(item["value"]) for item in span.get("attributes", [])}


def protobuf(document) -> ExportTraceServiceRequest:
    """What a collector receives: the JSON, ids turned from hex into base64, parsed by protobuf."""
    converted = copy.deepcopy(document)
    for span in spans_of(converted):
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    return json_format.Parse(json.dumps(converted), ExportTraceServiceRequest())


def same_messages(session):
    return [(m.role, m.content, m.reasoning, [(c["id"], c["function"]["name"], c["function"]["arguments"])
                                              for c in m.tool_calls or []], m.tool_call_id)
            for m in session.state().messages]


# ---- the document -----------------------------------------------------------------------------------


def ours_out(items: list[dict]) -> list[dict]:
    """Messages as another reader sees them: our own `context_workbench.*` keys left out."""
    return [{k: v for k, v in item.items() if not k.startswith("context_workbench.")} for item in items]


def test_spans_follow_the_genai_conventions(busy):
    document = otlp_document(busy.info(), busy.records())
    root, first, tool, second, tail = spans_of(document)
    assert [s["name"] for s in (root, first, tool, second, tail)] == [
        "invoke_agent context-workbench", "chat gpt-4.1-mini", "execute_tool search_context",
        "chat smollm2-135m-instruct", "messages without a reply"]
    assert len(root["traceId"]) == 32 and all(len(s["spanId"]) == 16 for s in (root, first, tool))
    assert "parentSpanId" not in root and {s["parentSpanId"] for s in (first, tool, second, tail)} == {root["spanId"]}
    assert (root["kind"], first["kind"], tool["kind"]) == (1, 3, 1)
    assert all(isinstance(s["startTimeUnixNano"], str) for s in (root, first, tool, second, tail))
    starts = [int(s["startTimeUnixNano"]) for s in (first, tool, second, tail)]
    assert starts == sorted(starts) and len(set(starts)) == 4 and int(root["startTimeUnixNano"]) <= starts[0]
    assert attributes(root)["gen_ai.operation.name"] == "invoke_agent"
    assert attributes(root)["gen_ai.conversation.id"] == busy.id
    chat = attributes(first)
    assert chat["gen_ai.operation.name"] == "chat" and chat["gen_ai.provider.name"] == "openai"
    assert chat["gen_ai.request.model"] == "gpt-4.1-mini"  # the provider is gen_ai.provider.name
    assert chat["gen_ai.response.finish_reasons"] == ["tool_call"]
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.output_tokens"]) == (120, 30)
    assert chat["gen_ai.usage.cache_read.input_tokens"] == 100
    assert chat["gen_ai.usage.cache_creation.input_tokens"] == chat["gen_ai.usage.cache_write.input_tokens"] == 7
    assert chat["gen_ai.usage.reasoning.output_tokens"] == 9
    assert int(first["endTimeUnixNano"]) - int(first["startTimeUnixNano"]) == 250_000_000
    assert ours_out(json.loads(chat["gen_ai.input.messages"])) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be exact."}]},
        {"role": "user", "parts": [{"type": "text", "content": NOTES}]}]
    assert ours_out(json.loads(chat["gen_ai.output.messages"])) == [{"role": "assistant", "finish_reason": "tool_call",
                                                                     "parts": [
        {"type": "reasoning", "content": "The notes are long; search first."},
        {"type": "text", "content": "Let me search."},
        {"type": "tool_call", "id": "c1", "name": "search_context", "arguments": '{"query": "beta"}'}]}]
    assert "fold_fragment" in {tool["name"] for tool in json.loads(chat["gen_ai.tool.definitions"])}
    ran = attributes(tool)
    assert (ran["gen_ai.tool.name"], ran["gen_ai.tool.call.id"]) == ("search_context", "c1")
    assert (ran["gen_ai.tool.call.arguments"], ran["gen_ai.tool.call.result"]) == ('{"query": "beta"}', '{"matches": 1}')
    later = attributes(second)
    assert later["gen_ai.provider.name"] == "local" and later["gen_ai.request.model"] == "smollm2-135m-instruct"
    inputs = json.loads(later["gen_ai.input.messages"])
    assert [m["role"] for m in inputs] == ["system", "user", "assistant", "tool"]
    assert inputs[3]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": '{"matches": 1}'}]
    assert later["gen_ai.conversation.compacted"] is True and "gen_ai.conversation.compacted" not in chat
    rest = json.loads(attributes(tail)["gen_ai.input.messages"])
    assert ours_out(rest)[-1] == {"role": "user", "parts": [{"type": "text", "content": "And paragraph 3?"}]}


def test_the_inputs_hold_what_the_model_saw_and_the_original_beside_it(busy):
    later = attributes(spans_of(otlp_document(busy.info(), busy.records()))[3])
    notes = json.loads(later["gen_ai.input.messages"])[1]
    state = busy.state()
    seen = busy.render()[1]["content"]
    assert notes["parts"][0] == {"type": "text", "content": seen} and seen != NOTES  # fold marker and summary in place
    folded, summarized = busy.fragment_ids[0], busy.fragment_ids[1]
    assert f"[folded fragment {folded}:" in seen and f"[summary of fragment {summarized}" in seen
    assert notes["context_workbench.message"]["content"] == NOTES  # the original, under our own key
    assert notes["context_workbench.folded"] == [folded]
    [summary] = [p for p in notes["parts"] if p["type"] == "compaction"]
    assert summary["content"] == state.fragment(summarized).summary and summary["content"] in seen
    assert summary["context_workbench.fragment_id"] == summarized


def test_context_edits_are_span_events_with_their_payload_and_the_tokens_they_changed(busy):
    document = otlp_document(busy.info(), busy.records())
    records = busy.records()
    root = spans_of(document)[0]
    edits = [(r.kind, r.seq) for r in records if r.kind not in ("message_added", "llm_called")]
    assert [(e["name"], attributes(e)["context_workbench.seq"]) for e in root["events"]] == [
        (f"context_workbench.{kind}", seq) for kind, seq in edits]
    assert [kind for kind, _ in edits] == ["context_fragmented", "fragment_folded", "fragment_summarized"]
    for event in root["events"]:
        found = attributes(event)
        seq = found["context_workbench.seq"]
        assert json.loads(found["context_workbench.payload"]) == records[seq - 1].payload()
        before = stats(replay([r.event for r in records[: seq - 1]]))["rendered_tokens"]
        after = stats(replay([r.event for r in records[:seq]]))["rendered_tokens"]
        assert found["context_workbench.token_delta"] == after - before
        assert found["context_workbench.rendered_tokens"] == after
    folded, summarized = (attributes(e) for e in root["events"][1:])
    assert folded["context_workbench.token_delta"] < 0
    assert summarized["gen_ai.conversation.compacted"] is True


def test_a_policy_event_keeps_our_own_attributes(store):
    session = store.create_session("policy")
    session.add_message("user", NOTES)
    session.add_message("assistant", None, tool_calls=[CALL], before=[called()])
    session.add_message("tool", NOTES, tool_call_id="c1")
    session.add_message("tool", "more", tool_call_id="c2")
    session.configure(policy={"threshold": 100, "keep_tool_results": 1})
    assert session.apply_policy()
    document = otlp_document(session.info(), session.records())
    [policy] = [attributes(e) for e in spans_of(document)[0]["events"] if e["name"] == "context_workbench.policy_applied"]
    record = next(r for r in session.records() if r.kind == "policy_applied")
    assert policy["context_workbench.seq"] == record.seq  # not the payload's fields over ours
    assert policy["context_workbench.rendered_tokens"] == stats(replay([r.event for r in session.records()[:record.seq]]))[
        "rendered_tokens"] != record.event.rendered_tokens
    assert json.loads(policy["context_workbench.payload"])["rendered_tokens"] == record.event.rendered_tokens


def test_failed_calls_tool_errors_and_stopped_replies_in_the_conventions_words(store):
    session = store.create_session("errors")
    session.add_message("user", "q")
    session.record([LLMFailed(model="anthropic/claude-sonnet-4-5", error_kind="rate_limit", error="429 slow down")])
    session.add_message("assistant", None, tool_calls=[CALL], before=[called()])
    session.add_message("tool", "boom", tool_call_id="c1", extra={"is_error": True})
    session.add_message("assistant", "part", stopped=True, before=[LLMCalled(
        model="gpt-4o", usage={}, latency_ms=5, finish_reason="stopped", stop_reason="person")])
    _, failed, chat, tool, stopped = spans_of(otlp_document(session.info(), session.records()))
    assert failed["name"] == "chat claude-sonnet-4-5" and failed["status"] == {"code": 2, "message": "429 slow down"}
    assert attributes(failed)["error.type"] == "rate_limit" and attributes(failed)["gen_ai.provider.name"] == "anthropic"
    assert tool["status"]["code"] == 2 and attributes(tool)["error.type"] == "tool_error"
    assert "status" not in chat and "error.type" not in attributes(chat)
    found = attributes(stopped)
    assert found["gen_ai.response.finish_reasons"] == ["stop"] and found["context_workbench.finish_reason"] == "stopped"
    assert json.loads(found["gen_ai.output.messages"])[0]["finish_reason"] == "stop"


def test_protobuf_reads_the_document_and_exporting_twice_gives_the_same(busy, store):
    document = otlp_document(busy.info(), busy.records())
    request = protobuf(document)
    spans = request.resource_spans[0].scope_spans[0].spans
    assert len(spans) == 5 and spans[0].trace_id.hex() == document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
    assert request.resource_spans[0].resource.attributes[0].value.string_value == "context-workbench"
    assert otlp_document(busy.info(), busy.records()) == document
    other = store.create_session("other")
    other.add_message("user", "hi")
    assert spans_of(otlp_document(other.info(), other.records()))[0]["traceId"] != spans_of(document)[0]["traceId"]


def test_no_key_or_password_in_a_url_setting_reaches_the_trace(store):
    from engine.events import SessionConfigured

    session = store.create_session("keys")
    with pytest.raises(WorkbenchError, match="api_base must not carry a key"):  # refused where it is set ...
        session.configure(api_base="https://bob:hunter2@llm.example.com/v1?api_key=sk-SENTINEL-4242")
    # ... but a log written before that rule (or by hand) may hold one: the export still takes it out
    session.record([SessionConfigured(settings={"backend": {
        "model": "openai/gpt-4.1-mini",
        "api_base": "https://bob:hunter2@llm.example.com/v1?api_key=sk-SENTINEL-4242#SENTINEL-fragment"}})])
    session.add_message("user", "hi")
    session.add_message("assistant", "hello", before=[called("openai/gpt-4.1-mini")])
    assert "SENTINEL" in json.dumps(session.settings)  # the setting holds it: the export must take it out
    document = otlp_document(session.info(), session.records())
    text = json.dumps(document)
    assert "SENTINEL" not in text and "hunter2" not in text and "api_key" not in text
    [configured] = [attributes(e) for e in spans_of(document)[0]["events"]
                    if e["name"] == "context_workbench.session_configured"]
    assert json.loads(configured["context_workbench.payload"])["settings"]["backend"]["api_base"] == (
        "https://llm.example.com/v1")


def test_messages_without_a_model_call_are_in_the_next_input_or_a_last_span(store):
    session = store.create_session("imported")
    session.add_message("user", "first")
    session.add_message("assistant", "an answer someone else's model gave")
    session.add_message("user", "second")
    session.add_message("assistant", "ours", before=[called("gpt-4o")])
    [_, chat] = spans_of(otlp_document(session.info(), session.records()))
    assert [m["parts"][0]["content"] for m in json.loads(attributes(chat)["gen_ai.input.messages"])] == [
        "first", "an answer someone else's model gave", "second"]
    plain = store.create_session("no calls")
    plain.add_message("user", "only a question")
    [_, tail] = spans_of(otlp_document(plain.info(), plain.records()))
    assert tail["name"] == "messages without a reply"


def test_write_otlp_writes_one_line_atomically(busy, tmp_path):
    path = write_otlp(tmp_path / "trace.json", busy.info(), busy.records())
    assert path.read_text(encoding="utf-8").count("\n") == 1
    assert json.loads(path.read_text(encoding="utf-8")) == otlp_document(busy.info(), busy.records())
    with pytest.raises(WorkbenchError, match="does not exist"):
        write_otlp(tmp_path / "missing" / "trace.json", busy.info(), busy.records())


# ---- back through the importer ------------------------------------------------------------------------


def test_the_exported_trace_imports_back_to_the_same_messages(busy, store, tmp_path):
    path = write_otlp(tmp_path / "busy.json", busy.info(), busy.records())
    assert detect(open_sources(path)[0]).name == "otlp"
    report = store.import_file(path)
    back = store.open_session(report.first_id)
    assert same_messages(back) == same_messages(busy)
    assert back.title == "Notes ✓" and back.imported_from == f"busy.json (session {busy.id})"
    calls = [e["payload"] for e in back.events() if e["kind"] == "llm_called"]
    assert [(c["model"], c["finish_reason"], c["latency_ms"]) for c in calls] == [
        ("openai/gpt-4.1-mini", "tool_calls", 250.0), ("embedded/smollm2-135m-instruct", "stop", 250.0)]
    assert calls[0]["usage"] == {"prompt_tokens": 120, "completion_tokens": 30, "cache_read_tokens": 100,
                                 "cache_write_tokens": 7, "reasoning_tokens": 9}
    assert report.files[0].warnings == []


def test_a_run_of_tool_calls_and_an_import_without_calls_round_trip(store, tmp_path):
    session = store.create_session("tools")
    session.add_message("user", "Fold what you can.")
    session.run_model_tool_calls([{"id": "a", "type": "function", "function": {"name": "fragment_context", "arguments": "{}"}},
                                  {"id": "b", "type": "function", "function": {"name": "search_context",
                                                                               "arguments": '{"query": "fold"}'}}],
                                 content="Two tools.", before=[called()])
    session.add_message("assistant", "Done.", before=[called("gpt-4o")])
    path = write_otlp(tmp_path / "tools.json", session.info(), session.records())
    back = store.open_session(store.import_file(path).first_id)
    assert same_messages(back) == same_messages(session)
    plain = store.create_session("plain")
    plain.add_message("system", "sys")
    plain.add_message("user", "q")
    plain.add_message("assistant", "a")
    again = store.open_session(store.import_file(write_otlp(tmp_path / "plain.json", plain.info(), plain.records())).first_id)
    assert same_messages(again) == same_messages(plain)


def test_a_compaction_marks_the_next_calls_and_still_round_trips(store, tmp_path):
    session = store.create_session("compacted")
    session.add_message("user", "Read the whole log, please.")
    session.add_message("assistant", "It is long.", before=[called("gpt-4o")])
    folded = [f.id for f in session.state().fragments()]
    session.record([ContextCompacted(before_tokens=900, after_tokens=120, trigger="auto", source="claude-code"),
                    *[FragmentFolded(fragment_id=fragment) for fragment in folded]])
    session.add_message("user", "Go on.")
    session.add_message("assistant", "Going on.", before=[called("gpt-4o")])
    document = otlp_document(session.info(), session.records())
    _, first, second = spans_of(document)
    assert "gen_ai.conversation.compacted" not in attributes(first)
    assert attributes(second)["gen_ai.conversation.compacted"] is True
    inputs = json.loads(attributes(second)["gen_ai.input.messages"])
    assert inputs[1]["parts"][-1]["type"] == "compaction" and "claude-code compacted" in inputs[1]["parts"][-1]["content"]
    assert "900 → 120 tokens" in inputs[1]["parts"][-1]["content"] and inputs[0]["context_workbench.folded"] == [folded[0]]
    [event] = [attributes(e) for e in spans_of(document)[0]["events"] if e["name"] == "context_workbench.context_compacted"]
    assert event["gen_ai.conversation.compacted"] is True
    assert json.loads(event["context_workbench.payload"])["before_tokens"] == 900
    back = store.open_session(store.import_file(write_otlp(tmp_path / "c.json", session.info(), session.records())).first_id)
    assert same_messages(back) == same_messages(session)
