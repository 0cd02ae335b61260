"""The MCP server while other things happen: a listening client hears of changes made outside it,
and a call waiting for a store another process holds does not hold up the connection."""

from __future__ import annotations

import anyio
from mcp import Client

from sessions import SessionStore
from sessions.mcp_server import build_server
from tests.conftest import ROOT
from tests.sessions.mcp_client_checks import seeded, talk


def test_a_client_that_listens_hears_of_changes_made_outside_it_and_only_those_it_asked_for(store):
    session, other = seeded(store), seeded(store, "other")
    watched = f"workbench://sessions/{session.id}/context"

    async def conversation(client):
        heard = []
        async with client.listen(resource_subscriptions=[watched], resources_list_changed=True) as stream:
            other.add_message("user", "A change to a session nobody watches.")
            session.call_tool("fold_fragment", {"fragment_id": session.state().messages[1].fragments[0].id})
            with anyio.fail_after(20):
                async for event in stream:
                    heard.append(event)
                    break
            store.create_session("a new one")
            with anyio.fail_after(20):
                async for event in stream:
                    heard.append(event)
                    break
        return heard

    heard = talk(build_server(store), conversation)
    assert [type(event).__name__ for event in heard] == ["ResourceUpdated", "ResourcesListChanged"]
    assert heard[0].uri == watched  # not the other session's, which was not asked for


def test_a_call_waiting_for_the_store_does_not_hold_up_the_connection(tmp_path):
    """Calls run in worker threads: while one waits for a store another process holds, the
    connection answers other requests. The other process lets go only once the prompt came back,
    so a connection that waited for the fold would answer neither until the fold gave up."""
    import subprocess
    import sys

    path = tmp_path / "held.duckdb"
    store = SessionStore(path, linger=0)
    session = seeded(store)
    fragment = session.state().messages[1].fragments[0].id
    store.close()
    served = SessionStore(path, linger=0, lock_timeout=8)  # opened (and migrated) before the store is held
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys\nfrom sessions import SessionStore\n"
         "store = SessionStore(sys.argv[1], linger=0)\nwith store.events.db.transaction():\n"
         "    print('held', flush=True)\n    sys.stdin.readline()\n", str(path)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        assert holder.stdout.readline().strip() == "held"
        finished: list[str] = []

        async def fold(client):
            result = await client.call_tool("fold_fragment", {"fragment_id": fragment})
            finished.append("fold" if not result.is_error else "fold gave up")

        async def prompt(client):
            await anyio.sleep(0.3)  # the fold is under way, waiting for the store
            await client.get_prompt("sculptor_unified")
            finished.append("prompt")
            holder.stdin.write("let go\n")
            holder.stdin.flush()

        async def run() -> None:  # over JSON-RPC streams, as stdio and HTTP carry it
            async with Client(build_server(served, session.id), mode="legacy") as client:
                async with anyio.create_task_group() as group:
                    group.start_soon(fold, client)
                    group.start_soon(prompt, client)

        anyio.run(run)
    finally:
        holder.kill()
        holder.wait(30)
    assert finished == ["prompt", "fold"]
