"""The registry's tools as MCP tools: the same schemas, the same calls, the same events.

On one session (`--session ID`) each tool is listed with the registry's own schema, as it is.
On the whole store each tool takes one more parameter, `session_id`, added in front of the
registry's (the rest of its schema untouched), and two tools act on the store itself:
`list_sessions` and `create_session`. Those two are typed functions with Google docstrings
like the registry's tools, and get their schema and validation from the same code
(`engine.tools.registry.make_tool`), so no schema is written by hand.

A call goes through `Session.call_tool`, as a CLI call or a click does: one unit of work in
the store, the tool's events (or one `tool_failed`) appended, nothing else. The client is
treated as a model (`from_model=True`): it was shown only the published parameters, so a
parameter hidden from models is refused as unknown, as it is for a model. The SDK does not
check arguments against a schema; the registry does, and a failed call comes back as a tool
result with `isError` and the registry's error text, which says what was wrong and gives an
example of valid arguments. Whatever fails around the call (an unknown session, a store
held too long by another process, a log that does not fold) is such a result too, never a
protocol error: a model reads the text and tries again.
"""

from __future__ import annotations

import copy
import json
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Any, Literal

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field

from engine import WorkbenchError, registry
from engine.actors import Actor
from engine.errors import SessionNotFound, ToolInputError
from engine.events import MessageAdded
from engine.fold import replay
from engine.messages import new_message
from engine.records import EventRecord, format_ts, utc_now
from engine.state import ContextState
from engine.text import one_line, printable
from engine.tools import READ_ONLY_TOOLS
from engine.tools.registry import Tool, make_tool, parse_arguments
from sessions.session import Session
from sessions.store import SessionStore

SESSION_PARAMETER = "session_id"
_SESSION_DESCRIPTION = ('The session to act on: its id (or a unique prefix of it), such as "3f2a9c81d4e0", as '
                        "list_sessions gives it.")
_SESSIONS_KEPT = 16  # sessions kept open between calls (a long one takes a while to open)
TITLE_CHARS = 300  # a title is a label in lists and page headers

MCP_CLIENT = Actor.model("mcp client")  # who an MCP call is recorded as: the model behind the client


class StoreAccess:
    """What the store tools act on: the store, and the sessions kept open between calls."""

    def __init__(self, store: SessionStore) -> None:
        self.store = store
        self._open: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    def session(self, id_or_prefix: Any) -> Session:
        """The session with this id or unique id prefix, opened once and kept; SessionNotFound if none."""
        if not isinstance(id_or_prefix, str) or not id_or_prefix.strip():
            raise ToolInputError(f"parameter '{SESSION_PARAMETER}' must be a session's id, such as \"3f2a9c81d4e0\" "
                                 f"(got {one_line(json.dumps(id_or_prefix, default=repr), 60)}); list_sessions "
                                 "gives the ids")
        try:
            session_id = self.store.resolve_id(id_or_prefix.strip())
        except SessionNotFound as exc:  # the store's words name the CLI; a client has list_sessions
            raise SessionNotFound(str(exc).replace("`python -m sessions list` shows the sessions",
                                                   "list_sessions gives the ids")) from None
        with self._lock:
            found = self._open.get(session_id)
            if found is not None:
                self._open.move_to_end(session_id)
                return found
        opened = self.store.open_session(session_id)
        with self._lock:
            found = self._open.setdefault(session_id, opened)
            while len(self._open) > _SESSIONS_KEPT:
                self._open.popitem(last=False)
        return found


class ChatMessage(BaseModel):
    """One message of a new session."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["system", "user", "assistant"] = Field(description="Who speaks.")
    content: str = Field(description="The message's text.")


def list_sessions(access: StoreAccess) -> dict[str, Any]:
    """List the sessions in this workbench, newest first.

    Each has its id (give it as session_id to the other tools), title, number of events and
    messages, when it was created and last changed, and where it came from (a fork, an import).
    """
    rows = access.store.list_sessions()
    return {"sessions": [{key: (format_ts(value) if isinstance(value, datetime) else value)
                          for key, value in row.items()} for row in rows], "total": len(rows)}


def create_session(access: StoreAccess, title: Annotated[str, Field(min_length=1, max_length=TITLE_CHARS)],
                   messages: list[ChatMessage] | None = None) -> dict[str, Any]:
    """Create a session, empty or holding the messages given, and return its id.

    The messages are stored in one go, in order, as a conversation's messages are; then the
    context tools (fragment_context, fold_fragment, search_context, ...) work on them with
    the returned session_id.

    Args:
        title: The session's title, such as "Contract review".
        messages: Optional: the conversation so far, oldest first, such as [{"role": "user", "content": "..."}].
    """
    state, events = ContextState(), []
    for message in messages or ():
        try:
            event = new_message(state, message.role, message.content)
        except WorkbenchError as exc:
            raise ToolInputError(f"message {len(events) + 1}: {exc}") from None
        state = replay([event], state)
        events.append(event)
    now = utc_now()
    session = access.store.create_session(title, records=[EventRecord(seq, now, event, MCP_CLIENT)
                                                          for seq, event in enumerate(events, 1)])
    return {SESSION_PARAMETER: session.id, "title": session.title,
            "messages": [event.message_id for event in events if isinstance(event, MessageAdded)]}


STORE_TOOLS: tuple[Tool, ...] = tuple(make_tool(function, StoreAccess) for function in (list_sessions, create_session))


def with_session_parameter(parameters: dict[str, Any]) -> dict[str, Any]:
    """A registry schema with `session_id` added first and required; the rest as it was."""
    if SESSION_PARAMETER in parameters.get("properties", {}):  # a developer's mistake: fail when the server is built
        raise RuntimeError(f"a tool already has a parameter named {SESSION_PARAMETER}; the MCP server needs that name")
    schema = copy.deepcopy(parameters)
    schema["properties"] = {SESSION_PARAMETER: {"type": "string", "description": _SESSION_DESCRIPTION},
                            **schema["properties"]}
    schema["required"] = [SESSION_PARAMETER, *schema.get("required", [])]
    return schema


_READ_ONLY = {tool.__name__ for tool in READ_ONLY_TOOLS} | {"list_sessions"}


def _listed(name: str, description: str, schema: dict[str, Any]) -> types.Tool:
    # nothing any tool does is lost for good: a fold is restored, a deleted memory comes back
    hints = types.ToolAnnotations(read_only_hint=name in _READ_ONLY, destructive_hint=False)
    return types.Tool(name=name, description=description, input_schema=schema, annotations=hints)


def wire_safe(value: Any) -> Any:
    """JSON data as it can cross the wire: only JSON types, and every string (keys too) valid
    UTF-8, a lone surrogate (kept in the log as the text had it) sent as U+FFFD. One such
    character in an answer once made the SDK fail to write it, and the server stop."""
    return json.loads(printable(json.dumps(value, ensure_ascii=False, default=str)))


def _success(result: dict[str, Any]) -> types.CallToolResult:
    result = wire_safe(result)
    return types.CallToolResult(content=[types.TextContent(text=json.dumps(result, ensure_ascii=False))],
                                structured_content=result)


def _failure(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=printable(message))], is_error=True)


class McpTools:
    """The tools one server offers: on one session, or on the whole store."""

    def __init__(self, access: StoreAccess, session_id: str | None = None) -> None:
        self.access = access
        self.session_id = session_id
        tools = [registry.get(name) for name in registry.names]
        if session_id is not None:
            self.listed = [_listed(t.name, t.description, t.parameters) for t in tools]
        else:
            self.listed = ([_listed(t.name, t.description, t.parameters) for t in STORE_TOOLS]
                           + [_listed(t.name, t.description, with_session_parameter(t.parameters)) for t in tools])
        self._store_tools: dict[str, Tool] = {} if session_id is not None else {t.name: t for t in STORE_TOOLS}
        self._running = threading.Lock()
        self._calls = 0

    def call(self, name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        """Run one call (blocking: the server runs it in a worker thread). Never raises."""
        with self._running:
            self._calls += 1
        try:
            result = self._call(name, dict(arguments or {}))
        except WorkbenchError as exc:  # ToolInputError included: the registry's kind of message
            return _failure(f"{one_line(str(name), 60)}: {exc}")
        except Exception as exc:  # a bug: the client still gets an answer, and the server goes on
            return _failure(f"{one_line(str(name), 60)}: internal error {type(exc).__name__}: {exc}")
        finally:
            with self._running:
                self._calls -= 1
        return _failure(result["error"]) if "error" in result else _success(result)

    def busy(self) -> bool:
        """Whether a call is under way (a stop waits for it)."""
        with self._running:
            return self._calls > 0

    def _call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        if name in self._store_tools:
            tool = self._store_tools[name]
            return tool.function(self.access, **parse_arguments(tool, arguments, from_model=True))
        if self.session_id is not None:
            return self.access.session(self.session_id).call_tool(name, arguments, from_model=True, actor=MCP_CLIENT)
        if SESSION_PARAMETER not in arguments:
            tool = registry.get(name)  # an unknown name: the registry's error, with the names it knows
            raise ToolInputError(f"missing required parameter '{SESSION_PARAMETER}' (string): the session to act on; "
                                 f"list_sessions gives the ids. Example of valid arguments: "
                                 f"{_example_with_session(tool)}")
        session = self.access.session(arguments.pop(SESSION_PARAMETER))
        return session.call_tool(name, arguments, from_model=True, actor=MCP_CLIENT)  # an unknown name too: its tool_failed event


def _example_with_session(tool: Tool) -> str:
    return json.dumps({SESSION_PARAMETER: "3f2a9c81d4e0", **json.loads(tool.example_arguments())}, ensure_ascii=False)

