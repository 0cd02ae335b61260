"""OpenHands event lists: the GUI-mode sample, grouped calls, calls found by cause, bad events, detection."""

from __future__ import annotations

import json

import pytest

from engine.errors import ImportFormatError
from engine.imports import imported_tools
from sessions.formats import detect
from sessions.formats.source import open_sources

SAMPLE = "agent-trajectories/openhands/basic_gui_mode.json"

def detected(path) -> str:
    return detect(open_sources(path)[0]).name


def model_calls(session) -> list[dict]:
    return [event["payload"] for event in session.events() if event["kind"] == "llm_called"]


def response(response_id: str, calls: list[tuple[str, str, dict]], content: str | None = "On it.") -> dict:
    return {"id": response_id, "model": "claude-sonnet-4", "choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": content, "function_call": None,
        "tool_calls": [{"index": i, "id": call_id, "type": "function",
                        "function": {"name": name, "arguments": json.dumps(arguments)}}
                       for i, (call_id, name, arguments) in enumerate(calls)]}}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "cache_read_input_tokens": 80,
                  "completion_tokens_details": {"reasoning_tokens": 5}}}


# ---- the real sample --------------------------------------------------------------------------


def test_gui_mode_sample_is_one_session_of_calls_results_and_model_calls(sample, imported):
    path = sample(SAMPLE)
    assert detected(path) == "openhands"
    report, (session,) = imported(path)
    file = report.files[0]
    assert dict(file.messages_by_role) == {"user": 1, "assistant": 5, "tool": 4}
    assert file.tool_calls == 4 and file.tool_results == 4 and file.model_calls == 4
    assert file.warnings == []
    assert session.title == "I want to create a VueJS app that allows me to:"
    messages = session.state().messages
    assert [m.role for m in messages] == ["user"] + ["assistant", "tool"] * 4 + ["assistant"]
    names = [m.tool_calls[0]["function"]["name"] for m in messages if m.tool_calls]
    assert names == ["execute_bash", "str_replace_editor", "str_replace_editor", "execute_bash"]
    for index, message in enumerate(messages):
        if message.role == "tool":
            assert message.tool_call_id == messages[index - 1].tool_calls[0]["id"]
    assert messages[1].content.startswith("I'll help you create a Vue.js application")  # the thought, said once
    assert json.loads(messages[1].tool_calls[0]["function"]["arguments"]) == {"command": "mkdir -p /workspace/todo-app"}
    assert messages[2].content == "Command `mkdir -p /workspace/todo-app` executed with exit code 0."  # empty content
    assert messages[2].extra["events"][0]["extras"]["metadata"]["exit_code"] == 0
    assert messages[8].content.startswith("Serving HTTP on 0.0.0.0 port 8000")
    assert messages[-1].content.startswith("I've created a complete Vue.js todo application")
    calls = model_calls(session)
    assert {call["model"] for call in calls} == {"claude-3-5-sonnet-20241022"}
    assert calls[0]["usage"] == {"prompt_tokens": 3439, "completion_tokens": 104, "cache_read_tokens": 0,
                                 "cache_write_tokens": 3435}
    assert calls[3]["usage"]["cache_read_tokens"] == 4763 and calls[0]["finish_reason"] == "tool_calls"
    origin = session.events()[0]["payload"]
    assert origin["model"] == "claude-3-5-sonnet-20241022" and origin["started_at"].startswith("2025-01-20T20:29:13")
    assert origin["attributes"]["environment_events"] == {
        "observation agent_state_changed": 4, "action change_agent_state": 1, "observation null": 3}
    assert origin["attributes"]["agent_states"] == ["loading", "init", "init", "running", "awaiting_user_input"]
    added = [r for r in session.records() if r.event.kind == "message_added"]
    assert added[0].ts.isoformat() == "2025-01-20T20:29:32.262843"  # each message at its event's time


# ---- awkward events -------------------------------------------------------------------------------


def test_one_response_with_two_calls_is_one_message_and_results_find_their_calls(write, imported):
    two = response("resp-1", [("t1", "execute_bash", {"command": "ls"}), ("t2", "execute_bash", {"command": "pwd"})])
    meta = {"function_name": "execute_bash", "total_calls_in_response": 2, "model_response": two}
    events = [
        {"id": 0, "source": "agent", "action": "system", "args": {"content": "You are OpenHands.", "tools": [
            {"type": "function", "function": {"name": "execute_bash", "parameters": {"type": "object"}}}]}},
        {"id": 2, "timestamp": "2025-02-01T10:00:00", "source": "user", "action": "message",
         "message": "look", "args": {"content": "Look at this", "image_urls": ["https://example.com/a.png"]}},
        {"id": 5, "source": "agent", "action": "run", "args": {"command": "ls", "thought": "On it."},
         "tool_call_metadata": {**meta, "tool_call_id": "t1"}},
        {"id": 6, "source": "agent", "observation": "run", "cause": 5, "content": "a.py",
         "tool_call_metadata": {**meta, "tool_call_id": "t1"}},
        {"id": 9, "source": "agent", "action": "run", "args": {"command": "pwd", "thought": ""},
         "tool_call_metadata": {**meta, "tool_call_id": "t2"}},
        {"id": 11, "source": "agent", "observation": "run", "cause": 9, "content": "/work", "extras": {}},
        {"id": 12, "source": "agent", "action": "run", "args": {"command": "cat a.py", "thought": "Reading it."}},
        {"id": 13, "source": "agent", "observation": "run", "cause": 12, "content": "print(1)"},
        {"id": 14, "source": "environment", "observation": "error", "cause": 99, "content": "The sandbox restarted."},
        {"id": 15, "source": "agent", "action": "message", "args": {"content": "Done.", "thought": "All checked."}},
    ]
    report, (session,) = imported(write("events.json", events))
    messages = session.state().messages
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "tool", "assistant", "tool", "user",
                                          "assistant"]
    assert [t["function"]["name"] for t in imported_tools(session.state())] == ["execute_bash"]
    assert messages[1].attachments == ({"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},)
    grouped = messages[2]
    assert [call["id"] for call in grouped.tool_calls] == ["t1", "t2"] and grouped.content == "On it."
    assert [event["id"] for event in grouped.extra["events"]] == [5, 9]
    assert [messages[3].tool_call_id, messages[4].tool_call_id] == ["t1", "t2"]  # the second found by its cause
    assert messages[5].content == "Reading it." and messages[5].tool_calls[0]["id"] == "openhands_12"
    assert json.loads(messages[5].tool_calls[0]["function"]["arguments"]) == {"command": "cat a.py"}
    assert messages[6].tool_call_id == "openhands_12"
    assert messages[7].content == "The sandbox restarted."  # answers no call: what the agent was told
    assert messages[8].content == "All checked.\n\nDone."
    calls = model_calls(session)
    assert len(calls) == 1 and calls[0]["tool_calls"] == 2
    assert calls[0]["usage"] == {"prompt_tokens": 100, "completion_tokens": 20, "cache_read_tokens": 80,
                                 "reasoning_tokens": 5}
    assert any("1 agent actions have no tool_call_metadata" in w for w in report.files[0].warnings)


def test_an_action_missing_from_its_response_is_added_to_that_message(write, imported):
    one = response("resp-9", [("a", "think", {"thought": "x"})], content=None)
    events = [
        {"id": 1, "source": "user", "action": "message", "args": {"content": "go"}},
        {"id": 2, "source": "agent", "action": "think", "args": {"thought": "Plan."},
         "tool_call_metadata": {"function_name": "think", "tool_call_id": "a", "model_response": one}},
        {"id": 3, "source": "agent", "action": "finish", "args": {"final_thought": "ok"},
         "tool_call_metadata": {"function_name": "finish", "tool_call_id": "b", "model_response": one}},
        {"id": 4, "source": "agent", "observation": "think", "cause": 2, "content": "Your thought has been logged."},
    ]
    report, (session,) = imported(write("think.json", events))
    reply = session.state().messages[1]
    assert reply.content == "Plan." and [call["id"] for call in reply.tool_calls] == ["a", "b"]
    assert reply.tool_calls[1]["function"]["name"] == "finish"
    assert any("tool call b has no result" in w for w in report.files[0].warnings)


# ---- bad files ------------------------------------------------------------------------------------


def test_bad_events_are_named_and_skip_invalid_imports_the_rest(write, store):
    path = write("bad.json", [
        {"id": 0, "source": "user", "action": "message", "args": {"content": "hi"}},
        "an event?",
        {"id": 2, "source": "agent", "action": 5},
        {"id": 3, "source": "agent", "action": "message", "args": {"content": "hello"}},
    ])
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    message = str(caught.value)
    assert "record [1]: an event must be an object, not str" in message
    assert 'record [2]: "action" must be text, not int' in message
    assert store.list_sessions() == []
    report = store.import_file(path, skip_invalid=True)
    assert [s.split(":")[0] for s in report.files[0].skipped] == ["record [1]", "record [2]"]
    assert [m.content for m in store.open_session(report.first_id).state().messages] == ["hi", "hello"]


def test_only_environment_events_is_refused(write, store):
    path = write("env.json", [
        {"id": 0, "source": "environment", "observation": "agent_state_changed", "extras": {"agent_state": "init"}},
        {"id": 1, "source": "environment", "action": "change_agent_state", "args": {"agent_state": "running"}},
    ])
    with pytest.raises(ImportFormatError, match=r"/: the 2 events hold no user, agent or tool messages"):
        store.import_file(path)
    assert store.list_sessions() == []


def test_events_without_ids_and_sources_are_a_near_miss_with_the_reason(write):
    path = write("actions.json", [{"action": "run", "args": {"command": "ls"}}])
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    assert ('OpenHands event list (openhands): items have "action" or "observation" but not both "id" and "source"'
            in str(caught.value))
