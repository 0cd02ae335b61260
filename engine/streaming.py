"""What a model says while it says it: typed deltas, one observer, one way to stop.

Every backend streams differently: OpenAI sends `delta.content` and `delta.tool_calls`,
litellm turns Anthropic's thinking into `delta.reasoning_content` (and `thinking_blocks`),
and local servers without a reasoning parser (llama.cpp, vLLM, Ollama with DeepSeek-R1 or
Qwen3 templates) put their reasoning inside the text between `<think>` and `</think>`.
`engine.llm.complete` feeds all of that into a `StreamAssembler`, which hands the caller's
observer three kinds of delta, in the order they arrived:

- `TextDelta(text)`: the answer, never containing a think tag;
- `ReasoningDelta(text)`: reasoning, from the backend's own field or from inside the tags;
- `ToolCallDelta(index, id, name, arguments_fragment)`: one piece of the tool call at
  `index` (the id and name come with its first piece, the arguments in fragments).

An observer is anything with `on_delta(delta)` (`StreamObserver`) or a plain callable. It may
end the call early through a `StopSignal` it shares with the caller: `stop.set("reason")`,
from the observer itself or any other thread; the stream checks it after each chunk and the
reason is kept. A `StopSignal` is a `threading.Event`, so code that only knows events works.

The think-tag splitter (`ThinkTagSplitter`) is pure and incremental: a tag cut across chunks
("<thi" + "nk>") is held back until it is whole, a `<` that starts no tag is let through, and
a reply that begins inside its reasoning (the template put `<think>` in the prompt, so only
`</think>` arrives) is recognised when the closing tag comes. That last case cannot be known
in advance: the text before the lone `</think>` has already gone out as `TextDelta`s, and only
the finished result (`splitter.text`, `splitter.reasoning`) files it as reasoning.

Nothing here imports litellm; only `engine.llm` talks to backends.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Union, runtime_checkable

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's reasoning (thinking), kept apart from the answer."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of the tool call at `index`; `id` and `name` come with its first piece."""

    index: int
    id: str | None
    name: str | None
    arguments_fragment: str


Delta = Union[TextDelta, ReasoningDelta, ToolCallDelta]


@runtime_checkable
class StreamObserver(Protocol):
    """Hears every delta of one model call, streamed or not."""

    def on_delta(self, delta: Delta) -> None: ...


Observer = Union[StreamObserver, Callable[[Delta], None]]


class StopSignal(threading.Event):
    """A request to end a model call early, with the reason why (the first reason given wins).

    Set it from an observer (a brake that sees overthinking) or from any other thread (a Stop
    button); the stream ends after the chunk in flight.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reason: str | None = None
        self._reason_lock = threading.Lock()

    def set(self, reason: str = "requested") -> None:  # type: ignore[override]
        with self._reason_lock:
            if self.reason is None:
                self.reason = " ".join(str(reason).split())[:200] or "requested"  # recorded in the log: one short line
        super().set()

    def clear(self) -> None:
        with self._reason_lock:
            self.reason = None
        super().clear()


def stop_reason(stop: threading.Event) -> str:
    """Why `stop` was set: its reason for a `StopSignal`, "requested" for a plain event."""
    return getattr(stop, "reason", None) or "requested"


class ObserverError(Exception):
    """The caller's observer (or `on_token`) raised: their bug, not the backend's failure."""


def as_callback(observer: Observer) -> Callable[[Delta], None]:
    """One callable for either kind of observer."""
    if isinstance(observer, StreamObserver):
        return observer.on_delta
    if callable(observer):
        return observer
    raise TypeError(f"an observer has on_delta(delta) or is callable, not {type(observer).__name__}")


@dataclass
class Completion:
    """One model call's result; `content` is the answer without think tags, `reasoning` apart.

    Stopped early: `stopped`, `stop_reason` (why), `finish_reason == "stopped"`, the partial
    content and reasoning kept, no tool calls. `usage` has prompt, completion (reasoning
    included) and reasoning tokens, as reported by the backend or else counted.
    """

    content: str | None
    tool_calls: list[dict[str, Any]]
    finish_reason: str
    usage: dict[str, int]
    latency_ms: float
    model: str
    stopped: bool = False
    reasoning: str | None = None
    stop_reason: str | None = None


def combine(observer: Observer | None, on_token: Callable[[str], None] | None = None) -> Callable[[Delta], None] | None:
    """One callback for an observer and the older `on_token(text)` (which hears only the text)."""
    listen = as_callback(observer) if observer is not None else None
    if on_token is None:
        return listen

    def both(delta: Delta) -> None:
        if listen is not None:
            listen(delta)
        if isinstance(delta, TextDelta):
            on_token(delta.text)

    return both


# ---- the think-tag splitter ---------------------------------------------------------------


def _held_back(buffer: str, tags: tuple[str, ...]) -> int:
    """How many characters at the end of `buffer` could be the start of one of `tags`."""
    for length in range(min(len(buffer), max(len(t) for t in tags) - 1), 0, -1):
        tail = buffer[-length:]
        if any(tag.startswith(tail) for tag in tags):
            return length
    return 0


class ThinkTagSplitter:
    """Splits text that may hold `<think>...</think>` into text and reasoning, chunk by chunk.

    `feed(chunk)` returns the deltas it can already be sure of; `flush()` the rest at the end.
    Whitespace that only separates a tag from what follows is dropped at the start of the
    answer and of the reasoning; everything else passes unchanged. `text` and `reasoning` hold
    the whole result so far, with a reply that began inside its reasoning filed correctly.
    """

    def __init__(self, starts_inside: bool = False) -> None:
        self.inside = starts_inside
        self._pending = ""
        self._seen_tag = starts_inside
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._strip_text = False
        self._strip_reasoning = starts_inside

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    def feed(self, chunk: str) -> list[Delta]:
        deltas: list[Delta] = []
        buffer = self._pending + chunk
        while buffer:
            tags = (CLOSE_TAG,) if self.inside else (OPEN_TAG, CLOSE_TAG) if not self._seen_tag else (OPEN_TAG,)
            found = [(buffer.find(tag), tag) for tag in tags if tag in buffer]
            if not found:
                keep = _held_back(buffer, tags)
                self._emit(buffer[: len(buffer) - keep], deltas)
                self._pending = buffer[len(buffer) - keep :]
                return deltas
            position, tag = min(found)
            self._emit(buffer[:position], deltas)
            buffer = buffer[position + len(tag) :]
            self._switch(tag)
        self._pending = ""
        return deltas

    def flush(self) -> list[Delta]:
        deltas: list[Delta] = []
        self._emit(self._pending, deltas)
        self._pending = ""
        return deltas

    def _switch(self, tag: str) -> None:
        if tag == CLOSE_TAG and not self.inside:  # a lone closing tag: all so far was reasoning
            self._reasoning.extend(self._text)
            self._text.clear()
        self._seen_tag = True
        self.inside = tag == OPEN_TAG
        if self.inside:
            self._strip_reasoning = not self._reasoning
        else:
            self._strip_text = not self._text

    def _emit(self, piece: str, deltas: list[Delta]) -> None:
        if self.inside:
            if self._strip_reasoning:
                piece = piece.lstrip()
                self._strip_reasoning = not piece
            if piece:
                self._reasoning.append(piece)
                deltas.append(ReasoningDelta(piece))
        else:
            if self._strip_text:
                piece = piece.lstrip()
                self._strip_text = not piece
            if piece:
                self._text.append(piece)
                deltas.append(TextDelta(piece))


def split_think_tags(text: str) -> tuple[str, str]:
    """`(answer, reasoning)` of a whole text, as the streaming splitter would find them."""
    splitter = ThinkTagSplitter()
    splitter.feed(text)
    splitter.flush()
    return splitter.text, splitter.reasoning


# ---- whole messages as streams ------------------------------------------------------------


def _cut(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def message_pieces(message: dict[str, Any], size: int = 12, chunks: list[str] | None = None) -> list[dict[str, Any]]:
    """A whole message as the deltas a streaming backend would send, as OpenAI-style dicts.

    Reasoning first (`reasoning_content`), then the content in `size`-character pieces (or the
    given `chunks`), then each tool call (id and name first, its arguments in pieces), then a
    last piece with only the `finish_reason`. A reported `usage` rides on the last piece that
    carries something, since litellm drops what comes after a finish.
    """
    pieces: list[dict[str, Any]] = [{"reasoning_content": part} for part in _cut(message.get("reasoning_content") or "", size)]
    pieces += [{"content": part} for part in (chunks if chunks is not None else _cut(message.get("content") or "", size))]
    calls = message.get("tool_calls") or []
    for index, call in enumerate(calls):
        fragments = _cut(call["function"].get("arguments") or "", size) or [""]
        pieces.append({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                       "function": {"name": call["function"]["name"], "arguments": fragments[0]}}]})
        pieces += [{"tool_calls": [{"index": index, "function": {"arguments": part}}]} for part in fragments[1:]]
    if not pieces:
        pieces.append({"content": ""})
    if message.get("usage"):
        pieces[-1]["usage"] = message["usage"]
    pieces.append({"finish_reason": "tool_calls" if calls else "stop"})
    return pieces


# ---- assembling one call ------------------------------------------------------------------


def thinking_text(blocks: Any) -> str:
    """The readable text of Anthropic-style thinking blocks (redacted blocks have none)."""
    parts = []
    for block in blocks or []:
        get = block.get if isinstance(block, dict) else lambda key, b=block: getattr(b, key, None)
        if get("type") in (None, "thinking") and isinstance(get("thinking"), str):
            parts.append(get("thinking"))
    return "".join(parts)


def _field(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, dict) else getattr(value, key, None)


class StreamAssembler:
    """Turns a backend's raw pieces into typed deltas for one observer, and keeps the whole.

    `add(...)` takes what one chunk (or one whole message) carried; `finish()` flushes the
    splitter. `text`, `reasoning` and `tool_calls` are the result so far: a stopped call keeps
    the text and reasoning it got, and its caller drops the unfinished tool calls.
    """

    def __init__(self, observer: Callable[[Delta], None] | None = None) -> None:
        self._observer = observer
        self._splitter = ThinkTagSplitter()
        self._native_reasoning: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self.deltas = 0

    @property
    def text(self) -> str:
        return self._splitter.text

    @property
    def reasoning(self) -> str | None:
        whole = "".join(self._native_reasoning) + self._splitter.reasoning
        return whole or None

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return [{"id": call["id"] or f"call_{index}", "type": "function",
                 "function": {"name": call["name"], "arguments": call["arguments"]}}
                for index, call in sorted(self._calls.items())]

    def add(self, *, content: str | None = None, reasoning: str | None = None,
            thinking_blocks: Any = None, tool_calls: Any = None) -> None:
        """One chunk's pieces: reasoning first, then text, then tool-call pieces."""
        reasoning = reasoning or thinking_text(thinking_blocks)  # litellm sends both for Anthropic
        if reasoning:
            self._native_reasoning.append(reasoning)
            self._tell(ReasoningDelta(reasoning))
        if content:
            for delta in self._splitter.feed(content):
                self._tell(delta)
        for position, call in enumerate(tool_calls or []):
            self._tool_piece(position, call)

    def add_delta(self, delta: Any) -> None:
        """What one chunk's delta (or one whole message) carried, as litellm shapes it or as a dict."""
        get = delta.get if isinstance(delta, dict) else lambda key: getattr(delta, key, None)
        self.add(content=get("content"), reasoning=get("reasoning_content"),
                 thinking_blocks=get("thinking_blocks"), tool_calls=get("tool_calls"))

    def finish(self) -> None:
        for delta in self._splitter.flush():
            self._tell(delta)

    def _tool_piece(self, position: int, call: Any) -> None:
        index = _field(call, "index")
        index = position if index is None else int(index)
        function = _field(call, "function") or {}
        name, fragment, call_id = _field(function, "name"), _field(function, "arguments") or "", _field(call, "id")
        known = self._calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        known["id"] = known["id"] or call_id or ""
        known["name"] = known["name"] or name or ""
        known["arguments"] += fragment
        if call_id or name or fragment:
            self._tell(ToolCallDelta(index, call_id or None, name or None, fragment))

    def _tell(self, delta: Delta) -> None:
        self.deltas += 1
        if self._observer is None:
            return
        try:
            self._observer(delta)
        except Exception as exc:
            raise ObserverError(f"the stream observer failed: {exc!r}") from exc


def usage_of(reported: Any, parts: StreamAssembler, calls: list[dict[str, Any]],
             prompt_tokens: Callable[[], int], count: Callable[[str], int]) -> dict[str, int]:
    """Prompt, completion (reasoning included) and reasoning tokens: what the backend `reported`,
    and for what it did not, `prompt_tokens()` and `count(text)` of the text, reasoning and calls."""
    prompt = getattr(reported, "prompt_tokens", 0) or 0
    completion = getattr(reported, "completion_tokens", 0) or 0
    reasoning = getattr(getattr(reported, "completion_tokens_details", None), "reasoning_tokens", 0) or 0
    if not reasoning and parts.reasoning:
        reasoning = count(parts.reasoning)
    if not completion:
        arguments = "".join(call["function"]["arguments"] for call in calls)
        completion = count(parts.text) + reasoning + (count(arguments) if arguments else 0)
    return {"prompt_tokens": prompt or prompt_tokens(), "completion_tokens": completion, "reasoning_tokens": reasoning}


__all__ = [
    "CLOSE_TAG", "OPEN_TAG", "Completion", "Delta", "Observer", "ObserverError", "ReasoningDelta", "StopSignal",
    "StreamAssembler", "StreamObserver", "TextDelta", "ThinkTagSplitter", "ToolCallDelta", "as_callback", "combine", "message_pieces",
    "split_think_tags", "stop_reason", "thinking_text", "usage_of",
]
