"""`python -m sessions import`, run as a user would: the report, the flags, the progress bar, the errors."""

from __future__ import annotations

import gzip
import json

from tests.sessions.test_cli import run

CHAT = [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "<think>greet back</think>hi"}]


def test_the_report_says_what_was_found_and_made(tmp_path):
    path = tmp_path / "chat.json.gz"
    path.write_bytes(gzip.compress(json.dumps(CHAT).encode()))
    done = run("import", str(path), db=tmp_path / "w.duckdb")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:4] == ["chat.json.gz: OpenAI chat messages (openai)", "  sessions made: 1 session",
                         "  messages: 2 (1 assistant, 1 user)",
                         "  tool calls: 0, tool results: 0, reasoning parts: 1, attachments kept aside: 0"]
    session_id, title = lines[-1].split("  ")
    assert title == "chat" and len(session_id) == 12
    listed = run("list", "--json", db=tmp_path / "w.duckdb")
    assert [row["title"] for row in json.loads(listed.stdout)] == ["chat"]


def test_skip_invalid_and_json_report(tmp_path):
    records = [{"title": "good", "messages": CHAT}, {"title": "bad", "messages": [{"role": "robot", "content": "x"}]}]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    refused = run("import", str(path), db=tmp_path / "w.duckdb")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: two.json (OpenAI chat messages): 1 bad record:\n  - record [1] messages [0]")
    assert json.loads(run("list", "--json", db=tmp_path / "w.duckdb").stdout) == []
    done = run("import", str(path), "--skip-invalid", "--json", db=tmp_path / "w.duckdb")
    [file] = json.loads(done.stdout)["files"]
    assert [s["title"] for s in file["sessions"]] == ["good"] and file["skipped"][0].startswith("record [1] messages [0]")


def test_a_forced_format_and_an_unknown_one(tmp_path):
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(CHAT), encoding="utf-8")
    forced = run("import", str(path), "--format", "jsonl", db=tmp_path / "w.duckdb")
    assert forced.returncode == 1 and "line 1: an event needs" in forced.stderr
    unknown = run("import", str(path), "--format", "word", db=tmp_path / "w.duckdb")
    assert unknown.returncode == 2 and "invalid choice: 'word'" in unknown.stderr


def test_a_large_file_shows_a_progress_bar_on_stderr(tmp_path):
    path = tmp_path / "big.json"
    path.write_text(json.dumps([{"role": "user", "content": "words " * 200}] * 6000), encoding="utf-8")  # ~7 MB
    done = run("import", str(path), db=tmp_path / "w.duckdb")
    assert done.returncode == 0, done.stderr
    bars = [line for line in done.stderr.splitlines() if line.startswith("big.json: [")]
    percents = [int(line.split("]")[1].split("%")[0]) for line in bars]
    assert len(percents) >= 5 and percents == sorted(set(percents)) and percents[-1] == 100
    assert bars[-1].startswith("big.json: [" + "#" * 30 + "] 100%")
    assert "messages: 6,000 (6,000 user)" in done.stdout


def test_a_file_no_format_takes_exits_1_with_the_reasons(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("just some notes", encoding="utf-8")
    done = run("import", str(path), db=tmp_path / "w.duckdb")
    assert done.returncode == 1 and done.stderr.startswith("error: notes.txt: matches no format the workbench reads.")


def test_a_title_that_would_reorder_the_terminal_is_shown_escaped(tmp_path):
    path = tmp_path / "rtl.json"
    path.write_text(json.dumps([{"title": "invoice\u202egnp.exe", "messages": CHAT}]), encoding="utf-8")
    done = run("import", str(path), db=tmp_path / "w.duckdb")
    assert "invoice\\u202egnp.exe" in done.stdout and "\u202e" not in done.stdout
