"""Claude Code session JSONL: the real sessions, merged responses, chains, subagents, compaction, errors."""

from __future__ import annotations

import json
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest

from engine.errors import ImportFormatError
from sessions.formats import claude_code, detect
from sessions.formats.source import open_sources

FE5E = "claude-code-jsonl/claude-code-viewer/fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
C503 = "claude-code-jsonl/claude-code-viewer/5c0375b4-57a5-4f26-b12d-d022ee4e51b7.jsonl"

def record(kind: str, uuid: str, parent: str | None, content=None, second: int = 0, **fields) -> dict:
    value = {"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": "/work", "sessionId": "s-1",
             "version": "1.0.100", "gitBranch": "main", "type": kind, "uuid": uuid,
             "timestamp": f"2025-09-01T10:00:{second:02d}.000Z"}
    if content is not None:
        value["message"] = {"role": kind, "content": content}
    value.update(fields)
    return value


def reply(uuid: str, parent: str, block: dict, message_id: str, second: int = 0, stop=None, output: int = 5,
          **fields) -> dict:
    value = record("assistant", uuid, parent, second=second, requestId="req_1", **fields)
    value["message"] = {"id": message_id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
                        "content": [block], "stop_reason": stop, "stop_sequence": None,
                        "usage": {"input_tokens": 4, "output_tokens": output, "cache_read_input_tokens": 100,
                                  "cache_creation_input_tokens": 20}}
    return value


def jsonl(*values) -> str:
    return "".join(json.dumps(value) + "\n" for value in values)


def tool_use(call_id: str, name: str = "Bash", **arguments) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def result(call_id: str, content, **fields) -> dict:
    return {"type": "tool_result", "tool_use_id": call_id, "content": content, **fields}


def origin(session) -> dict:
    first = session.events()[0]
    assert first["kind"] == "conversation_imported"
    return first["payload"]


def detected(path) -> str:
    return detect(open_sources(path)[0]).name


# ---- the real sessions ----------------------------------------------------------------------------


def test_the_long_session_imports_its_main_chain_and_five_subagents(sample, imported):
    path = sample(FE5E)
    report, sessions = imported(path)
    file = report.files[0]
    assert file.format == "claude-code"
    assert [s["relation"] for s in file.sessions] == [None] + ["subagent"] * 5  # 6 roots, the main one first
    assert dict(file.messages_by_role) == {"user": 8, "assistant": 170, "tool": 167}  # 262 lines -> 170 responses
    assert (file.tool_calls, file.tool_results, file.model_calls) == (167, 167, 170)
    assert not [w for w in file.warnings if "has no result" in w or "not in the file" in w]
    main = sessions[0]
    assert main.title == "Empty Repo Setup: CLAUDE.md Foundation Created"  # the summary, whose leaf is elsewhere
    assert origin(main)["attributes"]["session_id"] == "fe5e1c67-53e7-4862-81ae-d0e013e3270b"
    assert origin(main)["attributes"]["version"] == "1.0.98"
    assert origin(main)["model"] == "claude-sonnet-4-20250514"
    task_calls = [call["id"] for m in main.state().messages for call in m.tool_calls or ()
                  if call["function"]["name"] == "Task"]
    assert len(task_calls) == 5
    assert sorted(origin(s)["parent_tool_call"] for s in sessions[1:]) == sorted(task_calls)
    assert all(s.forked_from == main.id for s in sessions[1:])
    assert [s.title for s in sessions[1:]] == [  # the Task descriptions, in the order made
        "Build TODO components", "Setup Next.js project", "Create data models", "Implement state management",
        "Create main page integration"]
    everything = [m for s in sessions for m in s.state().messages]
    assert sum(1 for m in everything if m.role == "tool" and m.extra.get("is_error") is True) == 23
    tools = Counter(call["function"]["name"] for m in everything for call in m.tool_calls or ())
    assert tools == {"Bash": 61, "Write": 33, "Read": 28, "TodoWrite": 19, "Edit": 8, "Task": 5, "BashOutput": 5,
                     "MultiEdit": 3, "KillBash": 3, "Glob": 2}


def test_usage_is_counted_once_per_response(sample, imported):
    path = sample(FE5E)
    last_usage = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        value = json.loads(line)
        if value.get("type") == "assistant":
            last_usage[value["message"]["id"]] = value["message"]["usage"]
    report, sessions = imported(path)
    calls = [e["payload"] for s in sessions for e in s.events() if e["kind"] == "llm_called"]
    assert len(calls) == len(last_usage) == 170
    assert sum(c["usage"]["completion_tokens"] for c in calls) == sum(u["output_tokens"] for u in last_usage.values())
    assert sum(c["usage"]["cache_read_tokens"] for c in calls) == sum(u["cache_read_input_tokens"]
                                                                        for u in last_usage.values())
    # prompt_tokens as litellm and OpenAI count it: everything the prompt held, the cache included
    whole = [u["input_tokens"] + u["cache_read_input_tokens"] + u["cache_creation_input_tokens"]
             for u in last_usage.values()]
    assert sorted(c["usage"]["prompt_tokens"] for c in calls) == sorted(whole)


def test_the_short_session_links_its_subagents_and_keeps_the_failed_task(sample, imported):
    report, sessions = imported(sample(C503))
    file = report.files[0]
    assert dict(file.messages_by_role) == {"user": 4, "assistant": 20, "tool": 21}
    assert (file.tool_calls, file.tool_results) == (21, 21)
    # 3 Task calls; one failed validation (no prompt) and started no subagent
    assert [s["relation"] for s in file.sessions] == [None, "subagent", "subagent"]
    main = sessions[0]
    assert main.title.startswith("/orchestrator @CLAUDE.md")
    assert origin(main)["attributes"]["git_branch"] == "main"
    messages = main.state().messages
    meta = [m for m in messages if m.extra.get("is_meta")]
    assert len(meta) == 1 and meta[0].role == "user" and meta[0].content.startswith("Split complex tasks")
    failed = next(m for m in messages if m.tool_call_id == "toolu_018t5jce2ZNoGr2ADsHGQife")
    assert failed.extra["is_error"] is True and "prompt" in failed.content and "tool_use_result" in failed.extra
    assert [origin(s)["parent_tool_call"] for s in sessions[1:]] == ["toolu_014YF9TXhDRR7BnpasNJ7gjC",
                                                                     "toolu_01LKfUwrsnof18CpWZQcJH44"]


def test_the_real_sessions_are_detected_as_claude_code(sample):
    assert detected(sample(FE5E)) == detected(sample(C503)) == "claude-code"


# ---- awkward cases ---------------------------------------------------------------------------------


def test_a_response_over_several_lines_is_one_message_with_signed_thinking(write, imported):
    path = write("split.jsonl", jsonl(
        record("user", "u1", None, "list the files", 0),
        reply("a1", "u1", {"type": "thinking", "thinking": "ls will do", "signature": "sig-1"}, "msg_1", 1, output=3),
        reply("a2", "a1", {"type": "text", "text": "Listing them."}, "msg_1", 2, output=3),
        reply("a3", "a2", tool_use("toolu_1", command="ls"), "msg_1", 3, stop="tool_use", output=40),
        record("user", "u2", "a3", [result("toolu_1", "a.txt")], 4, toolUseResult={"stdout": "a.txt"}),
        reply("a4", "u2", {"type": "text", "text": "One file."}, "msg_2", 5, stop="end_turn"),
    ))
    report, (session,) = imported(path)
    assert dict(report.files[0].messages_by_role) == {"user": 1, "assistant": 2, "tool": 1}
    first = session.state().messages[1]
    assert first.content == "Listing them." and first.reasoning == "ls will do"
    assert first.tool_calls[0]["id"] == "toolu_1"
    assert json.loads(first.tool_calls[0]["function"]["arguments"]) == {"command": "ls"}
    assert first.extra["thinking_blocks"] == [{"type": "thinking", "thinking": "ls will do", "signature": "sig-1"}]
    assert first.extra["uuid"] == ["a1", "a2", "a3"]
    sent = session.render(include_reasoning=True)[1]
    assert sent["thinking_blocks"][0]["signature"] == "sig-1"  # sent back to Anthropic models as it came
    calls = [e["payload"] for e in session.events() if e["kind"] == "llm_called"]
    assert calls[0]["usage"] == {"prompt_tokens": 124, "completion_tokens": 40, "cache_read_tokens": 100,
                                 "cache_write_tokens": 20}  # 4 uncached + 100 read from the cache + 20 written
    assert calls[0]["finish_reason"] == "tool_calls" and calls[1]["finish_reason"] == "stop"
    tool = session.state().messages[2]
    assert tool.tool_call_id == "toolu_1" and tool.extra["tool_use_result"] == {"stdout": "a.txt"}
    times = [e["ts"] for e in session.events() if e["kind"] == "message_added"]
    assert times[0].startswith("2025-09-01T10:00:00") and times[1].startswith("2025-09-01T10:00:01")


def test_several_results_in_one_line_become_several_tool_messages(write, imported):
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    path = write("results.jsonl", jsonl(
        record("user", "u1", None, [{"type": "text", "text": "look"}, image]),
        reply("a1", "u1", tool_use("t1", "Read", file_path="/a"), "m1"),
        reply("a2", "a1", tool_use("t2", "Read", file_path="/b"), "m1", stop="tool_use"),
        record("user", "u2", "a2", [result("t1", [{"type": "text", "text": "A"}, image]),
                                    result("t2", "no such file", is_error=True)]),
    ))
    report, (session,) = imported(path)
    messages = session.state().messages
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool"]
    assert messages[0].attachments[0]["image_url"]["url"] == "data:image/png;base64,iVBORw0KGgo="
    assert (messages[2].tool_call_id, messages[2].content, len(messages[2].attachments)) == ("t1", "A", 1)
    assert (messages[3].tool_call_id, messages[3].extra["is_error"]) == ("t2", True)
    assert report.files[0].attachments == 2


def test_the_chain_is_followed_not_the_file_order(write, imported):
    path = write("shuffled.jsonl", jsonl(
        reply("a2", "u2", {"type": "text", "text": "second answer"}, "m2", 3),
        record("user", "u1", None, "first question", 0),
        record("user", "u2", "a1", "second question", 2),
        reply("a1", "u1", {"type": "text", "text": "first answer"}, "m1", 1),
    ))
    _, (session,) = imported(path)
    assert [m.content for m in session.state().messages] == ["first question", "first answer", "second question",
                                                             "second answer"]


def test_an_edited_prompt_becomes_a_fork(write, imported):
    path = write("edited.jsonl", jsonl(
        record("user", "u1", None, "hello"),
        reply("a1", "u1", {"type": "text", "text": "hi"}, "m1"),
        record("user", "u2", "a1", "tell me a joke"),
        reply("a2", "u2", {"type": "text", "text": "a joke"}, "m2"),
        record("user", "u3", "a1", "tell me a poem"),  # the prompt edited: a second child of a1, the latest
        reply("a3", "u3", {"type": "text", "text": "a poem"}, "m3"),
    ))
    report, (main, fork) = imported(path)
    assert [s["relation"] for s in report.files[0].sessions] == [None, "fork"]
    assert [m.content for m in main.state().messages] == ["hello", "hi", "tell me a poem", "a poem"]
    assert [m.content for m in fork.state().messages] == ["hello", "hi", "tell me a joke", "a joke"]
    assert fork.forked_from == main.id


def nested_forks(depth: int) -> list[dict]:
    """A chain n0, n1, ... where each record also has a later reply x_i: each x_i is the latest end
    of the conversation from n_i on, so every n_(i+1) is a fork of the fork before it."""
    lines = [record("user", "n0", None, "n0")]
    for i in range(depth):
        later = {"timestamp": (datetime(2025, 9, 2) + timedelta(seconds=depth - i)).isoformat() + "Z"}
        if i % 2 == 0:
            lines += [reply(f"x{i}", f"n{i}", {"type": "text", "text": f"x{i}"}, f"mx{i}", **later),
                      reply(f"n{i + 1}", f"n{i}", {"type": "text", "text": f"n{i + 1}"}, f"mn{i + 1}")]
        else:
            lines += [record("user", f"x{i}", f"n{i}", f"x{i}", **later),
                      record("user", f"n{i + 1}", f"n{i}", f"n{i + 1}")]
    return lines


def test_forks_of_forks_are_each_a_fork_of_the_one_before(write, imported):
    report, sessions = imported(write("forks.jsonl", jsonl(*nested_forks(3))))
    assert [s["relation"] for s in report.files[0].sessions] == [None, "fork", "fork", "fork"]
    assert [[m.content for m in s.state().messages] for s in sessions] == [
        ["n0", "x0"], ["n0", "n1", "x1"], ["n0", "n1", "n2", "x2"], ["n0", "n1", "n2", "n3"]]
    assert [s.forked_from for s in sessions[1:]] == [s.id for s in sessions[:-1]]
    assert [s.title for s in sessions[1:]] == ["n0 (fork at line 3)", "n0 (fork at line 5)", "n0 (fork at line 7)"]


def test_forks_nested_deeper_than_python_recurses_are_read(write):
    frames, frame = 0, sys._getframe()
    while frame is not None:
        frames, frame = frames + 1, frame.f_back
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(frames + 150)  # room for reading, not for one frame per fork
    try:
        found = list(claude_code.read(open_sources(write("deep.jsonl", jsonl(*nested_forks(400))))[0]))
    finally:
        sys.setrecursionlimit(limit)
    assert len(found) == 401 and all(isinstance(c, claude_code.Conversation) for c in found)
    assert [c.parent_key for c in found[1:]] == [c.key for c in found[:-1]]
    assert [c.branch_at for c in found[1:4]] == [1, 2, 3] and found[-1].branch_at == 400
    assert max(len(c.title) for c in found) < 40  # a fork's title does not grow with its depth


def test_records_in_a_parent_loop_are_named_in_a_warning(write, imported):
    path = write("loop.jsonl", jsonl(
        record("user", "u1", None, "hello"),
        reply("a1", "u1", {"type": "text", "text": "hi"}, "m1"),
        record("user", "u3", "a4", "lost one"),
        reply("a4", "u3", {"type": "text", "text": "lost two"}, "m2"),
        record("user", "u5", "u5", "its own parent"),
    ))
    report, (session,) = imported(path)
    assert [m.content for m in session.state().messages] == ["hello", "hi"]
    (warning,) = [w for w in report.files[0].warnings if "loop" in w]
    assert "lines 3, 4, 5: 3 records whose \"parentUuid\" links go round in a loop" in warning


def test_a_file_that_is_one_loop_is_refused_naming_its_lines(write, store):
    path = write("all-loop.jsonl", jsonl(record("user", "u1", "a1", "hello"),
                                         reply("a1", "u1", {"type": "text", "text": "hi"}, "m1")))
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    assert 'line 1: the records on lines 1, 2 form a loop: each follows another by "parentUuid"' in str(caught.value)
    assert store.list_sessions() == []


def test_a_compaction_boundary_folds_what_came_before(write, imported):
    boundary = record("system", "c1", None, subtype="compact_boundary", logicalParentUuid="a1",
                      content="Conversation compacted", level="info",
                      compactMetadata={"trigger": "auto", "preTokens": 155000})
    path = write("compacted.jsonl", jsonl(
        record("user", "u1", None, "a long task"),
        reply("a1", "u1", {"type": "text", "text": "worked on it"}, "m1"),
        boundary,
        record("user", "u2", "c1", "This session is being continued. Summary: the task is half done.",
               isCompactSummary=True),
        reply("a2", "u2", {"type": "text", "text": "continuing"}, "m2"),
    ))
    report, (session,) = imported(path)
    assert report.files[0].compactions == 1
    compacted = next(e["payload"] for e in session.events() if e["kind"] == "context_compacted")
    assert (compacted["before_tokens"], compacted["trigger"], compacted["source"]) == (155000, "auto", "claude-code")
    messages = session.state().messages
    assert [m.fragments[0].status for m in messages] == ["folded", "folded", "visible", "visible"]
    assert messages[2].extra["is_compact_summary"] is True


def test_newer_line_types_are_skipped_and_counted(write, imported):
    path = write("newer.jsonl", jsonl(
        {"type": "file-history-snapshot", "messageId": "x", "snapshot": {}, "isSnapshotUpdate": False},
        {"type": "queue-operation", "operation": "enqueue", "timestamp": "2025-09-01T10:00:00Z", "content": "hi"},
        record("user", "u1", None, "hello"),
        record("progress", "p1", "u1", data={"type": "hook_progress"}),  # in the chain: the reply follows it
        reply("a1", "p1", {"type": "text", "text": "hi"}, "m1"),
        record("system", "s1", "a1", subtype="informational", content="a note"),
    ))
    report, (session,) = imported(path)
    assert [m.content for m in session.state().messages] == ["hello", "hi"]
    skipped = next(w for w in report.files[0].warnings if "skipped 4 lines" in w)
    assert "file-history-snapshot 1" in skipped and "progress 1" in skipped and "system/informational 1" in skipped


def test_a_subagent_no_task_started_is_linked_to_the_session_with_a_warning(write, imported):
    path = write("subagent.jsonl", jsonl(
        record("user", "u1", None, "do it"),
        reply("a1", "u1", tool_use("task1", "Task", description="Look", prompt="look around"), "m1", stop="tool_use"),
        record("user", "s1", None, "something else entirely", isSidechain=True),
        reply("s2", "s1", {"type": "text", "text": "done"}, "m2", isSidechain=True),
        record("user", "u2", "a1", [result("task1", [{"type": "text", "text": "looked"}])]),
    ))
    report, (main, sub) = imported(path)
    assert [s["relation"] for s in report.files[0].sessions] == [None, "subagent"]
    assert origin(sub)["parent_tool_call"] is None and sub.forked_from == main.id
    assert any("no Task call" in w for w in report.files[0].warnings)


def test_a_subagent_file_of_its_own_is_a_plain_session(write, imported):
    path = write("agent-1.jsonl", jsonl(
        record("user", "s1", None, "look around", isSidechain=True, agentId="a-1"),
        reply("s2", "s1", {"type": "text", "text": "done"}, "m1", isSidechain=True, agentId="a-1"),
    ))
    report, (session,) = imported(path)
    assert report.files[0].sessions[0]["relation"] is None
    assert origin(session)["attributes"]["agent_id"] == "a-1"
    assert any("without its main conversation" in w for w in report.files[0].warnings)


def test_text_that_is_not_a_string_is_kept_with_a_warning(write, imported):
    path = write("odd.jsonl", jsonl(record("user", "u1", None, [{"type": "text", "text": {"odd": 1}}])))
    report, (session,) = imported(path)
    assert session.state().messages[0].content == '{"odd": 1}'
    assert any("not a string" in w for w in report.files[0].warnings)


# ---- bad input --------------------------------------------------------------------------------------


def bad_file(write):
    return write("bad.jsonl", jsonl(record("user", "u1", None, "hello"),
                                    reply("a1", "u1", {"type": "text", "text": "hi"}, "m1"))
                 + "{not json\n" + jsonl(record("user", "u2", "a1"),
                                         reply("a2", "u2", {"type": "tool_use", "id": "t"}, "m2")))


def test_bad_lines_are_named_and_nothing_is_stored(write, store):
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(bad_file(write))
    text = str(caught.value)
    assert "3 bad records" in text and "line 3: not valid JSON" in text
    assert 'line 4: a user record needs a "message" object' in text
    assert 'line 5/content/0: a tool_use block needs a "name"' in text
    assert store.list_sessions() == []


def test_skip_invalid_imports_the_rest(write, imported):
    report, (session,) = imported(bad_file(write), skip_invalid=True)
    assert [m.content for m in session.state().messages] == ["hello", "hi"]
    assert len(report.files[0].skipped) == 3 and report.files[0].skipped[0].startswith("line 3")


def test_a_near_miss_says_what_is_missing(write, store):
    path = write("almost.jsonl", jsonl({"uuid": "1", "parentUuid": None, "type": "note"},
                                       {"uuid": "2", "parentUuid": "1", "type": "note"}))
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    reason = 'Claude Code session JSONL (claude-code): records chained by "uuid" and "parentUuid"'
    assert reason in str(caught.value)


def test_a_file_of_fixtures_is_detected(write):
    path = write("tiny.jsonl", jsonl(record("user", "u1", None, "hello"),
                                     reply("a1", "u1", {"type": "text", "text": "hi"}, "m")))
    assert detected(path) == "claude-code"
