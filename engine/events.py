"""Events: the only truth about a session.

Every change to a context is one of these records, named in the past tense. The live state
is a fold of them (`engine.fold.replay`), so anything that happened can be replayed, forked
or exported without calling a model again. Events carry what happened, never derived data
such as token counts: those depend on the tokenizer and are recomputed (and cached).

An event is serialized as its `kind` plus a `payload` (every other field); the store adds
`seq` and `ts`. This module holds the base class and the core events (messages, fragments,
searches, models); a subsystem (brakes, tasks, memory) defines its own events beside its fold
rules, and `engine.catalog` gathers them all into the one adapter that reads them back.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


class Event(BaseModel):
    """The base of every event: frozen, strict, and named by a `kind` literal in the past tense."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def payload(self) -> dict[str, Any]:
        """The event's fields other than `kind`, as JSON-ready values."""
        return self.model_dump(mode="json", exclude={"kind"})


class MessageAdded(Event):
    """A message joined the conversation: from a person, a model, a tool or an import."""

    kind: Literal["message_added"] = "message_added"
    message_id: str
    role: Role
    content: str | None
    fragment_id: str | None = None  # the message's first fragment; None when it has no text
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)  # non-text content parts
    extra: dict[str, Any] = Field(default_factory=dict)  # fields we keep but do not render
    reasoning: str | None = None  # an assistant's thinking before its reply, kept as its own part
    stopped: bool = False  # a reply cut short by Stop (or a brake): the text is what arrived


class FragmentPiece(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fragment_id: str
    start: int  # character offsets into the message's original content
    end: int


class MessageCut(BaseModel):
    """Within one message: the visible fragments `replaced` give way to `pieces`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str
    replaced: list[str]
    pieces: list[FragmentPiece]


class ContextFragmented(Event):
    kind: Literal["context_fragmented"] = "context_fragmented"
    start_marker: str
    end_marker: str
    role: str
    num_fragments: int
    cuts: list[MessageCut]


class FragmentFolded(Event):
    kind: Literal["fragment_folded"] = "fragment_folded"
    fragment_id: str


class FragmentSummarized(Event):
    kind: Literal["fragment_summarized"] = "fragment_summarized"
    fragment_id: str
    focus: str
    summary: str
    summarizer: str  # "extractive", or the model that wrote it


class FragmentRestored(Event):
    kind: Literal["fragment_restored"] = "fragment_restored"
    fragment_id: str


class SearchHit(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    search_id: str
    message_id: str
    start: int  # character offsets into the part searched: the message's text, its reasoning, or its tool calls
    end: int
    part: Literal["content", "reasoning", "tool_calls"] = "content"


class ContextSearched(Event):
    kind: Literal["context_searched"] = "context_searched"
    query: str
    role: str
    mode: str
    total_matches: int
    hits: list[SearchHit]
    include_reasoning: bool = False


class SearchDetailViewed(Event):
    kind: Literal["search_detail_viewed"] = "search_detail_viewed"
    search_id: str
    extended_context: int


class ToolFailed(Event):
    """A tool call that changed nothing: bad arguments, unknown ids, or a bug in the tool."""

    kind: Literal["tool_failed"] = "tool_failed"
    tool: str
    arguments: Any
    error: str
    error_type: str = "ToolInputError"


class SessionConfigured(Event):
    """The session's settings for talking to a model: backend (never a key), tools, policy."""

    kind: Literal["session_configured"] = "session_configured"
    settings: dict[str, Any]


class LLMCalled(Event):
    """A model answered: what it cost and how it ended. Its reply is the message that follows."""

    kind: Literal["llm_called"] = "llm_called"
    model: str
    usage: dict[str, int]
    latency_ms: float
    finish_reason: str  # stop, length, tool_calls, ... or "stopped" when cut short
    tool_calls: int = 0
    step: int = 1
    stop_reason: str | None = None  # why a stopped call was stopped: a person, leaving the page, a brake
    purpose: str | None = None  # None: the turn's own call; "brake_finish": the short answer after a brake


class LLMFailed(Event):
    """A model call failed; nothing else changed, and the turn can be retried."""

    kind: Literal["llm_failed"] = "llm_failed"
    model: str
    error_kind: str
    error: str
    retryable: bool = True


class PolicyApplied(Event):
    """A context policy acted: each action (tool and arguments) with its reason; the tool
    events follow it in the same transaction."""

    kind: Literal["policy_applied"] = "policy_applied"
    rendered_tokens: int
    threshold: int
    actions: list[dict[str, Any]]
