"""`python -m sessions copy --from SOURCE --to TARGET [SESSION...]`: sessions move between any two
stores (a DuckDB file, a PostgreSQL database) exactly, whole or not at all. The main paths run the
command as a user would (a subprocess); the failures that need a hand inside the process call
`copy_sessions` directly."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.parse

import pytest

from engine.errors import StoreError, WorkbenchError
from sessions import SessionStore
from sessions.copying import copy_sessions

from tests.conftest import ROOT, long_text, pg_database_name

ODD = "emoji 🧪👩🏽‍🔬, right to left: שלום עולם مرحبا, a lone surrogate: \ud800 and a combining e\u0301"
PAIRS = [("duckdb", "postgresql"), ("postgresql", "duckdb"), ("duckdb", "duckdb"), ("postgresql", "postgresql")]


@pytest.fixture
def make_target(tmp_path, pg_cluster, request):
    """`make_target(kind, name)`: the address of a new, empty store of that kind."""
    made: list[str] = []

    def make(kind: str, name: str) -> str:
        if kind == "duckdb":
            return str(tmp_path / f"{name}.duckdb")
        database = pg_database_name(f"{request.node.nodeid}::{name}")
        made.append(database)
        return pg_cluster.create_database(database)

    yield make
    for database in made:
        pg_cluster.drop_database(database)


def run(*args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "WORKBENCH_DB"}
    return subprocess.run([sys.executable, "-m", "sessions", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=180)


def seed(target: str, tmp_path) -> list[str]:
    """A rich session (messages, fragments folded and restored, searches by a person and a model),
    a fork of it that went on, and an imported copy of its trace; their ids, oldest first."""
    store = SessionStore(target, linger=0)
    try:
        rich = store.create_session("rich ✨ שלום")
        rich.add_message("system", "You are terse.")
        rich.add_message("user", long_text(9))
        rich.add_message("user", ODD)
        pieces = rich.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.",
                                                     "num_fragments": 3})["fragments"]
        rich.call_tool("fold_fragment", {"fragment_id": pieces[0]["fragment_id"]})
        rich.call_tool("fold_fragment", {"fragment_id": pieces[1]["fragment_id"]})
        rich.call_tool("restore_fragment", {"fragment_id": pieces[0]["fragment_id"]})
        rich.call_tool("search_context", {"query": "committee"})
        rich.run_model_tool_calls([{"id": "c1", "type": "function",
                                    "function": {"name": "search_context", "arguments": '{"query": "budget"}'}}])
        fork = rich.fork(at=5, title="the fork 🍴")
        fork.add_message("assistant", "The fork goes its own way: ‏עברית‏ " + ODD)
        trace = rich.export(tmp_path / f"trace-{len(os.listdir(tmp_path))}.jsonl")
        imported = store.import_session(trace, title="imported back")
        return [rich.id, fork.id, imported.id]
    finally:
        store.close()


def assert_same(source_target: str, copy_target: str, ids: list[str]) -> None:
    source, copy = SessionStore(source_target, linger=0), SessionStore(copy_target, linger=0)
    try:
        for session_id in ids:
            assert copy.events.session_row(session_id) == source.events.session_row(session_id)
            before, after = source.events.load(session_id), copy.events.load(session_id)
            assert len(after) == len(before) > 0
            for one, other in zip(before, after):  # seq, ts, kind, payload_json, actor_json
                assert (one.seq, one.ts, one.kind, one.payload_json, one.actor_json) == (
                    other.seq, other.ts, other.kind, other.payload_json, other.actor_json)
            original, copied = source.open_session(session_id), copy.open_session(session_id)
            assert copied.render() == original.render()
            assert copied.stats() == original.stats()
            assert copied.replay_error is None
    finally:
        source.close()
        copy.close()


def events_of(target: str, session_id: str) -> list:
    store = SessionStore(target, linger=0)
    try:
        return store.events.load(session_id)
    finally:
        store.close()


def shown(target: str) -> str:
    store = SessionStore(target, linger=0)
    try:
        return store.path
    finally:
        store.close()


def ids_in(target: str) -> list[str]:
    store = SessionStore(target, linger=0)
    try:
        return sorted(row["id"] for row in store.list_sessions())
    finally:
        store.close()


@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS, ids=[f"{a}-to-{b}" for a, b in PAIRS])
def test_every_session_is_copied_exactly(make_target, tmp_path, source_kind, target_kind):
    source, target = make_target(source_kind, "source"), make_target(target_kind, "target")
    ids = seed(source, tmp_path)
    result = run("copy", "--from", source, "--to", target)
    assert result.returncode == 0, result.stderr
    assert ids_in(target) == sorted(ids)
    assert_same(source, target, ids)

    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(ids) + 1
    for session_id in ids:
        assert sum(session_id in line for line in lines[:-1]) == 1
    total = sum(len(events_of(source, i)) for i in ids)
    shown_source, shown_target = shown(source), shown(target)
    assert lines[-1] == f"Copied 3 sessions ({total:,} events) from {shown_source} to {shown_target}."
    assert "rich ✨ שלום" in result.stdout

    # the odd text came through as it was written, lone surrogate included
    copy = SessionStore(target, linger=0)
    try:
        contents = [message["content"] for message in copy.open_session(ids[0]).render()]
        assert ODD in contents
        assert copy.events.session_row(ids[1]).forked_from == ids[0]
        assert copy.events.session_row(ids[2]).imported_from is not None
    finally:
        copy.close()


@pytest.mark.parametrize(("source_kind", "target_kind"), PAIRS[:2], ids=["duckdb-to-postgresql", "postgresql-to-duckdb"])
def test_sessions_named_by_prefix_are_the_only_ones_copied(make_target, tmp_path, source_kind, target_kind):
    source, target = make_target(source_kind, "source"), make_target(target_kind, "target")
    rich, fork, imported = seed(source, tmp_path)
    result = run("copy", "--from", source, "--to", target, rich[:6], imported[:5])
    assert result.returncode == 0, result.stderr
    assert ids_in(target) == sorted([rich, imported])
    assert fork not in result.stdout and rich in result.stdout and imported in result.stdout
    assert result.stdout.strip().splitlines()[-1].startswith("Copied 2 sessions (")
    assert_same(source, target, [rich, imported])


@pytest.mark.parametrize("target_kind", ["duckdb", "postgresql"])
def test_a_target_holding_one_of_the_ids_gets_nothing(make_target, tmp_path, target_kind):
    source, target = make_target("duckdb", "source"), make_target(target_kind, "target")
    rich, fork, imported = seed(source, tmp_path)
    first = run("copy", "--from", source, "--to", target, fork)
    assert first.returncode == 0, first.stderr
    before = ids_in(target)
    events_before = len(events_of(target, fork))

    result = run("copy", "--from", source, "--to", target)  # rich (copied first), then fork: taken
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and f"already holds session {fork}" in line and "nothing was copied" in line
    assert "Traceback" not in result.stderr
    assert ids_in(target) == before == [fork]  # rich, written before the clash, was rolled back too
    assert len(events_of(target, fork)) == events_before


@pytest.mark.parametrize("target_kind", ["duckdb", "postgresql"])
def test_an_unknown_id_copies_nothing(make_target, tmp_path, target_kind):
    source, target = make_target("duckdb", "source"), make_target(target_kind, "target")
    rich, _, _ = seed(source, tmp_path)
    result = run("copy", "--from", source, "--to", target, rich, "nosuchsession")
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: no session 'nosuchsession'") and "Traceback" not in line
    assert ids_in(target) == []


@pytest.mark.parametrize("source_kind, target_kind", PAIRS[:2], ids=["duckdb-to-postgresql", "postgresql-to-duckdb"])
def test_a_source_that_fails_mid_read_copies_nothing(make_target, pg_cluster, tmp_path, source_kind, target_kind):
    source_target, target_target = make_target(source_kind, "source"), make_target(target_kind, "target")
    ids = seed(source_target, tmp_path)
    source, target = SessionStore(source_target, linger=0), SessionStore(target_target, linger=0)
    database = urllib.parse.urlsplit(source_target).path.lstrip("/") if source_kind == "postgresql" else None
    try:
        real_load = source.events.load
        loads: list[str] = []

        def load_then_lose_the_source(session_id, after=0, upto=None):
            loads.append(session_id)
            events = real_load(session_id, after, upto)
            if len(loads) == 1:  # the source really goes away after the first session is read
                if database is not None:
                    pg_cluster.sql(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS false')
                    pg_cluster.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                                   [database])
                else:
                    os.replace(source_target, f"{source_target}.moved")
            return events

        source.events.load = load_then_lose_the_source
        with pytest.raises(StoreError):
            copy_sessions(source, target, ids)
        assert loads == ids[:1]  # the first session was read (and written), the next read failed
        assert target.list_sessions() == []  # and the target holds nothing of it
    finally:
        source.close()
        target.close()
    if database is not None:
        pg_cluster.sql(f'ALTER DATABASE "{database}" WITH ALLOW_CONNECTIONS true')
    else:
        os.replace(f"{source_target}.moved", source_target)
    source, target = SessionStore(source_target, linger=0), SessionStore(target_target, linger=0)
    try:
        report = copy_sessions(source, target, ids)  # nothing half-done stands in the way
        assert [row["id"] for row in report.sessions] == ids
    finally:
        source.close()
        target.close()
    assert_same(source_target, target_target, ids)


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_the_same_store_on_both_sides_is_refused(make_target, tmp_path, kind):
    source = make_target(kind, "source")
    seed(source, tmp_path)
    spellings = [source]
    if kind == "duckdb":
        # the same file, named other ways: through "." and relative to the command's folder
        spellings += [f"{tmp_path}/./source.duckdb", os.path.relpath(source, ROOT)]
    for other in spellings:
        result = run("copy", "--from", source, "--to", other)
        assert result.returncode == 1, result.stdout
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("error: --from and --to are the same store") and "give another --to" in line
        assert len(ids_in(source)) == 3


def test_a_copy_of_nothing_says_so(make_target):
    source, target = make_target("duckdb", "empty"), make_target("postgresql", "target")
    SessionStore(source, linger=0).close()
    result = run("copy", "--from", source, "--to", target)
    assert result.returncode == 1 and "holds no sessions: nothing to copy" in result.stderr
    empty, other = SessionStore(source, linger=0), SessionStore(target, linger=0)
    try:
        with pytest.raises(WorkbenchError, match="nothing to copy"):
            copy_sessions(empty, other)
    finally:
        empty.close()
        other.close()


def test_two_stores_in_memory_are_two_stores(tmp_path):
    source, target = SessionStore(":memory:"), SessionStore(":memory:")
    session = source.create_session("in memory")
    session.add_message("user", ODD)
    report = copy_sessions(source, target, [session.id[:4]])
    assert [row["id"] for row in report.sessions] == [session.id]
    assert target.events.load(session.id) == source.events.load(session.id)
    assert target.open_session(session.id).render() == session.render()
