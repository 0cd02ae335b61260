"""search_context and get_search_detail over original text, in three modes."""

from __future__ import annotations

import json

import pytest

from engine import ContextState, apply, new_message
from engine.tools import ToolContext, registry

from tests.conftest import long_text, state_with


def call(state, name, arguments):
    return registry.call(name, arguments, ToolContext.for_state(state))


@pytest.fixture
def conversation():
    return state_with(
        ("user", "The launch code is ALPHA-7. Remember the launch window."),
        ("assistant", "Understood: launch code noted."),
        ("user", "Update: the LAUNCH code changed to BRAVO-9."),
    )


def test_exact_search_is_case_insensitive_and_most_recent_first(conversation):
    outcome = call(conversation, "search_context", {"query": "launch code"})
    results = outcome.result["results"]
    assert outcome.result["total_matches"] == 2  # role defaults to user
    assert [r["message_id"] for r in results] == ["m3", "m1"]
    assert "BRAVO-9" in results[0]["snippet"]
    assert all(r["search_id"].startswith("s") and len(r["search_id"]) == 6 for r in results)
    assert all(r["fragment_state"] == "visible" for r in results)


def test_role_all_and_max_results(conversation):
    outcome = call(conversation, "search_context", {"query": "launch", "role": "all", "max_results": 2})
    assert outcome.result["total_matches"] == 4
    assert [r["message_id"] for r in outcome.result["results"]] == ["m3", "m2"]
    assert "showing 2 of 4" in outcome.result["note"]


def test_search_finds_folded_text_and_says_so(conversation):
    fragment_id = conversation.messages[0].fragments[0].id
    folded = call(conversation, "fold_fragment", {"fragment_id": fragment_id}).state
    outcome = call(folded, "search_context", {"query": "ALPHA-7"})
    [hit] = outcome.result["results"]
    assert hit["fragment_id"] == fragment_id and hit["fragment_state"] == "folded"
    detail = call(outcome.state, "get_search_detail", {"search_id": hit["search_id"]})
    assert detail.result["match"] == "ALPHA-7" and detail.result["fragment_state"] == "folded"
    text = detail.result["text"]
    assert text[detail.result["match_start"] : detail.result["match_end"]] == "ALPHA-7"


def test_snippets_hold_context_size_characters_each_side():
    text = "x" * 1000 + "NEEDLE" + "y" * 1000
    outcome = call(state_with(("user", text)), "search_context", {"query": "needle", "context_size": 50})
    snippet = outcome.result["results"][0]["snippet"]
    assert snippet == "…" + "x" * 50 + "NEEDLE" + "y" * 50 + "…"
    detail = call(outcome.state, "get_search_detail", {"search_id": outcome.result["results"][0]["search_id"], "extended_context": 100})
    assert detail.result["text"] == "…" + "x" * 100 + "NEEDLE" + "y" * 100 + "…"


def test_search_ids_are_recorded_as_events_and_stay_valid(conversation):
    first = call(conversation, "search_context", {"query": "launch"})
    second = call(first.state, "search_context", {"query": "launch"})
    ids_first = {r["search_id"] for r in first.result["results"]}
    ids_second = {r["search_id"] for r in second.result["results"]}
    assert not ids_first & ids_second
    for search_id in ids_first | ids_second:
        assert not call(second.state, "get_search_detail", {"search_id": search_id}).failed
    assert second.events[0].kind == "context_searched" and second.events[0].query == "launch"


def test_no_match_is_a_result_not_an_error(conversation):
    outcome = call(conversation, "search_context", {"query": "zebra"})
    assert outcome.result["results"] == [] and outcome.result["total_matches"] == 0


def test_regex_mode(conversation):
    outcome = call(conversation, "search_context", {"query": r"[A-Z]+-\d", "mode": "regex"})
    assert [r["snippet"].count("-") >= 1 for r in outcome.result["results"]] == [True, True]
    assert outcome.result["total_matches"] == 2
    empty = call(conversation, "search_context", {"query": "^", "mode": "regex"})
    assert empty.result["total_matches"] == 0  # zero-width matches are not hits


def test_a_catastrophic_regex_is_stopped_with_an_error():
    state = state_with(("user", "a" * 40 + "!"))
    outcome = call(state, "search_context", {"query": "(a|aa)+$", "mode": "regex"})
    assert outcome.failed and "took over" in outcome.result["error"]


def test_ranked_mode_finds_relevant_fragments_without_exact_words():
    state = state_with(("user", long_text(30)))
    state = call(state, "fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 10}).state
    outcome = call(state, "search_context", {"query": "budgets for item 147", "mode": "ranked", "max_results": 3})
    best = outcome.result["results"][0]
    assert best["message_id"] == "m1" and "147" in best["snippet"]  # the fragment about item 147 ranks first
    assert outcome.result["order"] == "best match first"
    scores = [r["score"] for r in outcome.result["results"]]
    assert scores == sorted(scores, reverse=True)


def test_unicode_case_folding_that_changes_length_keeps_offsets_right():
    state = state_with(("user", "İstanbul then MARKER then more"))
    outcome = call(state, "search_context", {"query": "marker"})
    detail = call(outcome.state, "get_search_detail", {"search_id": outcome.result["results"][0]["search_id"]})
    assert detail.result["match"] == "MARKER"


def test_ranked_scores_match_a_reference_bm25():
    """Okapi BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N - df + 0.5) / (df + 0.5))), worked by hand
    on words that neither stemming nor stopwords touch: m1 1.1163, m3 0.6671, m2 0.5909."""
    state = state_with(("user", "apple apple kiwi plum"), ("user", "apple pear"), ("user", "kiwi kiwi kiwi mango lime fig"))
    outcome = call(state, "search_context", {"query": "apple kiwi", "mode": "ranked"})
    results = outcome.result["results"]
    assert [(r["message_id"], r["score"]) for r in results] == [("m1", 1.1163), ("m3", 0.6671), ("m2", 0.5909)]
    assert outcome.result["total_matches"] == 3 and outcome.result["order"] == "best match first"


def test_the_arguments_of_tool_calls_are_searched_and_a_hit_there_says_so():
    """A Letta agent's replies live in send_message arguments: they must be findable, in every mode."""
    state = ContextState()
    for role, text, calls in (
        ("user", "Write me a poem", None),
        ("assistant", "thinking about it", [{"id": "c1", "type": "function",
                                             "function": {"name": "send_message",
                                                          "arguments": '{"message": "Roses are ultramarine"}'}}]),
    ):
        state = apply(state, new_message(state, role, text, tool_calls=calls))
    for mode, query in (("exact", "ultramarine"), ("regex", "ultra\\w+"), ("ranked", "ultramarine")):
        found = registry.call("search_context", {"query": query, "role": "all", "mode": mode},
                              ToolContext.for_state(state))
        [hit] = found.result["results"]
        assert (hit["message_id"], hit["part"], hit["fragment_id"]) == ("m2", "tool_calls", None), mode
        assert "Roses are ultramarine" in hit["snippet"]
        detail = registry.call("get_search_detail", {"search_id": hit["search_id"]}, ToolContext.for_state(found.state))
        assert (detail.result["part"], detail.result["match"]) == ("tool_calls", query if mode != "regex" else "ultramarine")
        assert detail.result["text"] == "send_message(message=Roses are ultramarine)"


def test_a_search_does_not_find_the_workbench_call_that_asked_for_it():
    state = ContextState()
    state = apply(state, new_message(state, "user", "nothing here"))
    call = {"id": "c1", "type": "function",
            "function": {"name": "search_context", "arguments": '{"query": "needle"}'}}
    state = apply(state, new_message(state, "assistant", None, tool_calls=[call]))
    found = registry.call("search_context", {"query": "needle", "role": "all"}, ToolContext.for_state(state))
    assert found.result["total_matches"] == 0


def test_text_in_tool_call_arguments_is_searched_as_written_not_as_json_escapes():
    state = ContextState()
    arguments = json.dumps({"message": 'she said "soon"\nover café', "meta": {"tags": ["naïve"]}})
    call = {"id": "c1", "type": "function", "function": {"name": "send_message", "arguments": arguments}}
    state = apply(state, new_message(state, "assistant", None, tool_calls=[call]))
    for query in ('she said "soon"', "over café", "naïve"):
        found = registry.call("search_context", {"query": query, "role": "all"}, ToolContext.for_state(state))
        assert found.result["total_matches"] == 1, query
    assert state.messages[0].calls_text == 'send_message(message=she said "soon"\nover café, meta.tags.0=naïve)'


def test_ranked_search_points_at_a_chinese_word_inside_a_sentence():
    state = state_with(("user", "今天天气很好。" * 40 + "用户喜欢喝绿茶。" + "明天下雨。" * 40))
    outcome = call(state, "search_context", {"query": "绿茶", "mode": "ranked", "context_size": 50})
    (hit,) = outcome.result["results"]
    assert "绿茶" in hit["snippet"]
    detail = call(outcome.state, "get_search_detail", {"search_id": hit["search_id"]})
    assert detail.result["match"] == "绿茶"
