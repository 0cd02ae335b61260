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

from engine.deltas import Delta, ReasoningDelta, TextDelta, ToolCallDelta  # re-exported: one place to import the stream API from
from engine.think_tags import CLOSE_TAG, OPEN_TAG, ThinkTagSplitter, split_think_tags  # re-exported: one place to import the stream API from


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
                self.reason = _one_line(reason)  # recorded in the log: one short line
        super().set()

    def clear(self) -> None:
        with self._reason_lock:
            self.reason = None
        super().clear()


def stop_reason(stop: threading.Event) -> str:
    """Why `stop` was set, as one short line: its reason for a `StopSignal`, "requested" for a plain event."""
    return _one_line(getattr(stop, "reason", None))


def _one_line(reason: Any) -> str:
    return " ".join(str(reason).split())[:200] if reason else "requested"


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
    thinking_blocks: list[dict[str, Any]] | None = None  # Anthropic's, signatures kept, to send back


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
    if message.get("thinking_blocks"):  # whole, on the first piece (a reply may have only redacted ones)
        pieces = pieces or [{}]
        pieces[0]["thinking_blocks"] = message["thinking_blocks"]
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

    def __init__(self, observer: Callable[[Delta], None] | None = None, starts_inside: bool = False) -> None:
        self._observer = observer
        self._splitter = ThinkTagSplitter(starts_inside)  # a template that opens <think> itself: inside from the start
        self._native_reasoning: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self._blocks: list[dict[str, Any]] = []
        self.deltas = 0

    @property
    def thinking_blocks(self) -> list[dict[str, Any]] | None:
        """Anthropic-style thinking blocks, signatures kept: what that API wants sent back."""
        return [dict(block) for block in self._blocks] or None

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
        for block in thinking_blocks or []:
            self._keep_block(block)
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

    def _keep_block(self, piece: Any) -> None:
        """A streamed block arrives in pieces (thinking text, then its signature): join them."""
        block = {key: _field(piece, key) for key in ("type", "thinking", "signature", "data") if _field(piece, key) is not None}
        last = self._blocks[-1] if self._blocks else None
        if block.get("type", "thinking") == "thinking" and last is not None and last.get("type", "thinking") == "thinking" \
                and not last.get("signature"):
            last["thinking"] = last.get("thinking", "") + block.get("thinking", "")
            if block.get("signature"):
                last["signature"] = block["signature"]
        elif block:
            self._blocks.append(block)

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
