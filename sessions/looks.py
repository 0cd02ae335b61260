"""Looks: what a person may do on a store this process may only read (a viewer's role).

A tool that changes nothing a model sees (a search, a search's detail, a task or memory listing)
still leaves an event on a writable store. On a read-only one it runs in memory instead: its
events are kept here, on top of the log as this process last read it, and never stored. The
next look builds on them (a detail finds the search it follows), and a page shows them as records
numbered after the log. Once the log moves on (another machine wrote), the looks start afresh.
"""

from __future__ import annotations

from typing import Sequence

from engine import ContextState, Event
from engine.records import EventRecord, utc_now


class Looks:
    """The unrecorded looks of one session object (the session locks around it)."""

    def __init__(self) -> None:
        self._at = -1  # the log's last seq the looks are on top of
        self._state: ContextState | None = None
        self._records: list[EventRecord] = []

    def base(self, last_seq: int, state: ContextState) -> ContextState:
        """The state a new look starts from (a copy): the log's `state`, with the looks on it."""
        if self._at != last_seq:
            self._at, self._state, self._records = last_seq, None, []
        return (self._state if self._state is not None else state).copy()

    def keep(self, state: ContextState, events: Sequence[Event]) -> None:
        now = utc_now()
        start = self._at + len(self._records)
        self._records += [EventRecord(start + n, now, event) for n, event in enumerate(events, start=1)]
        self._state = state

    def current(self, last_seq: int) -> tuple[ContextState | None, list[EventRecord]]:
        """The state with the looks on it and the looks as records; (None, []) when the log moved."""
        if self._at != last_seq or self._state is None:
            return None, []
        return self._state.copy(), list(self._records)
