"""A long-running program (the MCP server, the app) whose database file is removed or replaced
under it: it refuses to write, saying to restart, rather than leave a gap in a session's log or
fail with DuckDB's catalog error."""

from __future__ import annotations

import os
import shutil

import anyio
import pytest
from mcp import Client

from engine import StoreError
from sessions import SessionStore
from sessions.mcp_server import build_server


def _session(path):
    store = SessionStore(path, linger=0)
    session = store.create_session("long running")
    session.add_message("user", "first")
    return store, session


def test_a_file_replaced_by_an_older_copy_is_refused_and_its_log_stays_whole(tmp_path):
    path = tmp_path / "workbench.duckdb"
    store, session = _session(path)
    store.close()
    shutil.copy(path, tmp_path / "backup.duckdb")
    session.add_message("user", "second")
    session.add_message("user", "third")
    store.close()
    os.replace(tmp_path / "backup.duckdb", path)  # a restore from backup while the program runs
    with pytest.raises(StoreError, match="was removed or replaced while this program ran; restart it"):
        session.add_message("user", "fourth")
    fresh = SessionStore(path, linger=0)
    events = fresh.open_session(session.id).events()
    assert [e["seq"] for e in events] == [1] and fresh.check()[0]["error"] is None
    fresh.close()


def test_a_file_removed_under_the_program_is_refused_with_how_to_go_on(tmp_path):
    path = tmp_path / "workbench.duckdb"
    store, session = _session(path)
    store.close()
    path.unlink()
    with pytest.raises(StoreError, match="removed or replaced") as refused:
        session.add_message("user", "second")
    assert "Catalog" not in str(refused.value)


def test_an_append_after_more_events_than_the_store_holds_is_refused(tmp_path):
    store, session = _session(tmp_path / "workbench.duckdb")
    with pytest.raises(StoreError, match=f"session {session.id} holds 1 events .* has read 5"):
        store.events.append(session.id, 5, lambda fresh: [])
    store.close()


def test_over_mcp_a_replaced_file_is_an_error_result_that_says_to_restart(tmp_path):
    path = tmp_path / "workbench.duckdb"
    store, session = _session(path)
    store.close()
    shutil.copy(path, tmp_path / "backup.duckdb")
    server = build_server(store)

    async def run() -> tuple:
        async with Client(server) as client:
            made = await client.call_tool("create_session", {"title": "made while running"})
            store.close()
            os.replace(tmp_path / "backup.duckdb", path)
            after = await client.call_tool("search_context", {"session_id": session.id, "query": "first"})
            return made, after

    made, after = anyio.run(run)
    assert made.is_error is False
    assert after.is_error and "restart it" in after.content[0].text


def test_over_mcp_a_resource_of_a_replaced_file_is_an_internal_error_not_a_missing_resource(tmp_path):
    from mcp.shared.exceptions import MCPError
    from mcp_types.jsonrpc import INTERNAL_ERROR

    path = tmp_path / "workbench.duckdb"
    store, session = _session(path)
    store.close()
    shutil.copy(path, tmp_path / "backup.duckdb")
    session.add_message("user", "second")
    store.close()
    os.replace(tmp_path / "backup.duckdb", path)

    async def run() -> MCPError:
        async with Client(build_server(store, session.id)) as client:
            with pytest.raises(MCPError) as caught:
                await client.read_resource(f"workbench://sessions/{session.id}/context")
            return caught.value

    error = anyio.run(run)
    assert error.code == INTERNAL_ERROR and "restart it" in error.message


@pytest.mark.parametrize("where", [":memory:", "file"])
def test_the_check_before_an_append_leaves_the_connection_free_for_a_bulk_write(tmp_path, where):
    """A unit of work of 16 events or more is written in one statement from an Arrow table; the
    check before it must have read its answer to the end, or DuckDB refuses that statement."""
    from engine.fold import replay
    from engine.messages import new_message

    store = SessionStore(":memory:" if where == ":memory:" else tmp_path / "bulk.duckdb", linger=0)
    session = store.create_session("bulk")
    session.add_message("user", "first")
    state, events = session.state(), []
    for number in range(20):
        event = new_message(state, "user", f"line {number}")
        state = replay([event], state)
        events.append(event)
    session.record(events)
    assert store.open_session(session.id).last_seq == 21
    store.close()
