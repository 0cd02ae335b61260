"""The store's change token: it moves with every commit, of this process or another, stays put
for reads, and lets `Workbench.latest` answer an idle poll without opening DuckDB."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import sessions.database as database
from sessions import SessionStore
from sessions.service import Workbench
from sessions.stores.duckdb import DuckDBEventStore
from tests.conftest import ROOT


def _fold_elsewhere(db, session_id: str, fragment_id: str) -> None:
    """Another process folds a fragment, as an MCP server or the CLI would."""
    subprocess.run([sys.executable, "-m", "sessions", "--db", str(db), "tool", session_id, "fold_fragment",
                    "--args", json.dumps({"fragment_id": fragment_id})],
                   cwd=ROOT, env={**os.environ}, check=True, capture_output=True, timeout=120)


def test_the_token_moves_with_each_commit_and_not_with_reads(tmp_path):
    store = SessionStore(tmp_path / "t.duckdb", linger=0)
    session = store.create_session("tokens")
    first = store.change_token()
    session.add_message("user", "one")
    second = store.change_token()
    assert second != first
    store.list_sessions()
    store.open_session(session.id).events()
    assert store.change_token() == second  # reads leave the file and its log alone
    lingering = SessionStore(tmp_path / "t.duckdb", linger=30)  # the connection stays open: commits go to the .wal
    kept = lingering.open_session(session.id)
    tokens = {store.change_token()}
    for text in ("two", "three"):
        kept.add_message("user", text)
        tokens.add(store.change_token())
    assert len(tokens) == 3
    lingering.close()
    store.close()


def test_the_memory_store_counts_its_commits(store):
    session = store.create_session("in memory")
    before = store.change_token()
    session.add_message("user", "hello")
    assert store.change_token() != before
    after = store.change_token()
    store.list_sessions()
    assert store.change_token() == after


def test_an_idle_poll_is_a_stat_and_another_process_s_fold_is_seen(tmp_path, monkeypatch):
    db = tmp_path / "poll.duckdb"
    service = Workbench(db)
    session = service.create_session("followed")
    message_id = session.add_message("user", "Start.\nSome text to fold.\nEnd.")
    fragment_id = session.state().message(message_id).fragments[0].id
    service.store.close()
    last, token = service.latest(session.id, None)
    assert last == session.last_seq
    service.store.close()  # no connection left lingering: a read now would have to open one
    opened, loads = [], []
    real, load = database.duckdb.connect, DuckDBEventStore.load
    monkeypatch.setattr(database.duckdb, "connect", lambda *a, **k: opened.append(a) or real(*a, **k))
    monkeypatch.setattr(DuckDBEventStore, "load", lambda self, *a, **k: loads.append(a) or load(self, *a, **k))
    for _ in range(5):
        assert service.latest(session.id, token) == (last, token)
    assert opened == [] and loads == []  # nothing new: never opened, never read
    _fold_elsewhere(db, session.id, fragment_id)
    moved, newer = service.latest(session.id, token)
    assert newer != token and moved == last + 1 and len(opened) == 1 and len(loads) == 1
    assert session.state().fragment(fragment_id).status == "folded"
    service.store.close()
