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
