"""The workbench over the Model Context Protocol: any MCP client sculpts a session's context.

`build_server(store, session_id)` makes a low-level server of the official SDK (`mcp` 2.x),
whose handlers take our JSON schemas as they are (the SDK's decorator-based server would
derive schemas of its own from Python signatures: two sources for one schema). It offers:

- tools: every tool of the registry (sessions.mcp_server.tools), on one session or, without
  `session_id`, on any session named by a `session_id` argument, plus `list_sessions` and
  `create_session`;
- resources: each session's rendered context, stats, event log, tasks and memory graph
  (sessions.mcp_server.resources);
- prompts: Sculptor's unified and task-specific system prompts, verbatim;
- change events: a client that listens hears when a session's resources change, whoever changed
  them (sessions.mcp_server.watching).

Each call runs in a worker thread (the store may wait for another process's lock, a summary
may ask a model), so one slow call never stalls the connection. The transports, stdio and
streamable HTTP on 127.0.0.1, are in sessions.mcp_server.transports; the command line is
`python -m sessions mcp` (sessions/cli_mcp.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import mcp_types as types
from mcp.server.lowlevel import Server

from sessions.mcp_server.resources import McpResources
from sessions.mcp_server.tools import SESSION_PARAMETER, McpTools, StoreAccess
from sessions.mcp_server.watching import StoreWatcher
from sessions.store import SessionStore

SERVER_NAME = "context-workbench"
SERVER_VERSION = "0.12"


def instructions(session_id: str | None) -> str:
    """What the server tells a client (and its model) about itself when it connects."""
    where = (f"Every tool acts on session {session_id}." if session_id is not None else
             f"Each context tool takes a {SESSION_PARAMETER}: call list_sessions to see the sessions, or "
             "create_session to start one with the messages you want to sculpt.")
    return ("Context Workbench: a conversation held as an append-only event log, whose context you sculpt "
            "reversibly. fragment_context splits text into fragments; fold_fragment hides one, summarize_fragment "
            "replaces it with a summary, restore_fragment brings it back; search_context and get_search_detail "
            "find text, folded parts included. Tasks (add_task ...) and memory (memory_insert ...) tools keep a "
            f"task DAG and a memory graph. {where} Read a session's resources for its rendered context, stats, "
            "event log, tasks and memory; the prompts are Sculptor's system prompts. A person watching the "
            "workbench in a browser sees each change as it happens.")


@dataclass(frozen=True)
class Served:
    """A server and what the command line needs of it: the open sessions, and whether a call runs."""

    server: Server[Any]
    access: StoreAccess
    tools: McpTools


def build_server(store: SessionStore, session_id: str | None = None) -> Server[Any]:
    """An MCP server over `store`: on the one session `session_id` (an id, checked by the caller),
    or on all of them."""
    return serve(store, session_id).server


def serve(store: SessionStore, session_id: str | None = None) -> Served:
    """`build_server`, with the parts `python -m sessions mcp` uses."""
    access = StoreAccess(store)
    tools = McpTools(access, session_id)
    resources = McpResources(access, session_id)
    watcher = StoreWatcher(store, session_id)

    async def list_tools(_ctx: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools.listed)

    async def call_tool(_ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return await anyio.to_thread.run_sync(tools.call, params.name, params.arguments)

    async def list_resources(_ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return await anyio.to_thread.run_sync(resources.listed, params.cursor if params else None)

    async def list_templates(_ctx: Any, _params: Any) -> types.ListResourceTemplatesResult:
        return resources.templates()

    async def read_resource(_ctx: Any, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await anyio.to_thread.run_sync(resources.read, params.uri)

    async def list_prompts(_ctx: Any, _params: Any) -> types.ListPromptsResult:
        return resources.prompts()

    async def get_prompt(_ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return resources.prompt(params.name, params.arguments)

    server = Server(SERVER_NAME, version=SERVER_VERSION, title="Context Workbench", instructions=instructions(session_id),
                    on_list_tools=list_tools, on_call_tool=call_tool, on_list_resources=list_resources,
                    on_list_resource_templates=list_templates, on_read_resource=read_resource,
                    on_list_prompts=list_prompts, on_get_prompt=get_prompt,
                    on_subscriptions_listen=watcher.listen, lifespan=watcher.lifespan)
    return Served(server, access, tools)


__all__ = ["SERVER_NAME", "Served", "build_server", "instructions", "serve"]
