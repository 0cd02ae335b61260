"""What every transport's test asks of the MCP server, through the official client: the tools and
their schemas against the registry's, each Sculptor tool called, bad arguments, every resource
read, and the events seen in the store afterwards."""

from __future__ import annotations

import json
from typing import Any

import anyio
from mcp import Client

from engine import registry
from sessions import SessionStore
from sessions.mcp_server.resources import KINDS
from sessions.mcp_server.tools import SESSION_PARAMETER, with_session_parameter
from tests.conftest import long_text
from sessions.mcp_server.tools import STORE_TOOLS as STORE_TOOL_DEFINITIONS

SCULPTOR = ("fragment_context", "fold_fragment", "summarize_fragment", "restore_fragment", "search_context",
            "get_search_detail")
RESULT_EVENTS = ["context_fragmented", "fragment_folded", "fragment_summarized", "fragment_restored",
                 "context_searched", "search_detail_viewed", "tool_failed"]  # what `sculpt_all`'s calls leave, in order


def talk(server: Any, conversation) -> Any:
    """Run `conversation(client)` against `server` with the official client, in memory."""

    async def run() -> Any:
        async with Client(server) as client:
            return await conversation(client)

    return anyio.run(run)


def seeded(store: SessionStore, title: str = "notes"):
    session = store.create_session(title)
    session.add_message("user", long_text(30))
    session.add_message("assistant", "I have read the notes.")
    return session


async def sculpt_all(client: Any, session_id: str, argument: bool) -> dict[str, Any]:
    """Each Sculptor tool once, then a bad call, then every resource of the session.
    `argument`: the tools take the session as `session_id` (a server on the whole store)."""
    where = {SESSION_PARAMETER: session_id} if argument else {}

    async def call(name: str, arguments: dict[str, Any]) -> Any:
        result = await client.call_tool(name, {**where, **arguments})
        assert result.is_error is False, (name, result.content[0].text)
        assert json.loads(result.content[0].text) == result.structured_content
        return result.structured_content

    listed = (await client.list_tools()).tools
    made = await call("fragment_context", {"start_marker": "Paragraph 2.", "end_marker": "End of notes.",
                                           "num_fragments": 3})
    first, second = (piece["fragment_id"] for piece in made["fragments"][:2])
    await call("fold_fragment", {"fragment_id": first})
    await call("summarize_fragment", {"fragment_id": second, "focus": "budget lines"})
    await call("restore_fragment", {"fragment_id": second})
    found = await call("search_context", {"query": "budget line 39"})
    detail = await call("get_search_detail", {"search_id": found["results"][0]["search_id"]})
    bad = await client.call_tool("fold_fragment", {**where, "fragment_id": ["not", "an", "id"]})
    resources = {kind.name: (await client.read_resource(f"workbench://sessions/{session_id}/{kind.name}"))
                 .contents[0].text for kind in KINDS}
    return {"tools": listed, "folded": first, "found": found, "detail": detail, "bad": bad, "resources": resources}


def check_all(seen: dict[str, Any], events: list[dict[str, Any]], argument: bool) -> None:
    """What `sculpt_all` saw, and the session's events as the store holds them afterwards."""
    tools = {tool.name: tool.input_schema for tool in seen["tools"]}
    expected = {name: registry.get(name).parameters for name in registry.names}
    if argument:
        expected = {**{tool.name: tool.parameters for tool in STORE_TOOL_DEFINITIONS},
                    **{name: with_session_parameter(schema) for name, schema in expected.items()}}
    assert list(tools) == list(expected) and tools == expected
    assert seen["found"]["total_matches"] >= 1 and "budget line 39" in seen["detail"]["text"].lower()
    assert seen["bad"].is_error and "parameter 'fragment_id'" in seen["bad"].content[0].text
    context = json.loads(seen["resources"]["context"])
    assert any(f"[folded fragment {seen['folded']}:" in str(message["content"]) for message in context)
    assert json.loads(seen["resources"]["stats"])["fragments_by_status"]["folded"] == 1
    assert [json.loads(line)["kind"] for line in seen["resources"]["events"].splitlines()] == [
        event["kind"] for event in events]
    assert "summary" in json.loads(seen["resources"]["tasks"])
    assert set(json.loads(seen["resources"]["memory"])) == {"core_memory", "memories", "edges"}
    assert [event["kind"] for event in events][-len(RESULT_EVENTS):] == RESULT_EVENTS
    folded = next(e for e in events if e["kind"] == "fragment_folded")
    assert folded["payload"]["fragment_id"] == seen["folded"]
