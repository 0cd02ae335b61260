"""Finding text in the original conversation, folded and summarized parts included.

Three modes:
- `exact`: case-insensitive substring match (Sculptor's "Ctrl+F"), most recent first.
- `regex`: a case-insensitive regular expression, most recent first. Patterns run under a
  time limit (the `regex` module's timeout) so a catastrophic pattern from a model returns
  an error instead of hanging the process.
- `ranked`: BM25 over fragments, best first, for when the exact words are unknown.

A person may also search assistants' reasoning (`include_reasoning`); a hit there says
so (`part="reasoning"`) and its offsets point into the reasoning text. The arguments of
tool calls are always searched (a Letta agent's replies live in `send_message` calls); a
hit there is `part="tool_calls"`, with offsets into `Message.calls_text`.

Lower-cased texts and per-fragment term counts are cached by text, so repeated searches of
a long session do not redo that work. Exact search counts most queries from a token index
(`engine.search_index`) instead of reading every text; the index only skips reading, so the
counts and hits are those a full read gives.
"""

from __future__ import annotations

import math
import threading
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Callable, Iterable

import regex

from engine.errors import ToolInputError
from engine.search_index import INDEX
from engine.state import ContextState, Fragment
from engine.summarize import terms

REGEX_TIMEOUT_SECONDS = 2.0
BM25_K1, BM25_B = 1.2, 0.75


@dataclass(frozen=True, slots=True)
class Match:
    message_index: int
    start: int
    end: int
    score: float | None = None
    part: str = "content"


class _TextCache:
    """Values derived from texts, dropped oldest first past a budget of characters."""

    def __init__(self, build: Callable[[str], object], budget_chars: int = 64_000_000) -> None:
        self._build = build
        self._items: OrderedDict[str, object] = OrderedDict()
        self._budget = budget_chars
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, text: str):
        value = self._items.get(text)
        if value is None:
            value = self._build(text)
            with self._lock:
                if text not in self._items:
                    self._items[text] = value
                    self._chars += len(text)
                while self._chars > self._budget and len(self._items) > 1:
                    dropped, _ = self._items.popitem(last=False)
                    self._chars -= len(dropped)
        return value


_lowered = _TextCache(str.lower)
_term_counts = _TextCache(lambda text: Counter(terms(text)))


def _texts(state: ContextState, role: str, include_reasoning: bool = False,
           skip_calls: frozenset[str] = frozenset()) -> Iterable[tuple[int, str, str]]:
    """(message index, part, text) to search, most recent first: a reply before the reasoning that led to it.
    A message's tool calls are left out when every one is to a tool in `skip_calls` (the
    workbench's own tools: a search would otherwise find the call that asked for it)."""
    for index in range(len(state.messages) - 1, -1, -1):
        message = state.messages[index]
        if role != "all" and message.role != role:
            continue
        if message.content:
            yield index, "content", message.content
        if message.tool_calls and not all((call.get("function") or {}).get("name") in skip_calls
                                          for call in message.tool_calls):
            yield index, "tool_calls", message.calls_text
        if include_reasoning and message.reasoning:
            yield index, "reasoning", message.reasoning


def search_exact(state: ContextState, query: str, role: str, limit: int,
                 include_reasoning: bool = False, skip_calls: frozenset[str] = frozenset()) -> tuple[list[Match], int]:
    needle = query.lower()
    matches: list[Match] = []
    total = 0
    texts = list(_texts(state, role, include_reasoning, skip_calls))
    counts: list[int | None] | None = None  # from the index: exact counts, None where a text must be read
    possible: list[bool] | None = None  # from the index: False where a text cannot hold the query
    if len(needle) == len(query) and needle:
        plain = [text for _, _, text in texts]
        if needle.split() == [needle]:
            counts = INDEX.counts(plain, needle, _lowered.get)
        else:
            possible = INDEX.candidates(plain, needle, _lowered.get)
    for position, (index, part, text) in enumerate(texts):
        known = counts[position] if counts is not None else None
        if known == 0 or (possible is not None and not possible[position]):
            continue  # the index says it is not there
        if known is not None and len(matches) >= limit:
            total += known  # counted, and no more hits wanted: nothing to read
            continue
        lowered = _lowered.get(text)
        if len(lowered) != len(text) or len(needle) != len(query):
            # Lower-casing changed lengths (e.g. 'İ'), so offsets would drift: match a pattern.
            found = [
                (m.start(), m.end())
                for m in regex.finditer(regex.escape(query), text, flags=regex.IGNORECASE)
            ]
            total += len(found)
            for start, end in reversed(found):
                if len(matches) >= limit:
                    break
                matches.append(Match(index, start, end, part=part))
            continue
        count = known if known is not None else lowered.count(needle)
        total += count
        end = len(lowered)
        while count and len(matches) < limit:
            at = lowered.rfind(needle, 0, end)
            matches.append(Match(index, at, at + len(needle), part=part))
            end = at
            count -= 1
    return matches, total


def compile_pattern(pattern: str):
    try:
        return regex.compile(pattern, flags=regex.IGNORECASE | regex.V0)
    except regex.error as exc:
        raise ToolInputError(
            f"query is not a valid regular expression ({exc}). Escape special characters "
            'with a backslash, or use mode="exact" for plain text.'
        ) from None


def search_regex(state: ContextState, query: str, role: str, limit: int,
                 include_reasoning: bool = False, skip_calls: frozenset[str] = frozenset()) -> tuple[list[Match], int]:
    pattern = compile_pattern(query)
    matches: list[Match] = []
    total = 0
    deadline = time.monotonic() + REGEX_TIMEOUT_SECONDS  # one budget for the whole search
    try:
        for index, part, text in _texts(state, role, include_reasoning, skip_calls):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            found = [
                (m.start(), m.end())
                for m in pattern.finditer(text, timeout=remaining)
                if m.end() > m.start()
            ]
            total += len(found)
            for start, end in reversed(found):
                if len(matches) >= limit:
                    break
                matches.append(Match(index, start, end, part=part))
    except TimeoutError:
        raise ToolInputError(
            f"the regular expression took over {REGEX_TIMEOUT_SECONDS:g} s on this context and was "
            "stopped; simplify it (avoid nested repeats such as (a+)+) or use mode=\"exact\"."
        ) from None
    return matches, total


def search_ranked(state: ContextState, query: str, role: str, limit: int,
                  include_reasoning: bool = False, skip_calls: frozenset[str] = frozenset()) -> tuple[list[Match], int]:
    query_terms = sorted(set(terms(query)))
    if not query_terms:
        raise ToolInputError(
            f"query {query!r} has no searchable words for ranked mode (only stopwords or "
            'punctuation); add content words, or use mode="exact".'
        )
    # documents: each fragment of a message's text; its tool calls, and (if asked) its reasoning, as wholes
    fragments: list[tuple[int, Fragment | _WholePart, Counter]] = []
    for index, part, text in _texts(state, role, include_reasoning, skip_calls):
        if part != "content":
            fragments.append((index, _WholePart(text, part), _term_counts.get(text)))
            continue
        for fragment in state.messages[index].fragments:
            fragments.append((index, fragment, _term_counts.get(fragment.text)))
    if not fragments:
        return [], 0
    scores, idf = bm25([counts for _, _, counts in fragments], query_terms)
    scored = [(score, position, index, fragment, counts)
              for position, (score, (index, fragment, counts)) in enumerate(zip(scores, fragments)) if score > 0]
    scored.sort(key=lambda item: (-item[0], item[1]))
    matches = []
    for score, _, index, fragment, counts in scored[:limit]:
        rarest = max((t for t in query_terms if counts.get(t)), key=lambda t: (idf[t], t))
        start, end = _locate_term(fragment.text, rarest)
        part = fragment.part if isinstance(fragment, _WholePart) else "content"
        matches.append(Match(index, fragment.start + start, fragment.start + end, round(score, 4), part))
    return matches, len(scored)


def bm25(documents: list[Counter], query_terms: list[str]) -> tuple[list[float], dict[str, float]]:
    """Okapi BM25 score of each document (its term counts) for the query terms, and each term's idf."""
    lengths = [sum(counts.values()) for counts in documents]
    average = (sum(lengths) / len(lengths) if lengths else 0.0) or 1.0
    idf = {}
    for term in query_terms:
        df = sum(1 for counts in documents if term in counts)
        idf[term] = math.log(1 + (len(documents) - df + 0.5) / (df + 0.5))
    scores = []
    for counts, length in zip(documents, lengths):
        score = 0.0
        for term in query_terms:
            tf = counts.get(term, 0)
            if tf:
                norm = tf + BM25_K1 * (1 - BM25_B + BM25_B * length / average)
                score += idf[term] * tf * (BM25_K1 + 1) / norm
        scores.append(score)
    return scores, idf


def term_counts(text: str) -> Counter:
    """The text's search terms with their counts (cached by text)."""
    return _term_counts.get(text)


@dataclass(frozen=True, slots=True)
class _WholePart:
    """Reasoning or tool calls as one ranked document (they have no fragments)."""

    text: str
    part: str
    start: int = 0


def _locate_term(text: str, term: str) -> tuple[int, int]:
    """Where a term is: a word that starts with it, else the term anywhere (Chinese and Japanese
    terms are character pairs inside a run with no word boundary)."""
    found = regex.search(r"\b" + regex.escape(term) + r"\w*", text, flags=regex.IGNORECASE)
    if found:
        return found.start(), found.end()
    found = regex.search(regex.escape(term), text, flags=regex.IGNORECASE)
    return (found.start(), found.end()) if found else (0, min(len(text), len(term)))


SEARCHES = {"exact": search_exact, "regex": search_regex, "ranked": search_ranked}
