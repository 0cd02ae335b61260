"""The exact-search index: it only ever skips reading, so every count and hit is what reading
every text gives (`engine.search_index`)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.search as search_module
import engine.search_index as index_module
from engine.search import search_exact
from engine.search_index import TextIndex

from tests.conftest import state_with


class _NoIndex:
    """Search as it was before the index: read every text."""

    def counts(self, texts, needle, lower):
        return None

    def candidates(self, texts, needle, lower):
        return None


def _both(monkeypatch, state, query, role="all", limit=10):
    """(hits and total through a fresh index that is always used, the same by reading every text)."""
    monkeypatch.setattr(index_module, "POSTINGS_PER_CHAR", 1e9)  # never too dear: the index always answers
    monkeypatch.setattr(search_module, "INDEX", TextIndex())
    indexed = search_exact(state, query, role, limit)
    monkeypatch.setattr(search_module, "INDEX", _NoIndex())
    return indexed, search_exact(state, query, role, limit)


TEXTS = [
    "The startup's founders met investors.\nStartups, startup; STARTUP!",
    "Lisp hackers\tlike (lisp) and LISP-style macros. office hours at Y Combinator",
    "aaaa aaa aa a\u00a0aaaa",  # overlapping repeats, and a no-break space (whitespace to str.split)
    "Paris café, CAFÉ au lait, cafés.",
    "İstanbul and istanbul: lower-casing 'İ' changes the length",
    "programming language design; programming-language, programming  language",
]


@pytest.mark.parametrize("query", [
    "startup", "STARTUP", "startup's", "startups", "lisp", "(lisp)", "aa", "aaa", "a", "café", "É au",
    "istanbul", "İstanbul", "programming language", "programming  language", " language", "language ",
    "y combinator", "office hours at", "hackers\tlike", "s, s", "!", "\u00a0aa", "nowhere",
])
def test_counts_and_hits_match_reading_every_text(monkeypatch, query):
    state = state_with(*[("user", text) for text in TEXTS])
    indexed, read = _both(monkeypatch, state, query)
    assert indexed == read


def test_the_index_serves_a_token_query_without_reading(monkeypatch):
    state = state_with(("user", "alpha beta alphabet"), ("user", "gamma rays"))
    monkeypatch.setattr(index_module, "POSTINGS_PER_CHAR", 1e9)
    index = TextIndex()
    texts = [m.content for m in reversed(state.messages)]
    assert index.counts(texts, "alpha", str.lower) == [0, 2]  # "alpha" and inside "alphabet"
    assert index.counts(texts, "bet", str.lower) == [0, 2]  # "beta", "alphabet"
    assert index.candidates(texts, "beta alpha", str.lower) == [False, True]
    assert index.candidates(texts, "amma ray", str.lower) == [True, False]  # ends a token, then begins one
    assert index.candidates(texts, "gamm ray", str.lower) == [False, False]  # no token ends with "gamm"
    assert index.candidates(texts, "gamma ray ", str.lower) == [False, False]  # "ray" would be a whole token
    assert index.counts(["İstanbul", "istanbul"], "istanbul", str.lower) == [None, 1]  # 'İ' is never indexed


def test_a_query_in_too_many_tokens_falls_back_to_reading():
    index = TextIndex()
    texts = [f"word{n} other{n} the{n}" for n in range(50)]
    assert index.counts(texts, "the", str.lower) is None  # 50 tokens hold it: dearer than reading 900 characters
    assert index.counts(texts, "word7", str.lower) == [1 if n == 7 else 0 for n in range(50)]


def test_past_its_budget_the_index_starts_again(monkeypatch):
    monkeypatch.setattr(index_module, "POSTINGS_PER_CHAR", 1e9)
    index = TextIndex(budget_chars=40)
    first = ["one two three", "four five"]
    second = ["six seven eight nine", "ten eleven twelve"]
    assert index.counts(first, "two", str.lower) == [1, 0]
    assert index.counts(second, "seven", str.lower) == [1, 0]
    assert index.counts(first, "five", str.lower) == [0, 1]  # indexed again after the clear


words = st.sampled_from(["a", "ab", "ba", "abc", "A", "B", "c", "İ", "é", "É", ".", ",", "'"])
gaps = st.sampled_from([" ", "  ", "\n", "\t", "", "\u00a0"])
texts = st.lists(st.tuples(words, gaps), max_size=30).map(lambda pairs: "".join(w + g for w, g in pairs))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(texts, min_size=1, max_size=6), st.data())
def test_any_query_counts_as_reading_does(monkeypatch, contents, data):
    contents = [text for text in contents if text] or ["a"]
    state = state_with(*[("user", text) for text in contents])
    source = data.draw(st.sampled_from(contents))
    start = data.draw(st.integers(0, len(source) - 1))
    end = data.draw(st.integers(start + 1, min(len(source), start + 8)))
    query = source[start:end]
    if data.draw(st.booleans()):
        query = query.upper()
    if not query.strip():
        return  # the tool refuses a blank query before search runs
    limit = data.draw(st.integers(1, 12))
    indexed, read = _both(monkeypatch, state, query, limit=limit)
    assert indexed == read
