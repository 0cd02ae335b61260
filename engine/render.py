"""What the model sees: `render()` turns a state into OpenAI-format messages; `stats()`
says how many tokens each part of that costs.

Visible fragments render as their original text, joined exactly, so fragmenting alone
changes nothing a model sees. A folded fragment becomes one line naming its id and the
tokens it hides; a summarized one becomes a header line plus the summary. Those blocks sit
on lines of their own (a newline is added where the neighbouring text has none) so that a
marker never glues itself to the middle of a word.

An assistant's reasoning is its own part of the message. Whether it is sent back follows
the backend's convention (`include_reasoning`): OpenAI-style chat APIs drop earlier
reasoning, so by default it is counted (`reasoning_tokens`) but not rendered; when it is
sent it travels as `reasoning_content`, litellm's common field (with Anthropic's signed
`thinking_blocks` where the model gave them), and counts in the window.

Core memory (engine/memory.py) is always at the top: while it holds text, a block opening with
`CORE_MEMORY_HEADER` opens the conversation's leading system message (many chat templates take
one system message only, first), or, when the conversation does not open with one, is a system
message of its own before the rest. `render_each()` gives the conversation's messages alone, one
per message, for views that pair them with the state's. A core memory longer than 512 tokens
(only a hand-edited log holds one) is cut to fit, as Mem-alpha cuts it.

Token counts come from the per-text cache in `engine.tokens`; the rendered total is the
sum of the parts plus OpenAI's per-message framing (3 tokens a message, 1 for a name, 3 to
prime the reply), which is how chat APIs bill a message list.

A message is an immutable value that is replaced, never changed, when one of its fragments
is folded or restored, so what it renders to and what it costs are kept per message object
(`_PerMessage`): a render of a 10M-token session then redoes only the messages that changed
since the last one, instead of joining and counting sixty thousand fragments on every rerun.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, NamedTuple

from engine.memory import core_memory, within_bound
from engine.state import ContextState, Fragment, Message
from engine.text import one_line
from engine.tokens import DEFAULT_ENCODING, TokenCounter, token_counter

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
TOKENS_REPLY_PRIMING = 3
TOKENS_PER_TOOL_CALL = 3
# content parts a chat API takes; an import keeps anything else (a ChatGPT image pointer, an
# unknown block) as an attachment the pages show but the model is not sent
SENDABLE_PARTS = frozenset({"image_url", "input_audio", "file", "refusal"})


CORE_MEMORY_HEADER = "[core memory]"
CORE_MEMORY_GAP = "\n\n"  # between the core memory block and the system prompt it opens


def fold_marker(fragment_id: str, tokens: int) -> str:
    return f"[folded fragment {fragment_id}: {tokens:,} tokens hidden]"


def summary_header(fragment_id: str, tokens: int, focus: str | None) -> str:
    focus_part = f', focus "{one_line(focus, 60)}"' if focus else ""
    return f"[summary of fragment {fragment_id}, {tokens:,} tokens{focus_part}]"


@dataclass(frozen=True, slots=True)
class RenderedPiece:
    """One fragment as the model sees it: its text, or its marker block."""

    fragment: Fragment
    text: str
    original_tokens: int
    rendered_tokens: int


class _PerMessage:
    """Values derived from one message object and one tokenizer, kept while the message is
    held here. Keyed by the object's identity (a message is never changed, only replaced); the
    entry holds the message, so its id cannot be reused by another object while it is kept."""

    def __init__(self, build: Callable[[Message, TokenCounter], Any], entries: int = 8_192) -> None:
        self._build = build
        self._items: dict[tuple[int, str], tuple[Message, Any]] = {}
        self._entries = entries
        self._lock = threading.Lock()

    def get(self, message: Message, counter: TokenCounter) -> Any:
        key = (id(message), counter.name)
        found = self._items.get(key)
        if found is not None and found[0] is message:
            return found[1]
        value = self._build(message, counter)
        with self._lock:
            self._items[key] = (message, value)
            while len(self._items) > self._entries:  # oldest first: dicts keep insertion order
                del self._items[next(iter(self._items))]
        return value


def render_pieces(message: Message, counter: TokenCounter) -> list[RenderedPiece]:
    """Each fragment of `message` as the model sees it (a new list; the pieces are shared)."""
    return list(_pieces.get(message, counter))


def _render_pieces(message: Message, counter: TokenCounter) -> tuple[RenderedPiece, ...]:
    pieces = []
    for fragment in message.fragments:
        original = counter.count(fragment.text)
        if fragment.status == "visible":
            pieces.append(RenderedPiece(fragment, fragment.text, original, original))
            continue
        if fragment.status == "folded":
            block = fold_marker(fragment.id, original)
        else:
            block = summary_header(fragment.id, original, fragment.focus) + "\n" + (fragment.summary or "")
        pieces.append(RenderedPiece(fragment, block, original, counter.count(block)))
    return tuple(pieces)


_pieces = _PerMessage(_render_pieces)


def join_pieces(pieces: list[RenderedPiece]) -> str:
    """Concatenate rendered pieces, keeping marker blocks on lines of their own."""
    parts: list[str] = []
    for position, piece in enumerate(pieces):
        text = piece.text
        if piece.fragment.status != "visible":
            if parts and not parts[-1].endswith("\n"):
                text = "\n" + text
            following = pieces[position + 1].text if position + 1 < len(pieces) else ""
            if following and not following.startswith("\n"):
                text = text + "\n"
        parts.append(text)
    return "".join(parts)


def render_message(message: Message, counter: TokenCounter, include_reasoning: bool = False) -> dict[str, Any]:
    content: Any = _content.get(message, counter)
    sent = [part for part in message.attachments if part.get("type") in SENDABLE_PARTS]
    if sent:
        text_part = [{"type": "text", "text": content}] if content else []
        content = text_part + copy.deepcopy(sent)
    rendered: dict[str, Any] = {"role": message.role, "content": content}
    if message.name is not None:
        rendered["name"] = message.name
    if message.tool_calls is not None:
        rendered["tool_calls"] = copy.deepcopy(list(message.tool_calls))  # callers may change it freely
    if message.tool_call_id is not None:
        rendered["tool_call_id"] = message.tool_call_id
    if include_reasoning and message.reasoning:
        rendered["reasoning_content"] = message.reasoning
    if include_reasoning and message.extra.get("thinking_blocks"):  # Anthropic's signed (or redacted) blocks
        rendered["thinking_blocks"] = copy.deepcopy(message.extra["thinking_blocks"])
    return rendered


def _rendered_content(message: Message, counter: TokenCounter) -> str | None:
    if message.content is None or all(f.status == "visible" for f in message.fragments):
        return message.content
    return join_pieces(list(_pieces.get(message, counter)))


_content = _PerMessage(_rendered_content)


def sent_core_memory(state: ContextState, encoding: str = DEFAULT_ENCODING) -> str:
    """Core memory's text as the model is sent it ("" when there is none)."""
    text = core_memory(state)
    return _bounded(text, encoding) if text else ""


def core_memory_message(state: ContextState, encoding: str = DEFAULT_ENCODING) -> dict[str, Any] | None:
    """Core memory as a system message (its block, header included), or None when it is empty."""
    text = sent_core_memory(state, encoding)
    return {"role": "system", "content": f"{CORE_MEMORY_HEADER}\n{text}"} if text else None


@lru_cache(maxsize=64)
def _bounded(text: str, encoding: str) -> str:
    """Core memory as sent: cut to 512 tokens if a hand-made log holds more (cached: every render asks)."""
    return within_bound(text, token_counter(encoding))[0]


def joined_with_core(core: str, first: str | None) -> str:
    """The leading system prompt with the core memory block opening it."""
    return core + CORE_MEMORY_GAP + first if first else core


def opens_with_system(state: ContextState) -> bool:
    """Whether core memory joins the first message (a system prompt of plain text) instead of
    coming as a message of its own."""
    first = state.messages[0] if state.messages else None
    return first is not None and first.role == "system" and not first.attachments


def render_each(state: ContextState, encoding: str = DEFAULT_ENCODING, include_reasoning: bool = False) -> list[dict[str, Any]]:
    """The conversation's messages as the model is sent them, one per state message (no core memory)."""
    counter = token_counter(encoding)
    return [render_message(message, counter, include_reasoning) for message in state.messages]


def render(state: ContextState, encoding: str = DEFAULT_ENCODING, include_reasoning: bool = False) -> list[dict[str, Any]]:
    """The OpenAI-format message list a model would be sent now: core memory (if any) first,
    then the conversation (reasoning only if asked)."""
    messages = render_each(state, encoding, include_reasoning)
    core = core_memory_message(state, encoding)
    if core is None:
        return messages
    if opens_with_system(state):
        return [{**messages[0], "content": joined_with_core(core["content"], messages[0]["content"])}, *messages[1:]]
    return [core, *messages]


def tool_call_tokens(message: Message, counter: TokenCounter) -> int:
    total = 0
    for call in message.tool_calls or ():
        function = call.get("function") or {}
        total += TOKENS_PER_TOOL_CALL + counter.count(str(function.get("name", "")))
        arguments = function.get("arguments", "")
        total += counter.count(arguments if isinstance(arguments, str) else json.dumps(arguments))
    return total


_STATUSES = ("visible", "folded", "summarized")


class _Figures(NamedTuple):
    """What one message adds to `stats()`: fragments and their tokens by status (in
    `_STATUSES` order), markers, framing, tool calls and reasoning."""

    counts: tuple[int, int, int]
    tokens: tuple[int, int, int]
    markers: int
    fold_markers: int
    original: int
    pieces_rendered: int
    framing: int
    calls: int
    reasoning: int


def _message_figures(message: Message, counter: TokenCounter) -> _Figures:
    counts, tokens = [0, 0, 0], [0, 0, 0]
    markers = fold_markers = original = rendered = 0
    for piece in _pieces.get(message, counter):
        position = _STATUSES.index(piece.fragment.status)
        counts[position] += 1
        tokens[position] += piece.original_tokens
        if position:
            markers += piece.rendered_tokens
        if position == 1:
            fold_markers += piece.rendered_tokens
        original += piece.original_tokens
        rendered += piece.rendered_tokens
    framing = TOKENS_PER_MESSAGE + (TOKENS_PER_NAME if message.name else 0)
    return _Figures((counts[0], counts[1], counts[2]), (tokens[0], tokens[1], tokens[2]), markers, fold_markers,
                    original, rendered, framing, tool_call_tokens(message, counter), counter.count(message.reasoning))


_figures = _PerMessage(_message_figures)


def stats(
    state: ContextState,
    encoding: str = DEFAULT_ENCODING,
    tools: Iterable[dict[str, Any]] | None = None,
    window: int | None = None,
    include_reasoning: bool = False,
) -> dict[str, Any]:
    """Token accounting for the rendered context, by fragment status and by role.

    `total_tokens` is the original text of every message; `visible_tokens`,
    `folded_tokens` and `summarized_tokens` split it by what happened to each fragment.
    `rendered_tokens` is what the model is sent: visible text, markers (`marker_tokens`:
    fold markers plus summary blocks), tool calls and message framing. Pass the tool
    schemas to count their overhead and the model's window size to get the free space.
    `reasoning_tokens` counts assistants' reasoning; it is part of `rendered_tokens` only
    when `include_reasoning` (the backend is sent its earlier reasoning). `core_memory_tokens`
    is the core memory block at the top (with the gap before the system prompt it opens; the
    framing of a message of its own is in `overhead_tokens`).
    """
    counter = token_counter(encoding)
    by_status = {"visible": 0, "folded": 0, "summarized": 0}
    tokens_by_status = {"visible": 0, "folded": 0, "summarized": 0}
    marker_tokens = fold_marker_tokens = calls_total = fragments = reasoning_total = 0
    by_role: dict[str, dict[str, int]] = {}
    core = core_memory_message(state, encoding)
    joined = core is not None and opens_with_system(state)
    core_tokens = counter.count(core["content"]) if core else 0
    if joined:  # tokens do not add up across the join: the block is what the joined prompt costs more
        first = render_message(state.messages[0], counter)["content"]
        core_tokens = counter.count(joined_with_core(core["content"], first)) - counter.count(first)
    overhead = (TOKENS_REPLY_PRIMING if state.messages or core else 0) + (TOKENS_PER_MESSAGE if core and not joined else 0)
    for message in state.messages:
        role = by_role.setdefault(message.role, {"messages": 0, "total_tokens": 0, "rendered_tokens": 0})
        figures: _Figures = _figures.get(message, counter)
        reasoning_total += figures.reasoning
        if include_reasoning:
            role["rendered_tokens"] += figures.reasoning
        overhead += figures.framing
        calls_total += figures.calls
        role["messages"] += 1
        role["rendered_tokens"] += figures.framing + figures.calls + figures.pieces_rendered
        role["total_tokens"] += figures.original
        fragments += sum(figures.counts)
        for position, status in enumerate(_STATUSES):
            by_status[status] += figures.counts[position]
            tokens_by_status[status] += figures.tokens[position]
        marker_tokens += figures.markers
        fold_marker_tokens += figures.fold_markers
    content_total = sum(tokens_by_status.values())
    rendered = tokens_by_status["visible"] + marker_tokens + calls_total + overhead + core_tokens
    if include_reasoning:
        rendered += reasoning_total
    schema_tokens = counter.count(json.dumps(list(tools), sort_keys=True)) if tools else 0
    result: dict[str, Any] = {
        "encoding": counter.name,
        "messages": len(state.messages),
        "fragments": fragments,
        "fragments_by_status": by_status,
        "total_tokens": content_total,
        "visible_tokens": tokens_by_status["visible"],
        "folded_tokens": tokens_by_status["folded"],
        "summarized_tokens": tokens_by_status["summarized"],
        "marker_tokens": marker_tokens,
        "fold_marker_tokens": fold_marker_tokens,
        "summary_tokens": marker_tokens - fold_marker_tokens,
        "tool_call_tokens": calls_total,
        "overhead_tokens": overhead,
        "rendered_tokens": rendered,
        "saved_tokens": content_total - tokens_by_status["visible"] - marker_tokens,
        "tool_schema_tokens": schema_tokens,
        "core_memory_tokens": core_tokens,
        "reasoning_tokens": reasoning_total,
        "reasoning_sent": include_reasoning,
        "by_role": by_role,
    }
    if window is not None:
        used = rendered + schema_tokens
        result.update(window_tokens=window, window_used_tokens=used, window_free_tokens=window - used)
    return result
