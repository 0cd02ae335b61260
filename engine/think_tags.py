"""Reasoning inside the text: `<think>...</think>`, as local servers without a reasoning
parser send it (llama.cpp, vLLM, Ollama with DeepSeek-R1 or Qwen3 templates).

The splitter is pure and incremental: a tag cut across chunks ("<thi" + "nk>") is held back
until it is whole, a `<` that starts no tag is let through, and a reply that begins inside
its reasoning (the template put `<think>` in the prompt, so only `</think>` arrives) is
recognised when the closing tag comes; only the finished result (`text`, `reasoning`) can
file what went before it as reasoning.
"""

from __future__ import annotations

from engine.deltas import Delta, ReasoningDelta, TextDelta

OPEN_TAG = "<think>"
CLOSE_TAG = "</think>"


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
