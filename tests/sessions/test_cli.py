"""`python -m sessions`, run as a user would: a real process, a real DuckDB file."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sessions.cli import build_parser

from tests.conftest import ROOT, long_text

COMMANDS = ["list", "new", "add", "import", "export", "show", "fork", "tool", "chat", "brakes", "reasoning", "check", "events", "mcp",
            "tasks", "memory", "copy"]


def run(*args, db=None, env_db=None, input_text=None):
    import os

    env = {**os.environ}
    env.pop("WORKBENCH_DB", None)
    if env_db is not None:
        env["WORKBENCH_DB"] = str(env_db)
    command = [sys.executable, "-m", "sessions", *([f"--db={db}"] if db else []), *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env, input=input_text, timeout=120)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    result = run(command, "--help")
    assert result.returncode == 0 and "usage: python -m sessions" in result.stdout
    assert len(result.stdout.splitlines()) >= 4


def test_the_parser_knows_exactly_these_commands():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command")
    assert sorted(subcommands.choices) == sorted(COMMANDS)


def test_a_whole_session_from_the_command_line(tmp_path):
    db = tmp_path / "cli.duckdb"
    session_id = run("new", "CLI demo", db=db).stdout.strip()
    assert len(session_id) == 12
    assert run("add", session_id, "user", "-", db=db, input_text=long_text(10)).stdout.strip() == "m1"
    fragmented = run("tool", session_id[:6], "fragment_context", "--args",
                     '{"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 4}', db=db)
    assert fragmented.returncode == 0, fragmented.stderr
    pieces = json.loads(fragmented.stdout)["fragments"]
    folded = run("tool", session_id, "fold_fragment", "--args", json.dumps({"fragment_id": pieces[1]["fragment_id"]}), db=db)
    assert json.loads(folded.stdout)["tokens_hidden"] == pieces[1]["tokens"]

    shown = run("show", session_id, db=db)
    assert shown.returncode == 0
    assert f"┌ {pieces[1]['fragment_id']} folded · {pieces[1]['tokens']:,} tokens" in shown.stdout
    assert f"[folded fragment {pieces[1]['fragment_id']}" in shown.stdout
    assert "── Token breakdown ──" in shown.stdout and "rendered" in shown.stdout
    earlier = run("show", session_id, "--at", "1", db=db)
    assert "folded" not in earlier.stdout.split("── Token breakdown ──")[0]
    as_json = json.loads(run("show", session_id, "--json", db=db).stdout)
    assert as_json["stats"]["folded_tokens"] == pieces[1]["tokens"]

    listed = run("list", db=db)
    assert "CLI demo" in listed.stdout and session_id in listed.stdout
    assert json.loads(run("list", "--json", db=db).stdout)[0]["events"] == 3

    out = tmp_path / "out.jsonl"
    assert run("export", session_id, "-o", str(out), db=db).returncode == 0
    imported = run("import", str(out), "--title", "copy", db=db)
    assert imported.returncode == 0 and "copy" in imported.stdout
    forked = run("fork", session_id, "--at", "2", db=db)
    assert forked.returncode == 0 and "fork at 2" in forked.stdout
    events = [json.loads(line) for line in run("events", session_id, db=db).stdout.splitlines()]
    assert [e["kind"] for e in events] == ["message_added", "context_fragmented", "fragment_folded"]


def test_workbench_db_environment_variable_picks_the_file(tmp_path):
    db = tmp_path / "env.duckdb"
    run("new", "via env", env_db=db)
    assert "via env" in run("list", db=db).stdout
    assert "via env" in run("list", env_db=db).stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["show", "nosuchsession"], "error: no session 'nosuchsession'"),
        (["tool", "SESSION", "fold_fragment", "--args", '{"fragment_id": "f000000"}'], "error: fold_fragment: no fragment 'f000000'"),
        (["tool", "SESSION", "fold_fragment", "--args", "{nope"], "error: fold_fragment: arguments are not valid JSON"),
        (["tool", "SESSION", "explode"], "error: explode: unknown tool 'explode'"),
        (["import", "MISSING"], "no such file"),
        (["export", "SESSION", "-o", "/nonexistent-folder/x.jsonl"], "does not exist"),
        (["show", "SESSION", "--at", "99"], "has events 1 to 1"),
        (["fork", "SESSION", "--at", "-1"], "cannot fork at -1"),
        (["add", "SESSION", "user", ""], None),
    ],
)
def test_errors_print_one_clear_line_and_exit_non_zero(tmp_path, args, expected):
    db = tmp_path / "errors.duckdb"
    session_id = run("new", "errors", db=db).stdout.strip()
    run("add", session_id, "user", "hello", db=db)
    args = [session_id if a == "SESSION" else str(tmp_path / "missing.json") if a == "MISSING" else a for a in args]
    result = run(*args, db=db)
    if expected is None:
        assert result.returncode == 0
        return
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_usage_errors_exit_2():
    result = run("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_terminal_escapes_in_messages_are_shown_not_executed(tmp_path):
    db = tmp_path / "escapes.duckdb"
    session_id = run("new", "escapes", db=db).stdout.strip()
    run("add", session_id, "user", "red \x1b[31mALERT\x1b[0m and a lone \udcff surrogate".encode("utf-8", "surrogateescape").decode("utf-8", "replace"), db=db)
    shown = run("show", session_id, db=db)
    assert shown.returncode == 0
    assert "\x1b" not in shown.stdout and "\\x1b[31mALERT" in shown.stdout


def test_an_unwritable_database_location_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("list", db=blocker / "sub" / "db.duckdb")
    assert result.returncode == 1 and "cannot create the folder" in result.stderr
    exported_json = tmp_path / "chat.json"
    exported_json.write_text('[{"role": "user", "content": "hi"}]')
    result = run("new", "lost?", db=exported_json)
    assert result.returncode == 1 and "is not a DuckDB database" in result.stderr
    assert exported_json.read_text() == '[{"role": "user", "content": "hi"}]'
    not_a_db = tmp_path / "text.duckdb"
    not_a_db.write_text("this is not a database")
    result = run("list", db=not_a_db)
    assert result.returncode == 1 and result.stderr.startswith("error: cannot open the database")
    assert len(result.stderr.strip().splitlines()) == 1


def test_show_prints_reasoning_in_full_and_in_json(tmp_path):
    from sessions import SessionStore

    db = tmp_path / "reasoning.duckdb"
    store = SessionStore(db, linger=0)
    session = store.create_session("thinking")
    session.add_message("user", "Which river?")
    session.add_message("assistant", "The Loire.", reasoning="Rivers mentioned: Loire only.\nSo: the Loire.")
    store.close()
    brief = run("show", session.id, db=db)
    assert brief.returncode == 0 and "┆ reasoning · " in brief.stdout and "(--full shows it)" in brief.stdout
    assert "Rivers mentioned" not in brief.stdout
    full = run("show", session.id, "--full", db=db)
    assert "┆ Rivers mentioned: Loire only.\n┆ So: the Loire." in full.stdout and "not sent back" in full.stdout
    document = json.loads(run("show", session.id, "--json", db=db).stdout)
    assert document["reasoning"] == [{"message_id": "m2", "text": "Rivers mentioned: Loire only.\nSo: the Loire.",
                                      "tokens": document["stats"]["reasoning_tokens"], "sent": False}]
    assert "reasoning_content" not in document["messages"][1]  # what the model is sent: not its reasoning
