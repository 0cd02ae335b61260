"""Anthropic Messages JSON and recorded API calls (vcrpy cassettes): blocks, tools, thinking, errors."""

from __future__ import annotations

import json

import pytest
import yaml

from engine.errors import ImportFormatError
from sessions.formats import anthropic, anthropic_cassette, detect, sampling
from sessions.formats.source import open_sources

PLAIN = "anthropic-messages/llm-anthropic/test_fixed_version_tool_chain_regression.yaml"
THINKING = "anthropic-messages/llm-anthropic/test_fixed_version_tool_chain_with_thinking_display_regression.yaml"
TOOL = {"name": "get_weather", "description": "The weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}
IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}}


def detected(path) -> str:
    return detect(open_sources(path)[0]).name


def origin(session) -> dict:
    return session.events()[0]["payload"]


def request(**fields) -> dict:
    body = {
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "system": [{"type": "text", "text": "Be brief."}],
        "tools": [TOOL], "thinking": {"type": "enabled", "budget_tokens": 2000},
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}, IMAGE]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Two cities, two calls.", "signature": "sig-a"},
                {"type": "redacted_thinking", "data": "ENCRYPTED"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_p", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_r", "name": "get_weather", "input": {"city": "Rome"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_p", "content": [{"type": "text", "text": "18 C"}]},
                {"type": "tool_result", "tool_use_id": "toolu_r", "content": "unknown city", "is_error": True},
                {"type": "text", "text": "And London?"}]},
            {"role": "assistant", "content": [
                {"type": "server_tool_use", "id": "srv_1", "name": "web_search", "input": {"query": "London weather"}},
                {"type": "text", "text": "Rainy."}]},
        ],
    }
    body.update(fields)
    return body


# ---- Messages JSON ---------------------------------------------------------------------------------


def test_a_request_body_imports_its_system_tools_blocks_and_thinking(write, imported):
    report, (session,) = imported(write("request.json", request()))
    file = report.files[0]
    assert file.format == "anthropic"
    assert dict(file.messages_by_role) == {"system": 1, "user": 2, "assistant": 2, "tool": 2}
    assert (file.tool_calls, file.tool_results, file.reasoning_parts, file.attachments) == (2, 2, 1, 2)
    messages = session.state().messages
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "tool", "user", "assistant"]
    assert messages[0].content == "Be brief."
    image = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
    assert list(messages[1].attachments) == [image]
    thinker = messages[2]
    assert (thinker.content, thinker.reasoning) == ("Checking.", "Two cities, two calls.")  # redacted: no text
    assert thinker.extra["thinking_blocks"] == [
        {"type": "thinking", "thinking": "Two cities, two calls.", "signature": "sig-a"},
        {"type": "redacted_thinking", "data": "ENCRYPTED"}]
    assert [json.loads(c["function"]["arguments"]) for c in thinker.tool_calls] == [{"city": "Paris"}, {"city": "Rome"}]
    assert (messages[3].tool_call_id, messages[3].content) == ("toolu_p", "18 C")
    assert (messages[4].tool_call_id, messages[4].extra["is_error"]) == ("toolu_r", True)
    assert messages[5].content == "And London?"
    assert messages[6].attachments[0]["type"] == "anthropic_server_tool_use"  # unknown blocks kept whole
    assert messages[6].attachments[0]["block"]["input"] == {"query": "London weather"}
    payload = origin(session)
    assert payload["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "The weather in a city", "parameters": TOOL["input_schema"]}}]
    assert payload["model"] == "claude-sonnet-4-5" and payload["attributes"]["thinking"]["budget_tokens"] == 2000
    assert session.title == "Weather in Paris and Rome?"
    assert not [w for w in file.warnings if "thinking" in w]


def test_a_request_with_its_response_records_the_call(write, imported):
    response = {"id": "msg_9", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [{"type": "text", "text": "Sunny."}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 30, "output_tokens": 4, "cache_read_input_tokens": 10}}
    body = {"model": "claude-sonnet-4-5", "system": "Be brief.", "messages": [{"role": "user", "content": "Weather?"}]}
    report, (session,) = imported(write("pair.json", {"request": body, "response": response}))
    assert [m.role for m in session.state().messages] == ["system", "user", "assistant"]
    call = next(e["payload"] for e in session.events() if e["kind"] == "llm_called")
    assert call["usage"] == {"prompt_tokens": 40, "completion_tokens": 4, "cache_read_tokens": 10}  # 30 + 10 cached
    assert (call["model"], call["finish_reason"]) == ("claude-sonnet-4-5", "stop")
    _, (alone,) = imported(write("response.json", response))
    assert [(m.role, m.content) for m in alone.state().messages] == [("assistant", "Sunny.")]


def test_usage_counts_the_whole_prompt_as_litellm_does():
    usage = {"input_tokens": 5, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 20, "output_tokens": 7,
             "output_tokens_details": {"thinking_tokens": 3}, "service_tier": "standard"}
    assert anthropic.usage_of(usage) == {"prompt_tokens": 125, "completion_tokens": 7, "cache_read_tokens": 100,
                                         "cache_write_tokens": 20, "reasoning_tokens": 3}
    assert anthropic.usage_of({"output_tokens": 2, "input_tokens": True}) == {"completion_tokens": 2}
    assert anthropic.usage_of({"cache_read_input_tokens": 9}) == {"prompt_tokens": 9, "cache_read_tokens": 9}


def test_blocks_first_seen_in_the_25th_message_still_mark_the_list_as_anthropic(write):
    plain = [{"role": ("user", "assistant")[i % 2], "content": f"message {i}"} for i in range(24)]
    late = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "done"}]}
    assert detected(write("late.json", plain + [late, {"role": "assistant", "content": "ok"}])) == "anthropic"


def test_the_sniff_reads_every_message_of_its_sample():
    plain = [{"role": ("user", "assistant")[i % 2], "content": f"message {i}"} for i in range(1999)]
    late = {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"}]}
    text = json.dumps(plain + [late])
    assert anthropic.sniff(sampling.Sample("array", text, plain + [late], True)).matched
    assert not anthropic.sniff(sampling.Sample("array", text, plain, True)).matched


def test_an_empty_request_is_refused(write, store):
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(write("empty.json", {"model": "claude-x", "system": [], "messages": []}))
    assert "/: no messages: the system prompt and the message list are empty" in str(caught.value)
    assert store.list_sessions() == []


def test_a_bare_message_list_with_anthropic_blocks_is_taken_and_a_plain_one_is_not(write):
    blocks = [{"role": "user", "content": "hi"},
              {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]
    assert detected(write("blocks.json", blocks)) == "anthropic"
    plain = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert detected(write("plain.json", plain)) == "openai"
    openai_request = {"model": "gpt-4o",
                      "messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "y"}],
                      "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}
    assert detected(write("openai.json", openai_request)) == "openai"
    assert detected(write("request.json", request())) == "anthropic"


def test_a_bad_message_is_named_and_nothing_is_stored(write, store):
    body = request(messages=[{"role": "user", "content": "hi"}, {"role": "assistant", "content": 42}])
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(write("bad.json", body))
    assert "/messages/1: content must be text or a list of content blocks, not int" in str(caught.value)
    assert store.list_sessions() == []


def test_a_bare_list_names_its_bad_message_by_index(write, store):
    messages = [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x"}]},
                {"role": "robot", "content": "beep"}]
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(write("list.json", messages), format_name="anthropic")
    assert "/1: role 'robot' is not user or assistant" in str(caught.value)
    assert store.list_sessions() == []


def test_a_near_miss_response_says_what_is_missing(write, store):
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(write("odd.json", {"type": "message", "content": "no role"}))
    assert 'Anthropic Messages JSON (anthropic): "type": "message" but no assistant "role"' in str(caught.value)


def test_a_cassette_is_not_taken_as_messages_json(sample):
    verdict = anthropic.sniff(open_sources(sample(PLAIN))[0].sample)
    assert not verdict.matched, verdict.reason


# ---- cassettes ---------------------------------------------------------------------------------------


def test_the_recorded_tool_chain_imports_the_last_call_and_its_streamed_reply(sample, imported):
    report, (session,) = imported(sample(PLAIN))
    file = report.files[0]
    assert file.format == "anthropic-cassette"
    assert dict(file.messages_by_role) == {"user": 1, "assistant": 2, "tool": 1}
    assert (file.tool_calls, file.tool_results, file.model_calls) == (1, 1, 2)
    user, call, result, final = session.state().messages
    assert user.content.startswith("Use the fixed_version tool.")
    assert call.tool_calls[0]["function"]["name"] == "fixed_version"
    assert call.tool_calls[0]["id"] == "toolu_01UmKD1vMphVCN9vw8PEMk1q"
    assert (result.tool_call_id, result.content) == ("toolu_01UmKD1vMphVCN9vw8PEMk1q", "0.32a0")
    assert final.content.startswith("The version is **0.32a0**.") and final.content.endswith("useful! 😄")
    usages = [e["payload"]["usage"] for e in session.events() if e["kind"] == "llm_called"]
    assert usages[0]["completion_tokens"] == 37 and usages[1] == {"prompt_tokens": 617, "completion_tokens": 41,
                                                                  "cache_read_tokens": 0, "cache_write_tokens": 0}
    payload = origin(session)
    assert payload["model"] == "claude-haiku-4-5-20251001"
    assert payload["tools"][0]["function"]["name"] == "fixed_version"
    assert payload["started_at"].startswith("2026-05-28T22:15:59")


def test_the_thinking_cassette_keeps_the_signed_block_as_reasoning(sample, imported):
    report, (session,) = imported(sample(THINKING))
    assert report.files[0].reasoning_parts == 1
    thinker = session.state().messages[1]
    assert thinker.reasoning.startswith("The user wants me to:")
    (block,) = thinker.extra["thinking_blocks"]
    assert block["signature"].startswith("EoQDCm0IDhgCKkCD") and block["thinking"] == thinker.reasoning
    usage = next(e["payload"]["usage"] for e in session.events() if e["kind"] == "llm_called")
    assert usage["reasoning_tokens"] == 53
    assert session.state().messages[-1].content.startswith("The version is **0.32a0**.")


def sse(*events: dict) -> str:
    return "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events)


def interaction(body: dict, response: str, code: int = 200, uri: str = "https://api.anthropic.com/v1/messages") -> dict:
    return {"request": {"body": json.dumps(body), "headers": {}, "method": "POST", "uri": uri},
            "response": {"body": {"string": response}, "headers": {"Date": ["Mon, 01 Sep 2025 10:00:00 GMT"]},
                         "status": {"code": code, "message": "OK"}}}


def cassette(*interactions: dict) -> str:
    return yaml.safe_dump({"interactions": list(interactions), "version": 1}, allow_unicode=True)


def streamed_reply() -> str:
    return sse(
        {"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
                                              "model": "claude-x", "content": [],
                                              "usage": {"input_tokens": 50, "output_tokens": 1,
                                                        "cache_read_input_tokens": 30}}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Look it "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "up."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig-z"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "ping"},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Let me "}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "check."}},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "tool_use", "id": "toolu_w",
                                                                      "name": "get_weather", "input": {}}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}},
        {"type": "content_block_delta", "index": 2,
         "delta": {"type": "input_json_delta", "partial_json": 'ty": "Oslo"}'}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 33}},
        {"type": "message_stop"})


def test_a_written_cassette_rebuilds_the_streamed_reply(write, imported):
    first = {"model": "claude-x", "max_tokens": 100, "system": "Be brief.", "tools": [TOOL],
             "messages": [{"role": "user", "content": "Weather in Oslo?"}], "stream": True}
    other = interaction({"q": 1}, "{}", uri="https://example.com/v1/other")
    report, (session,) = imported(write("weather.yaml", cassette(other, interaction(first, streamed_reply()))))
    messages = session.state().messages
    assert [m.role for m in messages] == ["system", "user", "assistant"]
    reply = messages[2]
    assert (reply.content, reply.reasoning) == ("Let me check.", "Look it up.")
    assert reply.extra["thinking_blocks"] == [{"type": "thinking", "thinking": "Look it up.", "signature": "sig-z"}]
    assert json.loads(reply.tool_calls[0]["function"]["arguments"]) == {"city": "Oslo"}
    call = next(e["payload"] for e in session.events() if e["kind"] == "llm_called")
    assert call["usage"] == {"prompt_tokens": 80, "completion_tokens": 33, "cache_read_tokens": 30}
    assert call["finish_reason"] == "tool_calls"
    assert any("not /v1/messages; left out" in w for w in report.files[0].warnings)
    assert report.files[0].tool_results == 0 and any("has no result" in w for w in report.files[0].warnings)


def test_a_failed_last_call_keeps_the_conversation_and_says_so(write, imported):
    body = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    error = json.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    report, (session,) = imported(write("failed.yaml", cassette(interaction(body, error, code=529))))
    assert [m.role for m in session.state().messages] == ["user"]
    assert any("the call failed (HTTP 529)" in w and "Overloaded" in w for w in report.files[0].warnings)


def test_a_non_streamed_json_response_is_read_too(write, imported):
    body = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    response = json.dumps({"id": "m", "type": "message", "role": "assistant", "model": "claude-x",
                           "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
                           "usage": {"input_tokens": 3, "output_tokens": 1}})
    _, (session,) = imported(write("plain.yaml", cassette(interaction(body, response))))
    assert [(m.role, m.content) for m in session.state().messages] == [("user", "hi"), ("assistant", "hello")]


def test_a_cassette_with_a_bad_body_is_refused_naming_it(write, store):
    bad = interaction({"model": "x"}, "")
    bad["request"]["body"] = "{not json"
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(write("bad.yaml", cassette(bad)))
    assert "interaction [0] request body: not a Messages request" in str(caught.value)
    assert store.list_sessions() == []


def test_a_cassette_with_aliases_is_refused_at_the_first_alias(write, store):
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]" for before, name in zip("abcdefgh", "bcdefghi")]
    body = json.dumps({"model": "x", "messages": [{"role": "user", "content": "hi"}]})
    text = "\n".join(levels) + f"\ninteractions:\n- request:\n    uri: https://{anthropic_cassette.HOST}" \
        f"/v1/messages\n    body: '{body}'\n    x: *i\n  response:\n    body: {{string: ''}}\nversion: 1\n"
    path = write("bomb.yaml", text)  # 9 ** 9 strings once expanded
    assert detected(path) == "anthropic-cassette"
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    assert "bomb.yaml: line 2, column 8: YAML aliases are not read (*a)" in str(caught.value)
    assert store.list_sessions() == []


def test_yaml_nested_too_deep_is_refused_naming_the_line(write, store):
    path = write("deep.yaml", "interactions:\n- request: {uri: https://api.anthropic.com/v1/messages}\n"
                 + "  x: " + "[" * 300 + "]" * 300 + "\n")
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    assert "deep.yaml: line 3, column" in str(caught.value) and "nested deeper than 200 levels" in str(caught.value)


def test_a_cassette_without_messages_is_refused(write, store):
    empty = interaction({"model": "claude-x", "messages": []}, "")
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(write("empty.yaml", cassette(empty)))
    assert "interaction [0]: the cassette holds no messages" in str(caught.value)
    assert store.list_sessions() == []


def test_a_response_nested_too_deep_is_named(write, store):
    body = {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    deep: list = []
    for _ in range(250):
        deep = [deep]
    response = json.dumps({"type": "message", "role": "assistant", "model": "claude-x",
                           "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {"x": deep}}]})
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(write("deep.yaml", cassette(interaction(body, response))))
    assert "interaction [0] response: at /content/0/input/x/" in str(caught.value)
    assert "nested deeper than 200 levels" in str(caught.value)


def test_a_cassette_of_another_api_is_a_near_miss(write, store):
    path = write("other.yaml", cassette(interaction({"q": 1}, "{}", uri="https://api.example.com/v1/chat")))
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    assert "(anthropic-cassette): a vcrpy cassette, but no request in it goes to api.anthropic.com" in str(caught.value)


def test_the_real_cassettes_are_detected(sample):
    assert detected(sample(PLAIN)) == detected(sample(THINKING)) == "anthropic-cassette"


