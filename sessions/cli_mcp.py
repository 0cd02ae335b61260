"""`python -m sessions mcp`: serve the tool registry, the resources and the prompts over MCP.

Over stdio by default (what a desktop client starts), or streamable HTTP on 127.0.0.1 with
`--http PORT`. The help says how to set a client up, with this checkout's real paths; the
README shows the same snippet. The server and the app may use the same database file at
the same time: every change is one short transaction under the store's kernel lock, and the
workbench's pages follow what the server writes.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from sessions.store import DB_ENV, SessionStore, default_db_path, shown_target

ROOT = Path(__file__).resolve().parent.parent
DESCRIPTION = ("Serve every workbench tool, each session's context, stats, event log, tasks and memory, and "
               "Sculptor's prompts over the Model Context Protocol: over stdio (what a desktop MCP client starts), "
               "or over streamable HTTP on 127.0.0.1 with --http PORT.")


def client_config(db: str | Path | None = None) -> dict[str, Any]:
    """A desktop MCP client's entry for this checkout and database (`--print-config` prints it)."""
    return {"mcpServers": {"context-workbench": {
        "command": str(ROOT / "workbench"), "args": ["mcp"],
        "env": {DB_ENV: shown_target(str(db if db is not None else default_db_path()))}}}}  # never a password


def client_setup(db: str | Path | None = None) -> str:
    """How to point an MCP client at this workbench: the desktop snippet and the HTTP URL."""
    return (
        "Set up a desktop MCP client (Claude Desktop's claude_desktop_config.json, or any client's \"mcpServers\"):\n\n"
        + "\n".join("  " + line for line in json.dumps(client_config(db), indent=2).splitlines())
        + "\n\n"
        "It names the database this command uses ($WORKBENCH_DB, else the default; a PostgreSQL server's\n"
        "password is left out: give it in the client's env as PGPASSWORD, or in ~/.pgpass);\n"
        "`python -m sessions mcp --print-config --db PATH` prints the entry for another.\n"
        "Add \"--session\", \"ID\" to \"args\" to give the client one session's tools (no session_id argument).\n"
        "Run ./workbench run once by hand first: the first run installs the requirements, which takes minutes.\n\n"
        "Over HTTP: python -m sessions mcp --http 8765 serves http://127.0.0.1:8765/mcp\n"
        "(only this machine can reach it; there is no authentication). A client connects to that URL.\n\n"
        "Open the workbench (./workbench run) on the same database to watch a client's changes as they happen.")


def add_mcp_command(command: Any) -> None:
    sub = command("mcp", cmd_mcp, DESCRIPTION)
    sub.formatter_class = argparse.RawDescriptionHelpFormatter  # keeps the snippet's lines as they are
    sub.description = textwrap.fill(DESCRIPTION, 100)
    sub.epilog = client_setup()
    sub.add_argument("--session", metavar="ID",
                     help="serve this session's tools (an id or a unique prefix); without it every tool takes a "
                          "session_id, and list_sessions and create_session are offered too")
    sub.add_argument("--http", type=int, metavar="PORT",
                     help="serve streamable HTTP at http://127.0.0.1:PORT/mcp instead of stdio (0: any free port)")
    sub.add_argument("--print-config", action="store_true",
                     help="print a desktop client's mcpServers entry for this database, and exit")


def cmd_mcp(store: SessionStore, args: argparse.Namespace) -> int:
    from sessions.mcp_server import serve
    from sessions.mcp_server.transports import bind, serve_http, serve_stdio

    if args.print_config:
        print(json.dumps(client_config(store.path), indent=2))
        return 0
    session_id = store.resolve_id(args.session) if args.session else None
    sock = bind(args.http) if args.http is not None else None  # a port in use is refused before anything starts
    served = serve(store, session_id)
    if session_id is not None:
        served.access.session(session_id)  # opened now, and kept: a log that cannot be read says so at once
    scope = f"session {session_id}" if session_id else "every session"
    if sock is None:
        _say(f"Context Workbench MCP server on {scope} in {store.path}, over stdio (Ctrl-C, or the end of input, "
             "stops it)")
        serve_stdio(served.server, busy=served.tools.busy)
    else:
        serve_http(served.server, sock, ready=lambda url: _say(f"Context Workbench MCP server on {scope} in "
                                                               f"{store.path}, at {url} (Ctrl-C stops it)"))
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)  # never stdout: over stdio that is the protocol's
