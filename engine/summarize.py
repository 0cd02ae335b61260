"""The extractive summarizer: deterministic, offline, steered by a focus.

It keeps the sentences (or lines, or `;`-separated clauses) that best cover the words of
the focus and the fragment's own salient words, drops near-repeats, stops at a token
budget, and returns them in their original order. The same text and focus always give the
same summary. A model-written summary plugs into the same place (`Summarizer`) later.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Protocol

from engine.text import is_hard_wrapped
from engine.tokens import TokenCounter

MIN_BUDGET, MAX_BUDGET, BUDGET_SHARE = 24, 300, 0.2

_PARAGRAPHS = re.compile(r"\r?\n[ \t]*\r?\n")
_SENTENCES = re.compile(r"(?<=[.!?;。！？])\s+")
_WORDS = re.compile(r"\w+")
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    out over own same she should so some such than that the their theirs them then there these
    they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours also may might must shall us one two get got
    like make made much many well even still yet""".split()
)


class Summarizer(Protocol):
    """Writes a summary of `text` steered by `focus`; `name` is recorded in the event."""

    name: str

    def __call__(self, text: str, focus: str) -> str: ...


def _stem(word: str) -> str:
    for suffix in ("ingly", "ings", "ing", "edly", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


# Chinese and Japanese write words without spaces between them, so `\w+` takes a whole sentence
# for one word; their runs become overlapping character pairs (the bigrams CJK search engines
# index), so "绿茶" finds "用户喜欢喝绿茶".
_CJK_RUN = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")


def _pieces(word: str) -> list[str]:
    if word.isascii() or not _CJK_RUN.search(word):
        return [_stem(word)] if word not in STOPWORDS and (len(word) > 1 or word.isdigit()) else []
    found: list[str] = []
    for part in _CJK_RUN.split(word):
        if not part:
            continue
        if _CJK_RUN.fullmatch(part):
            found += [part] if len(part) == 1 else [part[i : i + 2] for i in range(len(part) - 1)]
        else:
            found += _pieces(part)
    return found


def terms(text: str) -> list[str]:
    if text.isascii() or not _CJK_RUN.search(text):  # most text: no pairs to make
        return [_stem(word) for word in (w.lower() for w in _WORDS.findall(text))
                if word not in STOPWORDS and (len(word) > 1 or word.isdigit())]
    return [piece for word in _WORDS.findall(text) for piece in _pieces(word.lower())]


def split_units(text: str) -> list[str]:
    """Sentences, or lines where lines carry meaning (logs, lists, key-value updates)."""
    units = []
    for paragraph in _PARAGRAPHS.split(text):
        blocks = [" ".join(paragraph.split())] if is_hard_wrapped(paragraph) else paragraph.split("\n")
        for block in blocks:
            units.extend(piece.strip() for piece in _SENTENCES.split(block) if piece.strip())
    return units


def budget_for(tokens: int) -> int:
    return max(MIN_BUDGET, min(MAX_BUDGET, round(tokens * BUDGET_SHARE)))


class ExtractiveSummarizer:
    name = "extractive"

    def __init__(self, counter: TokenCounter) -> None:
        self._counter = counter

    def __call__(self, text: str, focus: str) -> str:
        total = self._counter.count(text)
        budget = budget_for(total)
        if total <= budget:
            return text.strip()
        units = [u for u in split_units(text) if _WORDS.search(u)]
        unit_terms = [set(terms(unit)) for unit in units]
        frequency = Counter(term for bag in unit_terms for term in bag)
        focus_terms = set(terms(focus))
        scores = []
        for position, bag in enumerate(unit_terms):
            if not bag:
                scores.append(0.0)
                continue
            salience = sum(math.log1p(frequency[term]) for term in bag) / math.sqrt(len(bag))
            focus_hits = len(bag & focus_terms)
            scores.append(salience + 3.0 * focus_hits + (0.5 if position == 0 else 0.0))
        order = sorted(range(len(units)), key=lambda i: (-scores[i], i))
        chosen: list[int] = []
        used = 0
        for i in order:
            if any(_overlap(unit_terms[i], unit_terms[j]) > 0.6 for j in chosen):
                continue
            cost = self._counter.count(units[i]) + 1
            if used + cost > budget:
                if not chosen:  # one long sentence: keep its opening within the budget
                    return self._truncate(units[i], budget)
                continue
            chosen.append(i)
            used += cost
        return "\n".join(units[i] for i in sorted(chosen)) if chosen else self._truncate(text, budget)

    def _truncate(self, text: str, budget: int) -> str:
        tokens = self._counter.encode(text.strip())
        return self._counter.decode(tokens[: max(budget - 1, 1)]).rstrip() + "…"


def _overlap(a: set[str], b: set[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))
