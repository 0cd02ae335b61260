"""Regressions found in review: aliasing, sub-span fragmenting, search limits, odd calls."""

from __future__ import annotations

import json
import textwrap

from engine import ContextState, render
from engine.fold import Folder
from engine.messages import new_message
from engine.text import is_hard_wrapped
from engine.tools import ToolContext, registry
from sessions import SessionStore

from tests.conftest import state_with


def call(state, name, arguments):
    return registry.call(name, arguments, ToolContext.for_state(state))


def test_changing_what_render_returns_changes_nothing_stored():
    session = SessionStore(":memory:").create_session("t")
    session.add_message("user", [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {"url": "data:x"}}])
    session.add_message("assistant", None, tool_calls=[{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}])
    before = session.events()
    rendered = session.render()
    rendered[0]["content"][1]["image_url"]["url"] = "MUTATED"
    rendered[1]["tool_calls"][0]["function"]["arguments"] = "MUTATED"
    assert session.events() == before
    assert "MUTATED" not in json.dumps(session.render())


def test_fragmenting_a_sub_span_keeps_the_other_fragment_ids():
    text = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(10))
    state = state_with(("user", text))
    first = call(state, "fragment_context", {"start_marker": "Paragraph 0", "end_marker": "word \n\nParagraph 9", "num_fragments": 5})
    ids = [p["fragment_id"] for p in first.result["fragments"]]
    second = call(first.state, "fragment_context", {"start_marker": "Paragraph 5", "end_marker": "Paragraph 6", "num_fragments": 2})
    kept = [i for i in ids if second.state.has_fragment(i)]
    assert len(kept) >= 3  # only the fragments the span touches are cut again
    assert all(second.state.fragment(i).text == first.state.fragment(i).text for i in kept)
    split_off = {p["fragment_id"] for p in second.result.get("split_off", [])}
    new = {f.id for f in second.state.fragments()} - {f.id for f in first.state.fragments()}
    assert new == {p["fragment_id"] for p in second.result["fragments"]} | split_off
    assert "".join(f.text for f in second.state.messages[0].fragments) == text


def test_the_regex_time_limit_covers_the_whole_search(monkeypatch):
    import engine.search as search

    folder = Folder()
    for n in range(10):
        folder.add(new_message(folder.state, "user", f"message {n}"))
    clock = iter(range(0, 1000))  # every look at the clock: one more second has passed
    monkeypatch.setattr(search.time, "monotonic", lambda: next(clock))
    budgets = []

    class Recording:
        def __init__(self, pattern):
            self.pattern = pattern

        def finditer(self, text, timeout):
            budgets.append(timeout)
            return self.pattern.finditer(text, timeout=timeout)

    real_compile = search.compile_pattern
    monkeypatch.setattr(search, "compile_pattern", lambda query: Recording(real_compile(query)))
    monkeypatch.setattr(search, "REGEX_TIMEOUT_SECONDS", 4)
    outcome = call(folder.state, "search_context", {"query": "message", "mode": "regex"})
    # one budget for the whole search: each message gets what is left, then the search stops
    assert budgets == sorted(budgets, reverse=True) and len(budgets) < 10
    assert outcome.failed and "took over 4 s" in outcome.result["error"]


def test_a_greedy_regex_keeps_snippets_small():
    state = state_with(("user", "start " + "x" * 100_000 + " end"))
    outcome = call(state, "search_context", {"query": "start.*end", "mode": "regex", "context_size": 50})
    snippet = outcome.result["results"][0]["snippet"]
    assert len(snippet) < 200 and snippet.startswith("start") and snippet.endswith("end")
    detail = call(outcome.state, "get_search_detail", {"search_id": outcome.result["results"][0]["search_id"]})
    assert len(detail.result["text"]) < 1200 and detail.result["match_length"] == 100_010


def test_echoed_values_in_errors_are_bounded():
    state = state_with(("user", "hello"))
    for name, arguments in [("fold_fragment", {"fragment_id": "x" * 100_000}), ("x" * 100_000, {}),
                            ("get_search_detail", {"search_id": "s" * 100_000}),
                            ("fold_fragment", {"y" * 100_000: 1, "fragment_id": "f"})]:
        assert len(call(state, name, arguments).result["error"]) < 1_000


def test_deeply_nested_arguments_are_errors_not_crashes():
    nested = current = {}
    for _ in range(5000):
        current = current.setdefault("x", {})
    state = state_with(("user", "hello"))
    assert call(state, "fold_fragment", nested).failed
    assert "not valid JSON" in call(state, "fold_fragment", "[" * 5000).result["error"]
    assert "not valid JSON" in call(state, "fold_fragment", "1" * 5000).result["error"]  # past Python's digit limit


def test_a_models_malformed_or_repeated_calls_are_answered_not_refused():
    session = SessionStore(":memory:").create_session("t")
    session.add_message("user", "hi")
    results = session.run_model_tool_calls([
        {"id": "a", "function": {"name": "search_context", "arguments": '{"query": "hi"}'}},
        {"id": "a", "function": {}},
        "garbage",
    ])
    assert "results" in results[0] and "unknown tool" in results[1]["error"] and "error" in results[2]
    ids = [m.get("tool_call_id") for m in session.render() if m["role"] == "tool"]
    assert len(set(ids)) == 3
    assert session.render()[1]["tool_calls"][1]["id"] != "a"


def test_an_empty_tool_call_list_is_not_stored():
    state = ContextState()
    event = new_message(state, "assistant", "just text", tool_calls=[])
    assert event.tool_calls is None
    assert render(Folder().state) == []


def test_hard_wrapped_prose_with_some_glued_paragraphs_is_recognised():
    prose = " ".join(f"Sentence {n} talks about the harbour, the boats and the weather that day." for n in range(40))
    lines = textwrap.wrap(prose, 70)
    for n in range(3, len(lines) - 1, 6):  # paragraphs glued without a newline make a few long lines
        lines[n] = lines[n] + " " + lines[n + 1]
    assert is_hard_wrapped("\n".join(lines))
