"""Model-written summaries, written before the store is held.

A model may take seconds to summarize; a transaction holds the store (and the CLI waits).
So a change that may summarize runs twice: first as a dry run on the state as it is, with
a `RecordingSummarizer` that asks the model and keeps each summary by (text, focus); then
inside the transaction with a `PreparedSummarizer` that only answers from those. The dry
run sees the whole unit of work, so a batch that fragments and then summarizes a fragment
it just made is prepared too. A summary nobody prepared (another process changed the
fragment in between) fails that one action with a reason; the model is never called while
the store is held.
"""

from __future__ import annotations

from typing import Any

from engine.errors import ToolInputError
from engine.summarize import Summarizer

EXTRACTIVE = "extractive"


def model_summarizer(settings: dict[str, Any], stop: Any = None) -> Summarizer | None:
    """The session's model as a summarizer, once a backend was configured; else None
    (the extractive summarizer, deterministic and offline, is the default). `stop` ends a
    summary being written (a turn's StopSignal)."""
    if not settings.get("backend"):
        return None
    from engine.model_summarizer import ModelSummarizer  # only now: it imports the model library
    from engine.settings import Backend

    return ModelSummarizer(Backend.from_config(settings["backend"]), stop)


def calls_a_model(summarizer: Summarizer | None) -> bool:
    return summarizer is not None and getattr(summarizer, "name", EXTRACTIVE) != EXTRACTIVE


class RecordingSummarizer:
    """Asks the real summarizer and remembers every answer (or the error it gave)."""

    def __init__(self, summarizer: Summarizer) -> None:
        self._summarizer = summarizer
        self.name = summarizer.name
        self.answers: dict[tuple[str, str], str | Exception] = {}

    def __call__(self, text: str, focus: str) -> str:
        key = (text, focus)
        if key not in self.answers:
            try:
                self.answers[key] = self._summarizer(text, focus)
            except Exception as exc:  # given back inside the transaction as that call's error, type and all
                self.answers[key] = exc
        found = self.answers[key]
        if isinstance(found, Exception):
            raise found
        return found

    def prepared(self) -> "PreparedSummarizer":
        return PreparedSummarizer(self.name, dict(self.answers))


class PreparedSummarizer:
    """Answers only from summaries written before the transaction; never calls a model."""

    def __init__(self, name: str, answers: dict[tuple[str, str], str | Exception]) -> None:
        self.name = name
        self._answers = answers

    def __call__(self, text: str, focus: str) -> str:
        found = self._answers.get((text, focus))
        if found is None:
            raise ToolInputError(
                "the summary was not written: this fragment changed after the model was asked (another "
                "edit came first), and the model is never called while the store is held; call "
                "summarize_fragment again"
            )
        if isinstance(found, Exception):
            raise found
        return found
