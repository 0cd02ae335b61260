"""The MCP server on a PostgreSQL store, as a desktop client starts it: the password given as the
client's env (PGPASSWORD), never in its config; every tool and resource as on a DuckDB file; and a
listening client hears of a change another process (another machine, in effect) committed."""

from __future__ import annotations

import json
import sys
import urllib.parse

import anyio
from mcp import Client, StdioServerParameters

from sessions import SessionStore
from sessions.cli_mcp import client_config
from tests.conftest import ROOT, long_text
from tests.sessions.mcp_client_checks import check_all, sculpt_all

WAIT = 60


def _without_password(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    password = urllib.parse.unquote(parts.password or "")
    netloc = f"{parts.username}@{parts.hostname}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")), password


def _seeded(url: str) -> str:
    store = SessionStore(url)
    session = store.create_session("notes")
    session.add_message("user", long_text(20))
    store.close()
    return session.id


def test_a_stdio_server_on_postgresql_serves_every_tool_and_resource_with_the_password_from_the_env(pg_url):
    session_id = _seeded(pg_url)
    url, password = _without_password(pg_url)
    entry = client_config(pg_url)["mcpServers"]["context-workbench"]
    assert entry["env"]["WORKBENCH_DB"] == url and password not in json.dumps(entry)  # the snippet never holds it
    server = StdioServerParameters(command=sys.executable, args=["-m", "sessions", "mcp"],
                                   env={"PYTHONPATH": str(ROOT), "WORKBENCH_DB": url, "PGPASSWORD": password})

    async def run() -> dict:
        async with Client(server, read_timeout_seconds=WAIT) as client:
            return await sculpt_all(client, session_id, argument=True)

    seen = anyio.run(run)
    store = SessionStore(pg_url)
    try:
        check_all(seen, store.open_session(session_id).events(), argument=True)
        actors = {record.actor.kind for record in store.open_session(session_id).records()[1:]}
        assert actors == {"model"}  # what the client did is the model's, with this machine's user and host
    finally:
        store.close()


def test_a_listening_client_hears_of_a_message_committed_by_another_process(pg_url):
    session_id = _seeded(pg_url)
    url, password = _without_password(pg_url)
    server = StdioServerParameters(command=sys.executable, args=["-m", "sessions", "mcp", "--session", session_id],
                                   env={"PYTHONPATH": str(ROOT), "WORKBENCH_DB": url, "PGPASSWORD": password})
    watched = f"workbench://sessions/{session_id}/events"

    async def run() -> tuple:
        async with Client(server, read_timeout_seconds=WAIT) as client:
            async with client.listen(resource_subscriptions=[watched]) as stream:
                writer = SessionStore(pg_url)  # this test's process, with its own connection
                writer.open_session(session_id).add_message("user", "Written on another machine.")
                writer.close()
                with anyio.fail_after(WAIT):
                    async for event in stream:
                        break
            events = await client.read_resource(watched)
            return event, events.contents[0].text

    event, events = anyio.run(run)
    assert event.uri == watched
    last = json.loads(events.splitlines()[-1])
    assert last["payload"]["content"] == "Written on another machine." and last["actor"]["kind"] == "program"


def test_on_a_viewers_role_a_client_reads_and_searches_and_each_edit_is_an_error_result(pg_cluster, pg_url):
    from sessions.mcp_server import build_server
    from tests.sessions.mcp_client_checks import talk

    session_id = _seeded(pg_url)
    database = urllib.parse.urlsplit(pg_url).path.lstrip("/")
    pg_cluster.create_role("mcp_viewer", "viewer-pw-123")
    for statement in (f'GRANT CONNECT ON DATABASE "{database}" TO mcp_viewer', "GRANT USAGE ON SCHEMA public TO mcp_viewer",
                      "GRANT SELECT ON sessions, events, _migrations TO mcp_viewer"):
        pg_cluster.sql(statement, dbname=database)
    store = SessionStore(pg_cluster.url(database, "mcp_viewer", "viewer-pw-123"))
    try:
        async def conversation(client):
            found = await client.call_tool("search_context", {"session_id": session_id, "query": "Paragraph 3."})
            fold = await client.call_tool("fold_fragment", {"session_id": session_id, "fragment_id": "f00000"})
            made = await client.call_tool("create_session", {"title": "not allowed"})
            context = await client.read_resource(f"workbench://sessions/{session_id}/context")
            return found, fold, made, context

        found, fold, made, context = talk(build_server(store), conversation)
        assert found.is_error is False and found.structured_content["total_matches"] >= 1  # a look: unrecorded
        for refused in (fold, made):
            assert refused.is_error is True and "the role 'mcp_viewer' may read" in refused.content[0].text
            assert "viewer-pw-123" not in refused.content[0].text
        assert "Paragraph 3." in context.contents[0].text
        assert len(store.events.load(session_id)) == 1  # nothing written, not even a tool_failed
    finally:
        store.close()
        pg_cluster.sql("DROP OWNED BY mcp_viewer", dbname=database)
        pg_cluster.sql(f'REVOKE ALL ON DATABASE "{database}" FROM mcp_viewer')
        pg_cluster.sql("DROP ROLE mcp_viewer")
