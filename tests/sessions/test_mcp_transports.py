"""The MCP server as a client meets it: a real subprocess over stdio (started the way the README's
desktop snippet starts it) and a real port on 127.0.0.1 over streamable HTTP, on a DuckDB file
the test process reads and writes at the same time."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters

from sessions import SessionStore
from sessions.cli_mcp import client_setup
from tests.conftest import ROOT, long_text
from tests.sessions.mcp_client_checks import check_all, sculpt_all

WAIT = 60  # seconds a server may take to start on a loaded machine


def seeded_file(path: Path) -> str:
    store = SessionStore(path, linger=0)
    session = store.create_session("notes")
    session.add_message("user", long_text(20))
    store.close()
    return session.id


def events_of(path: Path, session_id: str) -> list[dict]:
    store = SessionStore(path, linger=0)
    try:
        return store.open_session(session_id).events()
    finally:
        store.close()


def over(server, session_id: str, argument: bool = True) -> dict:
    async def run() -> dict:
        async with Client(server, read_timeout_seconds=WAIT) as client:
            return await sculpt_all(client, session_id, argument)

    return anyio.run(run)


def test_over_stdio_the_workbench_script_serves_one_session_as_the_readme_snippet_starts_it(tmp_path):
    path = tmp_path / "shared.duckdb"
    session_id = seeded_file(path)
    snippet = json.loads(client_setup(path).split("\n\n")[1])["mcpServers"]["context-workbench"]
    assert snippet["command"] == str(ROOT / "workbench") and snippet["args"] == ["mcp"]
    env = {**snippet["env"], **({"WORKBENCH_VENV": os.environ["WORKBENCH_VENV"]} if "WORKBENCH_VENV" in os.environ else {})}
    server = StdioServerParameters(command=snippet["command"], args=[*snippet["args"], "--session", session_id[:5]],
                                   env=env, cwd=str(tmp_path))  # a client starts it from anywhere, with little env
    seen = over(server, session_id, argument=False)
    check_all(seen, events_of(path, session_id), argument=False)  # read by this process from the file


def test_over_stdio_without_a_session_the_tools_take_a_session_id(tmp_path):
    path = tmp_path / "shared.duckdb"
    session_id = seeded_file(path)
    server = StdioServerParameters(command=sys.executable, args=["-m", "sessions", "mcp", "--db", str(path)],
                                   env={"PYTHONPATH": str(ROOT)}, cwd=str(tmp_path))
    seen = over(server, session_id)
    check_all(seen, events_of(path, session_id), argument=True)


@pytest.fixture
def http_server(tmp_path):
    """`python -m sessions mcp --http 0` on a file: (url, path, session id); stopped afterwards."""
    path = tmp_path / "shared.duckdb"
    session_id = seeded_file(path)
    process = subprocess.Popen([sys.executable, "-m", "sessions", "mcp", "--db", str(path), "--http", "0"],
                               cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = process.stderr.readline()  # the server says where it listens once the port is bound
        found = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
        assert found, f"no URL in {line!r}"
        yield found.group(), path, session_id
    finally:
        process.terminate()
        process.wait(WAIT)


def test_over_http_on_a_real_port_while_this_process_writes_the_same_file(http_server):
    url, path, session_id = http_server
    seen = over(url, session_id)
    check_all(seen, events_of(path, session_id), argument=True)
    watched = f"workbench://sessions/{session_id}/context"

    async def search() -> tuple:
        async with Client(url, read_timeout_seconds=WAIT) as client:
            async with client.listen(resource_subscriptions=[watched]) as stream:
                store = SessionStore(path, linger=0)  # another writer on the file while the server runs
                store.open_session(session_id).add_message("user", "A late line about the zebra crossing.")
                store.close()
                with anyio.fail_after(WAIT):
                    async for event in stream:
                        break
            found = await client.call_tool("search_context", {"session_id": session_id, "query": "zebra crossing"})
            return event, found.structured_content

    event, found = anyio.run(search)
    assert event.uri == watched
    assert found["total_matches"] == 1 and found["results"][0]["message_id"] == "m2"


def test_over_http_a_request_from_another_site_is_refused(http_server):
    """DNS rebinding: a page on another site may reach 127.0.0.1 from the user's browser; the server
    answers only requests whose Origin and Host are this machine's."""
    url, _, _ = http_server
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}}
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    assert httpx.post(url, json=request, headers=headers, timeout=WAIT).status_code == 200
    refused = httpx.post(url, json=request, headers={**headers, "Origin": "http://evil.example"}, timeout=WAIT)
    assert refused.status_code == 403
    rebound = httpx.post(url, json=request, headers={**headers, "Host": "evil.example"}, timeout=WAIT)
    assert rebound.status_code == 421


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sessions", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=WAIT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL)


def test_a_port_in_use_and_an_unknown_session_are_refused_before_serving(tmp_path):
    path = tmp_path / "shared.duckdb"
    seeded_file(path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = run_cli("mcp", "--db", str(path), "--http", str(port))
    assert busy.returncode == 1 and f"port {port} on 127.0.0.1 is in use" in busy.stderr and "--http 0" in busy.stderr
    unknown = run_cli("mcp", "--db", str(path), "--session", "nosuchsession")
    assert unknown.returncode == 1 and "no session 'nosuchsession'" in unknown.stderr
    assert unknown.stdout == ""  # stdout is the protocol's, even for an error
    not_a_port = run_cli("mcp", "--db", str(path), "--http", "70000")
    assert not_a_port.returncode == 1 and "is not a port" in not_a_port.stderr


def test_mcp_help_gives_the_client_snippet_and_the_http_url_as_the_readme_does(tmp_path):
    shown = run_cli("mcp", "--help", "--db", str(tmp_path / "x.duckdb"))
    assert shown.returncode == 0
    snippet = json.loads(shown.stdout[shown.stdout.index("{"):shown.stdout.rindex("}") + 1])
    assert snippet["mcpServers"]["context-workbench"]["command"] == str(ROOT / "workbench")
    assert "http://127.0.0.1:8765/mcp" in shown.stdout
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert '"args": ["mcp"]' in readme and "http://127.0.0.1:8765/mcp" in readme and "python -m sessions mcp" in readme


def test_over_http_clients_calling_at_once_each_land_whole_and_in_one_order(http_server):
    url, path, session_id = http_server

    async def run() -> list:
        async with Client(url, read_timeout_seconds=WAIT) as client:
            made = await client.call_tool("fragment_context", {"session_id": session_id, "start_marker": "Paragraph 1.",
                                                               "end_marker": "End of notes.", "num_fragments": 8})
        fragments = [piece["fragment_id"] for piece in made.structured_content["fragments"]]
        results: dict = {}

        async def fold(fragment: str) -> None:
            async with Client(url, read_timeout_seconds=WAIT) as client:  # a client of its own, as agents are
                results[fragment] = await client.call_tool("fold_fragment", {"session_id": session_id,
                                                                             "fragment_id": fragment})

        async with anyio.create_task_group() as group:
            for fragment in fragments:
                group.start_soon(fold, fragment)
        return [(fragment, results[fragment]) for fragment in fragments]

    folded = anyio.run(run)
    assert len(folded) == 8 and all(result.is_error is False for _, result in folded)
    events = events_of(path, session_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert sorted(e["payload"]["fragment_id"] for e in events if e["kind"] == "fragment_folded") == sorted(
        fragment for fragment, _ in folded)


def test_the_http_socket_is_tcp_so_each_connection_sends_small_answers_at_once():
    """asyncio turns Nagle's algorithm off only on a socket that says it is TCP; the server's
    connections come from this one. (Left 0, every small answer waited about 40 ms for an ACK.)"""
    import asyncio

    from sessions.mcp_server.transports import bind

    sock = bind(0)
    seen: list[int] = []

    async def run() -> None:
        class Noted(asyncio.Protocol):
            def connection_made(self, transport):
                seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                transport.close()

        server = await asyncio.get_running_loop().create_server(Noted, sock=sock)
        async with server:
            _, writer = await asyncio.open_connection(*sock.getsockname())
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.05)
            writer.close()

    asyncio.run(run())
    assert seen and seen[0] != 0


def test_over_stdio_odd_text_in_a_session_crosses_the_wire_and_the_server_keeps_serving(tmp_path):
    """A lone surrogate (kept in the log as the text had it) cannot be written as UTF-8: it is sent as
    U+FFFD. Before, one in a search hit made the SDK fail to write the answer, and the server stopped."""
    path = tmp_path / "odd.duckdb"
    store = SessionStore(path, linger=0)
    session = store.create_session("odd text")
    session.add_message("user", "a lone \ud800 surrogate, a \u202e bidi override, a NUL \x00 and a zebra.")
    store.close()
    server = StdioServerParameters(command=sys.executable, args=["-m", "sessions", "mcp", "--db", str(path)],
                                   env={"PYTHONPATH": str(ROOT)})

    async def run() -> tuple:
        async with Client(server, read_timeout_seconds=WAIT) as client:
            found = await client.call_tool("search_context", {"session_id": session.id, "query": "zebra"})
            context = await client.read_resource(f"workbench://sessions/{session.id}/context")
            events = await client.read_resource(f"workbench://sessions/{session.id}/events")
            after = await client.call_tool("list_sessions", {})  # still serving
            return found, context, events, after

    found, context, events, after = anyio.run(run)
    assert found.is_error is False
    assert "a lone \ufffd surrogate, a \u202e bidi override, a NUL \x00" in found.structured_content["results"][0]["snippet"]
    assert json.loads(context.contents[0].text)[0]["content"].startswith("a lone \ufffd surrogate")
    assert "\ufffd" in events.contents[0].text
    assert after.is_error is False and after.structured_content["total"] == 1
    stored = SessionStore(path, linger=0)
    assert stored.open_session(session.id).state().messages[0].text.startswith("a lone \ud800")  # the log keeps it
    stored.close()


def test_over_stdio_a_listening_client_hears_of_a_message_another_process_added(tmp_path):
    path = tmp_path / "shared.duckdb"
    session_id = seeded_file(path)
    server = StdioServerParameters(command=sys.executable, args=["-m", "sessions", "mcp", "--db", str(path),
                                                                "--session", session_id], env={"PYTHONPATH": str(ROOT)})
    watched = f"workbench://sessions/{session_id}/events"

    async def run() -> tuple:
        async with Client(server, read_timeout_seconds=WAIT) as client:
            async with client.listen(resource_subscriptions=[watched]) as stream:
                writer = SessionStore(path, linger=0)  # this test's process is the other process
                writer.open_session(session_id).add_message("user", "Written while a client listens.")
                writer.close()
                with anyio.fail_after(WAIT):
                    async for event in stream:
                        break
            events = await client.read_resource(watched)
            return event, events.contents[0].text

    event, events = anyio.run(run)
    assert event.uri == watched
    assert json.loads(events.splitlines()[-1])["payload"]["content"] == "Written while a client listens."


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_over_stdio_ctrl_c_or_sigterm_stops_the_server_and_what_it_wrote_stays(tmp_path, signum):
    path = tmp_path / "shared.duckdb"
    session_id = seeded_file(path)
    process = subprocess.Popen([sys.executable, "-m", "sessions", "mcp", "--db", str(path)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert "over stdio" in process.stderr.readline()
        for message in ({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                            "protocolVersion": "2025-11-25", "capabilities": {},
                            "clientInfo": {"name": "test", "version": "1"}}},
                        {"jsonrpc": "2.0", "method": "notifications/initialized"},
                        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                            "name": "search_context", "arguments": {"session_id": session_id, "query": "budget"}}}):
            process.stdin.write(json.dumps(message) + "\n")
            process.stdin.flush()
        answers = [json.loads(process.stdout.readline()) for _ in range(2)]
        assert answers[1]["id"] == 2 and answers[1]["result"]["isError"] is False
        process.send_signal(signum)  # stdin stays open: the signal alone must stop it
        assert process.wait(WAIT) == 128 + signum
        assert f"stopped ({signal.Signals(signum).name})" in process.stderr.read()
    finally:
        process.kill()
    assert [e["kind"] for e in events_of(path, session_id)][-1] == "context_searched"


def test_print_config_names_the_database_given(tmp_path):
    shown = run_cli("mcp", "--print-config", "--db", str(tmp_path / "team.duckdb"))
    assert shown.returncode == 0
    entry = json.loads(shown.stdout)["mcpServers"]["context-workbench"]
    assert entry == {"command": str(ROOT / "workbench"), "args": ["mcp"],
                     "env": {"WORKBENCH_DB": str(tmp_path / "team.duckdb")}}


def test_over_http_a_long_document_fits_in_one_create_session(http_server):
    url, path, _ = http_server
    document = "A line of a long contract, clause by clause.\n" * 120_000  # 5.5 MB: past the SDK's 4 MiB

    async def run():
        async with Client(url, read_timeout_seconds=WAIT) as client:
            return await client.call_tool("create_session", {"title": "long contract", "messages": [
                {"role": "user", "content": document}]})

    made = anyio.run(run)
    assert made.is_error is False
    store = SessionStore(path, linger=0)
    assert store.open_session(made.structured_content["session_id"]).state().messages[0].text == document
    store.close()
