"""Many writers on one session, on both stores: sixteen processes at once leave a whole log, a
writer killed inside its transaction leaves nothing of it, and a second process (a second
machine, in effect: its own connection) hears every commit through the change token."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from engine.actors import Actor
from sessions import SessionStore

from tests.conftest import ROOT

WRITERS = 16
APPENDS = 8

WRITER = """
import sys
from engine.actors import Actor
from sessions import SessionStore
target, session_id, writer, appends = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = SessionStore(target, lock_timeout=120, snapshots=False)
session = store.open_session(session_id)
session.actor = Actor.program(f"writer {writer}")
print("ready", flush=True)
sys.stdin.readline()  # all start together
calls = [{"id": f"w{writer}", "type": "function",
          "function": {"name": "search_context", "arguments": '{"query": "storm"}'}} for _ in range(2)]
for n in range(appends):
    session.add_message("user", f"writer {writer} message {n}")
    session.run_model_tool_calls(calls, content=f"writer {writer} searches", actor=session.actor)  # 5 events
store.close()
print("done", flush=True)
"""

KILLED_INSIDE = """
import sys, time
from sessions import SessionStore
from sessions.stores import duckdb as duckdb_store, postgres as postgres_store
target, session_id = sys.argv[1], sys.argv[2]
store = SessionStore(target, snapshots=False)
session = store.open_session(session_id)

def half_then_wait(insert):
    def patched(*args):
        *head, records = args
        insert(*head, records[: len(records) // 2])  # half the unit is written inside the transaction
        print("inside", flush=True)
        time.sleep(600)  # the test kills us here
    return patched

if target.startswith("postgresql://"):
    postgres_store._insert = half_then_wait(postgres_store._insert)
else:
    duckdb_store.DuckDBEventStore._insert = staticmethod(half_then_wait(duckdb_store.DuckDBEventStore._insert))
calls = [{"id": f"c{n}", "type": "function",
          "function": {"name": "search_context", "arguments": '{"query": "storm"}'}} for n in range(3)]
session.run_model_tool_calls(calls, content="searching")
"""


def _python(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sixteen_processes_appending_to_one_session_leave_a_whole_log(backend_target):
    store = SessionStore(backend_target, linger=0)
    session = store.create_session("many writers")
    session.add_message("user", "The storm is expected by evening.")
    store.close()
    writers = [_python(WRITER, backend_target, session.id, str(n), str(APPENDS)) for n in range(WRITERS)]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready", writer.stderr.read()
        for writer in writers:  # released as close together as we can
            writer.stdin.write("go\n")
            writer.stdin.flush()
        for writer in writers:
            out, err = writer.communicate(timeout=600)
            assert writer.returncode == 0 and out.strip() == "done", err
    finally:
        for writer in writers:
            writer.kill()
    store = SessionStore(backend_target, linger=0, snapshots=False)
    try:
        reopened = store.open_session(session.id)
        assert reopened.replay_error is None
        records = reopened.records()
        assert [r.seq for r in records] == list(range(1, len(records) + 1))  # gapless, no duplicates
        texts = [r.event.content for r in records if r.kind == "message_added" and r.event.role == "user"]
        for writer in range(WRITERS):  # every writer's messages, each once, in its own order
            mine = [text for text in texts if text.startswith(f"writer {writer} ")]
            assert mine == [f"writer {writer} message {n}" for n in range(APPENDS)]
        by_writer = {r.actor.name for r in records if r.actor is not None and r.actor.name}
        assert by_writer == {f"writer {n}" for n in range(WRITERS)}
        units = [records[r.seq - 1: r.seq + 4] for r in records
                 if r.kind == "message_added" and r.event.role == "assistant"]
        assert len(units) == WRITERS * APPENDS
        for unit in units:  # a unit of work lands whole, its five events together, never interleaved
            assert [r.kind for r in unit] == ["message_added", "context_searched", "message_added",
                                              "context_searched", "message_added"]
            assert len({r.actor for r in unit}) == 1 and unit[-1].event.role == "tool"
    finally:
        store.close()


def test_a_writer_killed_inside_its_transaction_leaves_no_half_unit(backend_target):
    store = SessionStore(backend_target, linger=0, lock_timeout=30)
    session = store.create_session("killed writer")
    session.add_message("user", "The storm is expected by evening; the harbour closes at noon.")
    store.close()
    writer = _python(KILLED_INSIDE, backend_target, session.id)
    try:
        line = writer.stdout.readline().strip()
        assert line == "inside", writer.stderr.read()
        if backend_target.startswith("postgresql://"):  # readers are not held up by a writer inside its transaction
            reader = SessionStore(backend_target, snapshots=False)
            assert [e.seq for e in reader.events.load(session.id)] == [1]
            reader.close()
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    finally:
        writer.kill()
    store = SessionStore(backend_target, linger=0, lock_timeout=30, snapshots=False)
    try:
        reopened = store.open_session(session.id)
        assert [r.seq for r in reopened.records()] == [1] and reopened.replay_error is None
        reopened.add_message("user", "after the crash")  # the session is not left locked
        assert [r.kind for r in reopened.records()] == ["message_added", "message_added"]
    finally:
        store.close()


def test_a_second_process_hears_each_commit_through_the_change_token(backend_target):
    store = SessionStore(backend_target, linger=0)
    session = store.create_session("followed")
    token = store.change_token()
    other = _python(WRITER, backend_target, session.id, "7", "1")
    try:
        assert other.stdout.readline().strip() == "ready", other.stderr.read()
        assert store.change_token() == token  # a process opening the store commits nothing
        other.stdin.write("go\n")
        other.stdin.flush()
        out, err = other.communicate(timeout=120)
        assert other.returncode == 0, err
        deadline = time.monotonic() + 10
        while store.change_token() == token and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store.change_token() != token
        records = store.open_session(session.id).records()
        assert [r.kind for r in records] == ["message_added"] + ["message_added", "context_searched"] * 2 + ["message_added"]
        assert {r.actor.name for r in records} == {"writer 7"}
    finally:
        other.kill()
        store.close()


def test_every_event_records_its_actor_and_a_shared_store_its_user_and_host(backend_target):
    store = SessionStore(backend_target, linger=0)
    try:
        session = store.create_session("actors")
        session.add_message("user", "The harbour closes at noon.")
        session.actor = Actor.person("workbench")
        session.call_tool("search_context", {"query": "harbour"})
        session.call_tool("search_context", {"query": "noon"}, from_model=True)
        session.apply_policy()  # no policy: nothing, and nothing recorded
        kinds = [(r.actor.kind, r.actor.name) for r in store.open_session(session.id).records()]
        assert kinds == [("program", None), ("person", "workbench"), ("model", None)]
        users = {(r.actor.user, r.actor.host) for r in store.open_session(session.id).records()}
        if store.events.shared:
            [(user, host)] = users
            assert user and host and host == os.uname().nodename
        else:
            assert users == {(None, None)}
        exported = [json.loads(json.dumps(event, default=str)) for event in session.events()]
        assert [event["actor"]["kind"] for event in exported] == ["program", "person", "model"]
    finally:
        store.close()
