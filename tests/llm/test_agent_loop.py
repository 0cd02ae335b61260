"""The agent loop with a scripted model registered with litellm like any provider."""

from __future__ import annotations

import json

import litellm
import pytest

from engine import WorkbenchError, scripted_model
from engine.llm import Backend, LLMError, complete
from engine.tools import tool_schemas
from sessions import SessionStore
from engine.streaming import StopSignal, TextDelta
from sessions.agent import retry_turn, run_turn

from tests.conftest import long_text


def test_a_turn_runs_tools_through_the_registry_and_answers(session, model):
    scripted_model.enqueue(
        model,
        {"content": "Searching.", "tool_calls": [{"name": "search_context", "arguments": {"query": "code word"}}]},
        "The code word is PELICAN.",
    )
    result = run_turn(session, "What is the code word?")
    assert result["reply"] == "The code word is PELICAN."
    assert [c["name"] for c in result["tool_calls"]] == ["search_context"]
    assert result["tool_calls"][0]["result"]["total_matches"] == 2  # the question itself matches too
    assert result["usage"]["prompt_tokens"] > 0 and result["steps"] == 2
    rendered = session.render()
    assert [m["role"] for m in rendered][2:] == ["user", "assistant", "tool", "assistant"]
    hits = json.loads(rendered[4]["content"])["results"]  # the search result is at the end of the context
    assert "What is the code word?" in hits[0]["snippet"] and "PELICAN" in hits[1]["snippet"]
    kinds = [e["kind"] for e in session.events()]
    assert kinds[-7:] == ["message_added", "llm_called", "message_added", "context_searched", "message_added",
                          "llm_called", "message_added"]
    called = [e["payload"] for e in session.events() if e["kind"] == "llm_called"]
    assert called[0]["finish_reason"] == "tool_calls" and called[0]["tool_calls"] == 1 and called[1]["step"] == 2
    assert {"prompt_tokens", "completion_tokens", "reasoning_tokens"} <= set(called[0]["usage"])
    sent = scripted_model.requests(model)
    assert [t["function"]["name"] for t in sent[0]["tools"]] == [t["function"]["name"] for t in tool_schemas("sculptor")]
    assert sent[1]["messages"][-1]["role"] == "tool"  # the model saw its tool's result


def test_bad_tool_calls_get_error_results_and_the_loop_goes_on(session, model):
    scripted_model.enqueue(
        model,
        {"tool_calls": [{"name": "fold_everything", "arguments": "{}"}, {"name": "fold_fragment", "arguments": "{broken"}]},
        "Sorry, done.",
    )
    result = run_turn(session, "Tidy up.")
    assert result["reply"] == "Sorry, done."
    errors = [c["result"]["error"] for c in result["tool_calls"]]
    assert "unknown tool 'fold_everything'" in errors[0] and "not valid JSON" in errors[1]
    assert [e["kind"] for e in session.events()].count("tool_failed") == 2


def test_the_tool_budget_ends_tool_use_and_asks_for_an_answer(session, model):
    call = {"name": "search_context", "arguments": {"query": "committee"}}
    scripted_model.enqueue(model, {"tool_calls": [call, call]}, {"tool_calls": [call, call]}, "Final answer.")
    result = run_turn(session, "Search a lot.", max_tool_calls=3)
    assert len(result["tool_calls"]) == 3 and result["reply"] == "Final answer."
    last = scripted_model.requests(model)[-1]
    assert last["tools"] and last["tool_choice"] == "none"  # schemas still sent (history has calls), none allowed


def test_tool_profiles_and_tool_choice(session, model):
    scripted_model.enqueue(model, "plain", "plain again", {"tool_calls": [{"name": "search_context", "arguments": {"query": "x"}}]}, "ok")
    run_turn(session, "hi", tools="none")
    assert scripted_model.requests(model)[-1]["tools"] is None
    run_turn(session, "hi", tool_choice="none")
    assert scripted_model.requests(model)[-1]["tools"] is None
    run_turn(session, "hi", tool_choice="required")
    first, second = scripted_model.requests(model)[-2:]
    assert first["tool_choice"] == "required" and second["tool_choice"] == "auto"  # required on the first step only
    with pytest.raises(WorkbenchError, match="unknown tool profile"):
        run_turn(session, "hi", tools="everything")


def test_a_failing_backend_keeps_the_message_and_can_be_retried(session, model):
    scripted_model.enqueue(model, litellm.RateLimitError("slow down", "scripted", model))
    result = run_turn(session, "Are you there?")
    assert result["reply"] is None and result["error_kind"] == "rate_limit" and "retry" in result["error"]
    assert session.render()[-1] == {"role": "user", "content": "Are you there?"}
    failed = session.events()[-1]
    assert failed["kind"] == "llm_failed" and failed["payload"]["error_kind"] == "rate_limit"
    scripted_model.enqueue(model, "Yes.")
    assert retry_turn(session)["reply"] == "Yes."
    assert [m["content"] for m in session.render()[-2:]] == ["Are you there?", "Yes."]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (litellm.AuthenticationError("bad key", "openai", "m"), "auth"),
        (litellm.ContextWindowExceededError("too long", "m", "openai"), "context_overflow"),
        (litellm.APIConnectionError("refused", "openai", "m"), "unreachable"),
        (litellm.BadRequestError("tools are not supported", "m", "openai"), "no_tool_support"),
        (litellm.NotFoundError("no such model", "openai", "m"), "unknown_model"),
    ],
)
def test_backend_failures_are_sorted_into_clear_kinds(model, error, kind):
    scripted_model.enqueue(model, error)
    with pytest.raises(LLMError) as caught:
        complete(Backend(model=model), [{"role": "user", "content": "x"}], tools=tool_schemas("sculptor"))
    assert caught.value.kind == kind and model in caught.value.message


def test_unknown_models_and_missing_keys_are_explained(monkeypatch):
    for key in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(LLMError) as unknown:
        complete(Backend(model="no-such-model-anywhere"), [{"role": "user", "content": "x"}])
    assert unknown.value.kind == "unknown_model" and "prefix its provider" in unknown.value.message
    with pytest.raises(LLMError) as missing:
        complete(Backend(model="gpt-4o"), [{"role": "user", "content": "x"}])
    assert missing.value.kind == "auth" and "OPENAI_API_KEY" in missing.value.message


def test_streaming_delivers_tokens_and_can_be_stopped(session, model):
    scripted_model.enqueue(model, "one two three four five six seven eight nine ten eleven twelve")
    tokens: list[str] = []
    result = run_turn(session, "Count.", observer=lambda d: tokens.append(d.text) if isinstance(d, TextDelta) else None)
    assert "".join(tokens) == result["reply"] and len(tokens) > 1
    stop = StopSignal()
    scripted_model.enqueue(model, "a long answer that will be cut off before it is finished, surely")

    def stop_after_first(delta) -> None:
        stop.set("the test had heard enough")

    result = run_turn(session, "Talk.", observer=stop_after_first, stop=stop)
    assert result["stopped"] and 0 < len(result["reply"]) < 20
    called, kept = session.events()[-2:]
    assert called["kind"] == "llm_called" and called["payload"]["finish_reason"] == "stopped"
    assert called["payload"]["stop_reason"] == "the test had heard enough" and called["payload"]["latency_ms"] > 0
    assert called["payload"]["usage"]["completion_tokens"] > 0 and called["payload"]["usage"]["prompt_tokens"] > 0
    assert kept["payload"]["stopped"] is True and kept["payload"]["content"] == result["reply"]
    assert session.state().messages[-1].stopped


def test_model_summaries_when_a_backend_is_set(session, model):
    fragment_id = session.state().messages[1].fragments[0].id
    scripted_model.enqueue(model, "Code word PELICAN; committee notes on budget lines.")
    result = session.call_tool("summarize_fragment", {"fragment_id": fragment_id, "focus": "code words"})
    assert result["summary"] == "Code word PELICAN; committee notes on budget lines." and result["summarizer"] == model
    assert session.events()[-1]["payload"]["summarizer"] == model
    sent = scripted_model.requests(model)[-1]["messages"]
    assert "Focus: code words" in sent[-1]["content"] and "PELICAN" in sent[-1]["content"]
    unset = SessionStore(":memory:").create_session("no backend")
    unset.add_message("user", long_text(10))
    other = unset.state().messages[0].fragments[0].id
    assert unset.call_tool("summarize_fragment", {"fragment_id": other, "focus": "budget"})["summarizer"] == "extractive"


def test_a_failed_model_summary_is_an_error_result(session, model):
    fragment_id = session.state().messages[1].fragments[0].id
    scripted_model.enqueue(model, litellm.APIConnectionError("down", "openai", model))
    result = session.call_tool("summarize_fragment", {"fragment_id": fragment_id, "focus": "x"})
    assert "could not write the summary" in result["error"] and session.events()[-1]["kind"] == "tool_failed"


def test_api_keys_never_reach_the_store_or_an_export(session, model, monkeypatch, tmp_path):
    planted = "sk-planted-secret-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", planted)
    session.configure(model=model, api_base="http://127.0.0.1:1/v1")
    scripted_model.enqueue(model, "fine")
    run_turn(session, "hello")
    exported = session.export(tmp_path / "trace.jsonl").read_text()
    assert planted not in exported and "sk-planted" not in json.dumps(session.events())


def test_settings_are_events_and_replay_with_the_session(session, model):
    settings = session.configure(tools="none", tool_choice="none", max_tool_calls=5, temperature=0.7)
    assert settings["backend"]["model"] == model and settings["tools"] == "none"
    assert session.events()[-1]["kind"] == "session_configured"
    fork = session.fork()
    assert fork.settings == session.settings
    with pytest.raises(WorkbenchError, match="unknown settings"):
        session.configure(colour="blue")
    with pytest.raises(WorkbenchError, match="max_tool_calls"):
        session.configure(max_tool_calls=-1)


def test_a_context_policy_folds_old_tool_results_with_reasons_and_can_be_undone(model):
    session = SessionStore(":memory:").create_session("policy")
    session.add_message("system", "You are terse.")
    session.add_message("user", "Here is a big dump:\n" + long_text(30))
    for n in range(4):
        session.add_message("assistant", None, tool_calls=[{"id": f"read{n}", "function": {"name": "read_file", "arguments": "{}"}}])
        session.add_message("tool", f"file {n}\n" + long_text(20), tool_call_id=f"read{n}")
    system_before = session.render()[0]
    session.configure(model=model, policy={"threshold": 3000, "keep_tool_results": 2})
    scripted_model.enqueue(model, "Done.")
    before = session.stats()["rendered_tokens"]
    run_turn(session, "Summarize what you saw.")
    applied = [e for e in session.events() if e["kind"] == "policy_applied"]
    assert applied and all(a["reason"].startswith("context at") for a in applied[0]["payload"]["actions"])
    folded = [a["arguments"]["fragment_id"] for a in applied[0]["payload"]["actions"]]
    tool_messages = [m for m in session.state().messages if m.role == "tool"]
    for message in tool_messages[-2:]:
        assert all(f.status == "visible" for f in message.fragments)  # the newest two stay
    assert session.render()[0] == system_before  # system instructions are never touched
    assert session.stats()["rendered_tokens"] < before
    sent = scripted_model.requests(model)[-1]["messages"]
    assert any("[folded fragment" in (m.get("content") or "") for m in sent)  # the model saw the folded context
    session.call_tool("restore_fragment", {"fragment_id": folded[0]})
    assert session.state().fragment(folded[0]).status == "visible"


def test_a_policy_can_also_summarize_old_turns(model):
    session = SessionStore(":memory:").create_session("policy summaries")
    session.add_message("user", "Old request:\n" + long_text(40))
    session.add_message("assistant", "Old answer:\n" + long_text(30))
    session.configure(policy={"threshold": 1500, "keep_tool_results": 1, "summarize_turns": True})
    actions = session.apply_policy()
    assert [a["tool"] for a in actions][:1] == ["summarize_fragment"]
    assert any(f.status == "summarized" for f in session.state().fragments())
    with pytest.raises(WorkbenchError, match="threshold"):
        session.configure(policy={"threshold": 5})
    for bad in ({"threshold": 500, "keep_tool_results": "2"}, {"threshold": 500, "keep_tool_results": 1.5},
                {"threshold": 500, "keep_tool_results": 0}, {"threshold": 500, "summarize_turns": "yes"},
                {"threshold": 500, "colour": "red"}):
        with pytest.raises(WorkbenchError, match="policy"):
            session.configure(policy=bad)



def test_a_key_echoed_by_a_backend_is_redacted_from_the_log_and_exports(model, monkeypatch, tmp_path):
    planted = "sk-PLANTED-0123456789abcdefghij"
    monkeypatch.setenv("SOME_PROVIDER_API_KEY", "PLANTEDSECRETVALUE42")
    session = SessionStore(":memory:").create_session("echo")
    session.configure(model=model)
    scripted_model.enqueue(model, litellm.AuthenticationError(
        f"Invalid key: Bearer {planted} and PLANTEDSECRETVALUE42", "openai", model))
    result = run_turn(session, "hello")
    assert result["error_kind"] == "auth"
    exported = session.export(tmp_path / "t.jsonl").read_text()
    assert "PLANTED" not in exported and "[redacted]" in exported


def test_an_openai_compatible_server_never_gets_the_openai_key(monkeypatch):
    from engine.llm import _call_arguments

    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key-000000")
    monkeypatch.delenv("OPENAI_COMPATIBLE_API_KEY", raising=False)
    local = _call_arguments(Backend(model="openai/x", api_base="http://127.0.0.1:1/v1"), [], None, None)
    assert local["api_key"] == "no-key-needed"
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "server-key-123456")
    assert _call_arguments(Backend(model="openai/x", api_base="http://h/v1"), [], None, None)["api_key"] == "server-key-123456"
    assert "api_key" not in _call_arguments(Backend(model="gpt-4o"), [], None, None)


def test_our_providers_failures_are_not_called_network_errors(model):
    with pytest.raises(LLMError) as caught:  # the script is empty
        complete(Backend(model=model), [{"role": "user", "content": "x"}])
    assert caught.value.kind == "backend_error" and not caught.value.retryable
    assert "no reply left" in caught.value.message


def test_tool_call_ids_stay_unique_across_steps(session, model):
    call = {"id": "call_1", "name": "search_context", "arguments": {"query": "PELICAN"}}
    scripted_model.enqueue(model, {"tool_calls": [call]}, {"tool_calls": [call]}, "done")
    run_turn(session, "search twice")
    ids = [c["id"] for m in session.render() for c in (m.get("tool_calls") or [])]
    answers = [m["tool_call_id"] for m in session.render() if m["role"] == "tool"]
    assert len(set(ids)) == 2 and answers == ids


def test_retry_needs_an_unanswered_message(session, model):
    scripted_model.enqueue(model, "answer")
    run_turn(session, "question")
    with pytest.raises(WorkbenchError, match="nothing to retry"):
        retry_turn(session)
    with pytest.raises(WorkbenchError, match="nothing to retry"):
        retry_turn(SessionStore(":memory:").create_session("empty"))


def test_core_memory_a_model_writes_opens_its_next_request(session, model):
    session.configure(tools="memory")
    scripted_model.enqueue(
        model,
        {"tool_calls": [{"name": "memory_insert",
                         "arguments": {"memory_type": "core", "content": "The code word is PELICAN."}}]},
        "Noted in core memory.",
    )
    run_turn(session, "Keep the code word in mind.")
    first, second = scripted_model.requests(model)[-2:]
    assert "[core memory]" not in first["messages"][0]["content"]
    system = second["messages"][0]
    assert system["role"] == "system" and len([m for m in second["messages"] if m["role"] == "system"]) == 1
    assert system["content"] == "[core memory]\nThe code word is PELICAN.\n\nYou manage your own context."
    assert [t["function"]["name"] for t in second["tools"]][0] == "memory_insert"
