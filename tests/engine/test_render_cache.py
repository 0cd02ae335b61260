"""What a message renders to and costs is kept per message object (`engine.render._PerMessage`):
a changed message is a new object, so nothing kept is ever shown for it."""

from __future__ import annotations

import dataclasses

from engine import render, stats
from engine.render import _PerMessage, render_pieces
from engine.state import ContextState
from engine.tokens import token_counter
from engine.tools import ToolContext, registry

from tests.conftest import long_text, state_with


def call(state, name, arguments):
    outcome = registry.call(name, arguments, ToolContext.for_state(state))
    assert not outcome.failed, outcome.result
    return outcome.state


def fresh_copy(state: ContextState) -> ContextState:
    """The same values in new message objects: nothing kept for the old ones can serve."""
    copied = state.copy()
    copied.messages = [dataclasses.replace(message) for message in state.messages]
    return copied


def fragmented():
    state = state_with(("system", "Be brief."), ("user", long_text(30)), ("assistant", "Noted."), ("user", long_text(12)))
    state = call(state, "fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 8})
    return call(state, "fragment_context", {"start_marker": "Paragraph 3.", "end_marker": "End of notes.",
                                            "num_fragments": 5, "message_id": "m4"})


def test_every_fold_and_restore_shows_at_once_and_matches_a_cold_render():
    state = fragmented()
    ids = [fragment.id for fragment in state.fragments() if fragment.message_id in ("m2", "m4")]
    seen = []
    for step, fragment_id in enumerate(ids + ids[::3]):
        state = call(state, "fold_fragment" if step < len(ids) else "restore_fragment", {"fragment_id": fragment_id})
        rendered, figures = render(state), stats(state)  # kept values for unchanged messages
        assert rendered == render(fresh_copy(state))
        assert figures == stats(fresh_copy(state))
        seen.append(figures["folded_tokens"])
    assert seen[len(ids) - 1] > seen[0]  # every fold counted
    assert seen[-1] < seen[len(ids) - 1]  # restores show at once too


def test_a_summary_and_every_status_are_counted_as_before():
    state = fragmented()
    first, second, third = [fragment.id for fragment in state.fragments() if fragment.message_id == "m2"][:3]
    state = call(state, "fold_fragment", {"fragment_id": first})
    state = call(state, "summarize_fragment", {"fragment_id": second, "focus": "budget lines"})
    figures = stats(state)
    assert figures["fragments_by_status"] == {"visible": figures["fragments"] - 2, "folded": 1, "summarized": 1}
    assert figures == stats(fresh_copy(state))
    assert render(state) == render(fresh_copy(state))
    assert "[summary of fragment" in render(state)[1]["content"] and third in {f.id for f in state.fragments()}


def test_render_pieces_hands_out_a_new_list_each_time():
    state = fragmented()
    message = state.messages[1]
    pieces = render_pieces(message, token_counter())
    pieces.clear()
    assert len(render_pieces(message, token_counter())) == len(message.fragments)


def test_the_kept_values_are_dropped_oldest_first_and_rebuilt():
    built = []
    kept = _PerMessage(lambda message, counter: built.append(message.id) or message.id, entries=2)
    state = state_with(("user", "one"), ("user", "two"), ("user", "three"))
    counter = token_counter()
    for message in state.messages:
        kept.get(message, counter)
    assert kept.get(state.messages[2], counter) == "m3" and built == ["m1", "m2", "m3"]
    assert kept.get(state.messages[0], counter) == "m1" and built == ["m1", "m2", "m3", "m1"]  # m1 was dropped
    replaced = dataclasses.replace(state.messages[2])
    assert kept.get(replaced, counter) == "m3" and built[-1] == "m3"  # an equal message, another object: built again
