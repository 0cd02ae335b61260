"""The PostgreSQL event store: the same sessions and events on a server a team shares.

`--db postgresql://USER@HOST:PORT/DATABASE` (or `WORKBENCH_DB`). The tables and migrations are
DuckDB's in PostgreSQL's dialect (`sessions.migrations`), run on open under an advisory lock.
Every value travels as a query parameter (or through COPY), never pasted into SQL.

Many writers. An append locks its session's row (`SELECT ... FOR UPDATE`) for the length of its
transaction, so appends to one session from any number of processes and machines take turns:
each sees the events committed before it, numbers its own after them, and `seq` stays gapless.
`(session_id, seq)` is the primary key as well; a writer that finds its numbers taken (one that
did not lock) starts its unit again on the fresh events. Readers take no locks: PostgreSQL's
snapshots let them read while others write, and the writers never wait for them. A writer
killed mid-transaction leaves nothing: the server rolls back what it had not committed.

Connections come from a pool (psycopg_pool), opened on first use; one more connection listens
for commits (`sessions.stores.pg_listen`), which is the change token the pages poll.

A role that may only read (a viewer's) opens the store as `read_only`: sessions show, and every
write is refused at once with a message that says so, before any work is done.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Sequence

from engine.actors import ActorOf
from engine.errors import StoreError
from engine.records import EventRecord, canonical_json
from sessions.migrations import MIGRATIONS, apply_migrations
from sessions.stores.base import (LISTING_COLUMNS, LISTING_SQL, SESSION_COLUMNS, Build, NewSession, SessionRow, Stamp, StoredEvent,
                                  no_session, one_for_prefix, stamped)
from sessions.stores.pg_listen import CHANNEL, ChangeListener
from sessions.stores.pg_target import PostgresTarget

DEFAULT_LOCK_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10  # seconds libpq waits for the server
POOL_SIZE = 8
READ_WAIT = 3.0  # seconds a read waits for a pooled connection (a server that is down says so soon)
_MIGRATION_LOCK = 0x636F6E7465787401  # the advisory lock held while migrating (any constant; "context" + 1)
_RETRIES = 3
_COPY_BATCH = 20_000
_EVENT_COLUMNS = "session_id, seq, ts, kind, payload, actor"
_COPIED = "seq, ts, kind, payload, actor"
_INSERT_SESSION = f"INSERT INTO sessions ({', '.join(SESSION_COLUMNS)}) VALUES (%s, %s, %s, %s, %s, %s)"


class PostgresEventStore:
    """`EventStore` on a PostgreSQL database; see `sessions.stores.base` for the contract."""

    shared = True

    def __init__(self, url: str, *, lock_timeout: float | None = None, linger: float | None = None) -> None:
        import psycopg  # imported here: a DuckDB-only run never loads libpq

        self._psycopg = psycopg
        self.target = PostgresTarget(url)
        self.location = self.target.location
        self.lock_timeout = DEFAULT_LOCK_TIMEOUT if lock_timeout is None else lock_timeout
        self.stamp = Stamp(_login_name(), socket.gethostname())
        self._pool = None
        self._pool_lock = threading.Lock()
        self.role: str | None = None
        self.standby = False  # a hot standby (a read replica): readable, never writable, hears no NOTIFY
        with self._errors("open"):
            with self._connect(autocommit=True) as connection:
                self.role, self.standby, self.read_only = _prepare(connection, self.location)
        self.listener = ChangeListener(lambda: self._connect(autocommit=True), self.target.scrub,
                                       standby=self.standby)

    def __repr__(self) -> str:
        return f"<PostgresEventStore {self.location}>"

    # ---- connections -------------------------------------------------------------------

    def _connect(self, autocommit: bool = False):
        return self._psycopg.connect(self.target.conninfo, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT,
                                     application_name="context-workbench")

    def _the_pool(self):
        with self._pool_lock:
            if self._pool is None:
                from psycopg_pool import ConnectionPool

                self._pool = ConnectionPool(
                    self.target.conninfo, min_size=1, max_size=POOL_SIZE, open=True, name="workbench",
                    timeout=max(self.lock_timeout, CONNECT_TIMEOUT), check=ConnectionPool.check_connection,
                    kwargs={"connect_timeout": CONNECT_TIMEOUT, "application_name": "context-workbench"})
            return self._pool

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        with self._errors("read"), self._the_pool().connection(timeout=READ_WAIT) as connection:
            yield connection

    @contextmanager
    def _writing(self, retried: bool = False) -> Iterator[Any]:
        """A connection inside one transaction (committed at the end, rolled back on any error).
        `retried`: a taken `(session_id, seq)` is raised as it is, for the caller to try again."""
        if self.read_only:
            raise self.refusal()
        with self._errors("write", retried), self._the_pool().connection() as connection:
            with connection.transaction():
                # at least 1 ms: PostgreSQL reads 0 as "wait for ever"
                connection.execute("SELECT set_config('lock_timeout', %s, true)",
                                   [f"{max(1, round(self.lock_timeout * 1000))}ms"])
                yield connection

    @contextmanager
    def _errors(self, doing: str, retried: bool = False) -> Iterator[None]:
        """The driver's errors as StoreErrors that say what to do, with no password in them."""
        errors = self._psycopg.errors
        try:
            yield
        except errors.UniqueViolation as exc:
            if retried:
                raise
            raise StoreError(f"{self.location} already holds that ({self._reason(exc)}); nothing was written") from None
        except (errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction):
            if self.role is None:  # refused while opening: this role may not even read the tables
                raise StoreError(f"the role used for {self.location} may not read the workbench's tables: grant it "
                                 "SELECT on sessions, events and _migrations (the README's viewer role shows how), "
                                 "or open the store with another role") from None
            raise self.refusal() from None
        except errors.LockNotAvailable:
            raise StoreError(f"a session in {self.location} stayed locked by another writer for "
                             f"{self.lock_timeout:g} s; try again (a long import or copy may be holding it)") from None
        except self._psycopg.OperationalError as exc:
            maybe = ("; if it broke while committing, the change may have been written: look before trying "
                     "again" if doing == "write" else "")
            raise StoreError(f"cannot {doing} the PostgreSQL store {self.location}: {self._reason(exc)}; "
                             "check that the server runs and the address, user and password "
                             f"(PGPASSWORD or ~/.pgpass) are right{maybe}") from None
        except self._psycopg.Error as exc:
            raise StoreError(f"PostgreSQL refused to {doing} {self.location}: {self._reason(exc)}") from None
        except Exception as exc:  # the pool's timeout, among others
            if type(exc).__module__.startswith("psycopg_pool"):
                raise StoreError(f"no connection to the PostgreSQL store {self.location} came free in time "
                                 f"({self._reason(exc)}); is the server up?") from None
            raise

    def _reason(self, exc: Exception) -> str:
        lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
        return self.target.scrub(" ".join(lines[:2]) or type(exc).__name__)

    def refusal(self) -> StoreError:
        """What a write on a read-only store is told (and the sidebar says)."""
        if self.standby:
            return StoreError(f"{self.location} is a read-only server (a standby, a read replica): the sessions show "
                              "and edits are refused. Open the primary server to change them")
        return StoreError(f"the role {self.role!r} may read {self.location} but not change it: this workbench "
                          "shows the sessions and refuses edits. Open it with a role that may write to change them")

    # ---- reading ---------------------------------------------------------------------

    def list_sessions(self) -> list[dict[str, Any]]:
        with self._reading() as connection:
            rows = connection.execute(LISTING_SQL).fetchall()
        return [dict(zip(LISTING_COLUMNS, row)) for row in rows]

    def resolve_prefix(self, prefix: str) -> str:
        with self._reading() as connection:
            rows = connection.execute("SELECT id FROM sessions WHERE starts_with(id, %s) ORDER BY id LIMIT 6",
                                      [prefix]).fetchall()
        return one_for_prefix(prefix, [row[0] for row in rows])

    def session_row(self, session_id: str) -> SessionRow:
        with self._reading() as connection:
            return _row(connection, session_id)

    def load(self, session_id: str, after: int = 0, upto: int | None = None) -> list[StoredEvent]:
        with self._reading() as connection:
            return _load(connection, session_id, after, upto)

    def fingerprint(self, session_id: str, upto: int) -> str:
        # the server hashes the rows: a 10M-token session's 100k events never cross the network
        with self._reading() as connection:
            count, last, total, version = connection.execute(
                "SELECT count(*), max(seq), sum(hashtextextended(seq::text || ' ' || to_char(ts, 'YYYY-MM-DD HH24:MI:SS.US') "
                "|| ' ' || kind "
                "|| ' ' || payload, 0)::numeric), current_setting('server_version_num') "
                "FROM events WHERE session_id = %s AND seq <= %s", [session_id, upto]).fetchone()
        return f"postgresql {version}: {count} events to {last}, {total}"

    # ---- writing ---------------------------------------------------------------------

    def create(self, row: SessionRow, records: Sequence[EventRecord]) -> None:
        with self._writing() as connection:
            connection.execute(_INSERT_SESSION, [getattr(row, name) for name in SESSION_COLUMNS])
            _copy_records(connection, [(row.id, stamped(record, self.stamp)) for record in records])
            _notify(connection, row.id, len(records))

    def append(self, session_id: str, after: int, build: Build,
               actor_of: ActorOf | None = None) -> tuple[list[StoredEvent], list[EventRecord]]:
        handed: list[StoredEvent] = []  # events given to `build` already (a retry hands only newer ones)
        for attempt in range(_RETRIES):
            try:
                with self._writing(retried=True) as connection:
                    _lock_session(connection, session_id)
                    seen = handed[-1].seq if handed else after
                    fresh = _load(connection, session_id, seen)
                    if not fresh:
                        self._holds(connection, session_id, seen)
                    events = list(build(fresh))
                    handed += fresh
                    records = self.stamp.records(handed[-1].seq if handed else after, events, actor_of)
                    _insert(connection, session_id, records)
                    if records:
                        _notify(connection, session_id, records[-1].seq)
                return handed, records
            except self._psycopg.errors.UniqueViolation:
                if attempt == _RETRIES - 1:
                    raise StoreError(f"session {session_id} in {self.location} kept changing under this write "
                                     f"({_RETRIES} tries); try again") from None
        raise AssertionError("unreachable")

    def _holds(self, connection, session_id: str, after: int) -> None:
        [stored] = connection.execute("SELECT coalesce(max(seq), 0) FROM events WHERE session_id = %s",
                                      [session_id]).fetchone()
        if stored != after:
            raise StoreError(f"session {session_id} holds {stored} events in {self.location} but this program "
                             f"has read {after}: the store changed under it; restart it to read it afresh")

    def fork(self, source_id: str, at: int, row: SessionRow) -> None:
        with self._writing() as connection:
            _row(connection, source_id)
            connection.execute(_INSERT_SESSION, [getattr(row, name) for name in SESSION_COLUMNS])
            connection.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT %s, {_COPIED} FROM events "
                               "WHERE session_id = %s AND seq <= %s", [row.id, source_id, at])
            _notify(connection, row.id, at)

    def create_many(self, sessions: Iterable[NewSession]) -> int:
        """One transaction from the first event to the last. The events go to the server in
        batches (COPY) as the iterable yields them, so memory stays bounded; nothing is visible
        to others, and no session is locked, until the commit (a refusal rolls it all back)."""
        count = 0
        with self._writing() as connection:
            batch: list[tuple[str, EventRecord]] = []
            copies: list[tuple[str, str, int]] = []
            for new in sessions:
                connection.execute(_INSERT_SESSION, [getattr(new.row, name) for name in SESSION_COLUMNS])
                count += 1
                batch += [(new.row.id, stamped(record, self.stamp)) for record in new.records]
                if new.copy_from is not None and new.copy_count:
                    copies.append((new.row.id, new.copy_from, new.copy_count))
                if len(batch) >= _COPY_BATCH:
                    _copy_records(connection, batch)
                    batch = []
            _copy_records(connection, batch)
            for session_id, source_id, copied in copies:  # parents come first, so theirs are whole
                connection.execute(f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT %s, {_COPIED} FROM events "
                                   "WHERE session_id = %s AND seq <= %s", [session_id, source_id, copied])
            if count:
                _notify(connection, "*", count)
        return count

    def insert_exact(self, sessions: Iterable[tuple[SessionRow, Sequence[StoredEvent]]]) -> None:
        copied = 0
        with self._writing() as connection:  # a session at a time: memory holds the largest, not all
            for row, events in sessions:
                if connection.execute("SELECT 1 FROM sessions WHERE id = %s", [row.id]).fetchone() is not None:
                    raise StoreError(f"{self.location} already holds session {row.id}; nothing was copied "
                                     "(copy the others by naming them, or into another store)")
                connection.execute(_INSERT_SESSION, [getattr(row, name) for name in SESSION_COLUMNS])
                _copy_rows(connection, [(row.id, e.seq, e.ts, e.kind, e.payload_json, e.actor_json) for e in events])
                copied += 1
            if copied:
                _notify(connection, "*", copied)

    def change_token(self) -> tuple:
        return self.listener.token()  # a counter the listening thread moves: no query

    def close(self) -> None:
        self.listener.close()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


# ---- SQL ---------------------------------------------------------------------------------

def _prepare(connection, location: str) -> tuple[str, bool, bool]:
    """Migrate the database if it needs it (one process at a time); (role, whether the server is a
    standby, whether this process may only read)."""
    role, recovering, read_only_default, applied = connection.execute(
        "SELECT current_user, pg_is_in_recovery(), current_setting('default_transaction_read_only') = 'on', "
        "to_regclass('_migrations') IS NOT NULL").fetchone()
    wanted = [name for name, _ in MIGRATIONS["postgresql"]]
    done = {name for (name,) in connection.execute("SELECT name FROM _migrations").fetchall()} if applied else set()
    if set(wanted) - done:
        if recovering or read_only_default:
            raise StoreError(f"{location} is a read-only server and its tables are missing or older than this "
                             "workbench; open it once on the primary with a role that may create tables")
        import psycopg

        connection.execute("SELECT pg_advisory_lock(%s)", [_MIGRATION_LOCK])
        try:
            apply_migrations(connection, MIGRATIONS["postgresql"], "%s")
        except psycopg.errors.InsufficientPrivilege:
            missing = ", ".join(sorted(set(wanted) - done))
            raise StoreError(f"the role {role!r} may not create the workbench's tables in {location} (missing: "
                             f"{missing}): open it once with the database's owner or a role that may create "
                             "tables, then grant viewers SELECT (the README shows how)") from None
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", [_MIGRATION_LOCK])
    [can_write] = connection.execute(
        "SELECT has_table_privilege('sessions', 'INSERT') AND has_table_privilege('events', 'INSERT')").fetchone()
    return role, bool(recovering), bool(recovering or read_only_default or not can_write)


def _row(connection, session_id: str) -> SessionRow:
    found = connection.execute(f"SELECT {', '.join(SESSION_COLUMNS)} FROM sessions WHERE id = %s",
                               [session_id]).fetchone()
    if found is None:
        raise no_session(session_id)
    return SessionRow(*found)


def _lock_session(connection, session_id: str) -> None:
    """Hold the session's row until the transaction ends: the writers of one session take turns."""
    if connection.execute("SELECT 1 FROM sessions WHERE id = %s FOR UPDATE", [session_id]).fetchone() is None:
        raise no_session(session_id)


def _load(connection, session_id: str, after: int, upto: int | None = None) -> list[StoredEvent]:
    rows = connection.execute(
        "SELECT seq, ts, kind, payload, actor FROM events WHERE session_id = %s AND seq > %s AND seq <= %s "
        "ORDER BY seq", [session_id, after, upto if upto is not None else 2 ** 62]).fetchall()
    return [StoredEvent(*row) for row in rows]


def _insert(connection, session_id: str, records: Sequence[EventRecord]) -> None:
    if len(records) >= 16:
        _copy_records(connection, [(session_id, record) for record in records])
        return
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                           [_event_row(session_id, r) for r in records])


def _copy_records(connection, records: Sequence[tuple[str, EventRecord]]) -> None:
    _copy_rows(connection, [_event_row(session_id, r) for session_id, r in records])


def _event_row(session_id: str, record: EventRecord) -> tuple:
    return (session_id, record.seq, record.ts, record.kind, canonical_json(record.payload()), record.actor_json())


def _copy_rows(connection, rows: Sequence[tuple]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor, cursor.copy(f"COPY events ({_EVENT_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _notify(connection, session_id: str, seq: int) -> None:
    # delivered to every listener when this transaction commits, never if it rolls back
    connection.execute("SELECT pg_notify(%s, %s)", [CHANNEL, f"{session_id} {seq}"])


def _login_name() -> str | None:
    """The user name this process runs as (the actor's `user` on a shared store)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container's random uid)
        return os.environ.get("USER") or str(os.getuid())
