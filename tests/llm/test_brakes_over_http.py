"""The brakes through a real OpenAI-compatible HTTP server the tests run: tool loops warned, then
their tools withdrawn; ping-pong; exempt tools and observe mode; reasoning streamed as SSE; DEER's
trial answers with and without log-probabilities."""

from __future__ import annotations

import json

import pytest

from sessions import SessionStore
from sessions.agent import run_turn

from tests.llm.test_brakes_in_the_loop import SETTLED, _events


# ---- tool loops, through a real OpenAI-compatible server -----------------------------------


def _loop_session(server_url: str, **brakes):
    session = SessionStore(":memory:").create_session("loop")
    session.add_message("user", "The deadline is Friday. The budget is 40,000.")
    session.configure(model="openai/loop-model", api_base=server_url, tools="sculptor", **({"brakes": brakes} if brakes else {}))
    return session


SEARCH = {"name": "search_context", "arguments": '{"query": "deadline"}'}
SEARCH_REORDERED = {"name": "search_context", "arguments": '{ "query":"deadline"}'}  # the same call as canonical JSON


def test_a_tool_loop_is_warned_then_loses_its_tools_for_the_turn(openai_server):
    openai_server.replies = [{"tool_calls": [SEARCH]}, {"tool_calls": [SEARCH_REORDERED]}, {"tool_calls": [SEARCH]},
                             {"tool_calls": [SEARCH]}, {"content": "The deadline is Friday."}]
    session = _loop_session(openai_server.url)
    result = run_turn(session, "When is the deadline?")
    assert result["reply"] == "The deadline is Friday."
    results = [call["result"] for call in result["tool_calls"]]
    assert "results" in results[0] and "results" in results[1]
    assert results[2]["error"].startswith("Loop detected: you have made the same tool call 3 times")
    assert 'search_context(' in results[2]["error"] and "deadline" in results[2]["error"]
    assert results[3]["error"].startswith("Tools are withdrawn")
    brakes = [e["payload"] for e in _events(session, "brake_applied")]
    assert [b["action"] for b in brakes] == ["warned", "tools_withdrawn"] and all(b["detector"] == "tool_loop" for b in brakes)
    messages = session.state().messages
    looped = [m for m in messages if m.role == "assistant" and m.tool_calls][2]
    assert brakes[0]["message_id"] == looped.id and brakes[0]["tool_calls"] == [looped.tool_calls[0]["id"]]
    searches = [e for e in _events(session, "context_searched")]
    assert len(searches) == 2  # the looped calls were answered by the brake, not run
    last = openai_server.requests[-1]
    assert last.get("tool_choice") == "none"  # the last call is offered no tool
    answered = [json.loads(m["content"]) for m in last["messages"] if m["role"] == "tool"]
    assert [("results" in a, a.get("error", "")[:14]) for a in answered] == [
        (True, ""), (True, ""), (False, "Loop detected:"), (False, "Tools are with")]


def test_ping_pong_between_two_calls_is_a_loop(openai_server):
    other = {"name": "search_context", "arguments": '{"query": "budget"}'}
    openai_server.replies = [{"tool_calls": [SEARCH]}, {"tool_calls": [other]}, {"tool_calls": [SEARCH]},
                             {"tool_calls": [other]}, {"content": "Friday, 40,000."}]
    session = _loop_session(openai_server.url)
    result = run_turn(session, "Deadline and budget?")
    assert result["tool_calls"][3]["result"]["error"].startswith("Loop detected: you have alternated")
    assert [e["payload"]["action"] for e in _events(session, "brake_applied")] == ["warned"]


def test_exempt_tools_and_observe_mode_let_the_calls_run(openai_server):
    openai_server.replies = [{"tool_calls": [SEARCH]}] * 3 + [{"content": "Friday."}]
    session = _loop_session(openai_server.url, exempt_tools=["search_context"])
    run_turn(session, "When?")
    assert not _events(session, "brake_applied") and len(_events(session, "context_searched")) == 3
    openai_server.replies = [{"tool_calls": [SEARCH]}] * 4 + [{"content": "Friday."}]
    session = _loop_session(openai_server.url, mode="observe")
    run_turn(session, "When?")
    assert [e["payload"]["action"] for e in _events(session, "brake_applied")] == ["observed", "observed"]
    assert len(_events(session, "context_searched")) == 4


def test_reasoning_streamed_by_a_real_server_is_braked(openai_server):
    openai_server.replies = [{"reasoning_content": SETTLED, "content": "42"}, {"content": "42."}]
    session = _loop_session(openai_server.url)
    result = run_turn(session, "What is 17 + 25?")
    assert result["braked"] == "settled" and result["reply"] == "42."
    assert openai_server.requests[1]["max_tokens"] == 512 and "TAIL-ONE" not in session.state().messages[-1].reasoning


WAITING = ("Compute 6 x 7.\n\n6 x 7 = 42.\n\nWait, is that right? Seven sixes: 6, 12, 18, 24, 30, 36, 42.\n\n"
           "TAIL Hmm, let me also try another way with tens.\n\nDone.")


def test_deer_confidence_forks_a_trial_answer_and_brakes_when_it_is_sure(openai_server):
    confident = [("4", -0.3), ("2", -0.001), ("}", -0.0001), (" and", -3.0)]  # cut at the brace; DEER skips the first
    openai_server.replies = [{"reasoning_content": WAITING, "content": "42"}, {"content": "42}", "logprobs": confident},
                             {"content": "42."}]
    session = _loop_session(openai_server.url, detectors=["confidence"])
    result = run_turn(session, "6 x 7?")
    assert result["braked"] == "confidence"
    trial = openai_server.requests[1]
    assert trial["logprobs"] is True and not trial.get("stream") and trial["max_tokens"] == 20
    assert trial["messages"][-1]["content"].endswith("6 x 7 = 42.\n**Final Answer**\n\\boxed")
    brake = _events(session, "brake_applied")[-1]["payload"]
    assert brake["score"] == pytest.approx(0.999, abs=1e-3) and brake["threshold"] == 0.95
    assert "TAIL" not in session.state().messages[-1].reasoning


def test_deer_confidence_is_skipped_cleanly_without_logprobs(openai_server):
    openai_server.replies = [{"reasoning_content": WAITING + "\n\nWait, once more.\n\nEnd.", "content": "42"},
                             {"content": "42}"}]
    session = _loop_session(openai_server.url, detectors=["confidence"])
    result = run_turn(session, "6 x 7?")
    assert "braked" not in result and result["reply"] == "42"
    assert len(openai_server.requests) == 2  # one trial; with no log-probabilities it stops asking
    assert not _events(session, "brake_applied")


def test_a_second_loop_after_the_warning_withdraws_the_tools(openai_server):
    b = {"name": "search_context", "arguments": '{"query": "budget"}'}
    c = {"name": "search_context", "arguments": '{"query": "Friday"}'}
    openai_server.replies = [{"tool_calls": [SEARCH]}] * 3 + [{"tool_calls": [b]}, {"tool_calls": [c]},
                                                              {"tool_calls": [b]}, {"tool_calls": [c]},
                                                              {"content": "Friday, 40,000."}]
    session = _loop_session(openai_server.url)
    result = run_turn(session, "Deadline and budget?")
    actions = [e["payload"]["action"] for e in _events(session, "brake_applied")]
    assert actions == ["warned", "tools_withdrawn"]
    assert result["tool_calls"][6]["result"]["error"].startswith("Tools are withdrawn")
    assert len(_events(session, "context_searched")) == 2 + 3  # two A's, then B, C, B ran; the last C did not
