"""Bad input never raises and never corrupts: an error result, one tool_failed event, same state."""

from __future__ import annotations

import json

import pytest

from engine.events import ToolFailed
from engine.tools import ToolContext, registry
from engine.tools.registry import ToolResult

from tests.conftest import long_text, state_with


def _state():
    state = state_with(("user", long_text(6)), ("assistant", "Understood."))
    outcome = registry.call(
        "fragment_context",
        {"start_marker": "Paragraph 1.", "end_marker": "action 6.", "num_fragments": 3},
        ToolContext.for_state(state),
    )
    state = outcome.state
    folded = outcome.result["fragments"][0]["fragment_id"]
    return registry.call("fold_fragment", {"fragment_id": folded}, ToolContext.for_state(state)).state, folded


CASES = [
    ("fold", {"fragment_id": "f1"}, "unknown tool 'fold'. Did you mean 'fold_fragment'?"),
    ("fold_fragment", "{not json", "arguments are not valid JSON"),
    ("fold_fragment", "[1, 2]", "arguments must be a JSON object"),
    ("fold_fragment", {}, "missing required parameter 'fragment_id'"),
    ("fold_fragment", {"fragment_id": "f1", "force": True}, "unexpected parameter 'force'"),
    ("fold_fragment", {"fragment_id": 12345}, "parameter 'fragment_id'"),
    ("fold_fragment", {"fragment_id": "f000000"}, "known ids, newest first: f"),
    ("fold_fragment", {"fragment_id": "FOLDED"}, "is already folded"),
    ("restore_fragment", {"fragment_id": "VISIBLE"}, "is already visible"),
    ("fragment_context", {"start_marker": "x", "end_marker": "y", "num_fragments": 21}, "less than or equal to 20"),
    ("fragment_context", {"start_marker": "x", "end_marker": "y", "num_fragments": 0}, "greater than or equal to 1"),
    ("fragment_context", {"start_marker": "x", "end_marker": "y", "num_fragments": True}, "not true/false"),
    ("fragment_context", {"start_marker": "x", "end_marker": "y", "num_fragments": 2.5}, "fractional part"),
    ("fragment_context", {"start_marker": "nowhere to be found", "end_marker": "y"}, "start_marker 'nowhere to be found' was not found"),
    ("fragment_context", {"start_marker": "paragraph 5.", "end_marker": "action 6."}, "A case-insensitive match exists"),
    ("fragment_context", {"start_marker": "Paragraph 3.", "end_marker": "Paragraph 1."}, "end_marker 'Paragraph 1.' was not found"),
    ("fragment_context", {"start_marker": "", "end_marker": "y"}, "start_marker is empty"),
    ("fragment_context", {"start_marker": "Understood", "end_marker": "."}, 'try role="all"'),
    ("fragment_context", {"start_marker": "a", "end_marker": "b", "role": "robot"}, "parameter 'role'"),
    ("summarize_fragment", {"fragment_id": "VISIBLE", "focus": "  "}, "focus is empty"),
    ("summarize_fragment", {"fragment_id": "VISIBLE"}, "missing required parameter 'focus'"),
    ("search_context", {"query": ""}, "query is empty"),
    ("search_context", {"query": "x", "max_results": 51}, "less than or equal to 50"),
    ("search_context", {"query": "x", "context_size": 10}, "greater than or equal to 50"),
    ("search_context", {"query": "(unclosed", "mode": "regex"}, "not a valid regular expression"),
    ("search_context", {"query": "x", "mode": "fuzzy"}, "parameter 'mode'"),
    ("search_context", {"query": "the of and", "mode": "ranked"}, "no searchable words"),
    ("get_search_detail", {"search_id": "s12345"}, "no searches have been made yet"),
    ("get_search_detail", {"search_id": "s12345", "extended_context": 5000}, "less than or equal to 2000"),
]


@pytest.mark.parametrize(("name", "arguments", "expected"), CASES)
def test_bad_calls_give_an_error_result_and_a_tool_failed_event(name, arguments, expected):
    state, folded = _state()
    visible = next(f.id for f in state.fragments() if f.status == "visible")
    if isinstance(arguments, dict):
        arguments = {
            key: {"FOLDED": folded, "VISIBLE": visible}.get(value, value) if isinstance(value, str) else value
            for key, value in arguments.items()
        }
    outcome = registry.call(name, arguments, ToolContext.for_state(state))
    assert set(outcome.result) == {"error"}
    assert expected in outcome.result["error"]
    assert outcome.result["error"].startswith(f"{name}:")
    assert [type(e) for e in outcome.events] == [ToolFailed]
    assert outcome.events[0].error == outcome.result["error"]
    unchanged = state.copy()
    unchanged.event_count += 1
    assert outcome.state == unchanged


def test_arguments_may_be_a_json_string_or_missing():
    state, folded = _state()
    outcome = registry.call("restore_fragment", json.dumps({"fragment_id": folded}), ToolContext.for_state(state))
    assert outcome.result["previous_state"] == "folded"
    assert registry.call("fold_fragment", None, ToolContext.for_state(state)).failed


def test_numbers_as_digit_strings_are_accepted():
    state, _ = _state()
    outcome = registry.call("search_context", {"query": "committee", "max_results": "2"}, ToolContext.for_state(state))
    assert len(outcome.result["results"]) == 2


def test_a_bug_inside_a_tool_becomes_a_failure_not_a_crash():
    from engine.tools.registry import ToolRegistry

    def explode(ctx: ToolContext, fragment_id: str) -> ToolResult:
        """A tool with a bug in it, for this test.

        Args:
            fragment_id: any id, it fails regardless.
        """
        raise ZeroDivisionError("oops")

    state, _ = _state()
    outcome = ToolRegistry([explode]).call("explode", {"fragment_id": "x"}, ToolContext.for_state(state))
    assert "internal error ZeroDivisionError: oops" in outcome.result["error"]
    assert outcome.events[0].error_type == "ZeroDivisionError"


def test_huge_garbage_arguments_are_logged_bounded():
    state, _ = _state()
    garbage = "{" + "x" * 1_000_000
    outcome = registry.call("fold_fragment", garbage, ToolContext.for_state(state))
    assert outcome.failed and len(outcome.events[0].arguments) == 10_000
