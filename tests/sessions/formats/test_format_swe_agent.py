"""SWE-agent trajectories: the 0.x and 1.x samples, thoughts, repeated call ids, bad files, detection."""

from __future__ import annotations

import json

import pytest

from engine.errors import ImportFormatError
from sessions.formats import detect, swe_agent
from sessions.formats.source import open_sources

PYDICOM = "agent-trajectories/swe-agent/pydicom__pydicom-1458.traj"
MARSHMALLOW = "agent-trajectories/swe-agent/marshmallow-code__marshmallow-1867.traj"

def detected(path) -> str:
    return detect(open_sources(path)[0]).name


def attributes(session) -> dict:
    return session.events()[0]["payload"]["attributes"]


def trajectory(history, **rest) -> dict:
    return {"environment": "swe_main", "trajectory": [], "history": history,
            "info": {"exit_status": "submitted", "model_stats": {"instance_cost": 0.5}}, **rest}


# ---- the real samples -------------------------------------------------------------------------


def test_pydicom_sample_is_the_0x_history_with_its_demonstration_and_totals(sample, imported):
    path = sample(PYDICOM)
    assert detected(path) == "swe-agent"
    report, (session,) = imported(path)
    file = report.files[0]
    assert dict(file.messages_by_role) == {"system": 1, "user": 13, "assistant": 12}
    assert file.tool_calls == 0 and file.reasoning_parts == 0  # each thought is inside its reply already
    assert file.model_calls == 0 and file.folded_messages == 0 and file.warnings == []
    assert session.title == "pydicom__pydicom-1458: Pixel Representation attribute should be optional for pixel data handler"
    messages = session.state().messages
    demo = messages[1]
    assert demo.role == "user" and demo.extra["is_demo"] is True
    assert demo.content.startswith("Here is a demonstration")
    assert all(fragment.status == "visible" for fragment in demo.fragments)  # the model saw it: not folded
    reply = messages[5]
    assert reply.reasoning is None and reply.extra["action"].startswith("edit 1:1")
    assert "thought" not in reply.extra
    facts = attributes(session)
    assert facts["info"]["exit_status"] == "submitted"
    assert facts["info"]["submission"].lstrip().startswith("diff --git a/pydicom/pixel_data_handlers/numpy_handler.py")
    assert facts["info"]["model_stats"] == {"total_cost": 1.26719, "instance_cost": 1.26719, "tokens_sent": 122612,
                                            "tokens_received": 1369, "api_calls": 12}
    assert facts["steps"] == 12 and "step_execution_times" not in facts  # 0.x steps are not timed


def test_marshmallow_sample_is_the_1x_history_with_each_result_on_its_own_call(sample, imported):
    path = sample(MARSHMALLOW)
    assert detected(path) == "swe-agent"
    report, (session,) = imported(path)
    file = report.files[0]
    assert dict(file.messages_by_role) == {"system": 1, "user": 1, "assistant": 11, "tool": 11}
    assert file.tool_calls == 11 and file.tool_results == 11 and file.reasoning_parts == 0
    assert session.title == "marshmallow-code__marshmallow-1867: TimeDelta serialization precision"
    messages = session.state().messages
    ids = [call["id"] for m in messages for call in m.tool_calls or ()]
    assert len(set(ids)) == 11  # the demonstration reuses ids; each call keeps its own
    for index, message in enumerate(messages):
        if message.role == "tool":
            assert message.tool_call_id == messages[index - 1].tool_calls[0]["id"]
    renamed = messages[8]
    assert renamed.tool_calls[0]["id"] == "call_5iDdbOYybq7L19vqXmR0DPaU_2"
    assert renamed.extra["renamed_tool_calls"] == {"call_5iDdbOYybq7L19vqXmR0DPaU_2": "call_5iDdbOYybq7L19vqXmR0DPaU"}
    assert messages[9].extra["original_tool_call_id"] == "call_5iDdbOYybq7L19vqXmR0DPaU"
    assert messages[2].extra["message_type"] == "action" and messages[3].extra["message_type"] == "observation"
    assert not any("has no result" in warning for warning in file.warnings)
    assert any("tool call ids repeat" in warning for warning in file.warnings)
    facts = attributes(session)
    assert len(facts["step_execution_times"]) == 11 and facts["steps"] == 11
    assert facts["model_config"]["name"] == "gpt-4o" and "api_key" not in facts["model_config"]
    assert facts["image"].startswith("swebench/sweb.eval.x86_64.marshmallow-code")
    assert facts["info"]["model_stats"]["api_calls"] == 11
    assert session.events()[0]["payload"]["model"] == "gpt-4o"


# ---- awkward messages -----------------------------------------------------------------------------


def test_a_thought_the_reply_does_not_hold_becomes_its_reasoning(write, imported):
    path = write("t.traj", trajectory([
        {"role": "system", "content": "You fix bugs.", "agent": "primary"},
        {"role": "user", "content": "ISSUE:\nIt breaks\n", "agent": "primary"},
        {"role": "assistant", "content": "```\nls\n```", "thought": "Look around first.", "action": "ls\n"},
        {"role": "user", "content": "a.py"},
        {"role": "assistant", "content": "Now  edit\nit.\n```\nedit 1:1\n```", "thought": "Now edit it.", "action": "edit"},
        {"role": "tool", "content": "", "thought": 7},
    ]))
    report, (session,) = imported(path)
    messages = session.state().messages
    assert messages[2].reasoning == "Look around first." and messages[2].extra["action"] == "ls\n"
    assert messages[4].reasoning is None  # the same words, spaced differently, are already the reply
    assert messages[5].extra["thought"] == 7  # not text: kept as it was
    assert session.title == "t: It breaks"  # no instance id inside: the file's name stands for it
    assert report.files[0].reasoning_parts == 1


def test_tool_call_ids_lists_pair_with_their_first_id_and_a_missing_one_with_the_oldest_call(write, imported):
    calls = [{"id": "a", "type": "function", "function": {"name": "bash", "arguments": "{}"}},
             {"id": "b", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]
    path = write("ids.traj", trajectory([
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": "two calls", "tool_calls": json.dumps(calls)},
        {"role": "tool", "content": "both", "tool_call_ids": ["b", "a"]},
        {"role": "tool", "content": "unnamed", "tool_call_ids": []},
    ], replay_config=json.dumps({"problem_statement": {"id": "repo__repo-1"},
                                 "agent": {"model": {"name": "gpt-4o", "api_key": "sk-secret"}}})))
    report, (session,) = imported(path)
    messages = session.state().messages
    assert [call["id"] for call in messages[1].tool_calls] == ["a", "b"]  # tool_calls given as JSON text
    assert messages[2].tool_call_id == "b" and messages[2].extra["tool_call_ids"] == ["b", "a"]
    assert messages[3].tool_call_id == "a"
    assert any("/history/2: the tool result names 2 calls (b, a); it is paired with the first" in w
               for w in report.files[0].warnings)
    assert session.title == "repo__repo-1"
    assert "sk-secret" not in json.dumps(session.events()[0])


# ---- bad files ------------------------------------------------------------------------------------


def test_a_bad_message_is_named_by_its_pointer_and_skip_invalid_imports_the_rest(write, store):
    path = write("bad.traj", trajectory([
        {"role": "user", "content": "hi"},
        "not a message",
        {"role": "robot", "content": "beep"},
        {"role": "assistant", "content": "hello"},
    ]))
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    message = str(caught.value)
    assert "2 bad records" in message
    assert "/history/1: a message must be an object" in message
    assert "/history/2: role 'robot' is not one of" in message
    assert store.list_sessions() == []
    report = store.import_file(path, skip_invalid=True)
    assert [s.split(":")[0] for s in report.files[0].skipped] == ["/history/1", "/history/2"]
    assert [m.role for m in store.open_session(report.first_id).state().messages] == ["user", "assistant"]


def test_a_history_that_is_not_a_list_is_refused(write, store):
    path = write("nohist.traj", {"trajectory": [], "history": {"role": "user"}, "info": {}})
    with pytest.raises(ImportFormatError, match='a SWE-agent trajectory, but "history" is not a list of messages'):
        detected(path)
    with pytest.raises(ImportFormatError, match=r'/history: a SWE-agent trajectory needs "history"'):
        store.import_file(path, format_name="swe-agent")
    assert store.list_sessions() == []


def test_a_trajectory_without_history_is_a_near_miss_with_the_reason(write):
    path = write("steps.traj", {"trajectory": [{"action": "ls", "observation": "a.py", "thought": ""}], "info": {}})
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    assert ('SWE-agent trajectory (.traj) (swe-agent): a SWE-agent trajectory, but it has no "history" '
            "(the messages the model saw)") in str(caught.value)


def test_steps_longer_than_the_sample_before_history_are_still_a_trajectory(write, imported):
    steps = [{"thought": "", "action": "cat big.txt", "observation": "x" * 200_000, "response": ""}] * 8
    path = write("long.traj", {"environment": "swe_main", "trajectory": steps,
                               "history": [{"role": "user", "content": "go"}, {"role": "assistant", "content": "ok"}]})
    assert not open_sources(path)[0].sample.complete
    assert detected(path) == "swe-agent"
    report, (session,) = imported(path)
    assert [m.content for m in session.state().messages] == ["go", "ok"]
    assert session.events()[0]["payload"]["attributes"]["steps"] == 8


def test_an_object_with_history_alone_is_not_a_trajectory(write):
    verdict = swe_agent.sniff(open_sources(write("h.json", {"history": []}))[0].sample)
    assert not verdict.matched and 'neither "trajectory" nor "info"' in verdict.reason
