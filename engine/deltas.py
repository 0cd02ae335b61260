"""The three kinds of delta a model call is heard as: text, reasoning, and tool-call pieces."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


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
