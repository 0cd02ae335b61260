"""bench/stores.py at a tiny size, so it cannot rot: both stores side by side, on a throwaway server of
its own or on the one `--pg` names, and the password of `--pg` nowhere in what it prints or records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit

from tests.conftest import ROOT, bench_module

SCRIPT = str(ROOT / "bench" / "stores.py")
stores = bench_module("stores")


def _run(*flags: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, "--tokens", "3000", "--repeat", "2", "--synthetic", *flags],
                          capture_output=True, text=True, env=env, timeout=300)


def test_a_tiny_run_on_the_server_pg_names_prints_both_stores_and_records_no_password(tmp_path, pg_url):
    results = tmp_path / "RESULTS.md"
    env = {**os.environ, "WORKBENCH_RESULTS": str(results)}
    run = _run("--pg", pg_url, env=env)
    assert run.returncode == 0, run.stderr
    header, *lines = run.stdout.strip().splitlines()
    assert header.split() == ["DuckDB", "PostgreSQL"]
    for row in ("append: fold_fragment", "open_session, cold (no snapshot)", "search_context",
                "import_file (whole session, once)", "list_sessions",
                "another process's commit -> change_token moves"):
        [line] = [line for line in lines if line.startswith(row + "  ")]
        assert line.count("(n=") == 2, line  # a number for each store
    assert "open_session (snapshot)" in run.stdout  # "-" at this size: no snapshot below 5,000 events
    recorded = results.read_text(encoding="utf-8")
    assert "<!-- section:stores -->" in recorded and "- command: `./workbench bench-stores --tokens 3000" in recorded
    password = urlsplit(pg_url).password
    assert password and password not in recorded and password not in run.stdout + run.stderr
    assert stores.redact_url(pg_url) in recorded  # the server it ran on, without the password


def test_its_own_throwaway_server_and_json_and_no_record(tmp_path):
    results = tmp_path / "RESULTS.md"
    run = _run("--json", "--no-record", env={**os.environ, "WORKBENCH_RESULTS": str(results)})
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    assert list(found) == ["DuckDB", "PostgreSQL"]
    for store in found.values():
        assert store["messages"] == 1 and store["fragments"] == 20
        assert store["rows"]["append: add_message"]["n"] == 2
        assert store["rows"]["another process's commit -> change_token moves"]["n"] == 2
    assert not results.exists()


def test_wrong_options_say_what_to_give():
    env = {**os.environ, "WORKBENCH_PG_BIN": str(ROOT / "no-postgresql-here")}  # before any store is measured
    for flags, message in ((["--repeat", "0"], "--repeat must be 1 or more"),
                           (["--tokens", "ten"], "give a number of tokens"),
                           (["--pg", "mysql://me:secret@db/x"], "give a postgresql:// URL"),
                           (["--synthetic"], "holds no initdb, pg_ctl, postgres: install Debian's PostgreSQL")):
        bad = subprocess.run([sys.executable, SCRIPT, *flags], capture_output=True, text=True, env=env, timeout=120)
        assert bad.returncode == 2 and message in bad.stderr and "secret" not in bad.stderr, (flags, bad.stderr)
    argv = ["bench/stores.py", "--pg", "postgresql://u:pw12@h/d", "--pg=postgresql://u:pw12@h/e", "--repeat", "3"]
    assert stores._hidden_password_argv(argv) == [
        "bench/stores.py", "--pg", "postgresql://u@h/d", "--pg=postgresql://u@h/e", "--repeat", "3"]
