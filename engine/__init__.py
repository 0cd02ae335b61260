"""Context Workbench engine: pure, typed and UI-free.

The conversation is an append-only list of events; `replay` folds them into a
`ContextState`; the tool registry turns tool calls into new events; `render` and `stats`
show what a model would see and what it costs. Nothing here imports streamlit, duckdb or
pyvis (a test enforces it), so every caller (UI, CLI, LLM loop, tests) shares this code.
"""

from engine.errors import (
    ImportFormatError,
    MessageError,
    ReplayError,
    SessionNotFound,
    StoreError,
    ToolDefinitionError,
    ToolInputError,
    WorkbenchError,
)
from engine.catalog import EVENT_ADAPTER, EVENT_KINDS, SUBSYSTEMS, event_from_record
from engine.events import Event, MessageAdded
from engine.fold import apply, replay
from engine.messages import new_message
from engine.render import render, stats
from engine.state import ContextState, Fragment, Message
from engine.tokens import DEFAULT_ENCODING, token_counter
from engine.tools import TOOL_PROFILES, ToolContext, ToolOutcome, registry, tool_schemas

__all__ = [
    "DEFAULT_ENCODING",
    "EVENT_ADAPTER",
    "EVENT_KINDS",
    "ContextState",
    "Event",
    "Fragment",
    "ImportFormatError",
    "Message",
    "MessageAdded",
    "MessageError",
    "ReplayError",
    "SUBSYSTEMS",
    "SessionNotFound",
    "StoreError",
    "TOOL_PROFILES",
    "ToolContext",
    "ToolDefinitionError",
    "ToolInputError",
    "ToolOutcome",
    "WorkbenchError",
    "apply",
    "event_from_record",
    "new_message",
    "registry",
    "render",
    "replay",
    "stats",
    "token_counter",
    "tool_schemas",
]
