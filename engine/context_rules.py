"""How the core events change a context: messages, fragments, searches, settings.

Each rule folds one event into a state in place (the folder works on a private copy) and
raises `ReplayError` when the event does not fit the state it follows: an unknown id, a
second fold of a folded fragment, pieces that do not tile the text they replace. Model
calls, failures and policy records change nothing themselves; the changes they explain
arrive as their own events.
"""

from __future__ import annotations

import copy
from dataclasses import replace

from engine.errors import ReplayError
from engine.events import (
    ContextFragmented,
    ContextSearched,
    FragmentFolded,
    FragmentRestored,
    FragmentSummarized,
    LLMCalled,
    LLMFailed,
    MessageAdded,
    PolicyApplied,
    SearchDetailViewed,
    SessionConfigured,
    ToolFailed,
)
from engine.state import ContextState, Fragment, Message, SearchRecord, message_index
from engine.subsystem import Subsystem


def _message_added(state: ContextState, event: MessageAdded) -> None:
    expected = state.next_message_id()
    if event.message_id != expected:
        raise ReplayError(f"message id {event.message_id!r} should be {expected!r}")
    if event.reasoning is not None and event.role != "assistant":
        raise ReplayError(f"a {event.role} message carries reasoning; only assistant messages do")
    index = len(state.messages)
    fragments: tuple[Fragment, ...] = ()
    if event.content:
        if not event.fragment_id or event.fragment_id in state.fragment_owner:
            raise ReplayError(f"message needs a new fragment id, got {event.fragment_id!r}")
        fragments = (Fragment(event.fragment_id, expected, 0, len(event.content), event.content),)
        state.owners_to_change()[event.fragment_id] = index
    state.messages.append(
        Message(
            id=expected,
            role=event.role,
            content=event.content,
            fragments=fragments,
            name=event.name,
            tool_calls=tuple(copy.deepcopy(event.tool_calls)) if event.tool_calls is not None else None,
            tool_call_id=event.tool_call_id,
            attachments=tuple(copy.deepcopy(event.attachments)),
            extra=copy.deepcopy(event.extra),
            reasoning=event.reasoning,
            stopped=event.stopped,
        )
    )


def _context_fragmented(state: ContextState, event: ContextFragmented) -> None:
    for cut in event.cuts:
        index = _index_of(state, cut.message_id)
        message = state.messages[index]
        positions = [i for i, f in enumerate(message.fragments) if f.id in set(cut.replaced)]
        if len(positions) != len(cut.replaced) or not positions:
            raise ReplayError(f"{cut.message_id} does not hold all of {cut.replaced}")
        if positions != list(range(positions[0], positions[0] + len(positions))):
            raise ReplayError(f"fragments {cut.replaced} are not next to each other")
        old = message.fragments[positions[0] : positions[-1] + 1]
        if any(f.status != "visible" for f in old):
            raise ReplayError("only visible fragments can be cut again")
        edge = old[0].start
        new_fragments = []
        for piece in cut.pieces:
            if piece.start != edge or piece.end <= piece.start:
                raise ReplayError(f"piece {piece.fragment_id} does not continue at {edge}")
            if piece.fragment_id in state.fragment_owner or any(
                f.id == piece.fragment_id for f in new_fragments
            ):
                raise ReplayError(f"fragment id {piece.fragment_id} is already in use")
            new_fragments.append(
                Fragment(piece.fragment_id, message.id, piece.start, piece.end,
                         message.text[piece.start : piece.end])
            )
            edge = piece.end
        if edge != old[-1].end:
            raise ReplayError(f"pieces end at {edge}, the fragments they replace at {old[-1].end}")
        owners = state.owners_to_change()
        for fragment in old:
            del owners[fragment.id]
        for fragment in new_fragments:
            owners[fragment.id] = index
        before, after = message.fragments[: positions[0]], message.fragments[positions[-1] + 1 :]
        state.messages[index] = replace(message, fragments=before + tuple(new_fragments) + after)


def _fragment_folded(state: ContextState, event: FragmentFolded) -> None:
    fragment = _fragment(state, event.fragment_id)
    if fragment.status == "folded":
        raise ReplayError(f"{fragment.id} is folded already")
    _put(state, replace(fragment, status="folded", summary=None, focus=None, summarizer=None))


def _fragment_summarized(state: ContextState, event: FragmentSummarized) -> None:
    fragment = _fragment(state, event.fragment_id)
    _put(state, replace(fragment, status="summarized", summary=event.summary,
                        focus=event.focus, summarizer=event.summarizer))


def _fragment_restored(state: ContextState, event: FragmentRestored) -> None:
    fragment = _fragment(state, event.fragment_id)
    if fragment.status == "visible":
        raise ReplayError(f"{fragment.id} is visible already")
    _put(state, replace(fragment, status="visible", summary=None, focus=None, summarizer=None))


def _context_searched(state: ContextState, event: ContextSearched) -> None:
    for hit in event.hits:
        message = state.messages[_index_of(state, hit.message_id)]
        if hit.search_id in state.searches:
            raise ReplayError(f"search id {hit.search_id} is already in use")
        if not 0 <= hit.start <= hit.end <= len(message.part_text(hit.part)):
            raise ReplayError(f"hit {hit.search_id} lies outside {hit.message_id}")
        state.searches[hit.search_id] = SearchRecord(
            hit.search_id, hit.message_id, hit.start, hit.end, event.query, hit.part
        )


def _search_detail_viewed(state: ContextState, event: SearchDetailViewed) -> None:
    if event.search_id not in state.searches:
        raise ReplayError(f"no search hit {event.search_id}")


def _tool_failed(state: ContextState, event: ToolFailed) -> None:
    """A failed call changes nothing; it is in the log so the failure can be seen."""


def _session_configured(state: ContextState, event: SessionConfigured) -> None:
    state.settings = copy.deepcopy(event.settings)


def _model_called(state: ContextState, event: LLMCalled | LLMFailed | PolicyApplied) -> None:
    """Records for accounting and replay; the changes they explain arrive as their own events."""


def _index_of(state: ContextState, message_id: str) -> int:
    index = message_index(message_id)
    if index is not None and index < len(state.messages):
        return index
    raise ReplayError(f"no message {message_id!r}")


def _fragment(state: ContextState, fragment_id: str) -> Fragment:
    if fragment_id not in state.fragment_owner:
        raise ReplayError(f"no fragment {fragment_id!r}")
    return state.fragment(fragment_id)


def _put(state: ContextState, fragment: Fragment) -> None:
    index = state.fragment_owner[fragment.id]
    message = state.messages[index]
    fragments = tuple(fragment if f.id == fragment.id else f for f in message.fragments)
    state.messages[index] = replace(message, fragments=fragments)


CONTEXT = Subsystem(
    "context",
    {
        MessageAdded: _message_added,
        ContextFragmented: _context_fragmented,
        FragmentFolded: _fragment_folded,
        FragmentSummarized: _fragment_summarized,
        FragmentRestored: _fragment_restored,
        ContextSearched: _context_searched,
        SearchDetailViewed: _search_detail_viewed,
        ToolFailed: _tool_failed,
    },
    description="messages, their fragments, searches",
)

MODEL = Subsystem(
    "model",
    {
        SessionConfigured: _session_configured,
        LLMCalled: _model_called,
        LLMFailed: _model_called,
        PolicyApplied: _model_called,  # the actions' own events carry the changes
    },
    description="settings and the record of model calls",
)
