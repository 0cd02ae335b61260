"""Two processes, one DuckDB file; a process killed mid-write loses nothing committed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from engine import StoreError, replay
from sessions import SessionStore

from tests.conftest import ROOT
from tests.sessions.test_file_locks import _locked

HOLD_LOCK = """
import sys, time
from sessions.database import Database
db = Database(sys.argv[1], linger=0)
with db.connect() as connection:
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""

HOLD_UNTIL_TOLD = """
import sys
from sessions.database import Database
db = Database(sys.argv[1], linger=0)
with db.connect() as connection:
    print("holding", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""


def _start(script: str, *args: str) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    assert process.stdout.readline().strip() in ("holding", "ready"), process.stderr.read()
    return process


def _queued(db) -> bool:
    """Whether some process waits for the file (holds the turnstile `<db>.wait`, see sessions/file_locks.py)."""
    return _locked(db, ".wait")


def test_a_lock_by_another_process_is_waited_out(tmp_path):
    db = tmp_path / "shared.duckdb"
    store = SessionStore(db, linger=0, lock_timeout=120)  # opened and closed before the other process holds it
    holder = _start(HOLD_UNTIL_TOLD, str(db))
    outcome = []

    def create():
        try:
            outcome.append(store.create_session("made while the other process held the file"))
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            outcome.append(error)

    waiter = threading.Thread(target=create)
    waiter.start()
    for _ in range(3000):  # the store queues up for the file: it had to wait (a bound, not a timing)
        if _queued(db) or not waiter.is_alive():
            break
        time.sleep(0.01)
    assert _queued(db) and outcome == [], outcome  # waiting, not failed, while the holder holds
    holder.stdin.write("release\n")
    holder.stdin.flush()
    assert holder.stdout.readline().strip() == "released"
    waiter.join(timeout=120)
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    session = outcome[0]
    assert session.add_message("user", "hello") == "m1"  # it got the file only after the holder let go
    assert holder.wait(timeout=60) == 0
    store.close()


def test_a_lock_that_stays_fails_with_one_line_naming_the_process(tmp_path):
    db = tmp_path / "held.duckdb"
    SessionStore(db, linger=0).close()
    holder = _start(HOLD_LOCK, str(db), "20")
    try:
        with pytest.raises(StoreError) as error:
            SessionStore(db, linger=0, lock_timeout=0.5)
        message = str(error.value)
        assert f"PID {holder.pid}" in message and "\n" not in message
        assert "--db" in message and "WORKBENCH_DB" in message
    finally:
        holder.kill()
        holder.wait()


APP_LIKE = """
import sys, time
from sessions import SessionStore
store = SessionStore(sys.argv[1])   # default linger, as the app has it
session = store.create_session("app session")
print("ready", flush=True)
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:        # an app re-rendering a page over and over
    store.list_sessions(); session.render(); session.stats()
    time.sleep(0.05)
"""


def _cli(db, *args):
    return subprocess.run([sys.executable, "-m", "sessions", "--db", str(db), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_the_cli_works_while_an_app_process_uses_the_same_file(tmp_path):
    db = tmp_path / "busy.duckdb"
    app = _start(APP_LIKE, str(db), "300")  # rendering over and over until killed below
    try:
        created = _cli(db, "new", "from the cli")
        assert created.returncode == 0, created.stderr
        session_id = created.stdout.strip()
        assert _cli(db, "add", session_id, "user", "text from the CLI").returncode == 0
        listed = _cli(db, "list")
        assert listed.returncode == 0 and "from the cli" in listed.stdout and "app session" in listed.stdout
        shown = _cli(db, "show", session_id)
        assert shown.returncode == 0 and "text from the CLI" in shown.stdout
        assert app.poll() is None, app.stderr.read()  # the app was there, using the file, all along
    finally:
        app.kill()
        app.wait()


WRITER = """
import json, sys
from sessions import SessionStore
store = SessionStore(sys.argv[1], linger=0)
session = store.create_session("crash test")
session.add_message("user", "the launch code is PELICAN. " * 200)
print("ready", flush=True)
turn = 0
while True:
    turn += 1
    arguments = json.dumps({"query": "pelican", "max_results": 3})
    session.run_model_tool_calls([
        {"id": f"a{turn}", "type": "function", "function": {"name": "search_context", "arguments": arguments}},
        {"id": f"b{turn}", "type": "function", "function": {"name": "fold_fragment", "arguments": "{}"}},
    ])
    print(session.last_seq, flush=True)
"""


def test_a_process_killed_mid_write_loses_no_committed_event_and_no_half_turn(tmp_path):
    db = tmp_path / "crash.duckdb"
    writer = _start(WRITER, str(db))
    committed = 0
    deadline = time.monotonic() + 30
    while committed < 40 and time.monotonic() < deadline:
        line = writer.stdout.readline()
        if line.strip().isdigit():
            committed = int(line)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    assert committed >= 40

    store = SessionStore(db, linger=0)
    [row] = store.list_sessions()
    session = store.open_session(row["id"])
    records = session.records()
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    assert len(records) >= committed  # nothing the writer saw committed is lost
    replay(r.event for r in records)  # the log still folds
    messages = session.state().messages
    for index, message in enumerate(messages):  # every turn is whole: each call has its answer
        if message.tool_calls:
            answers = [m.tool_call_id for m in messages[index + 1 : index + 1 + len(message.tool_calls)]]
            assert answers == [call["id"] for call in message.tool_calls]
    assert json.loads(messages[-1].content)  # the last message is a complete tool result
    session.add_message("user", "the store is still writable")
    store.close()
