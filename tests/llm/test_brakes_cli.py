"""The brakes from the command line, as a user runs them: real processes, a real DuckDB file and
a real OpenAI-compatible server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

REASONING = ("We need 17 + 25.\n\n17 + 25 = 42, so the answer is 42.\n\n"
             "Wait, let me check: 25 + 17 is 42 as well. The answer is 42.\n\n"
             "TAIL Hmm, but maybe I should recount the digits.\n\nDone.")


def run(db, *args):
    env = {key: value for key, value in os.environ.items() if key != "WORKBENCH_DB"}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return subprocess.run([sys.executable, "-m", "sessions", f"--db={db}", *args], cwd=ROOT, capture_output=True,
                          text=True, env=env, timeout=180)


def test_brake_settings_change_on_the_command_line_and_bad_ones_are_explained(tmp_path):
    db = tmp_path / "b.duckdb"
    session = run(db, "new", "brakes").stdout.strip()
    changed = run(db, "brakes", session, "--mode", "observe", "--budget", "4000", "--set", "answer_certain=true", "--json")
    assert changed.returncode == 0, changed.stderr
    settings = json.loads(changed.stdout)
    assert settings["mode"] == "observe" and settings["thinking_budget"] == 4000 and settings["answer_certain"] is True
    shown = run(db, "brakes", session).stdout
    assert "thinking_budget        4000\n" in shown and "repeat_limit           3   (default)" in shown
    for args, words in ((["--set", "mode=sometimes"], "brake mode must be"), (["--detectors", "settled,wat"], "'wat'"),
                        (["--set", "oops"], "KEY=VALUE"), (["--budget", "3"], "brakes.thinking_budget")):
        failed = run(db, "brakes", session, *args)
        assert failed.returncode == 1 and words in failed.stderr, (args, failed.stderr)
    assert json.loads(run(db, "brakes", session, "--reset", "--detectors", "none", "--json").stdout)["detectors"] == []
    assert "no assistant reply has reasoning" in run(db, "reasoning", session).stderr


def test_chat_reports_the_brake_and_reasoning_prints_the_timeline(tmp_path, openai_server):
    db = tmp_path / "c.duckdb"
    session = run(db, "new", "chat").stdout.strip()
    openai_server.replies = [{"reasoning_content": REASONING, "content": "42"}, {"content": "It is 42."}]
    chat = run(db, "chat", session, "What is 17 + 25?", "--model", "openai/reasoner", "--api-base", openai_server.url)
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.strip() == "It is 42."
    assert "[brake] settled cut the reasoning after step 3 (score 0.31, threshold 0.2)" in chat.stderr
    assert "saved (estimated)" in chat.stderr
    timeline = run(db, "reasoning", session)
    assert timeline.returncode == 0, timeline.stderr
    lines = timeline.stdout.splitlines()
    assert lines[0].startswith("m2 · 4 steps") and "latest answer 42, first reached in step 2" in lines[0]
    assert any(line.startswith("■ settled cut the reasoning after step 3") for line in lines)
    assert any("#2" in line and "◆ first reached" in line for line in lines)
    assert "(brake text)" in lines[-2]
    assert lines[-2].startswith("·") and "Wait, I've gotten the same answer" in lines[-2]  # the brake text, after the cut
    as_json = json.loads(run(db, "reasoning", session, "--json").stdout)
    assert as_json["brakes"][0]["detector"] == "settled" and [s["after_brake"] for s in as_json["steps"]] == [False, False, False, True]
    before = run(db, "reasoning", session, "--at", "2")
    assert before.returncode == 1  # the reply did not exist yet


def test_a_brake_with_no_threshold_and_an_observed_tool_loop_print_cleanly(tmp_path):
    from engine.brakes.events import BrakeApplied
    from sessions import SessionStore

    db = tmp_path / "n.duckdb"
    store = SessionStore(str(db))
    session = store.create_session("odd brakes")
    session.add_message("user", "q")
    message_id = session.add_message("assistant", "a", reasoning="the answer is 1.\n\nthe answer is 1.")
    session.record([BrakeApplied(detector="settled", action="stopped_reasoning", score=0.4, threshold=None,
                                 message_id=message_id, step=0, reasoning_chars=16, tokens_generated=5),
                    BrakeApplied(detector="tool_loop", mode="observe", action="observed", score=1.0, threshold=1.0,
                                 message_id=message_id, evidence=[{"note": "read_file called 3 times"}])])
    store.close()
    shown = run(db, "reasoning", session.id)
    assert shown.returncode == 0, shown.stderr
    assert "settled cut the reasoning after step 1 (score 0.40): 5 thinking tokens" in shown.stdout
    assert run(db, "brakes", session.id, "--detectors", "").returncode == 1
    assert json.loads(run(db, "brakes", session.id, "--set", "detectors=settled,tool_loop", "--json").stdout)["detectors"] == \
        ["settled", "tool_loop"]
