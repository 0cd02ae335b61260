"""What a run of new events touches, so a page that follows the log redraws only that.

A page drawn at some event learns that the log moved on (another process, an MCP client, the
CLI, another tab). Rather than draw everything again, it asks `touched(events, state)` which
of its parts the new events reach: the cards of the messages whose fragments changed (a fold,
a restore, a summary, a cut), whether messages were added (the list itself changed), a search,
the settings, the task board, the memory graph, the brakes.

Events are sorted by the subsystem that declares them, read from `engine.catalog`'s explicit
list, and the core context's by class: nothing here lists kinds by hand. An event of a class
this module does not sort (a subsystem added later) counts as `other`, and a page then draws
everything again: the safe side. A fragment is mapped to its message through `state`, the
state after the events; a fragment no longer there was cut again by a later event of the same
run, whose cut names the message, and a fragment known to neither is `other` too.

Pure: no Streamlit, no store. The pages' following (components/follow.py) turns a `Touched`
into the keys of the fragments to rerun.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from engine.catalog import SUBSYSTEMS
from engine.events import (ContextFragmented, ContextSearched, Event, FragmentFolded, FragmentRestored,
                           FragmentSummarized, MessageAdded, SearchDetailViewed, SessionConfigured, ToolFailed)
from engine.state import ContextState

_SUBSYSTEM = {cls: system.name for system in SUBSYSTEMS for cls in system.handlers}
_FRAGMENT_EVENTS = (FragmentFolded, FragmentSummarized, FragmentRestored)
_SEARCH_EVENTS = (ContextSearched, SearchDetailViewed)
_FLAGS = {"tasks": "tasks", "memory": "memory", "brakes": "brakes", "imports": "imported"}


@dataclass(frozen=True)
class Touched:
    """What a run of events changed, as a page sees it."""

    events: int = 0
    messages: frozenset[str] = frozenset()  # existing messages whose fragments changed (fold, restore, summary, cut)
    added: tuple[str, ...] = ()  # messages added, in order: the list itself changed
    searched: bool = False  # a search, or a search's detail viewed: the newest hits may differ
    settings: bool = False  # the model, the tools offered, the window, the brakes' settings
    tasks: bool = False
    memory: bool = False  # the core memory (sent first, so it counts in the window) and the graph
    brakes: bool = False
    imported: bool = False  # an import's origin or a compaction (its tools count as tool schemas)
    model: bool = False  # a model call's record (llm_called, llm_failed, policy_applied): no change of its own
    failed: bool = False  # a tool call that changed nothing
    other: bool = field(default=False)  # an event this module cannot sort: draw everything again

    @property
    def window(self) -> bool:
        """Whether what fills the window (the token bar, the rendered context) may have changed."""
        return bool(self.messages or self.added or self.settings or self.memory or self.imported or self.other)

    @property
    def fragments(self) -> bool:
        """Whether a search hit's text may have changed: any message's fragments, or the messages."""
        return bool(self.messages or self.added or self.other)


def touched(events: Iterable[Event], state: ContextState) -> Touched:
    """What `events` (a run of new events, oldest first) change; `state` is the state after them."""
    count = 0
    messages: set[str] = set()
    added: list[str] = []
    flags: dict[str, bool] = {}
    fragments: list[str] = []
    recut: set[str] = set()  # fragment ids a cut in this run replaced
    for event in events:
        count += 1
        system = _SUBSYSTEM.get(type(event))
        if isinstance(event, MessageAdded):
            added.append(event.message_id)
        elif isinstance(event, _FRAGMENT_EVENTS):
            fragments.append(event.fragment_id)
        elif isinstance(event, ContextFragmented):
            for cut in event.cuts:
                messages.add(cut.message_id)
                recut.update(cut.replaced)
        elif isinstance(event, _SEARCH_EVENTS):
            flags["searched"] = True
        elif isinstance(event, ToolFailed):
            flags["failed"] = True
        elif isinstance(event, SessionConfigured):
            flags["settings"] = True
        elif system == "model":
            flags["model"] = True
        elif system in _FLAGS:
            flags[_FLAGS[system]] = True
        else:
            flags["other"] = True
    for fragment_id in fragments:
        index = state.fragment_owner.get(fragment_id)
        if index is not None and index < len(state.messages):
            messages.add(state.messages[index].id)
        elif fragment_id not in recut:
            flags["other"] = True
    new = set(added)
    return Touched(events=count, messages=frozenset(messages - new), added=tuple(added), **flags)
