"""The live context: messages, their fragments, and the searches made so far.

Values here are immutable (frozen dataclasses and tuples); a `ContextState` is only ever
changed inside `engine.fold`, on a private copy, so every state a caller holds stays as it
was. Message ids (`m1`, `m2`, ...) follow the order messages were added and never change;
a message's original text is always the concatenation of its fragments' texts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Literal

from engine.errors import ToolInputError

FragmentStatus = Literal["visible", "folded", "summarized"]


@dataclass(frozen=True, slots=True)
class Fragment:
    id: str
    message_id: str
    start: int
    end: int
    text: str
    status: FragmentStatus = "visible"
    summary: str | None = None
    focus: str | None = None
    summarizer: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    role: str
    content: str | None
    fragments: tuple[Fragment, ...]
    name: str | None = None
    tool_calls: tuple[dict[str, Any], ...] | None = None
    tool_call_id: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    reasoning: str | None = None  # the model's thinking before this reply (its own part, never fragmented)
    stopped: bool = False  # the reply was cut short; its text is what had arrived

    @property
    def text(self) -> str:
        return self.content or ""

    @property
    def calls_text(self) -> str:
        """The tool calls as one searchable text, a line each: `name(key=value, ...)`, the
        arguments decoded so text in them reads as written (quotes, accents, newlines), not as
        JSON escapes; arguments that are not a JSON object stay as they were sent."""
        lines = []
        for call in self.tool_calls or ():
            function = call.get("function") or {}
            lines.append(f"{function.get('name', '')}({readable_arguments(function.get('arguments', ''))})")
        return "\n".join(lines)

    def part_text(self, part: str) -> str:
        """The text a search hit's offsets point into: the content, the reasoning, or the tool calls."""
        if part == "reasoning":
            return self.reasoning or ""
        if part == "tool_calls":
            return self.calls_text
        return self.text


@dataclass(frozen=True, slots=True)
class SearchRecord:
    search_id: str
    message_id: str
    start: int
    end: int
    query: str
    part: str = "content"  # "reasoning" for a hit in an assistant's reasoning


@dataclass(slots=True)
class ContextState:
    """Everything the events so far say about one conversation."""

    messages: list[Message] = field(default_factory=list)
    fragment_owner: dict[str, int] = field(default_factory=dict)  # fragment id -> message index
    searches: dict[str, SearchRecord] = field(default_factory=dict)
    event_count: int = 0
    settings: dict[str, Any] = field(default_factory=dict)  # replaced whole, never changed in place
    slices: dict[str, Any] = field(default_factory=dict)  # subsystem name -> its immutable slice
    # whether `fragment_owner` may be shared with a copy: then it is copied before it changes
    owner_shared: bool = field(default=False, repr=False, compare=False)

    def copy(self) -> "ContextState":
        """A state that can be changed without touching this one (values are shared).

        The fragment index is shared too, and copied only when one of the two changes it
        (`owners_to_change`): most events (folds, restores, searches) leave it alone, and in a
        10M-token session it holds 60,000 ids, which every tool call copied twice before."""
        self.owner_shared = True
        return ContextState(
            list(self.messages), self.fragment_owner, dict(self.searches), self.event_count, self.settings,
            dict(self.slices), True,
        )

    def owners_to_change(self) -> dict[str, int]:
        """`fragment_owner`, this state's own (copied first if a copy shares it), to change in place."""
        if self.owner_shared:
            self.fragment_owner = dict(self.fragment_owner)
            self.owner_shared = False
        return self.fragment_owner

    # ---- queries -------------------------------------------------------------------

    def next_message_id(self) -> str:
        return f"m{len(self.messages) + 1}"

    def message(self, message_id: str) -> Message:
        index = message_index(message_id)
        if index is None or index >= len(self.messages):
            known = f"m1 to m{len(self.messages)}" if self.messages else "none yet"
            raise ToolInputError(f"no message {_echo(message_id)}; message ids here are {known}")
        return self.messages[index]

    def fragments(self) -> Iterator[Fragment]:
        for message in self.messages:
            yield from message.fragments

    def has_fragment(self, fragment_id: str) -> bool:
        return fragment_id in self.fragment_owner

    def fragment(self, fragment_id: str) -> Fragment:
        """The fragment with this id, or a ToolInputError that lists the ids that exist."""
        index = self.fragment_owner.get(fragment_id) if isinstance(fragment_id, str) else None
        if index is None:
            raise ToolInputError(_unknown_fragment_message(self, fragment_id))
        for fragment in self.messages[index].fragments:
            if fragment.id == fragment_id:
                return fragment
        raise AssertionError(f"fragment index out of date for {fragment_id}")

    def fragment_at(self, message_id: str, offset: int) -> Fragment | None:
        """The fragment of `message_id` that holds character `offset` of its original text."""
        message = self.message(message_id)
        for fragment in message.fragments:
            if fragment.start <= offset < fragment.end:
                return fragment
        return message.fragments[-1] if message.fragments else None

    def search(self, search_id: str) -> SearchRecord:
        record = self.searches.get(search_id) if isinstance(search_id, str) else None
        if record is None:
            recent = list(self.searches)[-10:][::-1]
            hint = (
                f"recent search ids: {', '.join(recent)}" if recent
                else "no searches have been made yet; call search_context first"
            )
            raise ToolInputError(f"no search result {_echo(search_id)}; {hint}")
        return record


def readable_arguments(arguments: object) -> str:
    """`{"message": "she said \\"soon\\"", "to": {"name": "Bo"}}` -> `message=she said "soon", to.name=Bo`."""
    if not isinstance(arguments, str):
        return str(arguments)
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments
    if not isinstance(value, dict):
        return arguments
    pairs: list[str] = []
    stack: list[tuple[str, object]] = [(str(key), item) for key, item in reversed(list(value.items()))]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict) and item:
            stack += [(f"{path}.{key}", child) for key, child in reversed(list(item.items()))]
        elif isinstance(item, list) and item:
            stack += [(f"{path}.{index}", child) for index, child in reversed(list(enumerate(item)))]
        else:
            pairs.append(f"{path}={item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)}")
    return ", ".join(pairs)


def _echo(value: object) -> str:
    """A caller's value repeated in an error: quoted, one line, and never longer than 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def message_index(message_id: object) -> int | None:
    """`m7` -> 6; None for anything that is not a message id."""
    if not isinstance(message_id, str) or not message_id.startswith("m"):
        return None
    digits = message_id[1:]
    if not digits.isascii() or not digits.isdigit() or digits.startswith("0"):
        return None
    return int(digits) - 1


def _unknown_fragment_message(state: ContextState, fragment_id: object) -> str:
    known = list(state.fragment_owner)
    if not known:
        return (
            f"no fragment {_echo(fragment_id)}: this context has no fragments yet "
            "(it has no message text)"
        )
    recent = known[-15:][::-1]
    more = f" and {len(known) - len(recent)} more" if len(known) > len(recent) else ""
    return (
        f"no fragment {_echo(fragment_id)}. Fragment ids look like 'f1a2b3'; known ids, newest "
        f"first: {', '.join(recent)}{more}. fragment_context and search_context report ids."
    )
