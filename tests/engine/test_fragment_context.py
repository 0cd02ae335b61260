"""fragment_context: where the span is, how it is cut, and that cutting alone changes nothing seen."""

from __future__ import annotations

import textwrap

import pytest

from engine import render
from engine.fragmenting import share_out
from engine.tokens import token_counter
from engine.tools import ToolContext, registry

from tests.conftest import PROSE, long_text, state_with


def call(state, name, arguments):
    return registry.call(name, arguments, ToolContext.for_state(state))


def fragment(state, **arguments):
    outcome = call(state, "fragment_context", arguments)
    assert not outcome.failed, outcome.result
    return outcome


def test_fragments_have_about_equal_tokens_and_report_ids_tokens_previews():
    state = state_with(("user", long_text(40)))
    outcome = fragment(state, start_marker="Paragraph 1.", end_marker="End of notes.", num_fragments=10)
    pieces = outcome.result["fragments"]
    assert len(pieces) == 10
    tokens = [p["tokens"] for p in pieces]
    assert max(tokens) <= 1.25 * min(tokens)
    assert {"fragment_id", "message_id", "tokens", "preview"} <= set(pieces[0])
    assert pieces[0]["preview"].startswith("Paragraph 1.")
    counter = token_counter()
    assert outcome.result["total_tokens"] == sum(tokens)
    assert abs(sum(tokens) - counter.count(long_text(40))) <= 10


def test_cuts_fall_on_line_boundaries_when_lines_are_near():
    state = state_with(("user", long_text(40)))
    outcome = fragment(state, start_marker="Paragraph 1.", end_marker="End of notes.", num_fragments=8)
    for piece in list(outcome.state.fragments())[:-1]:
        assert piece.text.endswith("\n"), repr(piece.text[-40:])


def test_hard_wrapped_prose_is_cut_at_sentence_ends():
    prose = " ".join(f"Sentence number {n} says something about topic {n % 7}." for n in range(300))
    wrapped = textwrap.fill(prose + " FINIS.", 70)
    state = state_with(("user", wrapped))
    outcome = fragment(state, start_marker="Sentence number 0", end_marker="FINIS.", num_fragments=5)
    for piece in list(outcome.state.fragments())[:-1]:
        assert piece.text.rstrip().endswith("."), repr(piece.text[-30:])


def test_fragmenting_alone_does_not_change_what_the_model_sees():
    state = state_with(("system", "Be helpful."), ("user", PROSE), ("assistant", "Noted."), ("user", long_text(9)))
    before = render(state)
    after = fragment(state, start_marker="harbour", end_marker="passed;", num_fragments=4).state
    assert render(after) == before
    assert len(list(after.fragments())) > len(list(state.fragments()))


def test_markers_are_included_and_text_outside_the_span_becomes_its_own_fragment():
    state = state_with(("user", "preamble. START middle part of the text END epilogue"))
    outcome = fragment(state, start_marker="START", end_marker="END", num_fragments=1)
    message = outcome.state.messages[0]
    texts = [f.text for f in message.fragments]
    assert texts == ["preamble. ", "START middle part of the text END", " epilogue"]
    assert [p["fragment_id"] for p in outcome.result["fragments"]] == [message.fragments[1].id]


def test_span_across_messages_never_crosses_a_message_boundary():
    state = state_with(("user", long_text(10)), ("assistant", "An interjection."), ("user", long_text(10)))
    outcome = fragment(state, start_marker="Paragraph 5.", end_marker="action 3.", num_fragments=6)
    pieces = outcome.result["fragments"]
    assert {p["message_id"] for p in pieces} == {"m1", "m3"}
    assert len(pieces) == 6
    for message in outcome.state.messages:
        joined = "".join(f.text for f in message.fragments)
        assert joined == message.text
    assert outcome.state.messages[1].fragments == state.messages[1].fragments  # other role untouched


def test_more_messages_than_fragments_gives_one_per_message_and_says_so():
    state = state_with(("user", "alpha one"), ("user", "beta two"), ("user", "gamma three"))
    outcome = fragment(state, start_marker="alpha", end_marker="three", num_fragments=2)
    assert len(outcome.result["fragments"]) == 3
    assert "never crosses" in outcome.result["note"]


def test_a_short_span_makes_fewer_fragments_and_says_so():
    state = state_with(("user", "tiny span here"))
    outcome = fragment(state, start_marker="tiny", end_marker="span", num_fragments=20)
    assert len(outcome.result["fragments"]) < 20
    assert "too short" in outcome.result["note"]


def test_role_all_reaches_other_roles():
    state = state_with(("user", "question"), ("assistant", "ANSWER begins and ANSWER ends"))
    assert call(state, "fragment_context", {"start_marker": "ANSWER", "end_marker": "ends"}).failed
    outcome = fragment(state, start_marker="ANSWER", end_marker="ends", role="all", num_fragments=2)
    assert {p["message_id"] for p in outcome.result["fragments"]} == {"m2"}


def test_markers_inside_folded_text_are_skipped_and_folded_fragments_kept():
    state = state_with(("user", long_text(12)))
    first = fragment(state, start_marker="Paragraph 1.", end_marker="End of notes.", num_fragments=4)
    folded_id = first.result["fragments"][0]["fragment_id"]
    state = call(first.state, "fold_fragment", {"fragment_id": folded_id}).state
    second = fragment(state, start_marker="Paragraph", end_marker="Paragraph 12.", num_fragments=6)
    assert second.state.fragment(folded_id).status == "folded"
    assert all(p["preview"] != first.result["fragments"][0]["preview"] for p in second.result["fragments"])
    assert "".join(f.text for f in second.state.messages[0].fragments) == state.messages[0].text


def test_fragmenting_the_same_span_twice_keeps_the_ids():
    state = state_with(("user", long_text(10)))
    arguments = {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 4}
    once = fragment(state, **arguments)
    twice = fragment(once.state, **arguments)
    assert [p["fragment_id"] for p in twice.result["fragments"]] == [p["fragment_id"] for p in once.result["fragments"]]
    assert "already fragmented" in twice.result["note"]
    assert [event.cuts for event in twice.events] == [[]] and twice.state.messages == once.state.messages


def test_refragmenting_into_more_pieces_replaces_visible_fragments():
    state = state_with(("user", long_text(20)))
    arguments = {"start_marker": "Paragraph 1.", "end_marker": "End of notes."}
    coarse = fragment(state, num_fragments=2, **arguments)
    fine = fragment(coarse.state, num_fragments=10, **arguments)
    old_ids = {p["fragment_id"] for p in coarse.result["fragments"]}
    assert len(fine.result["fragments"]) == 10
    assert not old_ids & {f.id for f in fine.state.fragments()}


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [(5, [100], [5]), (2, [1, 1, 1], [1, 1, 1]), (10, [300, 100], [7, 3]), (4, [0, 0], [2, 2]), (6, [1, 1000, 1], [1, 4, 1])],
)
def test_share_out(total, weights, expected):
    assert share_out(total, weights) == expected


def test_message_id_limits_the_span_to_one_message():
    state = state_with(("user", "same words here. " * 10), ("user", "same words here. " * 10 + "tail"))
    outcome = fragment(state, start_marker="same", end_marker="tail", message_id="m2", num_fragments=3)
    assert {p["message_id"] for p in outcome.result["fragments"]} == {"m2"}
    assert len(outcome.state.messages[0].fragments) == 1
    failed = call(state, "fragment_context", {"start_marker": "same", "end_marker": "x", "message_id": "m9"})
    assert "no message 'm9'" in failed.result["error"]
