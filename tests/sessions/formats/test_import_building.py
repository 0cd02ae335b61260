"""Building sessions from what a format read: origins, tool schemas, pairing, attachments, folds,
compactions, branches as forks, subagents, times."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine import ImportFormatError
from engine.events import FragmentFolded, LLMCalled, MessageAdded
from engine.imports import ContextCompacted, ConversationImported
from engine.settings import settings_of, window_stats
from sessions.formats import openai_chat
from sessions.formats.building import Builder
from sessions.formats.conversation import Compaction, Conversation, ImportedMessage, ModelCall, timestamp
from sessions.formats.report import FileReport


def _build(store, conversations, **options):
    report = FileReport("test.json", "openai", "OpenAI chat messages")
    builder = Builder("test.json", openai_chat.FORMAT, report, **options)
    store.events.create_many(builder.build(conversations))
    return report, [store.open_session(s["id"]) for s in report.sessions]


def test_every_session_opens_with_where_it_came_from(store):
    conversation = Conversation("k", "Title", [ImportedMessage("user", "hi")], source_id="abc", model="gpt-5",
                                created_at=datetime(2025, 1, 2, 3, 4, 5), tools=[{"type": "function", "function": {
                                    "name": "lookup", "parameters": {"type": "object", "properties": {}}}}])
    _, [session] = _build(store, [conversation])
    origin = session.records()[0]
    assert isinstance(origin.event, ConversationImported) and origin.ts == datetime(2025, 1, 2, 3, 4, 5)
    assert (origin.event.source_id, origin.event.model, origin.event.format) == ("abc", "gpt-5", "openai")
    assert session.info()["imported_from"] == "test.json (id abc)"


def test_imported_tool_definitions_count_as_tool_schemas(store):
    tools = [{"type": "function", "function": {"name": f"tool_{n}", "description": "does a thing " * 20,
                                               "parameters": {"type": "object", "properties": {}}}} for n in range(5)]
    _, [plain, with_tools] = _build(store, [Conversation("a", "a", [ImportedMessage("user", "hi")]),
                                            Conversation("b", "b", [ImportedMessage("user", "hi")], tools=tools)])
    figures = [window_stats(s.state(), settings_of(s.state()), 8192, s.encoding)["tool_schema_tokens"]
               for s in (plain, with_tools)]
    assert figures[1] - figures[0] > 5 * 20 * 3


def test_a_result_without_an_id_answers_the_oldest_open_call_and_orphans_are_kept(store):
    calls = [{"function": {"name": "a", "arguments": {}}}, {"function": {"name": "b", "arguments": {}}}]
    items = [ImportedMessage("user", "go"), ImportedMessage("assistant", None, tool_calls=calls),
             ImportedMessage("tool", "A done"), ImportedMessage("tool", "B done"), ImportedMessage("tool", "stray"),
             ImportedMessage("tool", "late", tool_call_id="nowhere")]
    report, [session] = _build(store, [Conversation("k", "t", items)])
    messages = session.state().messages
    ids = [call["id"] for call in messages[1].tool_calls]
    assert [m.tool_call_id for m in messages[2:]] == [ids[0], ids[1], "orphan_1", "nowhere"]
    assert any("a tool result with no call before it; kept as orphan_1" in w for w in report.warnings)
    assert any("a tool result for call nowhere, which is not in the file; kept" in w for w in report.warnings)
    assert report.tool_results == 4


def test_attachments_are_kept_aside_and_not_sent_to_a_model(store):
    pointer = {"type": "chatgpt_image", "asset_pointer": "file-service://x"}
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
    items = [ImportedMessage("user", [{"type": "text", "text": "look"}, image], attachments=[pointer])]
    report, [session] = _build(store, [Conversation("k", "t", items)])
    [message] = session.state().messages
    assert list(message.attachments) == [image, pointer] and report.attachments == 2
    assert session.render()[0]["content"] == [{"type": "text", "text": "look"}, image]


def test_an_empty_message_is_imported_with_a_warning(store):
    report, [session] = _build(store, [Conversation("k", "t", [ImportedMessage("system", ""), ImportedMessage("user", "x")])])
    assert len(session.state().messages) == 2
    assert any("the system message is empty in the source" in w for w in report.warnings)


def test_folded_messages_model_calls_and_original_times(store):
    moment = timestamp("2024-05-06T07:08:09Z")
    items = [ImportedMessage("system", "hidden prompt", folded=True),
             ImportedMessage("user", "hi", timestamp=moment),
             ImportedMessage("assistant", "hello", reasoning="think", call=ModelCall("gpt-4o", {"prompt_tokens": 9,
                                                                                       "completion_tokens": 2}))]
    report, [session] = _build(store, [Conversation("k", "t", items)])
    kinds = [type(r.event) for r in session.records()]
    assert kinds == [ConversationImported, MessageAdded, FragmentFolded, MessageAdded, LLMCalled, MessageAdded]
    call = session.records()[4]
    assert call.event.usage == {"prompt_tokens": 9, "completion_tokens": 2} and call.ts == datetime(2024, 5, 6, 7, 8, 9)
    assert session.render()[0]["content"].startswith("[folded fragment")
    assert (report.folded_messages, report.model_calls, report.reasoning_parts) == (1, 1, 1)


def test_a_compaction_folds_what_came_before_it_and_is_recorded(store):
    items = [ImportedMessage("user", "old question"), ImportedMessage("assistant", "old answer"),
             Compaction(before_tokens=150_000, after_tokens=9_000, trigger="auto", source="claude-code"),
             ImportedMessage("user", "summary of the earlier conversation"), ImportedMessage("assistant", "new")]
    report, [session] = _build(store, [Conversation("k", "t", items)])
    [compaction] = [r.event for r in session.records() if isinstance(r.event, ContextCompacted)]
    assert (compaction.before_tokens, compaction.after_tokens, compaction.trigger) == (150_000, 9_000, "auto")
    statuses = [m.fragments[0].status for m in session.state().messages]
    assert statuses == ["folded", "folded", "visible", "visible"] and report.compactions == 1


def test_a_branch_is_a_fork_of_its_parent_at_the_branching_message(store):
    main = Conversation("main", "Talk", [ImportedMessage("user", "q"), ImportedMessage("assistant", "kept answer")])
    branch = Conversation("b1", "Talk (branch)", [ImportedMessage("assistant", "regenerated answer")],
                          parent_key="main", branch_at=1)
    report, [parent, fork] = _build(store, [main, branch])
    row = fork.info()
    assert row["forked_from"] == parent.id and row["forked_at"] == 2  # the origin event and the question
    assert [m.text for m in fork.state().messages] == ["q", "regenerated answer"]
    assert report.messages_by_role == {"user": 1, "assistant": 2}  # the shared question counted once
    assert [s["relation"] for s in report.sessions] == [None, "fork"]


def test_a_branch_whose_parent_is_missing_is_a_bad_record(store):
    orphan = Conversation("b", "x", [ImportedMessage("user", "q")], parent_key="gone", branch_at=1, position="record [4]")
    with pytest.raises(ImportFormatError, match=r"record \[4\]: a branch whose parent conversation is not in the file"):
        _build(store, [orphan])


def test_a_subagent_is_its_own_session_linked_to_its_parent(store):
    main = Conversation("main", "Work", [ImportedMessage("user", "do it")])
    helper = Conversation("side", "Work: subagent", [ImportedMessage("user", "sub task")], parent_key="main",
                          relation="subagent", parent_tool_call="toolu_1", source_id="agent-1")
    _, [parent, sub] = _build(store, [main, helper])
    info = sub.info()
    assert (info["forked_from"], info["forked_at"]) == (parent.id, 0)
    assert info["imported_from"] == "test.json (subagent, id agent-1)"
    origin = sub.records()[0].event
    assert (origin.relation, origin.parent_session, origin.parent_tool_call) == ("subagent", parent.id, "toolu_1")


@pytest.mark.parametrize(("value", "expected"), [
    (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20)),
    (1_700_000_000_000, datetime(2023, 11, 14, 22, 13, 20)),
    ("1700000000000000000", datetime(2023, 11, 14, 22, 13, 20)),
    ("2025-09-03T10:00:00.5+02:00", datetime(2025, 9, 3, 8, 0, 0, 500000)),
    ("yesterday", None), (None, None), (True, None),
])
def test_timestamps_from_any_source_become_naive_utc(value, expected):
    assert timestamp(value) == expected


def test_a_branch_holds_its_parents_events_exactly_up_to_the_branch_point(store):
    main = Conversation("main", "Talk", [ImportedMessage("user", f"q{n}") for n in range(5)])
    branches = [Conversation(f"b{n}", f"branch {n}", [ImportedMessage("user", f"other {n}")], parent_key="main",
                             branch_at=n) for n in (1, 3, 4)]
    _, [parent, *forks] = _build(store, [main, *branches])
    for fork, at in zip(forks, (1, 3, 4)):
        shared = fork.info()["forked_at"]
        assert [r.event for r in fork.records()[:shared]] == [r.event for r in parent.records()[:shared]]
        assert [m.text for m in fork.state().messages] == [f"q{n}" for n in range(at)] + [f"other {at}"]


def test_the_report_counts_what_a_compaction_folded(store):
    items = [ImportedMessage("user", "a"), ImportedMessage("assistant", "b"), ImportedMessage("tool", "", tool_call_id="x"),
             Compaction(before_tokens=10), ImportedMessage("user", "c")]
    report, _ = _build(store, [Conversation("k", "t", items)])
    assert report.folded_messages == 2  # the empty tool result has no text to fold
