"""A session's log in memory: its records, their fold, seeks into the past, and where a log
stops folding.

`SessionLog` folds records as the store gives them. A record that cannot be read or does not
fit (written by a bug or by hand, or by a newer version) stops the fold there: the log keeps
the good part and says which event is at fault (`replay_error`), so a person can still open,
read and fork the session. Settings read back are checked as `configure` checks them, so a
value this version cannot use stops the fold too instead of breaking every page later.

Seeks (Replay) fold forward from the nearest state kept: a checkpoint is kept every
`CHECKPOINT_EVERY` events as the log folds, so a seek anywhere in a 100,000-event log folds at
most that many events instead of all of them (an event sourcing habit: Marten and EventStoreDB
keep periodic snapshots of a stream for the same reason).

A log may start from a snapshot (`from_state`: the state after event `base`, see
`sessions.snapshots`) instead of event 1. It then holds only the records after `base`, and
reads the earlier ones from the store when they are wanted: a few for `tail`, all of them for
`records` or a seek before `base`, which folds the whole log again from event 1, so the state
the log shows from then on is the log's own fold, whatever the snapshot said.
"""

from __future__ import annotations

import gc
import json
import re
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from engine import ContextState, Event, WorkbenchError
from engine.actors import Actor
from engine.catalog import event_from_record
from engine.errors import ReplayError
from engine.events import SessionConfigured
from engine.fold import Folder, replay
from engine.records import EventRecord
from engine.settings import check_read_back
from sessions.stores.base import StoredEvent

STATES_KEPT = 8  # states of recent seeks kept (Replay steps back and forth around one)
CHECKPOINT_EVERY = 4_096  # a state kept every this many events: a seek folds at most this many
Loader = Callable[[int, int], Sequence[StoredEvent]]  # (after, upto) -> stored events after..upto
_BULK_EVENTS = 1_000  # a read of more events than this pauses the cyclic collector (paused_collector)
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

    def __init__(self, loader: Loader | None = None) -> None:
        self._records: list[EventRecord] = []  # events _records_from + 1 to last_seq
        self._records_from = 0
        self._folded_from = 0  # the seq of the snapshot the fold started from (0: from the first event)
        self._loader = loader  # (after, upto) -> the stored events in between, for a log that starts late
        self.replay_error: Unfolded | None = None
        self._folder = Folder()
        self._checkpoints: dict[int, ContextState] = {}
        self._states_at: OrderedDict[int, ContextState] = OrderedDict()

    @classmethod
    def from_state(cls, base: int, state: ContextState, loader: Loader) -> "SessionLog":
        """A log whose first `base` events fold to `state` (a snapshot, or the state a fork
        starts from); `loader` reads stored events when the earlier ones are wanted."""
        log = cls(loader)
        log._records_from = log._folded_from = base
        log._folder = Folder(state)
        log._checkpoints[base] = state
        return log

    @property
    def state(self) -> ContextState:
        """The live state: changes as records are folded, so hand out copies."""
        return self._folder.state

    @property
    def last_seq(self) -> int:
        return self._records_from + len(self._records)

    @property
    def records(self) -> list[EventRecord]:
        """Every record, oldest first (read from the store first if the log started late)."""
        self.complete()
        return self._records

    def tail(self, count: int) -> list[EventRecord]:
        """The last `count` records, reading only those from the store if they are not held."""
        if count <= 0:
            return []
        wanted = max(self.last_seq - count, 0)
        if wanted < self._records_from and not self._read_back(wanted):
            self.complete()
        return self._records[-count:]

    def fold(self, record: EventRecord) -> None:
        """Fold a record this process made (or checked); a record that does not fit raises."""
        self._add(record.event)
        self._records.append(record)

    def absorb(self, stored: Sequence[StoredEvent]) -> None:
        """Fold records read from the store; stop at the first that does not fit."""
        if len(stored) > _BULK_EVENTS:
            with paused_collector():
                self._absorb(stored)
        else:
            self._absorb(stored)

    def _absorb(self, stored: Sequence[StoredEvent]) -> None:
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
                # a rule that failed half-way may have changed the state: fold again from where it started
                self._folder = Folder(self._checkpoints.get(self._folded_from) if self._folded_from else None)
                for record in self._records[self._folded_from - self._records_from:]:
                    self._folder.add(record.event)
                return
            self._records.append(EventRecord(row.seq, row.ts, event, _actor(row)))

    def complete(self) -> None:
        """For a log that started from a snapshot: read and fold every event from the first,
        and take that fold as the state (the log is the truth, the snapshot only a shortcut)."""
        if self._folded_from == 0:
            return
        whole = SessionLog()
        with paused_collector():
            whole.absorb(self._loader(0, self._folded_from))
        for record in self._records[self._folded_from - self._records_from:]:
            whole.absorb_record(record)
        if whole.replay_error is None:
            whole.replay_error = self.replay_error  # where the stored log stopped folding after the held part
        self.__dict__.update(whole.__dict__)

    def absorb_record(self, record: EventRecord) -> None:
        """Fold a record read earlier; like `absorb`, stop at one that does not fit."""
        if self.replay_error is not None:
            return
        if record.seq != self.last_seq + 1:
            self.replay_error = Unfolded(record.seq, record.kind, f"expected event {self.last_seq + 1} (a gap in the log)")
            return
        try:
            self._add(record.event)
        except (ReplayError, ValueError) as exc:
            self.replay_error = Unfolded(record.seq, record.kind, _EVENT_PREFIX.sub("", str(exc)))
            self._folder = Folder()
            for kept in self._records:
                self._folder.add(kept.event)
            return
        self._records.append(record)

    def _read_back(self, after: int) -> bool:
        """Hold the records after `after` too, read from the store (not folded: the state
        already holds them). False when they do not read as they did (the log changed)."""
        rows = self._loader(after, self._records_from)
        if [row.seq for row in rows] != list(range(after + 1, self._records_from + 1)):
            return False
        try:
            read = [EventRecord(row.seq, row.ts, event_from_record(row.kind, json.loads(row.payload_json)),
                                _actor(row)) for row in rows]
        except (ReplayError, ValueError, RecursionError):
            return False
        self._records[:0] = read
        self._records_from = after
        return True

    def _add(self, event: Event) -> None:
        self._folder.add(event)
        state = self._folder.state
        if isinstance(event, SessionConfigured):
            check_read_back(state)
        if state.event_count % CHECKPOINT_EVERY == 0:
            self._checkpoints[state.event_count] = state.copy()

    def state_at(self, at: int | None, session_id: str) -> ContextState:
        """A copy of the state now (`at` None), or just after event `at` (0: before any)."""
        if at is None or at == self.last_seq:
            return self.state.copy()
        if isinstance(at, int) and not isinstance(at, bool) and 0 <= at < self._folded_from:
            self.complete()  # the snapshot's seq is as far back as this log has folded yet
        if at == self.last_seq:
            return self.state.copy()
        if isinstance(at, bool) or not isinstance(at, int) or not 0 <= at <= self.last_seq:
            raise WorkbenchError(
                f"no event {at!r}: session {session_id} has events 1 to {self.last_seq} (0 means before the first)"
            )
        cached = self._states_at.get(at)
        if cached is None:  # fold forward from the nearest earlier state held: a checkpoint or a recent seek
            start = max((seen for seen in (*self._checkpoints, *self._states_at) if self._folded_from <= seen <= at),
                        default=self._folded_from)
            begin = self._checkpoints.get(start) or self._states_at.get(start)
            held = self._records[start - self._records_from:at - self._records_from]
            cached = replay((record.event for record in held), begin)
            self._states_at[at] = cached
            if len(self._states_at) > STATES_KEPT:
                self._states_at.popitem(last=False)
        return cached


@contextmanager
def paused_collector() -> Iterator[None]:
    """The cyclic garbage collector paused while a long log (or a snapshot) is read.

    The hundreds of thousands of objects a read makes hold no cycles, yet each young
    collection on the way would walk all of them, and full collections the whole heap: that
    doubled the time to read a 10M-token session. Once read, they go straight to the oldest
    generation (`gc.freeze()` then `gc.unfreeze()`, which moves every tracked object there
    without walking it), so the young collections after a read do not walk them either. Skipped
    when something else in the process keeps objects frozen, not to thaw them.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def _actor(row: StoredEvent) -> Actor | None:
    """Who wrote a stored event; an actor that does not read (written by hand) is unknown: it
    labels the event, it does not stop the log from folding."""
    try:
        return Actor.from_json(row.actor_json)
    except (ValueError, TypeError):
        return None
