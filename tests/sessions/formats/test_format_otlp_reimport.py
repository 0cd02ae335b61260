"""Traces read back: our own export replayed event by event (every message field, model calls,
failed calls, folds, summaries, compactions: the same render and the same tokens), the same
document read as another exporter's trace (tool spans in any order add nothing twice), and bad
values that are named, never a crash."""

from __future__ import annotations

import json

import pytest

from engine.events import FragmentFolded, LLMCalled, LLMFailed
from engine.imports import ContextCompacted
from sessions.formats.otlp_export import otlp_document

from tests.conftest import long_text

CALL = {"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}


def called(finish="stop", model="openai/gpt-4o"):
    return LLMCalled(model=model, usage={"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
                     latency_ms=7.5, finish_reason=finish)


def fields(session) -> list[dict]:
    return [dict(role=m.role, content=m.content, reasoning=m.reasoning, tool_calls=m.tool_calls,
                 tool_call_id=m.tool_call_id, name=m.name, attachments=m.attachments, extra=m.extra, stopped=m.stopped)
            for m in session.state().messages]


def payloads(session) -> list[tuple]:
    return [(record.kind, record.payload()) for record in session.records()]


def exported(session, tmp_path, name="trace.json", scope=None):
    """The session's OTLP file; with `scope`, as if another exporter had written it."""
    document = otlp_document(session.info(), session.records())
    if scope is not None:
        document["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"] = scope
    path = tmp_path / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def back(store, path, **options):
    report = store.import_file(path, **options)
    return report, store.open_session(report.first_id)


# ---- sessions whose messages have no model call, or odd fields ------------------------------------------


def _tools_without_calls(s):
    s.add_message("user", "How far?")
    s.add_message("assistant", "", tool_calls=[CALL])
    s.add_message("tool", '{"km": 4}', tool_call_id="c1")
    s.add_message("assistant", "4 km.")
    s.add_message("user", "Thanks")


def _stopped(s):
    s.add_message("user", "Tell me a story")
    s.add_message("assistant", "Once upon", stopped=True,
                  before=[LLMCalled(model="gpt-4o", usage={}, latency_ms=3, finish_reason="stopped", stop_reason="person")])


def _names_and_empty_text(s):
    s.add_message("system", "")
    s.add_message("user", "hi", name="alice")
    s.add_message("assistant", "", before=[called()])
    s.add_message("user", "  padded  \n", name="bob")
    s.add_message("assistant", '[{"role": "x"}]', reasoning="think", before=[called()])


def _orphan_result(s):
    s.add_message("user", "q")
    s.add_message("tool", "a result whose call is not here", tool_call_id="zz")
    s.add_message("assistant", "a", before=[called()])


def _tool_error_and_parallel(s):
    s.add_message("user", "both")
    calls = [{"id": "a", "type": "function", "function": {"name": "t", "arguments": '{"x": 1}'}},
             {"id": "b", "type": "function", "function": {"name": "t", "arguments": '{"x": 2}'}}]
    s.add_message("assistant", None, tool_calls=calls, before=[called("tool_calls")])
    s.add_message("tool", "rb", tool_call_id="b", extra={"is_error": True, "error_type": "Timeout"})
    s.add_message("tool", "ra \ud800 and \x00", tool_call_id="a")
    s.record([LLMFailed(model="openai/gpt-4o", error_kind="rate_limit", error="429")])
    s.add_message("assistant", "done", before=[called()])


CASES = {"tool calls without model calls": _tools_without_calls, "a stopped reply": _stopped,
         "names and empty text": _names_and_empty_text, "a result whose call is missing": _orphan_result,
         "a tool error, parallel results, a failed call": _tool_error_and_parallel}


@pytest.mark.parametrize("case", list(CASES))
def test_our_trace_replays_every_event(store, tmp_path, case):
    session = store.create_session(case)
    CASES[case](session)
    report, again = back(store, exported(session, tmp_path))
    assert payloads(again) == payloads(session)
    assert again.title == case and again.render() == session.render() and again.stats() == session.stats()
    assert report.files[0].warnings == []


@pytest.mark.parametrize("case", ["tool calls without model calls", "a result whose call is missing",
                                  "a tool error, parallel results, a failed call"])
def test_read_as_another_exporters_trace_nothing_is_added_twice(store, tmp_path, case):
    session = store.create_session(case)
    CASES[case](session)
    _, again = back(store, exported(session, tmp_path, scope="some.other.exporter"))
    keep = ("role", "content", "tool_calls", "tool_call_id")
    expected = [{k: m[k] for k in keep} for m in fields(session)]
    got = [{k: m[k] for k in keep} for m in fields(again)]
    for message in expected + got:  # another reader sees the text as UTF-8 carries it, and calls by id and name
        message["content"] = (message["content"] or "").replace("\ud800", "\ufffd") or None
        message["tool_calls"] = [(c["id"], c["function"]["name"]) for c in message["tool_calls"] or []]
    assert got == expected
    assert not any(c == ("zz", "unknown") for m in got for c in m["tool_calls"])  # no call invented for an orphan


def test_tool_spans_before_the_span_that_records_them_add_nothing(store, tmp_path):
    """As our first exporter wrote it: execute_tool spans, then a last span holding every message."""
    session = store.create_session("late tail")
    _tools_without_calls(session)
    session.add_message("tool", "a late result", tool_call_id="c9")
    path = exported(session, tmp_path, scope="some.other.exporter")
    document = json.loads(path.read_text())
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    [tail] = [span for span in spans if span["name"] == "messages without a reply"]
    tail["startTimeUnixNano"] = str(max(int(span["startTimeUnixNano"]) for span in spans) + 1)
    spans.remove(tail)
    spans.append(tail)
    path.write_text(json.dumps(document))
    _, again = back(store, path)
    assert [(m["role"], m["content"], m["tool_call_id"]) for m in fields(again)] == [
        (m["role"], m["content"], m["tool_call_id"]) for m in fields(session)]


def test_an_imported_sharegpt_session_with_tools_comes_back_as_it_was(store, sample, tmp_path):
    store.import_file(sample("sharegpt/llama-factory/glaive_toolcall_en_demo.json"))
    session = store.open_session(store.list_sessions()[1]["id"])
    assert [m.role for m in session.state().messages] == ["user", "assistant", "tool", "assistant"] * 2 + [
        "user", "assistant"]
    _, again = back(store, exported(session, tmp_path))
    assert payloads(again) == payloads(session)
    _, other = back(store, exported(session, tmp_path, "other.json", scope="some.other.exporter"))
    assert [(m["role"], m["content"]) for m in fields(other)] == [(m["role"], m["content"]) for m in fields(session)]


def test_an_attachment_comes_back(store, tmp_path, write):
    path = write("att.json", [{"role": "user", "content": [{"type": "text", "text": "see"}, {
        "type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}]}, {"role": "assistant", "content": "nice"}])
    session = store.import_session(path)
    assert session.state().messages[0].attachments
    _, again = back(store, exported(session, tmp_path))
    assert payloads(again) == payloads(session) and again.render() == session.render()


# ---- context edits -------------------------------------------------------------------------------------


@pytest.fixture
def edited(store):
    """Folds, a summary, a restore, a compaction with its folds, a search, settings and a policy."""
    session = store.create_session("edits")
    session.add_message("user", long_text(10))
    session.add_message("assistant", "ok", before=[called()])
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.",
                                                    "num_fragments": 4})["fragments"]
    ids = [piece["fragment_id"] for piece in pieces]
    session.call_tool("fold_fragment", {"fragment_id": ids[0]})
    session.call_tool("summarize_fragment", {"fragment_id": ids[1], "focus": "budget"})
    session.call_tool("fold_fragment", {"fragment_id": ids[2]})
    session.call_tool("restore_fragment", {"fragment_id": ids[2]})
    session.call_tool("search_context", {"query": "committee"})
    session.record([ContextCompacted(before_tokens=900, after_tokens=120, trigger="auto", source="claude-code"),
                    FragmentFolded(fragment_id=ids[3])])
    session.add_message("user", "go on")
    session.add_message("assistant", "going", before=[called()])
    session.configure(policy={"threshold": 100, "keep_tool_results": 1})
    return session


def test_folds_summaries_and_compactions_are_replayed(store, edited, tmp_path):
    kinds = {kind for kind, _ in payloads(edited)}
    assert {"context_fragmented", "fragment_folded", "fragment_summarized", "fragment_restored", "context_compacted",
            "context_searched", "session_configured"} <= kinds
    report, again = back(store, exported(edited, tmp_path))
    assert payloads(again) == payloads(edited)
    assert again.render() == edited.render() and again.stats() == edited.stats()
    statuses = [f.status for f in again.state().fragments()]
    assert statuses.count("folded") == 2 and statuses.count("summarized") == 1
    assert report.files[0].compactions == 1 and report.files[0].warnings == []


def test_an_edit_that_cannot_be_replayed_is_named_and_left_out(store, edited, tmp_path):
    document = otlp_document(edited.info(), edited.records())
    root = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    [restored] = [e for e in root["events"] if e["name"] == "context_workbench.fragment_restored"]
    for item in restored["attributes"]:
        if item["key"] == "context_workbench.payload":
            item["value"]["stringValue"] = '{"fragment_id": "fnope1"}'
        if item["key"] == "context_workbench.seq":
            seq = int(item["value"]["intValue"])
    root["events"] = [e for e in root["events"] if e["name"] != "context_workbench.context_searched"]
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(document))
    report, again = back(store, path)
    warnings = report.files[0].warnings
    assert any(f"event {seq} (fragment_restored): " in w and "could not be replayed and was left out" in w
               for w in warnings), warnings
    assert any("1 of them are not in the trace" in w for w in warnings), warnings
    assert len(again.records()) == len(edited.records()) - 2


# ---- bad values ---------------------------------------------------------------------------------------


def _body(**changes):
    span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00f067aa0ba902b7", "name": "chat", "kind": 3,
            "startTimeUnixNano": "1751474400000000000", "endTimeUnixNano": "1751474401000000000",
            "attributes": [{"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
                           {"key": "gen_ai.input.messages", "value": {"stringValue": json.dumps(
                               [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}])}}]}
    return {"resourceSpans": [{"scopeSpans": [{"spans": [{**span, **changes}]}]}]}


def test_events_that_are_not_a_list_are_a_bad_record(store, write):
    path = write("events.json", _body(events=5))
    with pytest.raises(Exception) as caught:
        store.import_file(path)
    assert type(caught.value).__name__ == "ImportFormatError"
    assert '/resourceSpans/0/scopeSpans/0/spans/0: "events" must be a list, not int' in str(caught.value)
    assert store.list_sessions() == []


@pytest.mark.parametrize("start", ["Infinity", "NaN", "-Infinity", "1e400"])
def test_a_start_time_that_is_not_finite_is_no_time(store, write, start):
    path = write("inf.json", json.dumps(_body()).replace('"1751474400000000000"', start))
    report, session = back(store, path)
    assert [m.content for m in session.state().messages] == ["hi"]
