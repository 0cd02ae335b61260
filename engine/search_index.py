"""An index for exact search: which texts hold a query, and how often, without reading them all.

Exact search is a case-insensitive substring count over every message (`engine.search`). At 10M
tokens that is 40 MB of text, and `str.count` reads it at about 1 GB/s: 40 ms a query before
anything else. The index answers most queries from the words of the texts instead.

A text is cut at whitespace into tokens (`str.split()`), lower-cased, and each distinct token
is posted with the texts it occurs in and how often. A query without whitespace can only occur
inside one token (whitespace never matches inside it), so its count in a text is exact from the
postings alone: the sum, over the tokens that contain it, of the token's count times the query's
non-overlapping count inside the token. A query with whitespace narrows the texts instead: its
inner words must be tokens, its first word must end a token and its last word begin one (each
at most; a text that fails cannot hold the query), and only the texts left are read.

Tokens that hold the query are found by one search of the vocabulary (the distinct tokens,
joined by newlines), which is far smaller than the texts. Where the postings to add up would
cost more than reading the texts (a query such as "the" is in thousands of tokens), the caller
reads the texts as before: the index only ever skips work, it never changes a count. Texts
whose length changes when lower-cased (such as 'İ') are never indexed; their offsets would
drift, and search reads them with a pattern as before.

The index keeps texts, not states: a message's text never changes, so one index serves every
state of every session in the process. Past its budget of characters it starts again empty.
"""

from __future__ import annotations

import threading
from array import array
from collections import Counter
from typing import Callable, Iterable

BUDGET_CHARS = 96_000_000  # about 24M tokens of text; then the index is rebuilt for what is searched
# Adding up one posting in Python costs about what `str.count` takes to read a hundred
# characters (measured on the 10M-token bench session), so past one posting per hundred
# characters of the texts searched, reading them is the cheaper way.
POSTINGS_PER_CHAR = 0.01


class TextIndex:
    """Token postings over texts. Thread-safe: one lock around building and querying."""

    def __init__(self, budget_chars: int = BUDGET_CHARS) -> None:
        self._budget = budget_chars
        self._lock = threading.Lock()
        self._clear()

    def _clear(self) -> None:
        self._numbers: dict[str, int] = {}  # indexed text -> its number
        self._unindexed: set[str] = set()  # texts whose length changes when lower-cased
        self._postings: dict[str, tuple[array, array]] = {}  # token -> (text numbers, counts)
        self._vocabulary: str | None = ""  # "\n" + tokens joined by "\n" + "\n"; None when stale
        self._chars = 0

    def counts(self, texts: list[str], needle: str, lower: Callable[[str], str]) -> list[int | None] | None:
        """For each text, how often `needle` (lower-cased, no whitespace) occurs in it lower-cased
        (`lower(text)`, asked only of texts not indexed yet): a count, or None where the text
        cannot be indexed (read it). None in place of the list when the index would be slower
        than reading every text."""
        with self._lock:
            numbers = self._numbers_of(texts, lower)
            budget = POSTINGS_PER_CHAR * sum(map(len, texts))
            weights = self._holding(needle, budget, lambda token: token.count(needle))
            if weights is None:
                return None
            totals: dict[int, int] = {}
            for token, weight in weights.items():
                ids, counts = self._postings[token]
                for number, count in zip(ids, counts):
                    totals[number] = totals.get(number, 0) + count * weight
        return [None if number is None else totals.get(number, 0) for number in numbers]

    def candidates(self, texts: list[str], needle: str, lower: Callable[[str], str]) -> list[bool] | None:
        """For each text, whether it may hold `needle` (lower-cased, with whitespace) when
        lower-cased: False only where it cannot. None when the index cannot narrow cheaply."""
        words = needle.split()
        if not words:
            return None
        with self._lock:
            numbers = self._numbers_of(texts, lower)
            # a set of text numbers costs more to build than a sum: a tenth of what counts() spends
            budget = POSTINGS_PER_CHAR / 10 * sum(map(len, texts))
            allowed: set[int] | None = None
            last = len(words) - 1
            for position, word in enumerate(words):
                opens = position == 0 and not needle[0].isspace()  # may continue a token on the left
                closes = position == last and not needle[-1].isspace()  # ... or on the right
                tokens = self._holding(word, budget, lambda token: 1, left_open=opens, right_open=closes)
                if tokens is None:
                    continue  # a word in too many tokens narrows too little to pay for itself
                found = {number for token in tokens for number in self._postings[token][0]}
                allowed = found if allowed is None else allowed & found
            if allowed is None:
                return None
        return [True if number is None else number in allowed for number in numbers]

    # ---- inside the lock -----------------------------------------------------------------

    def _numbers_of(self, texts: list[str], lower: Callable[[str], str]) -> list[int | None]:
        known, unindexed = self._numbers, self._unindexed
        missing = [text for text in texts if text not in known and text not in unindexed]
        if missing and self._chars + sum(map(len, missing)) > self._budget:
            self._clear()
            known, unindexed, missing = self._numbers, self._unindexed, list(texts)
        for text in dict.fromkeys(missing):
            lowered = lower(text)
            if len(lowered) == len(text):
                self._add(text, lowered)
            else:
                unindexed.add(text)
        return [known.get(text) for text in texts]

    def _add(self, text: str, lowered: str) -> None:
        number = len(self._numbers)
        self._numbers[text] = number
        self._chars += len(text)
        postings = self._postings
        for token, count in Counter(lowered.split()).items():
            posted = postings.get(token)
            if posted is None:
                posted = postings[token] = (array("i"), array("i"))
                self._vocabulary = None
            posted[0].append(number)
            posted[1].append(count)

    def _holding(self, word: str, budget: float, weigh: Callable[[str], int], left_open: bool = True,
                 right_open: bool = True) -> dict[str, int] | None:
        """The tokens that can hold `word` where it sits in the query (inside a token when open
        on both sides, ending one when open on the left only, and so on), each with its weight;
        None once their postings come to more than `budget`."""
        if not word or "\n" in word:
            return None
        if self._vocabulary is None:
            self._vocabulary = "\n" + "\n".join(self._postings) + "\n"
        vocabulary = self._vocabulary
        pattern = ("" if left_open else "\n") + word + ("" if right_open else "\n")
        found: dict[str, int] = {}
        cost = 0
        at = vocabulary.find(pattern)
        while at >= 0:
            start = vocabulary.rfind("\n", 0, at + (0 if left_open else 1)) + 1
            end = vocabulary.find("\n", at + len(pattern) - (0 if right_open else 1))
            token = vocabulary[start:end]
            cost += len(self._postings[token][0])
            if cost > budget:
                return None
            found[token] = weigh(token)
            at = vocabulary.find(pattern, end)
        return found


INDEX = TextIndex()
