"""Seeks into a long log (Replay) fold from the nearest checkpoint, and a log opened from a
snapshot reads its earlier records only when they are wanted; every state and record is the
one a plain fold of the whole log gives (`sessions.log`)."""

from __future__ import annotations

import gc
import random

import pytest

import sessions.log as log_module
from engine import ContextState
from engine.fold import replay
from sessions import SessionStore
from sessions.session import Session

from tests.sessions.test_snapshots import busy, open_store, source_as_now  # noqa: F401 (an autouse fixture)


@pytest.fixture
def every_seven(monkeypatch):
    monkeypatch.setattr(log_module, "CHECKPOINT_EVERY", 7)


@pytest.fixture
def stored(tmp_path, every_seven):
    path = tmp_path / "log.duckdb"
    store = open_store(path)
    session = store.create_session("seeks")
    busy(session, rounds=3)
    store.close()
    return path, session.id


def plain(store: SessionStore, session_id: str):
    """Every record and the fold of each prefix, from the log alone."""
    records = Session.open(store.events, session_id).records()
    return records, [replay(r.event for r in records[:at]) for at in range(len(records) + 1)]


def test_a_seek_anywhere_folds_at_most_one_checkpoint_apart(stored, monkeypatch):
    path, session_id = stored
    store = open_store(path)
    records, states = plain(store, session_id)
    session = Session.open(store.events, session_id)
    folded = []
    real_replay = log_module.replay

    def counting(events, state=None):
        events = list(events)
        folded.append(len(events))
        return real_replay(events, state)

    monkeypatch.setattr(log_module, "replay", counting)
    steps = list(range(len(records) + 1))
    random.Random(3).shuffle(steps)
    for at in steps:
        assert session.state(at) == states[at], at
    assert folded and max(folded) < 7  # from a checkpoint at most six events back, never from the start


def test_a_log_opened_from_a_snapshot_seeks_reads_and_tails_as_the_log(stored):
    path, session_id = stored
    store = open_store(path)
    store.open_session(session_id)  # writes the snapshot
    records, states = plain(store, session_id)
    reader = open_store(path)
    session = reader.open_session(session_id)
    assert reader.snapshots.last_refusal is None and gc.isenabled()
    assert session._log._folded_from == len(records)  # from the snapshot: nothing before it read yet
    for count in (1, 3, 10, len(records) + 5):
        assert [r.to_dict() for r in session.tail(count)] == [r.to_dict() for r in records[-count:]]
    assert session._log._folded_from == len(records)  # a tail reads records, never folds the log again
    steps = list(range(len(records) + 1))
    random.Random(5).shuffle(steps)
    for at in steps:
        assert session.state(at) == states[at], at
    assert session._log._folded_from == 0 and gc.isenabled()  # the first seek before the snapshot folded the whole log
    assert [r.to_dict() for r in session.records()] == [r.to_dict() for r in records]
    assert session.add_message("user", "and on") == f"m{len(states[-1].messages) + 1}"


def test_records_of_a_log_opened_from_a_snapshot_come_from_the_store(stored):
    path, session_id = stored
    store = open_store(path)
    store.open_session(session_id)
    records, states = plain(store, session_id)
    reader = open_store(path)
    session = reader.open_session(session_id)
    assert reader.snapshots.last_refusal is None and session._log._folded_from == len(records)
    assert [r.to_dict() for r in session.records()] == [r.to_dict() for r in records]
    assert session.state() == states[-1] and session.state(4) == states[4] and gc.isenabled()


@pytest.mark.parametrize("opened", ["from its log", "from a snapshot"])
def test_a_fork_holds_the_state_and_records_at_its_step(stored, opened):
    path, session_id = stored
    store = open_store(path)
    store.open_session(session_id)
    records, states = plain(store, session_id)
    source = store.open_session(session_id) if opened == "from a snapshot" else Session.open(store.events, session_id)
    if opened == "from a snapshot":
        assert store.snapshots.last_refusal is None and source._log._folded_from == len(records)
    for at in (0, 5, len(records) - 3, len(records)):
        fork = source.fork(at=at)
        assert fork.last_seq == at and fork.state() == states[at]
        assert [r.event for r in fork.records()] == [r.event for r in records[:at]]
        assert fork.state(at // 2) == states[at // 2]
        fork.add_message("user", "forked on")
        reopened = Session.open(store.events, fork.id)
        assert reopened.state() == fork.state() and reopened.last_seq == at + 1


def test_apply_policy_copies_the_state_only_under_the_session_lock(stored, monkeypatch):
    path, session_id = stored
    session = open_store(path).open_session(session_id)
    held = []
    real_copy = ContextState.copy

    def watched(state):
        held.append(session._lock._is_owned())
        return real_copy(state)

    monkeypatch.setattr(ContextState, "copy", watched)
    session.apply_policy(window=64_000)
    assert held and all(held)  # another thread folding into the live state cannot tear a copy
