"""`apply` and `replay`: the state is a pure fold of the events.

`apply(state, event)` returns a new state and leaves the given one untouched. `replay`
folds many events over one private copy (a transient, in the Clojure sense), so replaying
ten thousand events costs ten thousand small steps, not ten thousand copies; callers still
see a pure function. The rule for each event comes from its subsystem (`engine.catalog`).
An event that does not fit the state it follows raises `ReplayError`: the log is
inconsistent and no state is made from it.
"""

from __future__ import annotations

from typing import Iterable

from engine.catalog import HANDLERS
from engine.errors import ReplayError
from engine.events import Event
from engine.state import ContextState


def apply(state: ContextState, event: Event) -> ContextState:
    """The state after `event`; `state` itself is not changed."""
    return replay([event], state)


def replay(events: Iterable[Event], state: ContextState | None = None) -> ContextState:
    """Fold `events` over `state` (or over an empty context) and return the result."""
    folder = Folder(state)
    for event in events:
        folder.add(event)
    return folder.state


class Folder:
    """Folds events one at a time over a private copy of a state.

    For building long logs (imports, generated sessions) where each new event depends on
    the state so far: `folder.state` is current after every `add`. Hand the state out only
    when done adding, since it keeps changing until then.
    """

    def __init__(self, state: ContextState | None = None) -> None:
        self.state = state.copy() if state is not None else ContextState()

    def add(self, event: Event) -> Event:
        _apply_in_place(self.state, event)
        return event


def _apply_in_place(state: ContextState, event: Event) -> None:
    position = state.event_count + 1
    try:
        handler = HANDLERS[type(event)]
    except KeyError:
        raise ReplayError(f"event {position}: no rule to apply {type(event).__name__}") from None
    try:
        handler(state, event)
    except ReplayError as exc:
        raise ReplayError(f"event {position} ({event.kind}): {exc}") from None
    state.event_count = position
