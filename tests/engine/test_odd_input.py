"""Odd Unicode, huge messages and empty conversations work end to end in the engine."""

from __future__ import annotations

import pytest

from engine import ContextState, render, stats
from engine.text import normalize_text
from engine.tools import ToolContext, registry

from tests.conftest import state_with

ODD = {
    "emoji": "Family: 👨‍👩‍👧‍👦 and flags 🇫🇷🇯🇵; thumbs 👍🏽. " * 20,
    "rtl": "مرحبا بالعالم. שלום עולם. Mixed ‏RTL‏ marks. " * 20,
    "combining": "e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353 " * 40,
    "lone_surrogates": "start \ud800 middle \udfff end \udbff\udc00 " * 20,
    "nul_and_controls": "a\x00b\x01c\x1b[31mred\x1b[0m\x7f\r\n\t" * 30,
    "special_tokens": "<|endoftext|> <|im_start|>user\n" * 20,
    "zero_width": "a\u200bb\u200cc\u200dd\ufeffe " * 40,
}


def call(state, name, arguments):
    return registry.call(name, arguments, ToolContext.for_state(state))


@pytest.mark.parametrize("kind", ODD)
def test_odd_unicode_flows_through_every_tool(kind):
    text = normalize_text(ODD[kind])  # a surrogate pair written as two code points becomes its character
    state = state_with(("user", ODD[kind]))
    assert render(state)[0]["content"] == text
    first, last = text[:4], text[-6:]
    outcome = call(state, "fragment_context", {"start_marker": first, "end_marker": last, "num_fragments": 5})
    assert not outcome.failed, outcome.result
    state = outcome.state
    assert render(state)[0]["content"] == text
    assert "".join(f.text for f in state.messages[0].fragments) == text
    ids = [p["fragment_id"] for p in outcome.result["fragments"]]
    for fragment_id in ids[:2]:
        state = call(state, "fold_fragment", {"fragment_id": fragment_id}).state
    summarized = call(state, "summarize_fragment", {"fragment_id": ids[-1], "focus": "everything"})
    assert not summarized.failed, summarized.result
    found = call(summarized.state, "search_context", {"query": text[8:12], "role": "all"})
    assert not found.failed
    assert stats(found.state)["total_tokens"] > 0
    assert render(found.state)[0]["content"] != text  # folded and summarized: the model sees markers
    # every fold and summary undone:
    restored = found.state
    for fragment_id in ids[:2] + ids[-1:]:
        restored = call(restored, "restore_fragment", {"fragment_id": fragment_id}).state
    assert render(restored)[0]["content"] == text


def test_a_surrogate_pair_given_as_two_code_points_is_stored_as_its_character():
    state = state_with(("user", "x\ud83d\ude00y"))
    assert state.messages[0].text == "x😀y" and len(state.messages[0].text) == 3
    lone = state_with(("user", "a\ud83d b \ude00"))  # halves apart stay as they are
    assert lone.messages[0].text == "a\ud83d b \ude00"


def test_fragment_cuts_do_not_split_surrogate_pairs_or_combining_marks():
    for unit in ("e\u0301", "😀", "\ud83d\ude00"):
        text = "x" + unit * 3000 + " END"
        state = state_with(("user", text))
        outcome = call(state, "fragment_context", {"start_marker": "x", "end_marker": "END", "num_fragments": 7})
        assert len(outcome.result["fragments"]) == 7
        for fragment in outcome.state.messages[0].fragments:
            assert not fragment.text.startswith(("\u0301", "\ude00")), (unit, fragment)


def test_a_ten_megabyte_message():
    line = "2026-11-25 12:00:00 INFO worker-7 processed batch {n} with 512 records in 37 ms\n"
    text = "".join(line.format(n=n) for n in range(125_000))
    assert len(text) > 10_000_000
    state = state_with(("user", "Here is the log:\n" + text + "END OF LOG"))
    outcome = call(state, "fragment_context", {"start_marker": "Here is", "end_marker": "END OF LOG", "num_fragments": 20})
    assert not outcome.failed and len(outcome.result["fragments"]) == 20
    tokens = [p["tokens"] for p in outcome.result["fragments"]]
    assert max(tokens) <= 1.1 * min(tokens)
    state = outcome.state
    for piece in outcome.result["fragments"][:19]:
        state = call(state, "fold_fragment", {"fragment_id": piece["fragment_id"]}).state
    numbers = stats(state)
    assert numbers["folded_tokens"] > 0.9 * numbers["total_tokens"]
    assert numbers["rendered_tokens"] < 0.1 * numbers["total_tokens"]
    found = call(state, "search_context", {"query": "batch 124999 "})
    assert found.result["total_matches"] == 1
    assert found.result["results"][0]["fragment_state"] == "visible"


def test_tools_on_an_empty_conversation_explain_themselves():
    state = ContextState()
    assert "no fragments yet" in call(state, "fold_fragment", {"fragment_id": "f12345"}).result["error"]
    assert call(state, "search_context", {"query": "x"}).result["total_matches"] == 0
    assert call(state, "fragment_context", {"start_marker": "a", "end_marker": "b"}).failed
    assert render(state) == [] and stats(state)["rendered_tokens"] == 0


def test_messages_with_empty_or_null_content_have_no_fragments():
    state = state_with(("user", ""), ("assistant", "fine"))
    assert state.messages[0].fragments == ()
    assert render(state)[0] == {"role": "user", "content": ""}


@pytest.mark.parametrize("part", [{"type": "image", "data": b"\x89PNG"}, {"type": "x", "value": float("nan")},
                                  {"type": "x", "value": float("inf")}])
def test_content_the_store_could_not_give_back_is_refused_at_the_door(part):
    from engine import MessageError, new_message

    with pytest.raises(MessageError, match="must be JSON data"):
        new_message(ContextState(), "user", [{"type": "text", "text": "look"}, part])


def test_a_message_nested_past_the_recursion_limit_is_refused_with_a_reason():
    from engine import MessageError, new_message

    deep = current = {}
    for _ in range(5_000):
        current = current.setdefault("x", {})
    with pytest.raises(MessageError, match="nested too deeply to store"):
        new_message(ContextState(), "user", [{"type": "text", "text": "look"}, deep])
    with pytest.raises(MessageError, match="is not text"):
        new_message(ContextState(), "user", [{"type": "x", 1: "numbered key"}])
