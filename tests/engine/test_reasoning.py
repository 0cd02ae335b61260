"""An assistant's reasoning is its own part of the message: stored, counted, searchable by a
person, and sent back to a model only when the session says so."""

from __future__ import annotations

import pytest

from engine import ContextState, MessageError, apply, new_message, render, stats
from engine.settings import DEFAULT_SETTINGS, reasoning_note, sends_reasoning, window_stats
from engine.tokens import token_counter
from engine.tools import ToolContext, registry, tool_schemas

THOUGHT = "The user asks for the harbour's closing time. The log says six; I should answer six."


def _state():
    state = ContextState()
    for role, text, reasoning in (("user", "When does the harbour close?", None),
                                  ("assistant", "At six in the evening.", THOUGHT)):
        state = apply(state, new_message(state, role, text, reasoning=reasoning))
    return state


def call(state, name, arguments):
    return registry.call(name, arguments, ToolContext.for_state(state))


def test_reasoning_is_kept_apart_from_the_reply():
    message = _state().messages[1]
    assert message.text == "At six in the evening." and message.reasoning == THOUGHT
    assert [f.text for f in message.fragments] == ["At six in the evening."]  # reasoning is never fragmented


def test_only_assistants_reason():
    with pytest.raises(MessageError, match="only assistant messages carry reasoning"):
        new_message(ContextState(), "user", "x", reasoning="hmm")


def test_reasoning_is_counted_but_not_sent_by_default():
    state = _state()
    plain, sent = stats(state), stats(state, include_reasoning=True)
    tokens = token_counter().count(THOUGHT)
    assert plain["reasoning_tokens"] == sent["reasoning_tokens"] == tokens
    assert sent["rendered_tokens"] == plain["rendered_tokens"] + tokens
    assert sent["by_role"]["assistant"]["rendered_tokens"] == plain["by_role"]["assistant"]["rendered_tokens"] + tokens
    assert "reasoning_content" not in render(state)[1]
    assert render(state, include_reasoning=True)[1]["reasoning_content"] == THOUGHT


def test_the_session_setting_decides_and_the_note_says_which():
    state = _state()
    assert not sends_reasoning(DEFAULT_SETTINGS)
    assert "OpenAI-style chat convention" in reasoning_note(DEFAULT_SETTINGS)
    chosen = {**DEFAULT_SETTINGS, "send_reasoning": True}
    assert sends_reasoning(chosen) and "this session's setting" in reasoning_note(chosen)
    figures = window_stats(state, chosen, 8_192, "o200k_base")
    assert figures["reasoning_sent"] and figures["window_used_tokens"] == (
        figures["rendered_tokens"] + figures["tool_schema_tokens"])
    assert figures["tool_schema_tokens"] == window_stats(state, DEFAULT_SETTINGS, None, "o200k_base")["tool_schema_tokens"]
    assert figures["tool_schema_tokens"] == token_counter().count(__import__("json").dumps(tool_schemas("sculptor"), sort_keys=True))


def test_a_persons_search_can_include_reasoning_and_a_models_cannot_see_the_option():
    state = _state()
    assert call(state, "search_context", {"query": "log says six", "role": "all"}).result["total_matches"] == 0
    found = call(state, "search_context", {"query": "log says six", "role": "all", "include_reasoning": True})
    [hit] = found.result["results"]
    assert hit["part"] == "reasoning" and hit["message_id"] == "m2" and hit["fragment_id"] is None
    assert "log says six" in hit["snippet"]
    detail = call(found.state, "get_search_detail", {"search_id": hit["search_id"]})
    assert detail.result["part"] == "reasoning" and detail.result["match"] == "log says six"
    properties = registry.get("search_context").schema()["function"]["parameters"]["properties"]
    assert "include_reasoning" not in properties


@pytest.mark.parametrize("mode", ["exact", "regex", "ranked"])
def test_every_search_mode_reads_reasoning_when_asked(mode):
    state = _state()
    outcome = call(state, "search_context", {"query": "closing time", "role": "assistant", "mode": mode,
                                             "include_reasoning": True})
    assert outcome.result["total_matches"] >= 1
    assert {r.get("part") for r in outcome.result["results"]} == {"reasoning"}
    record = outcome.state.searches[outcome.result["results"][0]["search_id"]]
    assert record.part == "reasoning"
    matched = state.messages[1].part_text("reasoning")[record.start:record.end].lower()
    assert matched and matched in "closing time"


def test_a_model_cannot_send_the_option_it_is_never_shown():
    state = _state()
    context = ToolContext.for_state(state, from_model=True)
    outcome = registry.call("search_context", {"query": "log says six", "role": "all", "include_reasoning": True}, context)
    assert outcome.failed and "unexpected parameter 'include_reasoning'" in outcome.result["error"]
    assert "include_reasoning" not in outcome.result["error"].split("takes only:")[1]


def test_through_a_session_a_models_call_is_refused_and_a_persons_is_not():
    from sessions import SessionStore

    session = SessionStore(":memory:").create_session("hidden")
    session.add_message("user", "When?")
    session.add_message("assistant", "At six.", reasoning=THOUGHT)
    arguments = {"query": "log says six", "role": "all", "include_reasoning": True}
    [as_model] = session.run_model_tool_calls([{"id": "c1", "type": "function",
                                                "function": {"name": "search_context", "arguments": arguments}}])
    assert "unexpected parameter" in as_model["error"]
    assert session.call_tool("search_context", arguments)["total_matches"] == 1
