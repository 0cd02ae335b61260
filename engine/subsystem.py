"""A subsystem's contribution to the log: its events, how each folds, and its slice of the state.

The core context (messages, fragments, searches, model calls) is one subsystem; brakes, the
task graph and the memory graph are others. Each lives in its own module and declares a
`Subsystem`; `engine.catalog` lists them explicitly and derives the event union, the kinds
and the fold table from that list, so nothing is kept by hand twice.

A slice is an immutable value stored under the subsystem's name in `ContextState.slices`;
a handler replaces it whole (never changes it in place), so states stay cheap to copy and
every state a caller holds stays as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, TypeVar

if TYPE_CHECKING:
    from engine.events import Event
    from engine.state import ContextState

Handler = Callable[["ContextState", Any], None]
Item = TypeVar("Item")


@dataclass(frozen=True)
class Subsystem:
    """`handlers` maps each event class of the subsystem to the rule that folds it in place."""

    name: str
    handlers: Mapping[type["Event"], Handler]
    empty_slice: Any = None  # the slice before any of its events; None when it keeps none
    description: str = field(default="", compare=False)

    def slice_of(self, state: "ContextState") -> Any:
        """This subsystem's slice of `state` (its empty value until an event sets it)."""
        return state.slices.get(self.name, self.empty_slice)


def upserted(items: tuple[Item, ...], index: dict[str, int], item: Item) -> tuple[tuple[Item, ...], dict[str, int]]:
    """A slice's records with `item` (keyed by its `id`) added at the end, or put in place of
    the record with its id; new values, the given ones untouched."""
    position = index.get(item.id)  # type: ignore[attr-defined]
    if position is None:
        return (*items, item), {**index, item.id: len(items)}  # type: ignore[attr-defined]
    changed = list(items)
    changed[position] = item
    return tuple(changed), index
