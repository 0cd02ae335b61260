"""The tool doom loop (same call k times, A-B-A-B ping-pong) and DEER's confidence verdict:
where each must fire, where it must not, and odd input that must never raise."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from engine.brakes import (
    Evidence,
    Verdict,
    canonical_call,
    deer_confidence,
    detect_ping_pong,
    detect_repeated_calls,
    detect_tool_loop,
    tool_loop_message,
)


def tc(name, arguments="{}", call_id="call_1"):
    """One OpenAI-shaped tool call."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


READ_A = tc("read_file", '{"path": "a.txt"}')
READ_B = tc("read_file", '{"path": "b.txt"}')
SEARCH = tc("search_context", '{"query": "harbour"}')
FOLD = tc("fold_fragment", '{"fragment_id": "f1a2b3"}')


# --- repeated calls -----------------------------------------------------------------------


def test_the_same_call_three_times_fires_and_names_it():
    verdict = detect_tool_loop([READ_A, SEARCH, READ_A, READ_A])
    assert verdict.detector == "tool_loop" and verdict.fires and verdict.score == 1.0
    (evidence,) = verdict.evidence
    assert evidence.positions == (0, 2, 3)
    assert evidence.text == 'read_file({"path":"a.txt"})'
    assert "3 times" in evidence.note


def test_ids_differ_but_the_call_is_the_same():
    calls = [tc("read_file", '{"path": "a.txt"}', call_id=f"call_{i}") for i in range(3)]
    assert detect_repeated_calls(calls).fires


def test_arguments_equal_up_to_key_order_and_whitespace_are_the_same():
    calls = [
        tc("grep", '{"pattern": "x", "path": "src"}'),
        tc("grep", '{"path":"src","pattern":"x"}'),
        tc("grep", '  {\n  "path" : "src",\n\t"pattern": "x"\n}  '),
    ]
    verdict = detect_repeated_calls(calls)
    assert verdict.fires and verdict.evidence[0].positions == (0, 1, 2)
    assert canonical_call(calls[0]) == canonical_call(calls[2]) == ("grep", '{"path":"src","pattern":"x"}')


def test_the_same_tool_with_different_arguments_does_not_fire():
    calls = [tc("read_file", f'{{"path": "{name}.txt"}}') for name in "abcdef"]
    verdict = detect_tool_loop(calls)
    assert not verdict.fires and verdict.evidence[0].note == "no call repeated"


def test_different_tools_with_the_same_arguments_do_not_fire():
    calls = [tc(name, '{"id": 1}') for name in ("open", "close", "stat")]
    assert not detect_repeated_calls(calls).fires


def test_a_loop_of_two_is_below_k():
    verdict = detect_repeated_calls([READ_A, SEARCH, READ_A])
    assert not verdict.fires and verdict.score == pytest.approx(2 / 3)
    assert verdict.evidence[0].positions == (0, 2)


def test_k_is_a_setting():
    assert detect_repeated_calls([READ_A, READ_A], k=2).fires
    assert not detect_repeated_calls([READ_A] * 4, k=5).fires
    with pytest.raises(ValueError):
        detect_repeated_calls([READ_A], k=1)


def test_unparseable_arguments_are_compared_as_text():
    broken = tc("run", '{"cmd": "ls"')  # truncated JSON
    assert canonical_call(broken) == ("run", '{"cmd": "ls"')
    assert detect_repeated_calls([broken, broken, broken]).fires
    assert not detect_repeated_calls([broken, tc("run", '{"cmd": "ls -l"'), broken]).fires


def test_no_arguments_count_as_an_empty_object():
    calls = [tc("now", ""), tc("now", "{}"), {"function": {"name": "now"}}]
    assert detect_repeated_calls(calls).fires


def test_exempt_tools_may_repeat():
    poll = tc("job_status", '{"job": 7}')
    assert detect_tool_loop([poll] * 5).fires
    assert not detect_tool_loop([poll] * 5, exempt={"job_status"}).fires


# --- ping-pong ----------------------------------------------------------------------------


def test_a_b_a_b_fires_with_both_calls_in_the_evidence():
    verdict = detect_tool_loop([FOLD, READ_A, SEARCH, READ_A, SEARCH])
    assert verdict.fires and verdict.score == 1.0
    first, second = verdict.evidence
    assert (first.positions, first.text) == ((1, 3), 'read_file({"path":"a.txt"})')
    assert (second.positions, second.text) == ((2, 4), 'search_context({"query":"harbour"})')


def test_a_b_c_a_does_not_fire():
    verdict = detect_ping_pong([READ_A, SEARCH, FOLD, READ_A])
    assert not verdict.fires
    assert not detect_tool_loop([READ_A, SEARCH, FOLD, READ_A]).fires


def test_a_b_a_is_below_the_run_and_a_a_a_a_is_no_ping_pong():
    assert not detect_ping_pong([READ_A, SEARCH, READ_A]).fires
    assert detect_ping_pong([READ_A, SEARCH, READ_A]).score == pytest.approx(3 / 4)
    assert detect_ping_pong([READ_A, SEARCH]).score == 0.0
    assert not detect_ping_pong([READ_A] * 4).fires
    assert detect_repeated_calls([READ_A] * 4).fires  # ... it is the other loop


def test_the_same_tool_with_two_arguments_in_turn_is_ping_pong():
    assert detect_ping_pong([READ_A, READ_B, READ_A, READ_B]).fires


def test_a_repeat_inside_a_run_breaks_it():
    assert not detect_ping_pong([READ_A, SEARCH, SEARCH, READ_A]).fires
    assert detect_ping_pong([READ_A, READ_A, SEARCH, READ_A, SEARCH]).fires


def test_a_longer_alternation_scores_higher():
    verdict = detect_ping_pong([READ_A, SEARCH] * 3)
    assert verdict.fires and verdict.score == pytest.approx(6 / 4)


# --- the brake's message ------------------------------------------------------------------


def test_the_message_names_the_repeated_call_and_the_consequence():
    message = tool_loop_message(detect_tool_loop([READ_A, READ_A, READ_A]))
    assert 'read_file({"path":"a.txt"})' in message and "3 times" in message
    assert "tools will be withdrawn for the rest of this turn" in message


def test_the_ping_pong_message_names_both_calls():
    message = tool_loop_message(detect_tool_loop([READ_A, SEARCH, READ_A, SEARCH]))
    assert 'read_file({"path":"a.txt"})' in message
    assert 'search_context({"query":"harbour"})' in message and "alternated" in message


def test_a_long_call_is_cut_in_the_message():
    huge = tc("write_file", '{"text": "' + "x" * 5000 + '"}')
    verdict = detect_tool_loop([huge] * 3)
    assert len(verdict.evidence[0].text) <= 200 and verdict.evidence[0].text.endswith("…")
    assert len(tool_loop_message(verdict)) < 600


def test_there_is_no_message_for_a_verdict_that_does_not_fire():
    with pytest.raises(ValueError):
        tool_loop_message(detect_tool_loop([READ_A]))


# --- malformed calls never raise ----------------------------------------------------------

MALFORMED = [
    None,
    "read_file",
    42,
    {},
    {"id": "x"},
    {"function": None},
    {"function": "read_file"},
    {"function": {}},
    {"function": {"name": None, "arguments": "{}"}},
    {"function": {"name": "", "arguments": "{}"}},
    {"function": {"name": 7, "arguments": "{}"}},
    {"function": {"name": "f", "arguments": None}},
    {"function": {"name": "f", "arguments": 3}},
    {"function": {"name": "f", "arguments": {"b": 1, "a": [1, 2]}}},
    {"function": {"name": "f", "arguments": ["x"]}},
    {"function": {"name": "f", "arguments": {1: "int key", "a": "str key"}}},
    {"function": {"name": "f", "arguments": object()}},
    {"function": {"name": "f", "arguments": b'{"a": 1}'}},
    {"function": {"name": "f", "arguments": "[" * 100_000}},
    {"function": {"name": "f", "arguments": "NaN"}},
]


@pytest.mark.parametrize("call", MALFORMED, ids=range(len(MALFORMED)))
def test_a_malformed_call_never_raises(call):
    for calls in ([call], [call] * 4, [call, READ_A, call, READ_A]):
        for verdict in (detect_tool_loop(calls), detect_repeated_calls(calls), detect_ping_pong(calls)):
            assert isinstance(verdict, Verdict) and isinstance(verdict.score, float)


def test_calls_without_a_function_name_are_passed_over_but_keep_positions():
    calls = [None, READ_A, {"function": {}}, READ_A, "junk", READ_A]
    verdict = detect_tool_loop(calls)
    assert verdict.fires and verdict.evidence[0].positions == (1, 3, 5)
    assert not detect_tool_loop([None, None, None, {}, {}, {}]).fires


def test_non_string_arguments_are_compared_canonically():
    as_dict = {"function": {"name": "f", "arguments": {"b": 1, "a": 2}}}
    assert canonical_call(as_dict) == canonical_call(tc("f", '{"a": 2, "b": 1}'))


def test_no_calls_at_all():
    for calls in (None, [], (), "not a list", {"function": {"name": "f"}}):
        verdict = detect_tool_loop(calls)
        assert not verdict.fires and verdict.evidence == (Evidence(note="no tool calls"),)


def test_objects_shaped_like_litellm_tool_calls_work():
    call = SimpleNamespace(id="c", function=SimpleNamespace(name="read_file", arguments='{"path":"a.txt"}'))
    assert detect_tool_loop([call, READ_A, call]).fires


def test_verdicts_are_frozen():
    verdict = detect_tool_loop([READ_A] * 3)
    with pytest.raises(AttributeError):
        verdict.fires = False  # type: ignore[misc]
    hash(verdict)


# --- DEER confidence ----------------------------------------------------------------------


@pytest.mark.parametrize("logprobs", [None, [], (), {}, {"content": None}, {"content": []}, "abc"])
def test_without_log_probabilities_confidence_does_not_fire(logprobs):
    verdict = deer_confidence(logprobs)
    assert verdict == Verdict("confidence", 0.0, False, (Evidence(note="no log-probabilities"),))


def test_a_confident_trial_answer_fires_and_the_first_token_is_skipped():
    # The first token is unsure (DEER skips it); the rest are near certain.
    logprobs = [math.log(0.1), math.log(0.99), math.log(0.98), math.log(0.97)]
    verdict = deer_confidence(logprobs)
    assert verdict.fires and verdict.score == pytest.approx((0.99 + 0.98 + 0.97) / 3)
    assert verdict.evidence[0].positions == (1, 2, 3)


def test_an_unsure_trial_answer_does_not_fire():
    verdict = deer_confidence([0.0, math.log(0.99), math.log(0.6)])
    assert not verdict.fires and verdict.score == pytest.approx(0.795)


def test_the_threshold_is_strict():
    assert not deer_confidence([0.0, math.log(0.95)], threshold=0.95 + 1e-12).fires
    assert deer_confidence([0.0, math.log(0.96)]).fires
    assert not deer_confidence([0.0, math.log(0.96)], threshold=0.97).fires


def test_the_policies():
    logprobs = [0.0, math.log(0.99), math.log(0.9)]
    assert deer_confidence(logprobs, policy="avg1").score == pytest.approx(0.945)
    assert deer_confidence(logprobs, policy="avg2").score == pytest.approx(math.sqrt(0.99 * 0.9))
    assert deer_confidence(logprobs, policy="min").score == pytest.approx(0.9)
    with pytest.raises(ValueError):
        deer_confidence(logprobs, policy="max")


def test_openai_shaped_log_probabilities_and_the_trial_answer_text():
    content = [
        {"token": "{", "logprob": -2.0, "top_logprobs": []},
        {"token": "4", "logprob": -0.001},
        {"token": "2", "logprob": -0.002},
    ]
    verdict = deer_confidence({"content": content})
    assert verdict.fires and verdict.evidence[0].text == "{42"
    as_objects = SimpleNamespace(content=[SimpleNamespace(token=e["token"], logprob=e["logprob"]) for e in content])
    assert deer_confidence(as_objects).score == pytest.approx(verdict.score)
    assert deer_confidence(content, text="42").evidence[0].text == "42"


def test_a_single_token_is_too_few():
    verdict = deer_confidence([-0.001])
    assert not verdict.fires and "too few tokens" in verdict.evidence[0].note


@pytest.mark.parametrize(
    "logprobs",
    [[None, "x", float("nan"), True], [0.0, float("-inf"), -1e308], [0.0, 5.0], [{}, {"logprob": "0"}],
     [object(), SimpleNamespace()], iter([0.0, -0.01]), 3.5, object()],
)
def test_odd_log_probabilities_never_raise(logprobs):
    verdict = deer_confidence(logprobs)
    assert isinstance(verdict, Verdict) and 0.0 <= verdict.score <= 1.0
