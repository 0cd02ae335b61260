"""ShareGPT conversations: the FastChat and LLaMA-Factory samples, the awkward records, detection."""

from __future__ import annotations

import json

import pytest

from engine.errors import ImportFormatError
from engine.imports import imported_tools
from sessions.formats import detect, sharegpt
from sessions.formats.source import open_sources


def detected(path) -> str:
    return detect(open_sources(path)[0]).name


# ---- the real samples -------------------------------------------------------------------------


def test_fastchat_sample_is_500_sessions_of_human_and_gpt_turns(sample, imported):
    path = sample("sharegpt/fastchat/dummy_conversation.json")
    assert detected(path) == "sharegpt"
    report, sessions = imported(path)
    file = report.files[0]
    assert file.format == "sharegpt"
    assert len(file.sessions) == 500
    assert dict(file.messages_by_role) == {"user": 1000, "assistant": 1000}
    assert file.tool_calls == 0 and file.warnings == []
    first = sessions[0]
    assert first.title == "identity_0"
    messages = first.state().messages
    assert [m.role for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0].content == "Who are you?" and messages[0].extra["from"] == "human"
    assert messages[1].content.startswith("I am Vicuna")


def test_glaive_sample_pairs_each_function_call_with_its_observation(sample, imported):
    path = sample("sharegpt/llama-factory/glaive_toolcall_en_demo.json")
    assert detected(path) == "sharegpt"
    report, sessions = imported(path)
    file = report.files[0]
    assert len(file.sessions) == 300
    assert dict(file.messages_by_role) == {"user": 746, "assistant": 746 + 211, "tool": 211}
    assert file.tool_calls == 211 and file.tool_results == 211
    assert file.warnings == []  # every observation answered the call before it
    state = sessions[0].state()
    assert sessions[0].title.startswith("Hi, I have some ingredients") and sessions[0].title.endswith("…")
    call = next(m for m in state.messages if m.tool_calls)
    assert call.content is None
    assert call.tool_calls[0]["function"]["name"] == "search_recipes"
    arguments = json.loads(call.tool_calls[0]["function"]["arguments"])
    assert arguments == {"ingredients": ["chicken", "bell peppers", "rice"]}
    result = state.messages[state.messages.index(call) + 1]
    assert result.role == "tool" and result.tool_call_id == call.tool_calls[0]["id"]
    assert result.content.startswith('{"recipes"')
    assert [t["function"]["name"] for t in imported_tools(state)] == ["search_recipes"]
    assert imported_tools(state)[0]["function"]["parameters"]["required"] == ["ingredients"]
    without = [s for s in sessions if not imported_tools(s.state())]
    assert len(without) == 109  # records whose tools are "[]"


# ---- awkward records ------------------------------------------------------------------------------


def test_lines_with_system_field_tool_list_and_other_speakers(write, imported):
    records = [
        {"id": 7, "system": "Be brief.", "tools": [{"name": "get_time", "description": "Now", "parameters": {}}],
         "conversations": [
             {"from": "user", "value": "What time is it?", "weight": 0},
             {"from": "function_call", "value": '{"name": "get_time", "arguments": "{}"}'},
             {"from": "function_call", "value": {"name": "get_time", "arguments": {"zone": "UTC"}}},
             {"from": "observation", "value": "12:00"},
             {"from": "tool", "value": "12:00 UTC"},
             {"from": "ChatGPT", "value": "Noon."},
         ]},
        {"messages": [{"from": "human", "value": "  A question   spread\nover lines, long enough to need shortening "
                                                  "for a title of sixty characters"},
                      {"from": "bard", "value": "Yes."}, {"from": "model", "value": 42}],
         "image": "coco/1.jpg"},
    ]
    path = write("chat.jsonl", "\n".join(json.dumps(r) for r in records) + "\n")
    assert detected(path) == "sharegpt"
    report, (first, second) = imported(path)
    assert first.title == "7"
    state = first.state()
    assert [m.role for m in state.messages] == ["system", "user", "assistant", "assistant", "tool", "tool", "assistant"]
    assert state.messages[0].content == "Be brief."
    assert state.messages[1].extra == {"from": "user", "weight": 0}
    ids = [m.tool_calls[0]["id"] for m in state.messages if m.tool_calls]
    assert ids == ["call_1", "call_2"]  # the turn's index: the same file gives the same ids
    assert state.messages[3].tool_calls[0]["function"]["arguments"] == '{"zone": "UTC"}'
    assert [m.tool_call_id for m in state.messages if m.role == "tool"] == ids
    assert state.messages[-1].extra["from"] == "ChatGPT"
    assert [t["function"]["name"] for t in imported_tools(state)] == ["get_time"]
    assert second.title == "A question spread over lines, long enough to need…"  # cut at a space
    messages = second.state().messages
    assert [m.role for m in messages] == ["user", "assistant", "assistant"]
    assert messages[2].content == "42"
    assert any("line 2 messages [2]: the value is int, not text" in w for w in report.files[0].warnings)
    assert second.events()[0]["payload"]["attributes"] == {"image": "coco/1.jpg"}


def test_single_record_object_and_bad_tools_text_are_kept(write, imported):
    path = write("one.json", {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
                              "tools": "[{not json"})
    assert detected(path) == "sharegpt"
    report, (session,) = imported(path)
    assert session.title == "hi"
    assert session.events()[0]["payload"]["attributes"] == {"tools": "[{not json"}
    assert any('"tools" is not valid JSON' in w for w in report.files[0].warnings)


def test_an_unknown_speaker_is_named_with_its_record_and_nothing_is_stored(write, store):
    path = write("bad.json", [
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "narrator", "value": "meanwhile"}]},
    ])
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    message = str(caught.value)
    assert "record [1] conversations [1]: unknown speaker 'narrator'" in message
    assert "--skip-invalid" in message
    assert store.list_sessions() == []


def test_a_function_call_that_is_not_json_is_refused_or_skipped(write, store):
    path = write("calls.json", [
        {"conversations": [{"from": "human", "value": "weather?"}, {"from": "function_call", "value": "get_weather("}]},
        {"conversations": [{"from": "human", "value": "ok"}, {"from": "gpt", "value": "fine"}]},
        "not a record",
    ])
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    message = str(caught.value)
    assert "2 bad records" in message
    assert "record [0] conversations [1]: a function_call turn whose value is not valid JSON" in message
    assert 'record [2]: a ShareGPT record needs "conversations"' in message
    assert store.list_sessions() == []
    report = store.import_file(path, skip_invalid=True)
    assert len(report.session_ids) == 1
    assert [s.split(":")[0] for s in report.files[0].skipped] == ["record [0] conversations [1]", "record [2]"]
    assert store.open_session(report.first_id).title == "ok"


def test_a_call_without_a_name_is_refused(write, store):
    path = write("noname.json", [{"conversations": [{"from": "function_call", "value": '{"arguments": {}}'}]}])
    with pytest.raises(ImportFormatError, match=r"record \[0\] conversations \[0\]: .*call 0 has no name"):
        store.import_file(path)


# ---- detection ------------------------------------------------------------------------------------


def test_conversations_of_role_content_turns_are_a_near_miss_with_the_reason(write):
    path = write("roles.json", [{"conversations": [{"role": "user", "content": "hi"}]}])
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    message = str(caught.value)
    assert "matches no format" in message
    assert ('ShareGPT conversations (sharegpt): records have "conversations", but its turns use "role"/"content", '
            'not "from"/"value"') in message


def test_messages_of_role_content_are_openai_not_sharegpt(write):
    path = write("openai.json", [{"messages": [{"role": "user", "content": "hi"}]}])
    assert not sharegpt.sniff(open_sources(path)[0].sample).matched
    assert detected(path) == "openai"


def test_empty_records_are_skipped_when_sniffing(write):
    path = write("first-empty.json", [{"conversations": []}, {"conversations": [{"from": "human", "value": "x"}]}])
    assert detected(path) == "sharegpt"
    verdict = sharegpt.sniff(open_sources(write("all-empty.json", [{"conversations": []}]))[0].sample)
    assert not verdict.matched and "every one in the sample is empty" in verdict.reason
