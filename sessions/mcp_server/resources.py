"""What an MCP client can read: each session's context, stats, event log, tasks and memory, and
Sculptor's prompts.

A session's resources are `workbench://sessions/{session_id}/{kind}`:

- `context`: the OpenAI-format messages a model is sent now (folded fragments as their
  markers, summaries in place), as the Context page's "What the model sees" shows them;
- `stats`: the token accounting every page shows (the rendered context, the tool schemas and
  sent-back reasoning, against the model's window);
- `events`: the event log, one JSON object a line (`python -m sessions events` prints the same);
- `tasks`: the task DAG as `list_tasks` gives it (progress, ready, blocked, critical path);
- `memory`: core memory, every memory (deleted and merged ones marked) and the graph's edges
  (a memory to each entity it names, as the Memory page draws it).

`workbench://sessions` lists the sessions. Every read is of the store now: a client reads
what another process (the app, the CLI) wrote a moment ago. Reads change nothing and leave
no events. An unknown resource or session is a protocol error naming what exists.

Prompts: Sculptor's unified and task-specific system prompts, verbatim (`engine.prompts`).
MCP prompt messages are user or assistant messages; each is given as one user message, and
its description says the paper used it as the system prompt.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.shared.exceptions import MCPError
from mcp_types.jsonrpc import INTERNAL_ERROR, INVALID_PARAMS

from engine import WorkbenchError, registry
from engine.errors import SessionNotFound
from engine.memory import bipartite_graph, core_memory, memory_graph, memory_record
from engine.prompts import SCULPTOR_PROMPTS
from engine.text import printable
from engine.tools.registry import ToolContext
from engine.windows import settings_window
from sessions.mcp_server.tools import StoreAccess, list_sessions
from sessions.session import Session

RESOURCE_NOT_FOUND = -32002  # the MCP specification's code for a resource that does not exist
SESSIONS_URI = "workbench://sessions"
_SESSIONS_A_PAGE = 50  # sessions listed in one resources/list page (5 resources each)
_URI = re.compile(r"workbench://sessions/([^/?#]+)/([a-z]+)")


@dataclass(frozen=True, slots=True)
class ResourceKind:
    name: str
    title: str
    description: str
    mime_type: str


KINDS: tuple[ResourceKind, ...] = (
    ResourceKind("context", "Rendered context", "The OpenAI-format messages a model is sent now: folded fragments "
                 "as their markers, summaries in place.", "application/json"),
    ResourceKind("stats", "Token stats", "What fills the window: rendered tokens by kind and role, tool schemas, "
                 "tokens saved by folds and summaries, against the model's window.", "application/json"),
    ResourceKind("events", "Event log", "Every event of the session, oldest first, one JSON object a line "
                 "(seq, ts, kind, payload).", "application/x-ndjson"),
    ResourceKind("tasks", "Task list", "The task DAG as list_tasks gives it: progress, each task and its status, "
                 "what is ready, what is blocked and by what, the critical path.", "application/json"),
    ResourceKind("memory", "Memory graph", "Core memory, every memory with its type, entities and history "
                 "(deleted and merged ones marked), and the graph's edges from a memory to each entity it names.",
                 "application/json"),
)
_BY_NAME = {kind.name: kind for kind in KINDS}


def session_uri(session_id: str, kind: str) -> str:
    return f"{SESSIONS_URI}/{session_id}/{kind}"


class McpResources:
    """The resources and prompts one server offers: one session's, or every session's."""

    def __init__(self, access: StoreAccess, session_id: str | None = None) -> None:
        self.access = access
        self.session_id = session_id

    # ---- resources -------------------------------------------------------------------

    def listed(self, cursor: str | None) -> types.ListResourcesResult:
        if self.session_id is not None:
            title = self.access.session(self.session_id).title
            return types.ListResourcesResult(resources=self._of(self.session_id, title))
        rows = self.access.store.list_sessions()
        start = _cursor(cursor, len(rows))
        page = rows[start:start + _SESSIONS_A_PAGE]
        resources = [types.Resource(uri=SESSIONS_URI, name="sessions", title="Sessions",
                                    description="Every session in this workbench, newest first.",
                                    mime_type="application/json")] if start == 0 else []
        for row in page:
            resources += self._of(row["id"], row["title"])
        more = start + _SESSIONS_A_PAGE < len(rows)
        return types.ListResourcesResult(resources=resources, next_cursor=str(start + _SESSIONS_A_PAGE) if more else None)

    @staticmethod
    def _of(session_id: str, title: str) -> list[types.Resource]:
        return [types.Resource(uri=session_uri(session_id, kind.name), name=f"{session_id}/{kind.name}",
                               title=f"{kind.title}: {title}", description=kind.description, mime_type=kind.mime_type)
                for kind in KINDS]

    @staticmethod
    def templates() -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=[
            types.ResourceTemplate(uri_template=session_uri("{session_id}", kind.name), name=kind.name,
                                   title=kind.title, description=kind.description, mime_type=kind.mime_type)
            for kind in KINDS])

    def read(self, uri: str) -> types.ReadResourceResult:
        if uri == SESSIONS_URI and self.session_id is None:
            return _contents(uri, "application/json", json.dumps(list_sessions(self.access), ensure_ascii=False))
        matched = _URI.fullmatch(uri)
        if matched is None or matched.group(2) not in _BY_NAME:
            raise MCPError(RESOURCE_NOT_FOUND, f"no resource {printable(uri[:200])!r}; a session's resources are "
                           + ", ".join(session_uri("SESSION_ID", kind.name) for kind in KINDS)
                           + ("" if self.session_id else f", and {SESSIONS_URI} lists the sessions"))
        wanted, kind = matched.groups()
        if self.session_id is not None:  # its own id, or a prefix of it; never another session's name
            if not self.session_id.startswith(wanted):
                raise MCPError(RESOURCE_NOT_FOUND, f"this server serves session {self.session_id} only, not "
                               f"{printable(wanted[:60])!r}")
            wanted = self.session_id
        try:
            session = self.access.session(wanted)
            text = _text(session, kind)
        except SessionNotFound as exc:
            raise MCPError(RESOURCE_NOT_FOUND, printable(str(exc))) from None
        except WorkbenchError as exc:  # a store held too long by another process, a file replaced: try later
            raise MCPError(INTERNAL_ERROR, printable(str(exc))) from None
        return _contents(uri, _BY_NAME[kind].mime_type, text)

    # ---- prompts ---------------------------------------------------------------------

    @staticmethod
    def prompts() -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[types.Prompt(name=p.name, title=p.title, description=p.description)
                                                for p in SCULPTOR_PROMPTS])

    @staticmethod
    def prompt(name: str, arguments: dict[str, str] | None) -> types.GetPromptResult:
        found = next((p for p in SCULPTOR_PROMPTS if p.name == name), None)
        if found is None:
            raise MCPError(INVALID_PARAMS, f"no prompt {printable(name[:60])!r}; the prompts are "
                           + ", ".join(p.name for p in SCULPTOR_PROMPTS))
        if arguments:
            raise MCPError(INVALID_PARAMS, f"prompt {name} takes no arguments (got "
                           f"{printable(', '.join(sorted(arguments))[:200])})")
        message = types.PromptMessage(role="user", content=types.TextContent(text=found.text))
        return types.GetPromptResult(description=found.description, messages=[message])


def _cursor(cursor: str | None, total: int) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or int(cursor) > total:
        raise MCPError(INVALID_PARAMS, f"cursor {printable(cursor[:40])!r} is not one this server gave; list from "
                       "the start")
    return int(cursor)


def _contents(uri: str, mime_type: str, text: str) -> types.ReadResourceResult:
    """A resource's text as it can cross the wire (`wire_safe`: a lone surrogate sent as U+FFFD)."""
    return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, mime_type=mime_type,
                                                                         text=printable(text))])


def _text(session: Session, kind: str) -> str:
    if kind == "events":
        return "".join(json.dumps(event, ensure_ascii=False, default=str) + "\n" for event in session.events())
    state = session.state()
    if kind == "context":
        value: Any = session.render()
    elif kind == "stats":
        value = session.window_stats(settings_window(session.settings)[1])
    elif kind == "tasks":
        value = registry.call("list_tasks", {}, ToolContext.for_state(state, session.encoding)).result
    else:
        graph = memory_graph(state)
        drawn = bipartite_graph(graph, include_gone=True)
        value = {"core_memory": core_memory(state), "memories": [memory_record(m) for m in graph.memories],
                 "edges": [{"memory_id": a, "entity": drawn.nodes[b]["name"]} if drawn.nodes[b]["kind"] == "entity"
                           else {"memory_id": b, "entity": drawn.nodes[a]["name"]} for a, b in drawn.edges]}
    return json.dumps(value, ensure_ascii=False, default=str)
