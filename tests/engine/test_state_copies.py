"""A state's copy shares its fragment index until one of them changes it (`ContextState.copy`):
no state a caller holds ever sees another's change."""

from __future__ import annotations

from engine import new_message
from engine.fold import Folder
from engine.tools import ToolContext, registry

from tests.conftest import long_text, state_with


def fragmenting(state, message_id="m1"):
    outcome = registry.call("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.",
                                                 "num_fragments": 4, "message_id": message_id},
                            ToolContext.for_state(state))
    assert not outcome.failed, outcome.result
    return outcome.events


def test_a_copy_and_its_source_each_keep_their_own_fragments():
    source = state_with(("user", long_text(8)))
    before = dict(source.fragment_owner)
    folder = Folder(source)  # folds on a copy that shares the index
    watcher = folder.state.copy()  # and one more copy of that copy
    for event in fragmenting(folder.state):
        folder.add(event)
    assert source.fragment_owner == before and watcher.fragment_owner == before
    assert len(folder.state.fragment_owner) == 4 and not set(folder.state.fragment_owner) & set(before)
    other = Folder(watcher)
    other.add(new_message(watcher, "user", "a second message"))
    assert len(other.state.fragment_owner) == 2 and watcher.fragment_owner == before
    assert len(folder.state.fragment_owner) == 4 and source.fragment_owner == before


def test_a_fold_that_leaves_the_index_alone_shares_it():
    source = state_with(("user", long_text(8)))
    folder = Folder(source)
    for event in fragmenting(folder.state):
        folder.add(event)
    fragmented = folder.state
    first = fragmented.messages[0].fragments[0].id
    folded = registry.call("fold_fragment", {"fragment_id": first}, ToolContext.for_state(fragmented)).state
    assert folded.fragment_owner is fragmented.fragment_owner  # not copied: folding never changes it
    assert folded.fragment(first).status == "folded" and fragmented.fragment(first).status == "visible"
