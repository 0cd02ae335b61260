"""`tasks` and `memory` on the command line (issue 10): a real process on a real DuckDB file,
the graphs changed through `tool` as a person would, read back now and at an earlier step."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def run(db, *args):
    command = [sys.executable, "-m", "sessions", f"--db={db}", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def tool(db, session, name, **arguments):
    result = run(db, "tool", session, name, "--args", json.dumps(arguments))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tasks_and_memory_read_back_what_the_tools_made(tmp_path):
    db = tmp_path / "cli.duckdb"
    session = run(db, "new", "plans").stdout.strip()
    flights = tool(db, session, "add_task", title="book flights")["task_id"]
    tool(db, session, "add_task", title="book hotel", depends_on=[flights])
    tasks = run(db, "tasks", session)
    assert tasks.returncode == 0
    assert tasks.stdout.splitlines()[0] == "0 of 2 done, 0 active, 1 blocked"
    assert f"waits for {flights}" in tasks.stdout
    assert f"ready: {flights}" in tasks.stdout
    as_json = json.loads(run(db, "tasks", session, "--json").stdout)
    assert as_json["ready"] == [flights] and len(as_json["critical_path"]) == 2

    fact = tool(db, session, "memory_insert", memory_type="semantic", content="Ada sails on Sundays",
                entities=["Ada"])["memory_id"]
    tool(db, session, "memory_insert", memory_type="core", content="User: Ada.")
    tool(db, session, "memory_delete", memory_id=fact)
    listed = run(db, "memory", session)
    assert listed.stdout.splitlines()[0].startswith("core memory (") and "User: Ada." in listed.stdout
    assert fact not in listed.stdout and "0 memories + core memory, 1 deleted or merged" in listed.stdout
    assert f"{fact}  semantic  Ada sails on Sundays  (Ada) [deleted]" in run(db, "memory", session, "--all").stdout
    events = [json.loads(line) for line in run(db, "events", session).stdout.splitlines()]
    deleted_at = next(e["seq"] for e in events if e["kind"] == "memory_deleted")
    earlier = json.loads(run(db, "memory", session, "--at", str(deleted_at - 1), "--json").stdout)
    assert [m["memory_id"] for m in earlier["memories"] if m["status"] == "live"] == [fact, "core"]
    tool(db, session, "memory_restore", memory_id=fact)
    found = run(db, "memory", session, "--search", "sailing sunday")
    assert found.returncode == 0 and found.stdout.splitlines()[1].split()[1] == fact
    assert "live memories only" in run(db, "memory", session, "--search", "sailing", "--all").stderr
    shown = run(db, "show", session).stdout
    assert "── core memory · system ·" in shown and shown.index("User: Ada.") < shown.index("── Token breakdown ──")
    assert "core memory " in shown.split("── Token breakdown ──")[1]


def test_bad_requests_say_what_was_wrong(tmp_path):
    db = tmp_path / "cli.duckdb"
    session = run(db, "new", "empty").stdout.strip()
    assert run(db, "tasks", session).stdout.strip() == "no tasks yet"
    empty = run(db, "memory", session, "--search", "the of")
    assert empty.returncode == 1 and "only common words" in empty.stderr
    outside = run(db, "memory", session, "--at", "50")
    assert outside.returncode == 1 and "outside the session" in outside.stderr
    assert run(db, "memory", "nosuchsession").returncode == 1
