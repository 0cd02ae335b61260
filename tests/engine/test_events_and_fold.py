"""Events serialize and come back; `apply` is pure; `replay` folds; bad logs are refused."""

from __future__ import annotations

import pytest

from engine import ContextState, ReplayError, apply, event_from_record, new_message, replay
from engine.catalog import EVENT_CLASSES, EVENT_KINDS, HANDLERS, SUBSYSTEMS
from engine.events import (
    ContextFragmented,
    FragmentFolded,
    FragmentPiece,
    FragmentRestored,
    MessageAdded,
    MessageCut,
)
from engine.tools import ToolContext, registry

from tests.conftest import long_text, state_with


def call(state, name, arguments):
    return registry.call(name, arguments, ToolContext.for_state(state))


def test_event_round_trips_through_kind_and_payload():
    event = new_message(ContextState(), "user", "hello")
    again = event_from_record(event.kind, event.payload())
    assert again == event
    assert "kind" not in event.payload()


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("message_exploded", {}, "unknown event kind 'message_exploded'"),
        ("fragment_folded", {}, "fragment_id"),
        ("fragment_folded", {"fragment_id": "f1", "surprise": 1}, "surprise"),
        ("message_added", {"message_id": "m1", "role": "robot", "content": "x"}, "role"),
        ("fragment_folded", ["not", "an", "object"], "not an object"),
    ],
)
def test_malformed_event_records_are_refused_with_a_reason(kind, payload, expected):
    with pytest.raises(ReplayError, match=expected):
        event_from_record(kind, payload)


def _all_event_classes():
    """Every Event subclass defined anywhere in engine/ (each module imported first)."""
    import importlib
    import pkgutil

    import engine
    from engine.events import Event

    for module in pkgutil.walk_packages(engine.__path__, "engine."):
        if module.name not in ("engine.llm", "engine.local_model", "engine.model_summarizer"):  # litellm, llama
            importlib.import_module(module.name)
    found, stack = set(), [Event]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("engine."):  # a test's own subclass (test_changes.py has one) is not the engine's
                found.add(sub)
            stack.append(sub)
    return found


def test_every_event_class_in_the_engine_is_listed_with_a_rule_to_fold_it():
    classes = _all_event_classes()
    assert classes, "no event classes found"
    assert classes == set(EVENT_CLASSES), "an event class is missing from its subsystem (engine/catalog.py)"
    assert all(cls in HANDLERS and callable(HANDLERS[cls]) for cls in classes)
    assert sorted(EVENT_KINDS) == sorted(cls.model_fields["kind"].default for cls in classes)
    assert len({system.name for system in SUBSYSTEMS}) == len(SUBSYSTEMS)


def test_each_event_kind_folds_through_its_own_rule(monkeypatch):
    """The fold table is what replay uses: take a rule away and its event no longer folds."""
    import engine.fold as fold

    state = state_with(("user", "hello"))
    event = FragmentFolded(fragment_id=state.messages[0].fragments[0].id)
    monkeypatch.delitem(fold.HANDLERS, FragmentFolded)
    with pytest.raises(ReplayError, match="no rule to apply FragmentFolded"):
        apply(state, event)


def test_message_ids_follow_order_and_never_change():
    state = state_with(("system", "s"), ("user", "u"), ("assistant", "a"))
    assert [m.id for m in state.messages] == ["m1", "m2", "m3"]
    fragment = state.messages[1].fragments[0]
    folded = call(state, "fold_fragment", {"fragment_id": fragment.id}).state
    assert [m.id for m in folded.messages] == ["m1", "m2", "m3"]
    assert [m.role for m in folded.messages] == ["system", "user", "assistant"]


def test_apply_leaves_the_given_state_untouched():
    state = state_with(("user", "hello world"))
    fragment_id = state.messages[0].fragments[0].id
    before = state.copy()
    after = apply(state, FragmentFolded(fragment_id=fragment_id))
    assert state == before
    assert after.messages[0].fragments[0].status == "folded"
    assert state.messages[0].fragments[0].status == "visible"


def _session_events():
    state = ContextState()
    events = []
    for role, text in (("system", "Be brief."), ("user", long_text(12)), ("assistant", "Noted."), ("user", long_text(5))):
        event = new_message(state, role, text)
        events.append(event)
        state = apply(state, event)
    outcome = call(state, "fragment_context", {"start_marker": "Paragraph 2.", "end_marker": "action 9.", "num_fragments": 4})
    events += outcome.events
    state = outcome.state
    for piece in outcome.result["fragments"][:2]:
        outcome = call(state, "fold_fragment", {"fragment_id": piece["fragment_id"]})
        events += outcome.events
        state = outcome.state
    outcome = call(state, "search_context", {"query": "budget line 13"})
    events += outcome.events
    return events, outcome.state


def test_replay_equals_the_state_built_step_by_step():
    events, live = _session_events()
    assert replay(events) == live


def test_replaying_a_prefix_then_the_rest_equals_the_whole():
    events, _ = _session_events()
    for cut in range(len(events) + 1):
        assert replay(events[cut:], replay(events[:cut])) == replay(events)


def test_replay_gives_identical_fragment_ids():
    events, _ = _session_events()
    first, second = replay(events), replay(events)
    assert [f.id for f in first.fragments()] == [f.id for f in second.fragments()]
    assert all(len(f.id) == 6 and f.id[0] == "f" and int(f.id[1:], 16) >= 0 for f in first.fragments())


def test_fragment_and_search_ids_are_pinned_and_ignore_the_clock_and_randomness(monkeypatch):
    """The ids a log makes are a function of the log alone: pinned here, with the clock and the
    random sources patched to prove they play no part."""
    import random
    import time
    import uuid

    monkeypatch.setattr(time, "time", lambda: 0.0)
    monkeypatch.setattr(time, "time_ns", lambda: 0)
    monkeypatch.setattr(random, "random", lambda: 0.5)
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=7))
    state = state_with(("user", long_text(8)))
    assert state.messages[0].fragments[0].id == "fd85ff"
    args = {"start_marker": "Paragraph 1.", "end_marker": "action 8.", "num_fragments": 6}
    result = call(state, "fragment_context", args).result
    assert [p["fragment_id"] for p in result["fragments"]] == ["f35e82", "f0edcb", "fe85a8", "f290e0", "f75ee9", "ff48cc"]
    found = call(state, "search_context", {"query": "committee", "max_results": 3}).result
    assert [hit["search_id"] for hit in found["results"]] == ["s72d60", "sa9b62", "s40274"]


@pytest.mark.parametrize(
    "bad_event",
    [
        MessageAdded(message_id="m5", role="user", content="x", fragment_id="f00001"),
        MessageAdded(message_id="m2", role="user", content="x", fragment_id=None),
        FragmentFolded(fragment_id="f999999"),
        FragmentRestored(fragment_id="FRAGMENT"),
        ContextFragmented(
            start_marker="a", end_marker="b", role="user", num_fragments=2,
            cuts=[MessageCut(message_id="m1", replaced=["FRAGMENT"], pieces=[FragmentPiece(fragment_id="f0000a", start=0, end=3)])],
        ),
        ContextFragmented(
            start_marker="a", end_marker="b", role="user", num_fragments=2,
            cuts=[MessageCut(message_id="m1", replaced=["FRAGMENT"], pieces=[FragmentPiece(fragment_id="f0000a", start=0, end=3), FragmentPiece(fragment_id="f0000b", start=4, end=11)])],
        ),
    ],
)
def test_events_that_do_not_fit_the_state_raise_replay_error(bad_event):
    state = state_with(("user", "hello world"))
    fragment_id = state.messages[0].fragments[0].id
    if isinstance(bad_event, ContextFragmented):
        bad_event = bad_event.model_copy(update={"cuts": [cut.model_copy(update={"replaced": [fragment_id]}) for cut in bad_event.cuts]})
    if isinstance(bad_event, FragmentRestored):
        bad_event = FragmentRestored(fragment_id=fragment_id)  # restoring a visible fragment
    with pytest.raises(ReplayError, match=r"event 2 \("):
        apply(state, bad_event)


def test_folding_twice_in_a_log_is_inconsistent():
    state = state_with(("user", "hello"))
    event = FragmentFolded(fragment_id=state.messages[0].fragments[0].id)
    with pytest.raises(ReplayError, match="folded already"):
        replay([event, event], state)
