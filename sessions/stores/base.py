"""The event-store protocol: what a `Session` needs from wherever its events are kept.

Nine operations, nothing more: create a session (optionally with events), list sessions,
resolve an id prefix, read a session's row, load its events after a seq, append one unit
of work atomically, fork a prefix into a new session, create many sessions at once
(an import, whole or not at all), fingerprint a prefix of a session's events (so a
snapshot of the state folded from them can be checked against the log), and say cheaply
whether anything was committed since a moment (`change_token`: the pages that follow other
processes' events poll it, and read the store only once it moved). DuckDB is the first
implementation (`sessions.stores.duckdb`); a server database is another module beside it,
not edits throughout.

`append` is the heart of it. Inside one transaction the store hands `build` the events
other writers appended since the caller's last seq; `build` folds them and returns the
new events computed from that fresh state; the store numbers them after the last seq and
commits them together, or not at all. So two processes never write from a stale state and
a turn's events land whole. `build` must be quick and must not call a model: the store is
held while it runs.

Every event records who wrote it (`engine.actors`): `append` takes `actor_of`, which says it for
each new event (a model's message and its brake's `brake_applied` land in one unit, by two
actors); a record made without one is a program's. A shared store (`shared`) also stamps the
user name and host of the process that wrote it. `insert_exact` (the copy between stores) keeps
events and actors as they were.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Hashable, Iterable, Protocol, Sequence

from engine.actors import Actor, ActorOf
from engine.errors import SessionNotFound, StoreError, WorkbenchError
from engine.events import Event
from engine.records import EventRecord, utc_now
from engine.text import normalize_text, printable

SESSION_COLUMNS = ("id", "title", "created_at", "forked_from", "forked_at", "imported_from")
LISTING_COLUMNS = SESSION_COLUMNS + ("events", "messages", "updated_at")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event row as stored: parsed (and validated) only by the session that folds it."""

    seq: int
    ts: datetime
    kind: str
    payload_json: str
    actor_json: str | None = None  # who wrote it (`engine.actors.Actor` as JSON); None before actors were kept


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    title: str
    created_at: datetime
    forked_from: str | None = None
    forked_at: int | None = None
    imported_from: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SESSION_COLUMNS}

    @classmethod
    def new(cls, title: str, **origin: Any) -> "SessionRow":
        """A row for a new session. Titles and origins are labels in plain columns, which hold
        only UTF-8 without NUL (PostgreSQL's text cannot hold one): a lone surrogate or a NUL
        there becomes U+FFFD (in events both are kept, as escapes)."""
        if not isinstance(title, str) or not _label(title).strip():
            raise WorkbenchError("a session needs a title that is not empty")
        if isinstance(origin.get("imported_from"), str):
            origin["imported_from"] = _label(origin["imported_from"])
        return cls(uuid.uuid4().hex[:12], _label(title).strip(), utc_now(), **origin)


def _label(text: str) -> str:
    return printable(normalize_text(text)).replace("\x00", "\ufffd")


Build = Callable[[list[StoredEvent]], Sequence[Event]]


@dataclass(frozen=True, slots=True)
class NewSession:
    """A session to add: the first `copy_count` events of session `copy_from` (made earlier in
    the same batch, or already stored), then `records`, numbered on from there."""

    row: SessionRow
    records: Sequence[EventRecord]
    copy_from: str | None = None
    copy_count: int = 0


class EventStore(Protocol):
    location: str  # the file or server, as a person would name it (never with a password)
    shared: bool  # a server many machines write to: events also record their writer's user and host
    read_only: bool  # this process may read but not write (a viewer's role): every write refuses, saying so

    def create(self, row: SessionRow, records: Sequence[EventRecord]) -> None:
        """Add a session, holding `records` (numbered 1, 2, 3, ...), in one transaction."""

    def list_sessions(self) -> list[dict[str, Any]]:
        """Every session, newest first, with `LISTING_COLUMNS`."""

    def resolve_prefix(self, prefix: str) -> str:
        """The id of the one session whose id starts with `prefix`; SessionNotFound otherwise."""

    def session_row(self, session_id: str) -> SessionRow:
        """The session's row; SessionNotFound if there is none."""

    def load(self, session_id: str, after: int = 0, upto: int | None = None) -> list[StoredEvent]:
        """The session's events with seq > `after` (and <= `upto`, when given), in order."""

    def fingerprint(self, session_id: str, upto: int) -> str:
        """A digest of the session's events 1 to `upto` (their seq, ts, kind and payload): it
        changes when any of them does, or when one is missing."""

    def append(self, session_id: str, after: int, build: Build,
               actor_of: ActorOf | None = None) -> tuple[list[StoredEvent], list[EventRecord]]:
        """One unit of work, atomically: returns the events others wrote since `after`, and the new
        records, each with the actor `actor_of` names for its event (a program's without it)."""

    def fork(self, source_id: str, at: int, row: SessionRow) -> None:
        """A new session `row` holding the first `at` events of `source_id`."""

    def create_many(self, sessions: Iterable["NewSession"]) -> int:
        """Add every session `sessions` yields, all in one transaction or none (an import).

        The iterable may parse a large file, and raise to refuse it: DuckDB drains it before
        the file is held, PostgreSQL inside the transaction, which locks no session until it
        commits; either way other writers are not held up by the parse. A session that copies
        another's first events (a branch of an imported conversation) gets them inside the
        store, after the sessions it copies from. Returns the count."""

    def insert_exact(self, sessions: Iterable[tuple[SessionRow, Sequence[StoredEvent]]]) -> None:
        """Add sessions exactly as another store holds them (ids, rows, events, times, actors),
        all in one transaction or none; StoreError if an id is taken already. The iterable is
        drained inside the transaction, a session at a time (a copy reads them from the source)."""

    def change_token(self) -> Hashable:
        """A value that moves whenever anything was committed to the store, by any process:
        equal tokens mean nothing was, so a poller need not read. It must be cheap (DuckDB: a
        stat of the file and its write-ahead log) and never take the store from its writers; a
        token that moves with nothing new only costs a read that finds nothing."""

    def refusal(self) -> StoreError:
        """The error every write of a `read_only` store raises: who may not write, and what to do."""

    def close(self) -> None:
        """Release what the store holds now (it reopens on next use)."""


LISTING_SQL = """
    SELECT s.id, s.title, s.created_at, s.forked_from, s.forked_at, s.imported_from,
           count(e.seq) AS events,
           count(e.seq) FILTER (WHERE e.kind = 'message_added') AS messages,
           coalesce(max(e.ts), s.created_at) AS updated_at
    FROM sessions s LEFT JOIN events e ON e.session_id = s.id
    GROUP BY s.id, s.title, s.created_at, s.forked_from, s.forked_at, s.imported_from
    ORDER BY s.created_at DESC, s.id
"""  # `list_sessions` in either dialect


def no_session(session_id: object) -> SessionNotFound:
    return SessionNotFound(f"no session {str(session_id)[:60]!r}; `python -m sessions list` shows the sessions")


def one_for_prefix(prefix: str, ids: list[str]) -> str:
    """The session `prefix` names among the (up to six, sorted) ids that start with it."""
    if prefix in ids:
        return prefix
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise no_session(prefix)
    raise SessionNotFound(f"{prefix!r} matches several sessions ({', '.join(ids[:5])}); give more of the id")


def stamped(record: EventRecord, stamp: "Stamp") -> EventRecord:
    """`record` with the actor the store keeps for it (`Stamp`)."""
    actor = stamp(record.actor)
    return record if actor is record.actor else EventRecord(record.seq, record.ts, record.event, actor)


class Stamp:
    """What a store writes as an event's actor: the one given (a program's when none is), and on
    a shared store the writing process's user name and host too."""

    def __init__(self, user: str | None = None, host: str | None = None) -> None:
        self.user, self.host = user, host

    def __call__(self, actor: Actor | None) -> Actor:
        actor = actor if actor is not None else Actor.program()
        if self.user is None and self.host is None:
            return actor
        if actor.user == self.user and actor.host == self.host:
            return actor
        return actor.on(self.user, self.host)

    def records(self, start: int, events: Sequence[Event], actor_of: ActorOf | None) -> list[EventRecord]:
        """New events numbered after `start`, at one time, each with its actor."""
        now = utc_now()
        return [EventRecord(start + offset, now, event, self(actor_of(event) if actor_of is not None else None))
                for offset, event in enumerate(events, start=1)]
