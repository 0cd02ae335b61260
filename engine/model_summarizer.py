"""Summaries written by the session's model, steered by the focus (the LLM side of
summarize_fragment). The extractive summarizer stays the default when no backend is set."""

from __future__ import annotations

import threading

from engine.errors import ToolInputError
from engine.llm import Backend, LLMError, complete

INSTRUCTIONS = (
    "You compress text for an assistant's context window. Write a short summary of the text below "
    "that keeps exact names, numbers, values and decisions relevant to the focus. No preamble."
)


class ModelSummarizer:
    """`stop` (a StopSignal or threading.Event) ends a summary being written, as it ends a turn."""

    def __init__(self, backend: Backend, stop: threading.Event | None = None) -> None:
        self.backend = backend
        self.name = backend.model
        self.stop = stop

    def __call__(self, text: str, focus: str) -> str:
        messages = [
            {"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": f"Focus: {focus}\n\nText:\n{text}"},
        ]
        try:
            completion = complete(self.backend, messages, stop=self.stop)
        except LLMError as exc:
            raise ToolInputError(
                f"the model could not write the summary ({exc.kind}: {exc.message}); retry, split the "
                "fragment smaller with fragment_context, or fold it instead"
            ) from None
        if completion.stopped:
            raise ToolInputError(f"the summary was not written: stopped ({completion.stop_reason}) before the model finished")
        summary = (completion.content or "").strip()
        if not summary:
            raise ToolInputError("the model returned an empty summary; retry with another focus, or fold the fragment")
        return summary
