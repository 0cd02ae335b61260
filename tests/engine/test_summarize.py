"""The extractive summarizer: deterministic, bounded, steered by the focus."""

from __future__ import annotations

import textwrap

from engine.summarize import ExtractiveSummarizer, budget_for, split_units
from engine.tokens import token_counter

from tests.conftest import long_text

TEXT = (
    "The team met on Monday to review the quarter. Coffee was served at nine. "
    "We decided to migrate the billing service to the new database by March. "
    "The weather was pleasant and several people arrived late. "
    "A bug in the invoice export corrupted totals for two customers; the fix shipped Friday. "
    "Lunch was sandwiches. We agreed that Priya owns the migration and Tom owns the bug follow-up. "
) * 6


def test_summary_is_deterministic_and_bounded():
    summarize = ExtractiveSummarizer(token_counter())
    first, second = summarize(TEXT, "key decisions"), summarize(TEXT, "key decisions")
    assert first == second
    counter = token_counter()
    assert counter.count(first) <= budget_for(counter.count(TEXT)) + 2
    assert counter.count(first) < counter.count(TEXT) / 3


def test_focus_steers_what_is_kept():
    summarize = ExtractiveSummarizer(token_counter())
    assert "bug" in summarize(TEXT, "bugs and problems").lower()
    assert "migrat" in summarize(TEXT, "database migration").lower()


def test_short_text_is_kept_whole():
    summarize = ExtractiveSummarizer(token_counter())
    assert summarize("  Just one line.  ", "anything") == "Just one line."


def test_one_enormous_sentence_is_truncated_within_budget():
    summarize = ExtractiveSummarizer(token_counter())
    text = "word " * 5000
    summary = summarize(text, "words")
    assert summary.endswith("…") and token_counter().count(summary) <= budget_for(5000) + 1


def test_units_follow_lines_in_line_oriented_text_and_sentences_in_prose():
    assert split_units("alpha: 1\nbeta: 2\ngamma: 3") == ["alpha: 1", "beta: 2", "gamma: 3"]
    wrapped = textwrap.fill("This sentence is wrapped across several lines of a fixed width and continues "
                            "here for quite a while. A second one follows right after it without a break "
                            "in the text at all, and it too runs on past the line width. A third ends it.", 50)
    assert split_units(wrapped)[0] == ("This sentence is wrapped across several lines of a fixed width "
                                       "and continues here for quite a while.")
    assert len(split_units(long_text(3))) >= 6
