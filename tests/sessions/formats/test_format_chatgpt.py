"""ChatGPT exports: the two shared samples, branches as forks, content types, tools, bad records, detection."""

from __future__ import annotations

import json
import zipfile
from datetime import datetime, timezone

import pytest

from engine.errors import ImportFormatError
from engine.events import LLMCalled
from engine.imports import ConversationImported
from sessions.formats import chatgpt, detect
from sessions.formats.source import Source, open_sources

CHATLORE = "chatgpt-export/chatlore/conversations.json"
PARSER = "chatgpt-export/chatgpt-export-parser/example-conversation.json"


def detected(path) -> str:
    return detect(open_sources(path)[0]).name


def node(node_id, parent, children, role=None, parts=None, at=None, content=None, **message):
    """A mapping node; no role makes the null-message root."""
    if role is None:
        return {"id": node_id, "message": None, "parent": parent, "children": children}
    author = {"role": role, "name": message.pop("name", None), "metadata": {}}
    body = content if content is not None else {"content_type": "text", "parts": parts or []}
    return {"id": node_id, "parent": parent, "children": children,
            "message": {"id": node_id, "author": author, "create_time": at, "content": body, **message}}


def conversation(title, nodes, current, **fields):
    return {"title": title, "create_time": 1700000000.0, "conversation_id": f"id-{title}", "current_node": current,
            "mapping": {n["id"]: n for n in nodes}, **fields}


def messages(session):
    return session.state().messages


# ---- the real samples -------------------------------------------------------------------------


def test_chatlore_is_refused_whole_naming_both_bad_records(sample, store):
    path = sample(CHATLORE)
    assert detected(path) == "chatgpt"
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    text = str(caught.value)
    assert "2 bad records" in text
    assert 'record [2] "Broken record": the conversation has no "mapping"' in text
    assert 'record [3] "No id": the conversation has no messages' in text
    assert "--skip-invalid" in text
    assert store.list_sessions() == []


def test_chatlore_with_skip_invalid_makes_two_sessions_and_the_regenerated_answer_as_a_fork(sample, imported):
    report, sessions = imported(sample(CHATLORE), skip_invalid=True)
    file = report.files[0]
    assert file.format == "chatgpt" and file.label == "ChatGPT export"
    assert [(s["title"], s["relation"]) for s in file.sessions] == [
        ("Postgres indexing", None), ("Postgres indexing (branch at message 3)", "fork"), ("Trip ideas", None)]
    assert dict(file.messages_by_role) == {"system": 1, "user": 3, "assistant": 5, "tool": 1}
    counts = (file.tool_calls, file.tool_results, file.reasoning_parts, file.attachments, file.model_calls)
    assert counts == (1, 1, 1, 2, 5)
    assert file.skipped == ['record [2] "Broken record": the conversation has no "mapping" (its messages by node id)',
                            'record [3] "No id": the conversation has no messages']
    assert file.warnings == ["Postgres indexing: /0/mapping/sys: the system message is empty in the source"]

    main, fork, trip = sessions
    thread = messages(main)
    assert [m.role for m in thread] == ["system", "user", "assistant", "user", "assistant", "tool", "assistant"]
    assert [m.extra["id"] for m in thread] == ["sys", "u1", "a2", "u2", "c1", "x1", "a3"]
    system, ask, answer, image, code, result, done = thread
    assert system.content is None and system.extra["metadata"]["is_visually_hidden_from_conversation"] is True
    assert ask.attachments == ({"type": "file", "id": "file-1", "name": "explain.txt", "mime_type": "text/plain"},)
    assert image.content == "Here is the plan output. Can you write the statement?"
    assert image.attachments == ({"type": "image_asset_pointer", "content_type": "image_asset_pointer",
                                  "asset_pointer": "file-service://file-2"},)
    # the thoughts block is the reasoning of the code that follows; the code calls python, which answers
    assert code.reasoning == "x\ny" and code.content is None and code.extra["language"] == "sql"
    assert code.tool_calls == ({"id": "call_c1", "type": "function", "function": {
        "name": "python", "arguments": "CREATE INDEX idx_orders_customer ON orders (customer_id, created_at);"}},)
    assert result.tool_call_id == "call_c1" and result.name == "python" and result.content == "CREATE INDEX"
    assert done.content == "Done. The query should now use the index."

    assert fork.forked_from == main.id
    assert [m.content for m in messages(fork)][1:] == ["Why is my query on orders slow?",
                                                       "First answer that was regenerated."]
    origin = next(r.event for r in main.records() if isinstance(r.event, ConversationImported))
    assert (origin.format, origin.model) == ("chatgpt", "gpt-5")
    assert origin.source_id == "11111111-aaaa-4bbb-8ccc-000000000001"
    assert origin.attributes["update_time"] == 1767265200.5
    assert main.records()[0].ts == datetime.fromtimestamp(1767261600, timezone.utc).replace(tzinfo=None)
    assert "22222222-aaaa-4bbb-8ccc-000000000002" in trip.imported_from  # the id under "id"
    assert [r.event.model for r in trip.records() if isinstance(r.event, LLMCalled)] == ["gpt-5-mini"]


def test_parser_sample_keeps_its_system_root_and_forks_at_the_edited_prompt(sample, imported):
    path = sample(PARSER)
    assert detected(path) == "chatgpt"
    report, (main, fork) = imported(path)
    file = report.files[0]
    assert [s["relation"] for s in file.sessions] == [None, "fork"]
    assert dict(file.messages_by_role) == {"system": 1, "user": 3, "assistant": 2}
    assert file.model_calls == 2
    assert [m.extra["id"] for m in messages(main)] == ["msg-1", "msg-2", "msg-3", "msg-4", "msg-6"]
    assert messages(main)[0].role == "system" and messages(main)[0].extra["status"] == "finished"
    assert fork.title == "Sample conversation with branch (branch at message 4)"
    assert fork.forked_from == main.id
    assert [m.extra["id"] for m in messages(fork)] == ["msg-1", "msg-2", "msg-3", "msg-5"]


# ---- branches ----------------------------------------------------------------------------------


def test_a_branch_of_a_branch_follows_the_newest_child_and_forks_from_its_branch(write, imported):
    tree = [node("r", None, ["u1"]), node("u1", "r", ["a1", "a2"], "user", ["question"], 1),
            node("a1", "u1", ["u2"], "assistant", ["old answer"], 2),
            node("a2", "u1", [], "assistant", ["new answer"], 3),
            node("u2", "a1", ["b1", "b2"], "user", ["follow-up"], 4),
            node("b1", "u2", [], "assistant", ["later reply"], 9),  # listed first but newer: the continuation
            node("b2", "u2", [], "assistant", ["earlier reply"], 5)]
    report, (main, first, second) = imported(write("c.json", [conversation("Tree", tree, "a2")]))
    assert [s["title"] for s in report.files[0].sessions] == [
        "Tree", "Tree (branch at message 2)", "Tree (branch at message 4)"]
    assert [m.content for m in messages(main)] == ["question", "new answer"]
    assert [m.content for m in messages(first)] == ["question", "old answer", "follow-up", "later reply"]
    assert [m.content for m in messages(second)] == ["question", "old answer", "follow-up", "earlier reply"]
    assert first.forked_from == main.id and second.forked_from == first.id
    assert dict(report.files[0].messages_by_role) == {"user": 2, "assistant": 4}  # each counts what it adds


def test_two_regenerations_at_one_point_get_distinct_titles(write, imported):
    tree = [node("u", None, ["a", "b", "c"], "user", ["hi"], 1), node("a", "u", [], "assistant", ["one"], 2),
            node("b", "u", [], "assistant", ["two"], 3), node("c", "u", [], "assistant", ["three"], 4)]
    report, sessions = imported(write("c.json", [conversation("Hi", tree, "c")]))
    assert [s.title for s in sessions] == ["Hi", "Hi (branch at message 2)", "Hi (branch 2 at message 2)"]
    assert [messages(s)[-1].content for s in sessions] == ["three", "one", "two"]


def test_thoughts_before_a_branch_point_reach_the_reply_of_each_branch(write, imported):
    thoughts = {"content_type": "thoughts", "thoughts": [{"summary": "Plan", "content": "think it over"}]}
    tree = [node("u", None, ["t"], "user", ["q"], 1), node("t", "u", ["a", "b"], "assistant", at=2, content=thoughts),
            node("a", "t", [], "assistant", ["A"], 3), node("b", "t", [], "assistant", ["B"], 4)]
    _, (main, fork) = imported(write("c.json", [conversation("T", tree, "b")]))
    assert [(m.content, m.reasoning) for m in messages(main)] == [("q", None), ("B", "Plan\nthink it over")]
    assert [(m.content, m.reasoning) for m in messages(fork)][1:] == [("A", "Plan\nthink it over")]


# ---- content types and tools -------------------------------------------------------------------


def test_tools_thoughts_recaps_hidden_context_and_unknown_types(write, imported):
    hidden = {"content_type": "user_editable_context", "user_profile": "I am a chemist.", "user_instructions": ""}
    recap = {"content_type": "reasoning_recap", "content": "Thought for 4 seconds"}
    display = {"content_type": "tether_browsing_display", "result": "L0: search results", "summary": None}
    quote = {"content_type": "tether_quote", "url": "https://example.org", "title": "Ex", "text": "quoted text"}
    tree = [
        node("ctx", None, ["u"], "user", at=1, content=hidden, metadata={"is_visually_hidden_from_conversation": True}),
        node("u", "ctx", ["s"], "user", ["look it up"], 2),
        node("s", "u", ["d"], "assistant", ["search('x')"], 3, recipient="browser", metadata={"model_slug": "gpt-4o"}),
        node("d", "s", ["q"], "tool", at=4, content=display, name="browser"),
        node("q", "d", ["r"], "tool", at=5, content=quote, name="browser"),
        node("r", "q", ["f"], "assistant", at=6, content=recap),
        node("f", "r", ["z"], "assistant", ["Found it."], 7, recipient="all"),
        node("z", "f", ["t"], "user", at=8, content={"content_type": "sparkle", "blob": [1, 2]}),
        node("t", "z", [], "assistant", at=9, content={"content_type": "thoughts", "thoughts": [{"content": "hm"}]}),
    ]
    report, (session,) = imported(write("c.json", [conversation("Tools", tree, "t")]))
    file = report.files[0]
    thread = messages(session)
    context, ask, call, shown, quoted, found, odd, musing = thread
    assert context.content == "I am a chemist." and context.extra["content_type"] == "user_editable_context"
    assert [f.status for f in context.fragments] == ["folded"] and file.folded_messages == 1
    assert call.content is None and call.tool_calls[0]["id"] == "call_s"
    assert call.tool_calls[0]["function"] == {"name": "browser", "arguments": "search('x')"}
    assert (shown.tool_call_id, quoted.tool_call_id) == ("call_s", "call_s")  # two results of one call
    assert shown.content == "L0: search results" and quoted.content == "quoted text"
    assert quoted.extra["content"] == {"url": "https://example.org", "title": "Ex"}
    assert found.extra["reasoning_recap"] == "Thought for 4 seconds" and found.reasoning is None
    assert odd.content is None and odd.attachments == ({"type": "sparkle", "content_type": "sparkle", "blob": [1, 2]},)
    assert musing.role == "assistant" and musing.content is None and musing.reasoning == "hm"  # no reply followed
    calls = [r.event for r in session.records() if isinstance(r.event, LLMCalled)]
    assert [(c.model, c.finish_reason) for c in calls] == [("gpt-4o", "tool_calls")]
    assert file.warnings == []


def test_a_tool_message_with_no_call_is_kept_and_the_builder_says_so(write, imported):
    tree = [node("u", None, ["x"], "user", ["hi"], 1),
            node("x", "u", [], "tool", at=2, content={"content_type": "text", "parts": ["files ready"]},
                 name="myfiles_browser")]
    report, (session,) = imported(write("c.json", [conversation("Orphan", tree, "x")]))
    assert messages(session)[1].role == "tool" and messages(session)[1].content == "files ready"
    assert any("a tool result with no call before it" in w for w in report.files[0].warnings)


def test_text_of_the_wrong_type_is_coerced_with_a_warning(write, imported):
    tree = [node("u", None, [], "user", ["count:", 42], 1)]
    report, (session,) = imported(write("c.json", [conversation("Odd", tree, "u")]))
    assert messages(session)[0].content == "count:\n42"
    assert report.files[0].warnings == ["Odd: /0/mapping/u: a int part where text was expected; kept as text"]


def test_a_lone_conversation_object_imports_and_a_missing_current_node_takes_the_newest_thread(write, imported):
    tree = [node("u", None, ["a", "b"], "user", ["q"], 1), node("a", "u", [], "assistant", ["old"], 2),
            node("b", "u", [], "assistant", ["new"], 3)]
    record = conversation("Lone", tree, "gone")
    path = write("one.json", record)
    assert detected(path) == "chatgpt"
    report, (main, fork) = imported(path)
    assert [m.content for m in messages(main)] == ["q", "new"] and messages(fork)[-1].content == "old"
    assert report.files[0].warnings == ["Lone: current_node 'gone' is not in the mapping; took the newest thread"]


# ---- bad records, detection, streaming ---------------------------------------------------------


def test_bad_records_are_named_by_position_and_skip_invalid_keeps_the_rest(write, store):
    good = conversation("Good", [node("u", None, [], "user", ["hello"], 1)], "u")
    loop = conversation("Loop", [node("a", "b", [], "user", ["x"], 1), node("b", "a", [], "user", ["y"], 2)], "a")
    broken = conversation("Broken", [node("u", None, [], "user", ["x"], 1)], "u")
    broken["mapping"]["u"]["message"] = "not an object"
    path = write("bad.json", [good, "text", loop, broken])
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    assert str(caught.value).splitlines()[1:4] == [
        "  - record [1]: a conversation must be an object, not str",
        "  - /2/mapping/a: the parent links form a loop: 'a' -> 'b' -> 'a'",
        "  - /3/mapping/u/message: a message must be an object or null"]
    assert store.list_sessions() == []
    report = store.import_file(path, skip_invalid=True)
    assert [s["title"] for s in report.files[0].sessions] == ["Good"] and len(report.files[0].skipped) == 3


def test_a_bad_first_record_does_not_stop_detection(write):
    good = conversation("Good", [node("u", None, [], "user", ["hello"], 1)], "u")
    assert detected(write("c.json", [{"title": "Broken", "conversation_id": "x"}, good])) == "chatgpt"


def test_records_without_mapping_are_a_near_miss_with_the_reason(write):
    path = write("c.json", [{"title": "Broken", "create_time": 1.0, "conversation_id": "x"}])
    with pytest.raises(ImportFormatError) as caught:
        detected(path)
    assert 'ChatGPT export (chatgpt): a ChatGPT export record, but it has no "mapping"' in str(caught.value)
    assert chatgpt.sniff(open_sources(write("m.json", [{"role": "user", "content": "hi"}]))[0].sample).closeness == 0


def test_an_export_zip_is_read_through_its_conversations_json(tmp_path, imported):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as packed:
        packed.writestr("chat.html", "<html></html>")
        packed.writestr("conversations.json", json.dumps(
            [conversation("Zipped", [node("u", None, [], "user", ["from the zip"], 1)], "u")]))
    report, (session,) = imported(archive)
    assert report.files[0].file == "export.zip:conversations.json" and report.files[0].format == "chatgpt"
    assert messages(session)[0].content == "from the zip"


def test_an_array_is_streamed_never_loaded_whole(write, imported, monkeypatch):
    def refuse(self):
        raise AssertionError("document() read the whole file")

    monkeypatch.setattr(Source, "document", refuse)
    records = [conversation(f"C{n}", [node("u", None, [], "user", [f"message {n}"], 1)], "u") for n in range(30)]
    report, sessions = imported(write("c.json", records))
    assert len(sessions) == 30 and messages(sessions[-1])[0].content == "message 29"


# ---- nothing dropped without a word --------------------------------------------------------------


def test_odd_metadata_attachments_and_recipients_are_kept_and_named_in_warnings(write, imported):
    tree = [node("u", None, ["s"], "user", ["hi"], 1, metadata={"attachments": "notes.txt", "lang": "en"}),
            node("s", "u", ["x"], "assistant", ["search('x')"], 2, recipient="browser"),
            node("x", "s", ["a"], "tool", ["found"], 3, name="browser", recipient="all"),
            node("a", "x", ["b"], "assistant", ["yo"], 4, metadata=[1, 2], recipient=5),
            node("b", "a", ["w"], "assistant", ["ok"], 5, recipient="all", metadata={"attachments": {"id": "f"}}),
            {"id": "w", "parent": "b", "children": [], "message": {"author": "me", "content": "who?", "extra_key": 1}}]
    report, (session,) = imported(write("c.json", [conversation("Odd", tree, "w")]))
    ask, call, found, odd, done, who = messages(session)
    assert ask.attachments == ({"type": "file", "value": "notes.txt"},) and ask.extra["metadata"] == {"lang": "en"}
    assert odd.extra["metadata"] == [1, 2] and odd.content == "yo" and not odd.tool_calls
    assert done.attachments == ({"type": "file", "id": "f"},)
    assert [m.extra.get("recipient") for m in (ask, call, found, odd, done)] == [None, "browser", "all", 5, "all"]
    assert call.tool_calls[0]["function"]["name"] == "browser" and found.tool_call_id == "call_s"
    assert (who.role, who.content, who.extra["author"], who.extra["extra_key"]) == ("system", "who?", "me", 1)
    assert report.files[0].warnings == [
        "Odd: /0/mapping/u: metadata.attachments is str, not a list; kept as one attachment",
        "Odd: /0/mapping/a: metadata is list, not an object; kept in extra as it is",
        "Odd: /0/mapping/a: recipient is int, not a tool name; kept in extra, not read as a tool call",
        "Odd: /0/mapping/b: metadata.attachments is dict, not a list; kept as one attachment",
        "Odd: /0/mapping/w: author is str, not an object; kept in extra, imported as a system message"]


# ---- a tree that shows nothing: why -----------------------------------------------------------------


def looped_tree():
    return [node("a", "b", ["b"], "user", ["hi"], 1), node("b", "a", ["a"], "assistant", ["yo"], 2),
            node("r", None, [])]


def refusal(store, path) -> list[str]:
    with pytest.raises(ImportFormatError) as caught:
        store.import_file(path)
    assert store.list_sessions() == []
    return str(caught.value).splitlines()[1:2]


def test_a_loop_beside_an_empty_root_is_named_not_called_empty(write, store):
    path = write("c.json", [conversation("T", looped_tree(), "r")])
    assert refusal(store, path) == [
        '  - record [0] "T": the conversation has no messages outside a loop of parent links: '
        "its messages are at nodes 'a', 'b', which no root leads to"]


def test_a_current_node_not_in_the_mapping_is_named_with_the_loop(write, store):
    path = write("c.json", [conversation("T", looped_tree(), "zzz")])
    assert refusal(store, path) == [
        '  - record [0] "T": the conversation has no messages outside a loop of parent links: '
        "current_node 'zzz' is not in the mapping, and its messages are at nodes 'a', 'b', which no root leads to"]


def test_a_current_node_not_in_the_mapping_of_an_empty_tree_is_named(write, store):
    path = write("c.json", [conversation("T", [node("r", None, [])], "zzz")])
    assert refusal(store, path) == [
        '  - record [0] "T": the conversation has no messages (current_node \'zzz\' is not in the mapping)']


def test_a_loop_beside_the_thread_is_named_in_the_warning(write, imported):
    tree = looped_tree()[:2] + [node("u", None, [], "user", ["kept"], 3)]
    report, (session,) = imported(write("c.json", [conversation("T", tree, "u")]))
    assert [m.content for m in messages(session)] == ["kept"]
    assert report.files[0].warnings == [
        "T: nodes 'a', 'b' are in or under a loop of parent links, which no root leads to; left out"]
