"""OTLP export: the GenAI conventions' spans, edits as span events with their token change, a
document protobuf reads, the same document each time, no keys; back through the importer to
the same messages; and a real HTTP collector on 127.0.0.1 that decodes what we send."""

from __future__ import annotations

import base64
import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from engine import WorkbenchError
from engine.events import FragmentFolded, LLMCalled
from engine.fold import replay
from engine.imports import ContextCompacted
from engine.render import stats
from sessions.formats import detect
from sessions.formats.otlp_export import otlp_document, send_otlp, traces_url, write_otlp
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


def test_spans_follow_the_genai_conventions(busy):
    document = otlp_document(busy.info(), busy.records())
    root, first, tool, second, tail = spans_of(document)
    assert [s["name"] for s in (root, first, tool, second, tail)] == [
        "invoke_agent context-workbench", "chat openai/gpt-4.1-mini", "execute_tool search_context",
        "chat embedded/smollm2-135m-instruct", "messages without a reply"]
    assert len(root["traceId"]) == 32 and all(len(s["spanId"]) == 16 for s in (root, first, tool))
    assert "parentSpanId" not in root and {s["parentSpanId"] for s in (first, tool, second, tail)} == {root["spanId"]}
    assert (root["kind"], first["kind"], tool["kind"]) == (1, 3, 1)
    assert all(isinstance(s["startTimeUnixNano"], str) for s in (root, first, tool, second, tail))
    starts = [int(s["startTimeUnixNano"]) for s in (first, tool, second, tail)]
    assert starts == sorted(starts) and int(root["startTimeUnixNano"]) <= starts[0]
    assert attributes(root)["gen_ai.operation.name"] == "invoke_agent"
    assert attributes(root)["gen_ai.conversation.id"] == busy.id
    chat = attributes(first)
    assert chat["gen_ai.operation.name"] == "chat" and chat["gen_ai.provider.name"] == "openai"
    assert chat["gen_ai.request.model"] == "openai/gpt-4.1-mini"
    assert chat["gen_ai.response.finish_reasons"] == ["tool_call"]
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.output_tokens"]) == (120, 30)
    assert chat["gen_ai.usage.cache_read.input_tokens"] == 100
    assert chat["gen_ai.usage.cache_creation.input_tokens"] == chat["gen_ai.usage.cache_write.input_tokens"] == 7
    assert chat["gen_ai.usage.reasoning.output_tokens"] == 9
    assert int(first["endTimeUnixNano"]) - int(first["startTimeUnixNano"]) == 250_000_000
    assert json.loads(chat["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be exact."}]},
        {"role": "user", "parts": [{"type": "text", "content": NOTES}]}]
    assert json.loads(chat["gen_ai.output.messages"]) == [{"role": "assistant", "finish_reason": "tool_call", "parts": [
        {"type": "reasoning", "content": "The notes are long; search first."},
        {"type": "text", "content": "Let me search."},
        {"type": "tool_call", "id": "c1", "name": "search_context", "arguments": '{"query": "beta"}'}]}]
    assert "fold_fragment" in {tool["name"] for tool in json.loads(chat["gen_ai.tool.definitions"])}
    ran = attributes(tool)
    assert (ran["gen_ai.tool.name"], ran["gen_ai.tool.call.id"]) == ("search_context", "c1")
    assert (ran["gen_ai.tool.call.arguments"], ran["gen_ai.tool.call.result"]) == ('{"query": "beta"}', '{"matches": 1}')
    later = attributes(second)
    assert later["gen_ai.provider.name"] == "local"
    inputs = json.loads(later["gen_ai.input.messages"])
    assert [m["role"] for m in inputs] == ["system", "user", "assistant", "tool"]
    assert inputs[3]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": '{"matches": 1}'}]
    assert inputs[1]["parts"][0] == {"type": "text", "content": NOTES}  # the original text, with what was hidden noted
    assert inputs[1]["context_workbench.folded"] == [busy.fragment_ids[0]]
    [summary] = [p for p in inputs[1]["parts"] if p["type"] == "compaction"]
    assert summary["context_workbench.fragment_id"] == busy.fragment_ids[1] and summary["content"]
    assert later["gen_ai.conversation.compacted"] is True and "gen_ai.conversation.compacted" not in chat
    rest = json.loads(attributes(tail)["gen_ai.input.messages"])
    assert rest[-1] == {"role": "user", "parts": [{"type": "text", "content": "And paragraph 3?"}]}


def test_context_edits_are_span_events_with_the_tokens_they_changed(busy):
    document = otlp_document(busy.info(), busy.records())
    events = {e["name"]: attributes(e) for e in spans_of(document)[0]["events"]}
    assert {"context_workbench.context_fragmented", "context_workbench.fragment_folded",
            "context_workbench.fragment_summarized"} <= set(events)
    records = busy.records()
    for name, fragment in (("fragment_folded", busy.fragment_ids[0]), ("fragment_summarized", busy.fragment_ids[1])):
        event = events[f"context_workbench.{name}"]
        seq = event["context_workbench.seq"]
        assert records[seq - 1].kind == name and event["context_workbench.fragment_id"] == fragment
        before = stats(replay([r.event for r in records[: seq - 1]]))["rendered_tokens"]
        after = stats(replay([r.event for r in records[:seq]]))["rendered_tokens"]
        assert event["context_workbench.token_delta"] == after - before
    assert events["context_workbench.fragment_folded"]["context_workbench.token_delta"] < 0
    assert events["context_workbench.fragment_summarized"]["gen_ai.conversation.compacted"] is True


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


def test_no_api_key_or_url_password_reaches_the_trace(store, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-SENTINEL-4242")
    session = store.create_session("keys")
    session.configure(model="openai/gpt-4.1-mini", api_base="https://bob:hunter2@llm.example.com/v1")
    session.add_message("user", "hi")
    session.add_message("assistant", "hello", before=[called("openai/gpt-4.1-mini")])
    text = json.dumps(otlp_document(session.info(), session.records()))
    assert "SENTINEL" not in text and "hunter2" not in text
    assert "context_workbench.session_configured" in text and "llm.example.com" in text
    assert "api_key" not in json.dumps(session.settings)  # settings hold none in the first place


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
    assert back.title == "Notes ✓" and back.imported_from == f"busy.json (id {busy.id})"
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
    assert event["gen_ai.conversation.compacted"] is True and event["context_workbench.before_tokens"] == 900
    back = store.open_session(store.import_file(write_otlp(tmp_path / "c.json", session.info(), session.records())).first_id)
    assert same_messages(back) == same_messages(session)


# ---- sending to a collector ---------------------------------------------------------------------------


@pytest.fixture
def collector(monkeypatch):
    """An OTLP/HTTP collector on 127.0.0.1: decodes each request's body with protobuf and keeps
    its path and headers; `collector.answer` sets the status (and body) it replies with."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    received, answer = [], {"status": 200, "body": b""}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            data = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "headers": dict(self.headers),
                             "request": ExportTraceServiceRequest.FromString(data)})
            self.send_response(answer["status"])
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(answer["body"])

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.received, server.answer = received, answer
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_send_posts_protobuf_with_the_environment_headers(busy, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=s%3Dcr%2Cet, x-team = context")
    document = otlp_document(busy.info(), busy.records())
    assert send_otlp(collector.url, document, headers={"X-Team": "workbench"}) == 200
    [got] = collector.received
    assert got["path"] == "/v1/traces"
    headers = {key.lower(): value for key, value in got["headers"].items()}
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-api-key"] == "s=cr,et" and headers["x-team"] == "workbench"  # given headers win
    spans = got["request"].resource_spans[0].scope_spans[0].spans
    assert [s.name for s in spans] == [s["name"] for s in spans_of(document)]
    assert spans[1].attributes[0].key == "gen_ai.operation.name" and spans[1].attributes[0].value.string_value == "chat"
    assert spans[0].span_id.hex() == spans_of(document)[0]["spanId"]
    assert send_otlp(collector.url + "/custom/traces", document) == 200
    assert collector.received[-1]["path"] == "/custom/traces"


@pytest.mark.parametrize("status", [401, 500])
def test_a_refusal_is_a_clear_error_without_the_headers(busy, collector, monkeypatch, status):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20TOPSECRET")
    collector.answer.update(status=status, body=b"invalid credentials" if status == 401 else b"collector overloaded")
    with pytest.raises(WorkbenchError) as caught:
        send_otlp(collector.url, otlp_document(busy.info(), busy.records()))
    message = str(caught.value)
    assert f"{collector.url}/v1/traces" in message and f"HTTP {status}" in message
    assert ("invalid credentials" if status == 401 else "collector overloaded") in message
    assert "TOPSECRET" not in message


def test_a_header_that_cannot_be_sent_is_named_without_its_value(busy, collector, monkeypatch):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-key=line1%0D%0Ainjected-SECRET")
    with pytest.raises(WorkbenchError) as caught:
        send_otlp(collector.url, otlp_document(busy.info(), busy.records()))
    assert "'x-key' cannot be sent" in str(caught.value) and "SECRET" not in str(caught.value)
    assert collector.received == []
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-key=general")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-key=for%20traces")
    send_otlp(collector.url, otlp_document(busy.info(), busy.records()))
    assert {k.lower(): v for k, v in collector.received[-1]["headers"].items()}["x-key"] == "for traces"


def test_an_unreachable_collector_or_a_bad_endpoint_is_a_clear_error(busy, collector):
    port = collector.server_address[1]
    collector.shutdown()
    collector.server_close()
    with pytest.raises(WorkbenchError, match=f"cannot send traces to the OTLP collector at http://127.0.0.1:{port}/v1/traces"):
        send_otlp(f"http://127.0.0.1:{port}", otlp_document(busy.info(), busy.records()), timeout=2)
    with pytest.raises(WorkbenchError, match="an OTLP endpoint is an http"):
        send_otlp("collector:4318", {})
    assert traces_url("https://otel.example.com:4318/") == "https://otel.example.com:4318/v1/traces"
    assert traces_url("http://user:pw@h:4318/api/traces?x=1") == "http://user:pw@h:4318/api/traces?x=1"
