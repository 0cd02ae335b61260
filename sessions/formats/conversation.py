"""What every format reads into: conversations, in one shape, before they become events.

A format module parses its file into `Conversation`s; `sessions.formats.building` turns each
into a session's events, so rules about ids, folding, forks and reports live in one place.
A reader yields `Invalid` for a record it cannot use (the import refuses the file, or skips
the record with `--skip-invalid`) and raises `ImportFormatError` only when the file as a whole
is unreadable.

Positions name a place in the file as a person finds it: `line 12` (JSON lines),
`record [3]` (an array), or a JSON pointer such as `/3/mapping/a2/message`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Literal, Union

from engine.records import EventRecord


@dataclass
class ModelCall:
    """The call that produced an assistant message, as the source recorded it."""

    model: str
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens, cache_read_tokens, ...
    finish_reason: str = "stop"
    latency_ms: float = 0.0


@dataclass
class ImportedMessage:
    """One message. `content` is text, None, or a list of OpenAI content parts; `tool_calls`
    are OpenAI-shaped (`arguments` may be an object: it is stored as JSON text)."""

    role: str  # system, user, assistant, tool
    content: Any = None
    reasoning: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)  # kept aside: images, files, unknown blocks
    extra: dict[str, Any] = field(default_factory=dict)  # the source's other fields worth keeping
    folded: bool = False  # imported folded: the source hid it, or its model no longer saw it
    timestamp: datetime | None = None
    call: ModelCall | None = None  # recorded before the message as an `llm_called` event
    position: str = ""  # where it is in the file, for errors


@dataclass
class Compaction:
    """The source compacted its context here: what came before is folded after this point."""

    before_tokens: int | None = None
    after_tokens: int | None = None
    trigger: str | None = None
    timestamp: datetime | None = None
    source: str | None = None


Item = Union[ImportedMessage, Compaction]


@dataclass
class Conversation:
    """One session to make. A branch (`parent_key` with `branch_at`) shares its parent's first
    `branch_at` items and holds only what follows; a subagent (`relation="subagent"`) is a
    session of its own, linked to its parent."""

    key: str  # unique within the file: links branches and subagents to their parent
    title: str
    items: list[Item] = field(default_factory=list)
    source_id: str | None = None
    model: str | None = None
    created_at: datetime | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    parent_key: str | None = None
    branch_at: int | None = None
    relation: Literal["fork", "subagent"] | None = None
    parent_tool_call: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problems: list["Invalid"] = field(default_factory=list)  # bad records found while reading: it is refused
    position: str = ""
    records: list[EventRecord] | None = None  # a workbench trace's own events, taken as they are
    forked_from: str | None = None  # a workbench trace's header: the session it was forked from
    forked_at: int | None = None

    @property
    def messages(self) -> list[ImportedMessage]:
        return [item for item in self.items if isinstance(item, ImportedMessage)]


@dataclass
class Invalid:
    """A record the reader could not use: where it is, and why."""

    position: str
    reason: str

    def __str__(self) -> str:
        return f"{self.position}: {self.reason}"


Parsed = Iterator[Union[Conversation, Invalid]]


@dataclass(frozen=True)
class Sniff:
    """A format's verdict on a sample: `closeness` 100 is a match; below it, how near it came."""

    closeness: int
    reason: str

    @property
    def matched(self) -> bool:
        return self.closeness >= 100


def match(reason: str = "matches") -> Sniff:
    return Sniff(100, reason)


def near(closeness: int, reason: str) -> Sniff:
    """Looks like this format but is not quite it (the reason says what is missing)."""
    return Sniff(max(1, min(99, closeness)), reason)


def no(reason: str) -> Sniff:
    return Sniff(0, reason)


@dataclass(frozen=True)
class Format:
    """One format: its name (for `--format`), what people call it, and what it can do."""

    name: str
    label: str
    sniff: Callable[[Any], Sniff]  # takes a `Sample`
    read: Callable[[Any], Parsed] | None = None  # takes a `Source`
    write: Callable[..., Any] | None = None
    extensions: tuple[str, ...] = ()  # for the file picker only: detection never looks at names


def timestamp(value: Any) -> datetime | None:
    """A time from a source (epoch seconds, milliseconds, microseconds or nanoseconds, or ISO text)
    as naive UTC, what the store keeps; None if unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, (int, float)) or (isinstance(value, str) and value.strip().isdigit()):
            number = float(value)
            for scale in (1, 1e3, 1e6, 1e9):  # seconds, ms, µs, ns: the first that lands before 2200
                if number / scale < 7.3e9:
                    return datetime.fromtimestamp(number / scale, tz=timezone.utc).replace(tzinfo=None)
            return None
        if isinstance(value, str) and value.strip():
            text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
            moment = datetime.fromisoformat(text)
            return moment.astimezone(timezone.utc).replace(tzinfo=None) if moment.tzinfo else moment
    except (ValueError, OverflowError, OSError):
        return None
    return None


def text_of(value: Any) -> str | None:
    """A value as text when it is text; JSON-ish values are the reader's to render."""
    return value if isinstance(value, str) else None
