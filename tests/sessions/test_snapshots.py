"""Snapshots of a long session's folded state (`sessions.snapshots`): they serve only when they
match the log, and nothing wrong with one ever changes what a session shows."""

from __future__ import annotations

import gc
import io
import json
import os
import pickle
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

import sessions.snapshots as snapshots
from engine import ContextState, Message, render
from engine.errors import StoreError
from engine.summarize import ExtractiveSummarizer
from engine.tokens import token_counter
from sessions import SessionStore
from sessions.session import Session
from sessions.snapshots import MAGIC, Snapshots, engine_digest

from tests.conftest import long_text


@pytest.fixture(autouse=True)
def source_as_now(monkeypatch):
    """The source's stats as they are when each test starts: others editing the tree while the
    suite runs would otherwise turn snapshots off in this (long-lived) process, as they should."""
    monkeypatch.setattr(snapshots, "_SOURCES", {path: snapshots._stat(path) for path in snapshots._SOURCES})


def open_store(path) -> SessionStore:
    store = SessionStore(path)
    store.snapshots.min_events, store.snapshots.refresh_events = 20, 12  # small logs count as long here
    return store


def truth(store: SessionStore, session_id: str) -> Session:
    """The session as its log folds, no snapshot involved."""
    return Session.open(store.events, session_id)


def busy(session: Session, rounds: int = 3, first: int = 0) -> None:
    """Events of every kind a state is made of: messages, fragments, folds, a summary, searches,
    settings, tasks and memories (the subsystems' slices)."""
    session.summarizer = ExtractiveSummarizer(token_counter())  # no model: the embedded one takes seconds
    session.configure(window=64_000, policy={"threshold": 6000})
    for round_ in range(first, first + rounds):
        session.add_message("user", f"Round {round_}.\n{long_text(12)}")
        session.call_tool("fragment_context", {"start_marker": f"Round {round_}.", "end_marker": "End of notes.",
                                               "num_fragments": 6})
        ids = [f.id for f in session.state().messages[-1].fragments]
        for fragment_id in ids[:4]:
            session.call_tool("fold_fragment", {"fragment_id": fragment_id})
        session.call_tool("restore_fragment", {"fragment_id": ids[0]})
        session.call_tool("summarize_fragment", {"fragment_id": ids[4], "focus": "budget"})
        session.call_tool("search_context", {"query": f"paragraph {round_ + 3}"})
        session.call_tool("add_task", {"title": f"task {round_}"})
        session.call_tool("memory_insert", {"memory_type": "semantic", "content": f"fact {round_}",
                                            "entities": ["Ada"]})
        session.add_message("assistant", f"Done with round {round_}.")


@pytest.fixture
def long_session(tmp_path):
    store = open_store(tmp_path / "long.duckdb")
    session = store.create_session("long")
    busy(session)
    assert session.last_seq >= 30
    store.close()
    return tmp_path / "long.duckdb", session.id


def assert_shows_the_log(session: Session, store: SessionStore) -> None:
    expected = truth(store, session.id)
    assert session.last_seq == expected.last_seq
    assert session.state() == expected.state()
    assert render(session.state()) == render(expected.state())
    assert str(session.replay_error) == str(expected.replay_error)


def test_a_long_session_opens_from_its_snapshot_as_its_log_folds(long_session):
    path, session_id = long_session
    store = open_store(path)
    first = store.open_session(session_id)  # folds the log, then writes the snapshot
    assert store.snapshots.last_refusal == "no snapshot" and store.snapshots.path(session_id).exists()
    reader = open_store(path)
    again = reader.open_session(session_id)
    assert _opened_from_its_snapshot(reader, again) and again._log._folded_from == first.last_seq
    assert_shows_the_log(again, store)
    assert again.state() == first.state() and gc.isenabled()
    assert [r.to_dict() for r in again.records()] == [r.to_dict() for r in truth(store, session_id).records()]


def test_a_short_session_and_a_memory_store_get_none(tmp_path):
    store = open_store(tmp_path / "short.duckdb")
    session = store.create_session("short")
    session.add_message("user", "hello")
    store.open_session(session.id)
    assert not store.snapshots.path(session.id).exists()
    memory = SessionStore(":memory:")
    assert memory.snapshots.folder is None and memory.snapshots.path(session.id) is None


def test_events_after_the_snapshot_fold_on_top_and_a_far_behind_one_is_written_again(long_session):
    path, session_id = long_session
    store = open_store(path)
    store.open_session(session_id)
    written = _header(store, session_id)["seq"]
    other = open_store(path).open_session(session_id)  # another process carries on
    other.add_message("user", "a little more")
    reopened = open_store(path).open_session(session_id)
    assert_shows_the_log(reopened, store)
    assert _header(store, session_id)["seq"] == written  # one event behind: still serves as it is
    busy(other, rounds=1, first=7)
    reopened = open_store(path).open_session(session_id)
    assert_shows_the_log(reopened, store)
    assert _header(store, session_id)["seq"] == reopened.last_seq  # far behind: written again


def _header(store: SessionStore, session_id: str) -> dict:
    data = store.snapshots.path(session_id).read_bytes()
    return json.loads(data[len(MAGIC):data.index(b"\n", len(MAGIC))])


def _flip_a_body_byte(data: bytes) -> bytes:
    at = len(data) - 200
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def _header_says(**changes):
    def change(data: bytes) -> bytes:
        end = data.index(b"\n", len(MAGIC))
        header = {**json.loads(data[len(MAGIC):end]), **changes}
        return MAGIC + json.dumps(header).encode() + data[end:]
    return change


DAMAGE = {
    "a flipped bit in the body": _flip_a_body_byte,
    "a body cut short": lambda data: data[:-100],
    "a header cut short": lambda data: data[: len(MAGIC) + 20],
    "an empty file": lambda data: b"",
    "not a snapshot at all": lambda data: b"PK\x03\x04 something else entirely",
    "a header that is not JSON": lambda data: MAGIC + b"{not json\n" + data[data.index(b"\n", len(MAGIC)) + 1:],
    "another session's": _header_says(session="0123456789ab"),
    "another engine's": _header_says(engine="0" * 64),
    "another format's": _header_says(format=99),
    "a later event number": _header_says(seq=10_000),
    "a checksum of other bytes": _header_says(sha256="0" * 64),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_snapshot_is_ignored_and_made_again(long_session, damage):
    path, session_id = long_session
    store = open_store(path)
    store.open_session(session_id)
    snapshot = store.snapshots.path(session_id)
    snapshot.write_bytes(DAMAGE[damage](snapshot.read_bytes()))
    reader = open_store(path)
    session = reader.open_session(session_id)
    assert reader.snapshots.last_refusal not in (None, "no snapshot")
    assert_shows_the_log(session, store)
    session = open_store(path).open_session(session_id)  # the snapshot was made again, whole
    assert _header(store, session_id)["seq"] == session.last_seq
    assert_shows_the_log(session, store)


def test_an_edited_log_retires_its_snapshot(long_session):
    path, session_id = long_session
    store = open_store(path)
    store.open_session(session_id)
    with store.events.db.transaction() as connection:  # a person edits an early message by hand
        payload = json.loads(connection.execute(
            "SELECT payload FROM events WHERE session_id = ? AND kind = 'message_added' ORDER BY seq LIMIT 1",
            [session_id]).fetchone()[0])
        payload["content"] = payload["content"].replace("Round 0.", "Round 9.")
        connection.execute("UPDATE events SET payload = ? WHERE session_id = ? AND seq = 2",
                           [json.dumps(payload), session_id])
    reader = open_store(path)
    session = reader.open_session(session_id)
    assert "changed since the snapshot was made" in reader.snapshots.last_refusal
    assert session.state().messages[0].text.startswith("Round 9.")
    assert_shows_the_log(session, store)


def test_an_event_lost_from_the_log_retires_its_snapshot(long_session):
    path, session_id = long_session
    store = open_store(path)
    seq = store.open_session(session_id).last_seq
    with store.events.db.transaction() as connection:
        connection.execute("DELETE FROM events WHERE session_id = ? AND seq = ?", [session_id, seq])
    reader = open_store(path)
    session = reader.open_session(session_id)
    assert reader.snapshots.last_refusal is not None and session.last_seq == seq - 1
    assert_shows_the_log(session, store)


def test_a_bad_event_after_the_snapshot_stops_the_fold_as_without_one(long_session):
    path, session_id = long_session
    store = open_store(path)
    seq = store.open_session(session_id).last_seq
    with store.events.db.transaction() as connection:
        connection.execute("INSERT INTO events (session_id, seq, ts, kind, payload) VALUES (?, ?, now(), 'fragment_folded', ?)",
                           [session_id, seq + 1, json.dumps({"fragment_id": "fdead0"})])
    reader = open_store(path)
    session = reader.open_session(session_id)
    assert _opened_from_its_snapshot(reader, session) and session._log._folded_from == seq
    assert session.replay_error is not None and session.replay_error.seq == seq + 1
    assert_shows_the_log(session, store)
    assert session.state(3) == truth(store, session_id).state(3)  # seeking before the snapshot reads the log
    assert gc.isenabled()


def test_a_snapshot_of_a_log_that_does_not_fold_is_never_written(long_session):
    path, session_id = long_session
    store = open_store(path)
    with store.events.db.transaction() as connection:
        connection.execute("INSERT INTO events (session_id, seq, ts, kind, payload) VALUES (?, 2, now(), 'fragment_folded', ?)",
                           ["0" * 12, json.dumps({"fragment_id": "fdead0"})])
        connection.execute("UPDATE events SET kind = 'no_such_kind' WHERE session_id = ? AND seq = 5", [session_id])
    session = store.open_session(session_id)
    assert session.replay_error is not None and session.replay_error.seq == 5
    assert not store.snapshots.path(session_id).exists()


class _Runs:
    def __reduce__(self):
        import os
        return os.system, ("touch ran-from-a-snapshot",)


def test_a_snapshot_that_names_code_is_refused_without_running_it(long_session, monkeypatch):
    path, session_id = long_session
    monkeypatch.chdir(path.parent)
    store = open_store(path)
    store.open_session(session_id)
    header = _header(store, session_id)
    body = pickle.dumps(_Runs())
    import hashlib
    header.update(length=len(body), sha256=hashlib.sha256(body).hexdigest())
    store.snapshots.path(session_id).write_bytes(MAGIC + json.dumps(header).encode() + b"\n" + body)
    reader = open_store(path)
    session = reader.open_session(session_id)
    assert "posix.system" in reader.snapshots.last_refusal or "os.system" in reader.snapshots.last_refusal
    assert not (path.parent / "ran-from-a-snapshot").exists()
    assert_shows_the_log(session, store)


def test_a_snapshot_that_cannot_be_written_costs_nothing(long_session):
    path, session_id = long_session
    store = open_store(path)
    store.snapshots.folder.write_text("a file where the folder would go")
    session = store.open_session(session_id)
    assert store.snapshots.last_write_error is not None
    assert_shows_the_log(session, store)


def _opened_from_its_snapshot(store: SessionStore, session: Session) -> bool:
    return store.snapshots.last_refusal is None and session._log._folded_from > 0 and gc.isenabled()


def test_code_changed_on_disk_after_import_neither_reads_nor_writes_snapshots(long_session, tmp_path, monkeypatch):
    path, session_id = long_session
    open_store(path).open_session(session_id)  # a snapshot by this code
    source = tmp_path / "rules.py"  # stands for an engine file the digest read at import
    source.write_text("# a fold rule\n")
    monkeypatch.setattr(snapshots, "_SOURCES", {**snapshots._SOURCES, source: snapshots._stat(source)})
    store = open_store(path)
    assert _opened_from_its_snapshot(store, store.open_session(session_id))  # unchanged: still serves
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10 ** 9))  # a `git pull` lands
    store = open_store(path)
    store.snapshots.refresh_events, snapshot = 1, store.snapshots.path(session_id)
    before = snapshot.read_bytes()
    session = store.open_session(session_id)
    assert "changed since this process imported it" in store.snapshots.last_refusal
    assert session._log._folded_from == 0 and snapshot.read_bytes() == before  # not read, not written
    assert_shows_the_log(session, store)
    snapshot.unlink()
    store.open_session(session_id)
    assert not snapshot.exists() and "changed since" in store.snapshots.last_write_error


def test_the_engine_digest_covers_the_log_module_and_the_libraries(monkeypatch):
    assert len(engine_digest()) == 64 and engine_digest() == engine_digest()
    assert Snapshots(None).wanted(10 ** 6, 0) is False
    named = {path.name for path in snapshots._SOURCES}
    assert {"log.py", "snapshots.py", "fold.py", "context_rules.py"} <= named
    assert snapshots.source_unchanged()
    monkeypatch.setitem(snapshots._SOURCES, next(iter(snapshots._SOURCES)), (0, 0))
    assert not snapshots.source_unchanged()


def test_no_flipped_byte_anywhere_in_the_body_fails_an_opening(tmp_path):
    path = tmp_path / "small.duckdb"
    store = open_store(path)
    store.snapshots.min_events = 10
    session = store.create_session("small")
    for turn in range(6):
        session.add_message("user", f"turn {turn}: {long_text(1)}")
        session.call_tool("add_task", {"title": f"task {turn}"})
    store.open_session(session.id)
    snapshot = store.snapshots.path(session.id)
    good = snapshot.read_bytes()
    start = good.index(b"\n", len(MAGIC)) + 1
    expected = truth(store, session.id).state()
    positions = sorted(random.Random(7).sample(range(start, len(good)), min(300, len(good) - start)))
    for at in positions:
        for mask in (0x01, 0x80):
            snapshot.write_bytes(good[:at] + bytes([good[at] ^ mask]) + good[at + 1:])
            reader = open_store(path)
            reader.snapshots.min_events = 10 ** 9  # keeps the damaged file for the next position
            opened = reader.open_session(session.id)
            assert reader.snapshots.last_refusal is not None, (at, mask)
            assert opened.state() == expected and gc.isenabled(), (at, mask)


def _load(data: bytes):
    return snapshots._Restricted(io.BytesIO(data)).load()


def _text(value: str) -> bytes:
    return pickle.SHORT_BINUNICODE + bytes([len(value.encode())]) + value.encode()


def _global(module: str, name: str) -> bytes:
    return _text(module) + _text(name) + pickle.STACK_GLOBAL


@pytest.mark.parametrize("module, name", [("engine", "tasks.nx.utils.configs.NetworkXConfig"),
                                          ("engine.state", "Message.__init__"), ("engine.state", "ContextState"),
                                          ("engine.local_model", "Nope"), ("engine.state", "replace")])
def test_the_unpickler_hands_out_only_exact_names(module, name):
    with pytest.raises(snapshots.SnapshotRefused):
        _load(pickle.PROTO + b"\x04" + _global(module, name) + pickle.STOP)


def test_a_build_on_a_class_is_refused_and_changes_nothing():
    copy, init = ContextState.copy, Message.__init__
    for module, name in (("engine.state", "ContextState"), ("engine.state", "Message")):
        data = (pickle.PROTO + b"\x04" + _global(module, name) + pickle.NONE + pickle.EMPTY_DICT + _text("copy")
                + _global("collections", "OrderedDict") + pickle.SETITEM + pickle.TUPLE2 + pickle.BUILD + pickle.STOP)
        with pytest.raises(Exception):
            _load(data)
    assert ContextState.copy is copy and Message.__init__ is init and not hasattr(Message, "copy")
    assert ContextState().copy() == ContextState()


@dataclass
class _AMessage:  # pickles as the packer's own `_message` call, with the pieces given
    pieces: tuple

    def __reduce__(self):
        return snapshots._message, ("m1", "user", "abcdef", self.pieces, None, (), None, (), {}, None, None)


def test_pieces_that_do_not_tile_their_text_are_refused():
    whole = (("f1", 0, 3, "active", None, None, None), ("f2", 3, 6, "active", None, None, None))
    assert [f.text for f in _load(pickle.dumps(_AMessage(whole))).fragments] == ["abc", "def"]
    for pieces in ((("f1", 0, 6, "active", None, None, None),) * 1000,  # the whole text a thousand times
                   (("f1", 0, 3, "active", None, None, None),), (("f1", 1, 6, "active", None, None, None),),
                   (("f1", 0, 4, "active", None, None, None), ("f2", 3, 6, "active", None, None, None))):
        with pytest.raises(snapshots.SnapshotRefused):
            _load(pickle.dumps(_AMessage(pieces)))


def test_an_unreadable_snapshot_folder_opens_from_the_log(long_session, monkeypatch):
    path, session_id = long_session
    open_store(path).open_session(session_id)
    real = Path.exists

    def refused(self, *args, **kwargs):  # as a folder this user may not read does (root ignores chmod)
        if self.name.endswith(".snapshot"):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "exists", refused)
    store = open_store(path)
    session = store.open_session(session_id)
    assert "PermissionError" in store.snapshots.last_refusal
    assert_shows_the_log(session, store)


def test_a_snapshot_write_that_raises_anything_costs_nothing(long_session, monkeypatch):
    path, session_id = long_session
    store = open_store(path)

    def broken(*args):
        raise StoreError("the store is gone")

    monkeypatch.setattr(store.events, "fingerprint", broken)
    session = store.open_session(session_id)
    assert "StoreError" in store.snapshots.last_write_error
    assert not store.snapshots.path(session_id).exists()
    assert_shows_the_log(session, store)
