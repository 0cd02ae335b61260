"""Conversations to sessions: the one place that turns what a format read into events.

Each conversation becomes a session whose log opens with `conversation_imported`; each
message is a `message_added` (through `engine.new_message`, the door every message passes),
preceded by an `llm_called` when the source recorded the call's model and usage, and
followed by a `fragment_folded` when the source hid it. A compaction point is a
`context_compacted` followed by folds of what it hid. A branch (a regenerated answer, an
edited prompt) is a fork of its parent at the branching message: the parent's events up to
there, then its own. A subagent is its own session, linked to its parent.

The builder checks everything a format cannot: tool results pair with their calls (a result
without an id takes the oldest unanswered call; one whose call is missing is kept and
reported), no message is empty without a warning, and records it cannot use are collected,
so a bad file is refused naming every bad record, or imported without them when asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Iterator

from engine import ImportFormatError, WorkbenchError, new_message
from engine.events import Event, FragmentFolded, LLMCalled
from engine.fold import Folder
from engine.imports import ContextCompacted, ConversationImported
from engine.records import EventRecord, format_ts, utc_now
from engine.state import ContextState
from engine.tokens import DEFAULT_ENCODING, token_counter
from sessions.formats.conversation import Compaction, Conversation, Format, ImportedMessage, Invalid
from sessions.formats.report import FileReport
from sessions.formats.memory_blocks import CoreMemoryHistory, memory_calls
from sessions.formats.todo_tasks import todo_events
from sessions.stores.base import NewSession, SessionRow

MAX_LISTED = 20  # bad records named in one error; the count says how many more




@dataclass
class _Built:
    row_id: str
    records: list[EventRecord]
    item_ends: list[int]  # the seq of the last event of each item


class Builder:
    """Builds the sessions of one file, filling in `report` as it goes."""

    def __init__(self, source_name: str, fmt: Format, report: FileReport, skip_invalid: bool = False,
                 title: str | None = None) -> None:
        self.source_name, self.format, self.report = source_name, fmt, report
        self.skip_invalid, self.title = skip_invalid, title
        self.invalid: list[Invalid] = []
        self._family: dict[str, _Built] = {}  # the current root conversation and its branches, by key
        self._rows: dict[str, str] = {}  # conversation key -> session id, for subagents' links
        self._cursors: dict[str, tuple[int, Folder]] = {}  # the last parent's state at its last branch point
        self._core: CoreMemoryHistory | None = None  # the conversation being built: its core memory over time

    def build(self, parsed: Iterable[Conversation | Invalid]) -> Iterator[NewSession]:
        for item in parsed:
            if isinstance(item, Invalid):
                self._refuse(item)
                continue
            try:
                built = self._session(item)
            except _Refused as refused:
                for invalid in refused.invalids:
                    self._refuse(invalid)
                continue
            if built is not None:
                yield built
        if self.invalid and not self.skip_invalid:
            raise ImportFormatError(self.refusal())
        if not self.report.sessions and self.invalid:
            raise ImportFormatError(self.refusal(nothing_left=True))
        if not self.report.sessions:
            raise ImportFormatError(f"{self.source_name}: the file holds no conversations ({self.format.label})")

    def refusal(self, nothing_left: bool = False) -> str:
        shown = [f"  - {problem}" for problem in self.invalid[:MAX_LISTED]]
        more = len(self.invalid) - MAX_LISTED
        if more > 0:
            shown.append(f"  - and {more:,} more")
        count = len(self.invalid)
        what = "record" if count == 1 else "records"
        if nothing_left:
            advice = "Every record was bad, so nothing is left to import. Nothing was imported."
        elif count > 1 or self.report.sessions:
            advice = "Nothing was imported. Fix the file, or import the rest with --skip-invalid."
        else:
            advice = "Nothing was imported."
        return f"{self.source_name} ({self.format.label}): {count} bad {what}:\n" + "\n".join(shown) + "\n" + advice

    def _refuse(self, invalid: Invalid) -> None:
        self.invalid.append(invalid)
        if self.skip_invalid:
            self.report.skipped.append(str(invalid))

    # ---- one conversation ---------------------------------------------------------------

    def _session(self, conversation: Conversation) -> NewSession | None:
        if conversation.records is not None:  # a workbench trace: its events as they are
            row = SessionRow.new(self.title or conversation.title, forked_from=conversation.forked_from,
                                 forked_at=conversation.forked_at,
                                 imported_from=self._origin(conversation.source_id, "session"))
            self.report.add_session(row.id, row.title, conversation)
            self.report.count_records(conversation.records)
            return NewSession(row, conversation.records)
        parent = self._family.get(conversation.parent_key) if conversation.branch_at is not None else None
        if conversation.parent_key is None:
            self._family, self._cursors = {}, {}
        title = conversation.title
        if self.title and conversation.parent_key is None and not self.report.sessions:
            title = self.title  # a title given for the import names its first session
        forked_from = forked_at = None
        folder, records, item_ends = Folder(), [], []
        if parent is not None:
            at = parent.item_ends[conversation.branch_at - 1] if conversation.branch_at else 1
            records = list(parent.records[:at])
            folder = Folder(self._state_at(conversation.parent_key, parent, at))
            item_ends = list(parent.item_ends[: conversation.branch_at])
            forked_from, forked_at = parent.row_id, at
        elif conversation.parent_key is not None and conversation.relation == "subagent":
            forked_from, forked_at = self._rows.get(conversation.parent_key), 0
        elif conversation.branch_at is not None:
            raise _Refused(Invalid(conversation.position, "a branch whose parent conversation is not in the file"))
        row = SessionRow.new(title, forked_from=forked_from, forked_at=forked_at,
                             imported_from=self._origin(conversation.source_id,
                                                        "subagent, id" if conversation.relation == "subagent" else "id"))
        clock = _Clock(records[-1].ts if records else conversation.created_at)  # a branch goes on from its parent
        records.append(EventRecord(len(records) + 1, clock.at(None), folder.add(self._origin_event(conversation, forked_from))))
        self._core = None
        if parent is None and (conversation.memory or self.format.name == "letta"):  # a branch: in the prefix
            self._core = CoreMemoryHistory(conversation.memory, memory_calls(conversation.messages),
                                           token_counter(DEFAULT_ENCODING), conversation.warnings)
            for event in self._core.opening():
                records.append(EventRecord(len(records) + 1, clock.at(None), folder.add(event)))
        pairing = _Pairing()
        refused: list[Invalid] = list(conversation.problems)  # with the builder's own, every one is named
        for item in conversation.items:
            try:  # every bad message of the conversation is named, not only the first
                events = list(self._events(folder.state, item, conversation, pairing, clock))
            except _Refused as bad:
                refused += bad.invalids
                events = []
            for event, moment in events:
                records.append(EventRecord(len(records) + 1, moment, folder.add(event)))
            item_ends.append(len(records))
        if refused:
            raise _Refused(*refused)
        for call_id in pairing.unanswered():
            conversation.warnings.append(f"tool call {call_id} has no result in the file")
        self.report.add_session(row.id, row.title, conversation)
        shared = forked_at if parent is not None else 0
        self.report.count_records(records[shared:])
        self._family[conversation.key] = _Built(row.id, records, item_ends)
        self._rows[conversation.key] = row.id
        if parent is not None:
            return NewSession(row, records[shared:], copy_from=parent.row_id, copy_count=shared)
        return NewSession(row, records)

    def _state_at(self, key: str, parent: _Built, at: int) -> ContextState:
        """The parent's state after its first `at` events. Branches come in the order of their
        branch points, so a cursor moves forward through the parent instead of replaying it
        from the start for each branch (a conversation regenerated at every turn stays linear)."""
        done, folder = self._cursors.get(key, (0, None))
        if folder is None or done > at:
            done, folder = 0, Folder()
        for record in parent.records[done:at]:
            folder.add(record.event)
        self._cursors = {key: (at, folder)}  # one cursor: the parent most recently branched from
        return folder.state

    def _origin(self, source_id: str | None, what: str = "id") -> str:
        if not source_id:
            return self.source_name + (" (subagent)" if what.startswith("subagent") else "")
        return f"{self.source_name} ({what} {source_id})"

    def _origin_event(self, conversation: Conversation, parent_id: str | None) -> ConversationImported:
        return ConversationImported(
            format=self.format.name, source=self.source_name, source_id=conversation.source_id,
            title=conversation.title, model=conversation.model,
            started_at=format_ts(conversation.created_at) if conversation.created_at else None,
            tools=conversation.tools, memory=conversation.memory,
            relation=conversation.relation or ("fork" if conversation.branch_at is not None else None),
            parent_session=parent_id, parent_tool_call=conversation.parent_tool_call,
            attributes=conversation.attributes,
        )

    def _events(self, state: ContextState, item, conversation: Conversation, pairing: "_Pairing",
                clock: "_Clock") -> Iterator[tuple[Event, datetime]]:
        if isinstance(item, Compaction):
            moment = clock.at(item.timestamp)
            yield ContextCompacted(before_tokens=item.before_tokens, after_tokens=item.after_tokens,
                                   trigger=item.trigger, source=item.source), moment
            for message in state.messages:
                visible = [fragment for fragment in message.fragments if fragment.status == "visible"]
                self.report.folded_messages += bool(visible)
                for fragment in visible:
                    yield FragmentFolded(fragment_id=fragment.id), moment
            return
        message: ImportedMessage = item
        moment = clock.at(message.timestamp)
        where = message.position or conversation.position
        if message.reasoning and message.role != "assistant":
            message.extra["reasoning"] = message.reasoning
            message.reasoning = None
        tool_call_id = message.tool_call_id
        if message.role == "tool":
            tool_call_id = pairing.answer(tool_call_id, where, conversation.warnings)
        if message.call is not None:
            call = message.call
            yield LLMCalled(model=call.model or "unknown", usage=_whole_numbers(call.usage), latency_ms=call.latency_ms,
                            finish_reason=call.finish_reason or "stop", tool_calls=len(message.tool_calls or ())), moment
        try:
            event = new_message(state, message.role, message.content, name=message.name, tool_calls=message.tool_calls,
                                tool_call_id=tool_call_id, extra=message.extra, reasoning=message.reasoning,
                                attachments=message.attachments)
        except WorkbenchError as exc:
            raise _Refused(Invalid(where, f"{message.role} message: {exc}")) from None
        if event.tool_calls:
            pairing.called([call["id"] for call in event.tool_calls])
        if not (event.content or event.reasoning or event.tool_calls or event.attachments):
            conversation.warnings.append(f"{where}: the {message.role} message is empty in the source")
        yield event, moment
        for task_event in todo_events(state, event):  # a todo list the source kept: the task DAG fills
            yield task_event, moment
        if self._core is not None:  # a Letta agent's memory calls: core memory as it stood, archival inserts
            for memory_event in self._core.after(state, event, moment):
                yield memory_event, moment
        if message.folded and event.fragment_id:
            yield FragmentFolded(fragment_id=event.fragment_id), moment
            self.report.folded_messages += 1


class _Refused(Exception):
    def __init__(self, *invalids: Invalid) -> None:
        self.invalids = list(invalids)


class _Pairing:
    """Which tool calls have results: a result naming no call answers the oldest unanswered one."""

    def __init__(self) -> None:
        self._open: list[str] = []
        self._known: set[str] = set()
        self._orphans = 0

    def called(self, ids: list[str]) -> None:
        self._open += ids
        self._known.update(ids)

    def answer(self, call_id: str | None, where: str, warnings: list[str]) -> str:
        if not call_id:
            if self._open:
                return self._open.pop(0)
            self._orphans += 1
            warnings.append(f"{where}: a tool result with no call before it; kept as orphan_{self._orphans}")
            return f"orphan_{self._orphans}"
        if call_id in self._open:
            self._open.remove(call_id)
        elif call_id not in self._known:
            warnings.append(f"{where}: a tool result for call {call_id}, which is not in the file; kept")
        return call_id

    def unanswered(self) -> list[str]:
        return list(self._open)


class _Clock:
    """Each event's time: the source's where it gives one, else the last known, else now."""

    def __init__(self, start: datetime | None) -> None:
        self.last = start or utc_now()

    def at(self, moment: datetime | None) -> datetime:
        if moment is not None:
            self.last = moment
        return self.last


def _whole_numbers(usage: dict) -> dict[str, int]:
    return {str(key): int(value) for key, value in (usage or {}).items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)}
