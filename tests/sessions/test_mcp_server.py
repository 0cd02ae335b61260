"""The MCP server, driven by the official MCP client in memory: the tools are the registry's, a call
leaves the events any other call leaves, errors come back as results, and the resources and
prompts say what the session and the paper say."""

from __future__ import annotations

import json
import re

import pytest
from mcp.shared.exceptions import MCPError

from engine import registry
from sessions.mcp_server import build_server
from sessions.mcp_server.tools import SESSION_PARAMETER
from tests.conftest import ROOT
from tests.sessions.mcp_client_checks import SCULPTOR, check_all, sculpt_all, seeded, talk


async def refused(call) -> str:
    """The message of the protocol error `call` ends in (the client raises it as an MCPError)."""
    with pytest.raises(MCPError) as caught:
        await call
    return caught.value.message


def kinds(session) -> list[str]:
    return [event["kind"] for event in session.events()]


def test_on_one_session_the_tools_are_the_registrys_with_its_schemas_as_they_are(store):
    session = seeded(store)
    listed = talk(build_server(store, session.id), lambda client: client.list_tools()).tools
    assert [tool.name for tool in listed] == registry.names
    for tool in listed:
        assert tool.input_schema == registry.get(tool.name).parameters
        assert tool.description == registry.get(tool.name).description


def test_on_the_store_each_tool_takes_a_session_id_first_and_the_store_tools_come_too(store):
    listed = talk(build_server(store), lambda client: client.list_tools()).tools
    by_name = {tool.name: tool for tool in listed}
    assert list(by_name) == ["list_sessions", "create_session", *registry.names]
    for name in registry.names:
        schema = json.loads(json.dumps(by_name[name].input_schema))
        assert schema["required"][0] == SESSION_PARAMETER
        assert list(schema["properties"])[0] == SESSION_PARAMETER
        assert schema["properties"].pop(SESSION_PARAMETER)["type"] == "string"
        schema["required"].remove(SESSION_PARAMETER)
        assert schema == registry.get(name).parameters  # the rest untouched
    create = by_name["create_session"].input_schema
    assert create["required"] == ["title"]
    assert create["$defs"]["ChatMessage"]["properties"]["role"]["enum"] == ["system", "user", "assistant"]
    assert by_name["list_sessions"].input_schema["properties"] == {}


def _sculpt(call):
    """Every Sculptor tool once, in an order where each has something to act on."""
    made = call("fragment_context", {"start_marker": "Paragraph 3.", "end_marker": "End of notes.", "num_fragments": 4})
    first, second = (piece["fragment_id"] for piece in made["fragments"][:2])
    results = [made,
               call("fold_fragment", {"fragment_id": first}),
               call("summarize_fragment", {"fragment_id": second, "focus": "budget lines"}),
               call("restore_fragment", {"fragment_id": first})]
    found = call("search_context", {"query": "budget line 130"})
    assert found["results"], found
    results += [found, call("get_search_detail", {"search_id": found["results"][0]["search_id"]})]
    return results


def test_each_sculptor_tool_over_mcp_leaves_the_events_and_result_of_a_direct_call(store):
    over_mcp, direct = seeded(store, "over MCP"), seeded(store, "direct")

    async def conversation(client):
        answers = []
        for name, arguments in _calls:
            result = await client.call_tool(name, {SESSION_PARAMETER: over_mcp.id, **arguments})
            assert result.is_error is False, result.content[0].text
            assert json.loads(result.content[0].text) == result.structured_content
            answers.append(result.structured_content)
        return answers

    _calls: list = []

    def record(name, arguments):  # the direct run names the calls the MCP run then makes
        _calls.append((name, arguments))
        return direct.call_tool(name, arguments)

    expected = _sculpt(record)
    assert [name for name, _ in _calls] == list(SCULPTOR)
    answers = talk(build_server(store), conversation)
    assert answers == expected
    reopened = store.open_session(over_mcp.id)
    assert [(e["kind"], e["payload"]) for e in reopened.events()] == [(e["kind"], e["payload"]) for e in direct.events()]
    assert {"context_fragmented", "fragment_folded", "fragment_summarized", "fragment_restored",
            "context_searched"} <= set(kinds(reopened))
    assert reopened.render() == direct.render()


def test_bad_arguments_are_an_error_result_with_the_registrys_text_and_a_tool_failed_event(store):
    session, twin = seeded(store), seeded(store, "twin")
    bad = {"fragment_id": 42}
    expected = twin.call_tool("fold_fragment", bad, from_model=True)["error"]

    async def conversation(client):
        return [await client.call_tool("fold_fragment", bad),
                await client.call_tool("search_context", {"query": "budget", "include_reasoning": True}),
                await client.call_tool("fold_fragmnt", {"fragment_id": "f1"})]

    wrong_type, hidden, unknown = talk(build_server(store, session.id), conversation)
    assert wrong_type.is_error and wrong_type.content[0].text == expected
    assert "parameter 'fragment_id'" in expected and "Example of valid arguments" in expected
    assert hidden.is_error and "unexpected parameter 'include_reasoning'" in hidden.content[0].text
    assert unknown.is_error and "Did you mean 'fold_fragment'?" in unknown.content[0].text
    failed = [e for e in store.open_session(session.id).events() if e["kind"] == "tool_failed"]
    assert [e["payload"]["tool"] for e in failed] == ["fold_fragment", "search_context", "fold_fragmnt"]
    assert failed[0]["payload"]["error"] == expected


def test_on_the_store_a_call_without_a_known_session_is_an_error_result_and_writes_nothing(store):
    session = seeded(store)
    before = kinds(session)

    async def conversation(client):
        return [await client.call_tool("fold_fragment", {"fragment_id": "f1"}),
                await client.call_tool("fold_fragment", {SESSION_PARAMETER: "nosuchsession", "fragment_id": "f1"}),
                await client.call_tool("fold_fragment", {SESSION_PARAMETER: 7, "fragment_id": "f1"}),
                await client.call_tool("no_such_tool", {SESSION_PARAMETER: session.id}),
                await client.call_tool("list_sessions", {"verbose": True})]

    missing, unknown, not_text, no_tool, extra = talk(build_server(store), conversation)
    assert all(result.is_error for result in (missing, unknown, not_text, no_tool, extra))
    assert "missing required parameter 'session_id'" in missing.content[0].text
    assert f'"{SESSION_PARAMETER}": "' in missing.content[0].text  # the example names it
    assert "no session 'nosuchsession'" in unknown.content[0].text and "list_sessions" in unknown.content[0].text
    assert "must be a session's id" in not_text.content[0].text
    assert "unknown tool 'no_such_tool'" in no_tool.content[0].text
    assert "unexpected parameter 'verbose'" in extra.content[0].text
    after = store.open_session(session.id).events()
    assert [e["kind"] for e in after] == [*before, "tool_failed"]  # only the call that named a session
    assert after[-1]["payload"]["tool"] == "no_such_tool"  # as a CLI call or a one-session server leaves it


def test_a_session_prefix_is_enough_and_a_session_that_does_not_fold_refuses_changes(store):
    from engine.events import FragmentFolded

    session = seeded(store)
    session.record([FragmentFolded(fragment_id=session.state().messages[0].fragments[0].id)])
    good = session.last_seq
    # a fold whose fragment no longer exists: written by hand, as a bug might, so the log stops folding there
    store.events.append(session.id, good, lambda fresh: [FragmentFolded(fragment_id="fnothere")])
    result = talk(build_server(store), lambda client: client.call_tool(
        "fold_fragment", {SESSION_PARAMETER: session.id[:6], "fragment_id": "f1"}))
    assert result.is_error
    assert f"session {session.id} cannot be changed" in result.content[0].text
    assert f"--at {good}" in result.content[0].text


def test_create_session_stores_its_messages_in_one_go_and_list_sessions_shows_it(store):
    async def conversation(client):
        made = await client.call_tool("create_session", {"title": "Contract review", "messages": [
            {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Clause 4: the fee is 12%."}]})
        refused = await client.call_tool("create_session", {"title": "bad", "messages": [
            {"role": "tool", "content": "x"}]})
        listed = await client.call_tool("list_sessions", {})
        return made, refused, listed

    made, refused, listed = talk(build_server(store), conversation)
    assert made.is_error is False
    created = store.open_session(made.structured_content[SESSION_PARAMETER])
    assert made.structured_content["messages"] == ["m1", "m2"]
    assert [(m.role, m.text) for m in created.state().messages] == [
        ("system", "Be brief."), ("user", "Clause 4: the fee is 12%.")]
    assert refused.is_error and "parameter 'messages.0.role'" in refused.content[0].text
    rows = listed.structured_content["sessions"]
    assert [row["title"] for row in rows] == ["Contract review"]  # the refused one was never made
    assert rows[0]["messages"] == 2 and rows[0]["created_at"].endswith("Z")


def test_the_resources_are_the_sessions_context_stats_events_tasks_and_memory(store):
    session = seeded(store)
    session.call_tool("add_task", {"title": "Check the budget lines"})
    session.call_tool("memory_insert", {"content": "The committee meets daily.", "memory_type": "semantic",
                                        "entities": ["committee"]})
    session.call_tool("fold_fragment", {"fragment_id": session.state().messages[1].fragments[0].id})

    async def conversation(client):
        listed = await client.list_resources()
        read = {kind: await client.read_resource(f"workbench://sessions/{session.id}/{kind}")
                for kind in ("context", "stats", "events", "tasks", "memory")}
        return listed, read

    listed, read = talk(build_server(store, session.id), conversation)
    assert [r.uri for r in listed.resources] == [f"workbench://sessions/{session.id}/{kind}"
                                                 for kind in ("context", "stats", "events", "tasks", "memory")]
    text = {kind: result.contents[0].text for kind, result in read.items()}
    assert json.loads(text["context"]) == session.render()
    stats = json.loads(text["stats"])
    assert stats["rendered_tokens"] == session.stats()["rendered_tokens"] and stats["tool_profile"] == session.settings["tools"]
    assert stats["tool_schema_tokens"] > 0
    assert [json.loads(line) for line in text["events"].splitlines()] == json.loads(json.dumps(session.events()))
    assert read["events"].contents[0].mime_type == "application/x-ndjson"
    tasks = json.loads(text["tasks"])
    assert "Check the budget lines" in tasks["tasks"] and tasks["summary"].startswith("0 of 1")
    memory = json.loads(text["memory"])
    [fact] = [m for m in memory["memories"] if m["content"] == "The committee meets daily."]
    assert {"memory_id": fact["memory_id"], "entity": "committee"} in memory["edges"]


def test_a_resource_that_does_not_exist_is_an_error_naming_what_does(store):
    session, other = seeded(store), seeded(store, "other")

    def failure(server, uri):
        return talk(server, lambda client: refused(client.read_resource(uri)))

    assert "/context" in failure(build_server(store), f"workbench://sessions/{session.id}/nothing")
    assert "no session" in failure(build_server(store), "workbench://sessions/ffffffffffff/context")
    assert f"serves session {session.id} only" in failure(build_server(store, session.id),
                                                          f"workbench://sessions/{other.id}/context")
    assert "no resource" in failure(build_server(store, session.id), "workbench://sessions")


def test_the_store_lists_its_sessions_resources_a_page_at_a_time(store):
    made = [store.create_session(f"s{n}").id for n in range(61)]

    async def conversation(client):
        pages = [await client.list_resources()]
        while pages[-1].next_cursor:
            pages.append(await client.list_resources(cursor=pages[-1].next_cursor))
        sessions = await client.read_resource("workbench://sessions")
        return pages, sessions

    pages, sessions = talk(build_server(store), conversation)
    assert len(pages) == 2
    uris = [r.uri for page in pages for r in page.resources]
    assert uris[0] == "workbench://sessions" and len(uris) == 1 + 5 * 61 == len(set(uris))
    assert {re.match(r"workbench://sessions/(\w+)/", uri).group(1) for uri in uris[1:]} == set(made)
    assert json.loads(sessions.contents[0].text)["total"] == 61


def _published(label: str) -> str:
    """A prompt as the reference notes quote the paper: the text between the line's first and last quote."""
    line = next(line for line in (ROOT.parent / "shared" / "reference" / "sculptor-and-benchmarks.md")
                .read_text(encoding="utf-8").splitlines() if line.startswith(f"- **{label}**"))
    return line[line.index(': "') + 3:line.rindex('"')]


def test_the_prompts_are_sculptors_as_published(store):
    async def conversation(client):
        listed = await client.list_prompts()
        return listed, {p.name: await client.get_prompt(p.name) for p in listed.prompts}

    listed, got = talk(build_server(store), conversation)
    assert [p.name for p in listed.prompts] == ["sculptor_unified", "sculptor_pi_llm", "sculptor_needlebench"]
    for name, label in (("sculptor_unified", "Unified prompt"), ("sculptor_pi_llm", "PI-LLM prompt"),
                        ("sculptor_needlebench", "NeedleBench prompt")):
        [message] = got[name].messages
        assert message.content.text == _published(label)
    assert "the prompts are sculptor_unified" in talk(build_server(store), lambda client: refused(
        client.get_prompt("sculptor")))
    assert "takes no arguments" in talk(build_server(store), lambda client: refused(
        client.get_prompt("sculptor_unified", {"topic": "x"})))


def test_the_tools_said_to_be_read_only_change_nothing_a_model_is_sent(store):
    session = seeded(store)
    session.add_message("assistant", "The answer is 12.", reasoning="Let me think. Wait, check item 12 again.")
    session.call_tool("add_task", {"title": "Check the budget lines"})
    session.call_tool("memory_insert", {"content": "The committee meets daily.", "memory_type": "semantic"})
    before = (session.render(), session.window_stats(None))

    async def conversation(client):
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        found = await client.call_tool("search_context", {"query": "budget line"})
        calls = {"search_context": found,
                 "get_search_detail": await client.call_tool(
                     "get_search_detail", {"search_id": found.structured_content["results"][0]["search_id"]}),
                 "check_reasoning": await client.call_tool("check_reasoning", {}),
                 "list_tasks": await client.call_tool("list_tasks", {}),
                 "memory_search": await client.call_tool("memory_search", {"query": "committee"})}
        return listed, calls

    listed, calls = talk(build_server(store, session.id), conversation)
    read_only = sorted(name for name, tool in listed.items() if tool.annotations.read_only_hint)
    assert read_only == sorted(calls)
    assert all(tool.annotations.destructive_hint is False for tool in listed.values())
    for name, result in calls.items():
        assert result.is_error is False, (name, result.content[0].text)
    reopened = store.open_session(session.id)
    assert (reopened.render(), reopened.window_stats(None)) == before


@pytest.mark.parametrize("one_session", [True, False], ids=["one session", "the store"])
def test_in_memory_the_whole_round_every_transport_test_makes(store, one_session):
    session = seeded(store)
    server = build_server(store, session.id) if one_session else build_server(store)
    seen = talk(server, lambda client: sculpt_all(client, session.id, argument=not one_session))
    check_all(seen, store.open_session(session.id).events(), argument=not one_session)



def test_a_one_session_server_reads_its_own_session_by_any_prefix_and_never_names_others(store):
    made = [seeded(store, f"s{n}") for n in range(40)]  # 40 ids, 16 first characters: some share one
    session = next(m for m in made if sum(other.id[0] == m.id[0] for other in made) > 1)
    read = talk(build_server(store, session.id), lambda client: client.read_resource(
        f"workbench://sessions/{session.id[0]}/context"))
    assert json.loads(read.contents[0].text) == session.render()
