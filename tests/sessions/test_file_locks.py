"""Kernel locks beside the DuckDB file: real processes holding, waiting, dying and queueing.

The protocol (see sessions/database.py): `<db>.lock` is held exclusively by the process
with the connection open; `<db>.wait` is held shared by each process that waits for it.
These tests look at those two files only through `flock`, as another process would.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from engine import StoreError
from sessions import SessionStore
from sessions.database import Database

from tests.conftest import ROOT

HOLDER = """
import sys
from sessions.database import Database
db = Database(sys.argv[1], linger=0)
with db.transaction() as connection:   # killed here, it dies mid-write
    connection.execute("CREATE TABLE IF NOT EXISTS notes (text VARCHAR)")
    connection.execute("INSERT INTO notes VALUES ('never committed')")
    print("holding", flush=True)
    sys.stdin.readline()
print("released", flush=True)
sys.stdin.readline()
"""

WAITER = """
import sys
from sessions.database import Database
print("started", flush=True)
Database(sys.argv[1], lock_timeout=120)
print("opened", flush=True)
"""

FOREIGN_HOLDER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])   # plain DuckDB: knows nothing of our lock files
print("holding", flush=True)
sys.stdin.readline()
"""

APPENDER = """
import sys
from sessions import SessionStore
store = SessionStore(sys.argv[1], lock_timeout=120)   # the default linger, as the app and CLI have it
session = store.open_session(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for n in range(int(sys.argv[4])):
    session.add_message("user", f"{sys.argv[3]} says {n}")
store.close()
"""

OPEN_AND_REPORT = """
import os, sys
from engine import StoreError
from sessions.database import Database
if sys.argv[2:] == ["as-nobody"]:   # root writes through any mode: drop to nobody, imports done
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
try:
    Database(sys.argv[1], lock_timeout=0.2)
    print("opened")
except StoreError as error:
    print("StoreError:", error)
"""


def _start(script: str, *args: str, expect: str = "holding", **options) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, **options,
    )
    line = process.stdout.readline().strip()
    assert line == expect, process.stderr.read()
    return process


def _locked(path: Path, suffix: str) -> bool:
    """Whether some open file (any process, this one included) holds a lock on `<db><suffix>`."""
    try:
        fd = os.open(f"{path}{suffix}", os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _until(condition, what: str, process: subprocess.Popen | None = None) -> None:
    """Wait for an event another process causes; a generous bound only turns a hang into a failure."""
    for _ in range(3000):
        if condition():
            return
        if process is not None and process.poll() is not None:
            pytest.fail(f"the process ended before {what}: {process.stderr.read()}")
        threading.Event().wait(0.01)
    pytest.fail(f"never saw {what}")


def _leftovers(db: Path) -> set[str]:
    return {entry.name for entry in db.parent.iterdir()} - {db.name, f"{db.name}.lock", f"{db.name}.wait"}


def test_a_holder_killed_mid_write_leaves_nothing_that_slows_the_next_process(tmp_path):
    db = tmp_path / "killed.duckdb"
    holder = _start(HOLDER, str(db))
    assert _locked(db, ".lock")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert not _locked(db, ".lock")
    fresh = Database(db, linger=0, lock_timeout=0)  # one attempt: any lock left behind would fail here
    with fresh.connect() as connection:
        assert connection.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'notes'").fetchone() == (0,)
    fresh.close()
    assert _leftovers(db) == set()


def test_a_waiter_killed_mid_wait_leaves_nothing_that_slows_the_next_process(tmp_path):
    db = tmp_path / "waited.duckdb"
    holding = Database(db, linger=60)
    with holding.connect():
        waiter = _start(WAITER, str(db), expect="started")
        _until(lambda: _locked(db, ".wait"), "the waiter queue up", waiter)
        os.kill(waiter.pid, signal.SIGKILL)
        waiter.wait()
        assert not _locked(db, ".wait")
    # Finishing an operation with a live waiter would make us close and step aside at once;
    # the dead one must not: we still hold the file, lingering.
    assert _locked(db, ".lock")
    holding.close()
    assert not _locked(db, ".lock")
    Database(db, linger=0, lock_timeout=0).close()
    assert _leftovers(db) == set()


def test_eight_processes_appending_at_once_lose_nothing(tmp_path):
    db = tmp_path / "crowded.duckdb"
    store = SessionStore(db, linger=0)
    session_id = store.create_session("crowded").id
    writers, count = 8, 15
    processes = [_start(APPENDER, str(db), session_id, f"p{n}", str(count), expect="ready") for n in range(writers)]
    for process in processes:  # all of them at once
        process.stdin.write("go\n")
        process.stdin.flush()
    for process in processes:
        process.stdin.close()
        assert process.wait(timeout=300) == 0, process.stderr.read()
    session = store.open_session(session_id)
    records = session.records()
    assert [record.seq for record in records] == list(range(1, writers * count + 1))
    texts = [message.content for message in session.state().messages]
    assert sorted(texts) == sorted(f"p{n} says {m}" for n in range(writers) for m in range(count))
    for n in range(writers):  # each process's messages in the order it wrote them
        assert [t for t in texts if t.startswith(f"p{n} ")] == [f"p{n} says {m}" for m in range(count)]
    store.close()
    assert _leftovers(db) == set()


def _unwritable_folder(tmp_path: Path):
    """A folder holding one database, that the test's child process cannot write; and the child's flag."""
    if os.geteuid() != 0:
        folder, extra = tmp_path / "read-only", []
        folder.mkdir()
    else:  # the child drops to `nobody`, in a folder that root owns and nobody can reach
        folder, extra = Path(tempfile.mkdtemp(prefix="workbench-read-only-")), ["as-nobody"]
    Database(folder / "existing.duckdb", linger=0).close()
    folder.chmod(0o555)
    return folder, extra


def test_an_unwritable_folder_is_one_line_naming_what_to_do(tmp_path):
    folder, extra = _unwritable_folder(tmp_path)

    def open_in_child(db: Path) -> str:
        result = subprocess.run([sys.executable, "-c", OPEN_AND_REPORT, str(db), *extra], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert len(result.stdout.strip().splitlines()) == 1, result.stdout
        return result.stdout.strip()

    try:
        # a new database: not even the lock file can be made
        new = open_in_child(folder / "new.duckdb")
        assert new.startswith("StoreError: cannot create the lock file") and "--db" in new and "WORKBENCH_DB" in new
        assert not (folder / "new.duckdb").exists()
        # an existing database (and its lock file) that the child may read but not write
        existing = open_in_child(folder / "existing.duckdb")
        assert existing.startswith("StoreError: cannot open the database") and "--db" in existing
    finally:
        folder.chmod(0o755)
        if extra:
            shutil.rmtree(folder)


def test_a_file_held_by_one_of_ours_past_the_wait_is_one_line_naming_it(tmp_path):
    db = tmp_path / "held.duckdb"
    holder = _start(HOLDER, str(db))
    try:
        with pytest.raises(StoreError) as error:
            Database(db, lock_timeout=0.3)
        message = str(error.value)
        assert "\n" not in message and f"PID {holder.pid}" in message and "stayed locked for 0.3 s" in message
        assert "close that process" in message and "--db" in message and "WORKBENCH_DB" in message
        assert not _locked(db, ".wait")  # the failed waiter left the queue
    finally:
        holder.kill()
        holder.wait()


def test_a_file_held_by_plain_duckdb_past_the_wait_is_one_line_naming_it(tmp_path):
    db = tmp_path / "foreign.duckdb"
    Database(db, linger=0).close()
    holder = _start(FOREIGN_HOLDER, str(db))
    try:
        with pytest.raises(StoreError) as error:
            Database(db, lock_timeout=0.3)
        message = str(error.value)
        assert "\n" not in message and f"(PID {holder.pid})" in message  # as DuckDB reports it
        assert "--db" in message and "WORKBENCH_DB" in message
        assert not _locked(db, ".lock")  # we did not keep our lock while DuckDB refused us
    finally:
        holder.kill()
        holder.wait()
    Database(db, linger=0, lock_timeout=0).close()


def test_threads_wait_for_the_file_without_holding_up_the_rest_of_the_process(tmp_path):
    db = tmp_path / "threads.duckdb"
    store = Database(db, linger=0, lock_timeout=120)
    holder = _start(HOLDER, str(db))
    results: list = []

    def use():
        with store.connect() as connection:
            results.append(connection.execute("SELECT 42").fetchone()[0])

    first, second = threading.Thread(target=use), threading.Thread(target=use)
    first.start()
    _until(lambda: _locked(db, ".wait"), "the first thread queue up")
    second.start()
    closing = threading.Thread(target=store.close)  # it would block on a lock held while waiting
    closing.start()
    closing.join(timeout=60)
    assert not closing.is_alive() and results == []
    holder.stdin.write("release\n")
    holder.stdin.flush()
    first.join(timeout=120)
    second.join(timeout=120)
    assert results == [42, 42]
    holder.kill()
    holder.wait()
    store.close()


EXIT_WHILE_LINGERING = """
import sys, time
from sessions import SessionStore
store = SessionStore(sys.argv[1])  # the default linger: a background thread closes the file after it
store.create_session("x").add_message("user", "hi")
time.sleep(float(sys.argv[2]))  # exit around the moment that thread closes the connection
"""


def test_exiting_while_the_file_is_being_closed_in_the_background_exits_cleanly(tmp_path):
    """A process exiting while its linger thread is inside DuckDB's close was aborted by the C++
    runtime (exit status 134); the store now closes its files before the interpreter goes."""
    from sessions.database import DEFAULT_LINGER

    for step in range(13):  # sweep across the moment of closing; without the fix some of these abort
        db = tmp_path / f"exit-{step}.duckdb"
        pause = DEFAULT_LINGER - 0.02 + 0.01 * step
        exited = subprocess.run([sys.executable, "-c", EXIT_WHILE_LINGERING, str(db), str(pause)], cwd=ROOT,
                                capture_output=True, text=True, timeout=60)
        assert exited.returncode == 0, (pause, exited.returncode, exited.stderr[-300:])
