"""The event-store protocol, against DuckDB (in memory and in a file) and PostgreSQL: one unit
of work lands whole or not at all, others' events reach the builder first, forks copy a prefix,
and every event keeps its actor."""

from __future__ import annotations

import json

import pytest

from engine import ContextState, SessionNotFound, apply, new_message
from engine.events import FragmentFolded
from engine.records import EventRecord, utc_now
from sessions.stores import open_event_store
from sessions.stores.base import SessionRow


@pytest.fixture(params=["memory", "file", "postgresql"])
def events(request, tmp_path):
    target = {"memory": ":memory:", "file": tmp_path / "store.duckdb"}.get(request.param)
    store = open_event_store(target if target is not None else request.getfixturevalue("pg_url"), linger=0)
    yield store
    store.close()


def _message(text: str, state: ContextState | None = None):
    return new_message(state or ContextState(), "user", text)


def _session(events, title="one", records=()):
    row = SessionRow.new(title)
    events.create(row, records)
    return row


def test_append_numbers_the_events_after_what_others_wrote(events):
    row = _session(events)
    first, records = events.append(row.id, 0, lambda fresh: [_message("first")])
    assert first == [] and [r.seq for r in records] == [1]
    seen = []

    def build(fresh):  # a writer that last saw nothing gets the first event before it builds
        seen.extend(fresh)
        return [FragmentFolded(fragment_id=json.loads(fresh[0].payload_json)["fragment_id"])]

    fresh, records = events.append(row.id, 0, build)
    assert [e.seq for e in seen] == [1] and [e.kind for e in fresh] == ["message_added"]
    assert [r.seq for r in records] == [2]
    assert [e.kind for e in events.load(row.id)] == ["message_added", "fragment_folded"]
    assert [e.seq for e in events.load(row.id, after=1)] == [2]


def test_a_unit_that_fails_while_building_writes_nothing(events):
    row = _session(events)
    events.append(row.id, 0, lambda fresh: [_message("kept")])

    def explode(fresh):
        raise RuntimeError("the builder failed half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        events.append(row.id, 1, explode)
    assert [e.seq for e in events.load(row.id)] == [1]


def test_a_unit_whose_insert_fails_is_rolled_back_whole(events):
    row = _session(events)

    class Unwritable(FragmentFolded):
        def payload(self):  # the second event cannot be serialized: the first must not land alone
            raise ValueError("cannot serialize")

    with pytest.raises(ValueError, match="cannot serialize"):
        events.append(row.id, 0, lambda fresh: [_message("first"), Unwritable(fragment_id="f00000")])
    assert events.load(row.id) == []


def test_rows_prefixes_and_forks(events):
    state = ContextState()
    records = []
    for n in range(5):
        event = _message(f"message {n}", state)
        state = apply(state, event)
        records.append(EventRecord(n + 1, utc_now(), event))
    source = _session(events, "source", records)
    assert events.resolve_prefix(source.id[:6]) == source.id
    assert events.session_row(source.id).title == "source"
    fork = SessionRow.new("fork", forked_from=source.id, forked_at=3)
    events.fork(source.id, 3, fork)
    assert [e.seq for e in events.load(fork.id)] == [1, 2, 3]
    assert [e.payload_json for e in events.load(fork.id)] == [e.payload_json for e in events.load(source.id)[:3]]
    listed = {row["id"]: row for row in events.list_sessions()}
    assert listed[fork.id]["events"] == 3 and listed[fork.id]["forked_from"] == source.id
    with pytest.raises(SessionNotFound, match="no session"):
        events.session_row("nope")
    with pytest.raises(SessionNotFound, match="no session"):
        events.fork("nope", 1, SessionRow.new("orphan"))
    assert "orphan" not in [row["title"] for row in events.list_sessions()]


def test_a_prefix_matching_several_sessions_asks_for_more(events):
    ids = {_session(events, f"s{n}").id for n in range(40)}
    common = next(a[:1] for a in ids for b in ids if a != b and a[:1] == b[:1])
    with pytest.raises(SessionNotFound, match="matches several sessions"):
        events.resolve_prefix(common)
