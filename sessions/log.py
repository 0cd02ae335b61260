"""A session's log in memory: its records, their fold, seeks into the past, and where a log
stops folding.

`SessionLog` folds records as the store gives them. A record that cannot be read or does not
fit (written by a bug or by hand, or by a newer version) stops the fold there: the log keeps
the good part and says which event is at fault (`replay_error`), so a person can still open,
read and fork the session. Settings read back are checked as `configure` checks them, so a
value this version cannot use stops the fold too instead of breaking every page later.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Sequence

from engine import ContextState, Event, WorkbenchError
from engine.catalog import event_from_record
from engine.errors import ReplayError
from engine.events import SessionConfigured
from engine.fold import Folder, replay
from engine.records import EventRecord
from engine.settings import check_read_back
from sessions.stores.base import StoredEvent

STATES_KEPT = 8  # states kept for seeks (Replay), each folded forward from the nearest
_EVENT_PREFIX = re.compile(r"^event \d+ \([a-z_]+\): ")


@dataclass(frozen=True)
class Unfolded:
    """Where a log stopped folding: the event at fault and why."""

    seq: int
    kind: str
    reason: str

    def __str__(self) -> str:
        return f"event {self.seq} ({self.kind}) does not replay: {self.reason}"


class SessionLog:
    """Records and the state they fold to; not thread-safe (the session locks around it)."""

    def __init__(self) -> None:
        self.records: list[EventRecord] = []
        self.replay_error: Unfolded | None = None
        self._folder = Folder()
        self._states_at: OrderedDict[int, ContextState] = OrderedDict()

    @property
    def state(self) -> ContextState:
        """The live state: changes as records are folded, so hand out copies."""
        return self._folder.state

    @property
    def last_seq(self) -> int:
        return self.records[-1].seq if self.records else 0

    def fold(self, record: EventRecord) -> None:
        """Fold a record this process made (or checked); a record that does not fit raises."""
        self._add(record.event)
        self.records.append(record)

    def absorb(self, stored: Sequence[StoredEvent]) -> None:
        """Fold records read from the store; stop at the first that does not fit."""
        for row in stored:
            if self.replay_error is not None:
                return
            if row.seq != self.last_seq + 1:
                self.replay_error = Unfolded(row.seq, row.kind, f"expected event {self.last_seq + 1} (a gap in the log)")
                return
            try:
                event = event_from_record(row.kind, json.loads(row.payload_json))
                self._add(event)
            except (ReplayError, ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
                self.replay_error = Unfolded(row.seq, row.kind, _EVENT_PREFIX.sub("", str(exc)))
                self._folder = Folder()  # a rule that failed half-way may have changed the state
                for record in self.records:
                    self._folder.add(record.event)
                return
            self.records.append(EventRecord(row.seq, row.ts, event))

    def _add(self, event: Event) -> None:
        self._folder.add(event)
        if isinstance(event, SessionConfigured):
            check_read_back(self._folder.state)

    def state_at(self, at: int | None, session_id: str) -> ContextState:
        """A copy of the state now (`at` None), or just after event `at` (0: before any)."""
        if at is None or at == self.last_seq:
            return self.state.copy()
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= self.last_seq:
            raise WorkbenchError(
                f"no event {at!r}: session {session_id} has events 1 to {self.last_seq} (0 means before the first)"
            )
        cached = self._states_at.get(at)
        if cached is None:  # fold forward from the nearest earlier state still held
            start = max((seen for seen in self._states_at if seen < at), default=0)
            cached = replay((record.event for record in self.records[start:at]), self._states_at.get(start))
            self._states_at[at] = cached
            if len(self._states_at) > STATES_KEPT:
                self._states_at.popitem(last=False)
        return cached
