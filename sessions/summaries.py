"""Model-written summaries, prepared outside the database transaction.

A model may take seconds to summarize; a transaction holds the DuckDB file (and the CLI
waits). So the session asks the model first, keeps the summaries by (text, focus), and the
tool inside the transaction takes them from here. If the fragment changed meanwhile, the
tool asks again (rare: only another process's edit in between).
"""

from __future__ import annotations

import json
from typing import Any

from engine import ToolInputError
from engine.state import ContextState
from engine.summarize import Summarizer


def precompute_summaries(
    state: ContextState, summarizer: Summarizer | None, calls: list[tuple[str, Any]]
) -> dict[tuple[str, str], Any]:
    """Summaries (or the ToolInputError the model gave) for each summarize_fragment call."""
    if summarizer is None or getattr(summarizer, "name", "") == "extractive":
        return {}
    cache: dict[tuple[str, str], Any] = {}
    for name, arguments in calls:
        if name != "summarize_fragment":
            continue
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except ValueError:
                continue
        if not isinstance(arguments, dict):
            continue
        fragment_id, focus = arguments.get("fragment_id"), arguments.get("focus")
        if not isinstance(fragment_id, str) or not isinstance(focus, str) or not focus.strip():
            continue
        if not state.has_fragment(fragment_id):
            continue
        text = state.fragment(fragment_id).text
        try:
            cache[(text, focus)] = summarizer(text, focus)
        except ToolInputError as exc:  # given back inside the call, as its error result
            cache[(text, focus)] = exc
    return cache


class Precomputed:
    """A summarizer that answers from summaries written before the transaction began."""

    def __init__(self, summarizer: Summarizer, cache: dict[tuple[str, str], Any]) -> None:
        self._summarizer = summarizer
        self._cache = cache
        self.name = summarizer.name

    def __call__(self, text: str, focus: str) -> str:
        found = self._cache.get((text, focus))
        if isinstance(found, Exception):
            raise found
        return found if found is not None else self._summarizer(text, focus)
