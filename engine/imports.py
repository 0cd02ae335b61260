"""Where an imported conversation came from, and the compactions its tool made.

An import opens with `conversation_imported`: the format and file it was read from, the
original id, model and start time, the tool definitions the original model was offered
(they count as tool schemas in the window), memory blocks the source kept beside the
messages (a Letta agent's core memory), and, for a subagent's transcript, the session it
belongs to and the call that started it.

`context_compacted` marks the point where the source's own tool compacted its context
(Claude Code's `compact_boundary`), with the token counts it gave before and after. It
changes nothing itself: the importer folds what the compaction hid with ordinary
`fragment_folded` events after it, so restoring works as it does anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from engine.events import Event
from engine.state import ContextState
from engine.subsystem import Subsystem
from pydantic import Field


class ConversationImported(Event):
    kind: Literal["conversation_imported"] = "conversation_imported"
    format: str  # the format's name, e.g. "chatgpt"
    source: str  # the file, as the person named it
    source_id: str | None = None  # the conversation's id in the source
    title: str | None = None
    model: str | None = None
    started_at: str | None = None  # ISO time the source gives for the conversation
    tools: list[dict[str, Any]] = Field(default_factory=list)  # OpenAI-shaped tool definitions
    memory: list[dict[str, Any]] = Field(default_factory=list)  # memory blocks: label, value, ...
    relation: Literal["fork", "subagent"] | None = None
    parent_session: str | None = None  # our id of the session this one branches from or serves
    parent_tool_call: str | None = None  # the call in the parent that started this subagent
    attributes: dict[str, Any] = Field(default_factory=dict)  # other facts the source gives


class ContextCompacted(Event):
    kind: Literal["context_compacted"] = "context_compacted"
    before_tokens: int | None = None
    after_tokens: int | None = None
    trigger: str | None = None  # "auto", "manual", or what the source says
    source: str | None = None  # the tool that compacted, e.g. "claude-code"


@dataclass(frozen=True, slots=True)
class ImportOrigin:
    """The slice: what the `conversation_imported` event said (the latest one, if several)."""

    format: str
    source: str
    source_id: str | None
    model: str | None
    tools: tuple[dict[str, Any], ...]
    memory: tuple[dict[str, Any], ...]
    relation: str | None
    parent_session: str | None
    compactions: int = 0


def _conversation_imported(state: ContextState, event: ConversationImported) -> None:
    previous = IMPORTS.slice_of(state)
    state.slices[IMPORTS.name] = ImportOrigin(
        event.format, event.source, event.source_id, event.model, tuple(event.tools), tuple(event.memory),
        event.relation, event.parent_session, previous.compactions if previous else 0,
    )


def _context_compacted(state: ContextState, event: ContextCompacted) -> None:
    origin = IMPORTS.slice_of(state)
    if origin is not None:
        state.slices[IMPORTS.name] = ImportOrigin(
            origin.format, origin.source, origin.source_id, origin.model, origin.tools, origin.memory,
            origin.relation, origin.parent_session, origin.compactions + 1,
        )


IMPORTS = Subsystem(
    "imports",
    {ConversationImported: _conversation_imported, ContextCompacted: _context_compacted},
    empty_slice=None,
    description="where an imported conversation came from; compactions its tool made",
)


def imported_tools(state: ContextState) -> list[dict[str, Any]]:
    """The tool definitions an imported conversation's model was offered (none otherwise)."""
    origin = IMPORTS.slice_of(state)
    return list(origin.tools) if origin is not None else []
