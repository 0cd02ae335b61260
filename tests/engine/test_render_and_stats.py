"""render() is what the model sees; stats() is what it costs."""

from __future__ import annotations

from engine import ContextState, apply, new_message, render, stats
from engine.render import fold_marker
from engine.tokens import token_counter
from engine.tools import ToolContext, registry, tool_schemas

from tests.conftest import PROSE, long_text, state_with


def call(state, name, arguments):
    outcome = registry.call(name, arguments, ToolContext.for_state(state))
    assert not outcome.failed, outcome.result
    return outcome


def test_render_is_openai_format_with_optional_fields_only_when_set():
    state = ContextState()
    for event in [
        new_message(state, "system", "Be brief."),
    ]:
        state = apply(state, event)
    state = apply(state, new_message(state, "user", "Weather?", name="ada"))
    state = apply(state, new_message(state, "assistant", None, tool_calls=[{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]))
    state = apply(state, new_message(state, "tool", "sunny", tool_call_id="c1"))
    assert render(state) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?", "name": "ada"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "content": "sunny", "tool_call_id": "c1"},
    ]


def test_non_text_parts_are_kept_and_rendered_back():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    state = state_with()
    state = apply(state, new_message(state, "user", [{"type": "text", "text": "What is this?"}, image]))
    assert state.messages[0].text == "What is this?"
    assert render(state)[0]["content"] == [{"type": "text", "text": "What is this?"}, image]


def test_a_folded_fragment_renders_as_one_line_naming_id_and_tokens():
    state = state_with(("user", long_text(10)))
    outcome = call(state, "fragment_context", {"start_marker": "Paragraph 3.", "end_marker": "action 5.", "num_fragments": 1})
    piece = outcome.result["fragments"][0]
    folded = call(outcome.state, "fold_fragment", {"fragment_id": piece["fragment_id"]})
    assert folded.result["tokens_hidden"] == piece["tokens"]
    content = render(folded.state)[0]["content"]
    marker = fold_marker(piece["fragment_id"], piece["tokens"])
    assert marker in content and "\n" not in marker
    assert f"{piece['fragment_id']}" in marker and f"{piece['tokens']:,} tokens" in marker
    assert "Paragraph 3." not in content and "Paragraph 2." in content and "Paragraph 6." in content
    assert f"\n{marker}\n" in content  # on a line of its own
    restored = call(folded.state, "restore_fragment", {"fragment_id": piece["fragment_id"]})
    assert render(restored.state) == render(state)


def test_a_summarized_fragment_renders_its_summary_with_a_marker():
    state = state_with(("user", long_text(30)))
    outcome = call(state, "fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 3})
    fragment_id = outcome.result["fragments"][1]["fragment_id"]
    summarized = call(outcome.state, "summarize_fragment", {"fragment_id": fragment_id, "focus": "budget"})
    result = summarized.result
    assert result["tokens_after"] < result["tokens_before"] and result["summarizer"] == "extractive"
    content = render(summarized.state)[0]["content"]
    assert f"[summary of fragment {fragment_id}" in content and 'focus "budget"' in content
    assert result["summary"] in content
    assert summarized.state.fragment(fragment_id).summarizer == "extractive"
    assert render(call(summarized.state, "restore_fragment", {"fragment_id": fragment_id}).state) == render(state)


def test_stats_split_tokens_by_state_and_role():
    state = state_with(("system", "You are terse."), ("user", long_text(20)), ("assistant", PROSE))
    counter = token_counter()
    base = stats(state)
    assert base["total_tokens"] == sum(counter.count(m.text) for m in state.messages)
    assert base["visible_tokens"] == base["total_tokens"] and base["folded_tokens"] == 0
    assert base["rendered_tokens"] == base["total_tokens"] + base["overhead_tokens"]
    assert base["overhead_tokens"] == 3 * 3 + 3
    assert set(base["by_role"]) == {"system", "user", "assistant"}
    assert base["by_role"]["user"]["total_tokens"] == counter.count(long_text(20))

    outcome = call(state, "fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 4})
    ids = [p["fragment_id"] for p in outcome.result["fragments"]]
    state = call(outcome.state, "fold_fragment", {"fragment_id": ids[0]}).state
    state = call(state, "summarize_fragment", {"fragment_id": ids[1], "focus": "action"}).state
    after = stats(state)
    tokens = {p["fragment_id"]: p["tokens"] for p in outcome.result["fragments"]}
    assert after["folded_tokens"] == tokens[ids[0]]
    assert after["summarized_tokens"] == tokens[ids[1]]
    assert after["visible_tokens"] + after["folded_tokens"] + after["summarized_tokens"] == after["total_tokens"]
    assert after["rendered_tokens"] == after["visible_tokens"] + after["marker_tokens"] + after["tool_call_tokens"] + after["overhead_tokens"]
    assert after["rendered_tokens"] < base["rendered_tokens"]
    assert after["fragments_by_status"] == {"visible": after["fragments"] - 2, "folded": 1, "summarized": 1}
    assert sum(r["rendered_tokens"] for r in after["by_role"].values()) + 3 == after["rendered_tokens"]


def test_stats_count_tool_schemas_and_the_window():
    state = state_with(("user", "hello"))
    result = stats(state, tools=tool_schemas("sculptor"), window=8192)
    assert result["tool_schema_tokens"] > 300
    assert result["window_used_tokens"] == result["rendered_tokens"] + result["tool_schema_tokens"]
    assert result["window_free_tokens"] == 8192 - result["window_used_tokens"]


def test_an_empty_conversation_renders_and_counts_nothing():
    assert render(ContextState()) == []
    empty = stats(ContextState())
    assert empty["rendered_tokens"] == 0 and empty["total_tokens"] == 0 and empty["by_role"] == {}


def test_other_encodings_count_differently_but_consistently():
    state = state_with(("user", PROSE))
    assert stats(state, encoding="cl100k_base")["encoding"] == "cl100k_base"
    assert stats(state, encoding="cl100k_base")["total_tokens"] == token_counter("cl100k_base").count(PROSE)
