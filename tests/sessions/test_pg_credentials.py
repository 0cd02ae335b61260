"""PostgreSQL credentials: the password comes from the URL, PGPASSWORD or a .pgpass file, and is
never shown (not in an address, an error, the CLI, help, MCP config, events, exports or the
store's own tables). A viewer's read-only role sees sessions and is refused every change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import uuid

import duckdb
import pytest

from engine.errors import StoreError
from sessions import SessionStore
from sessions.copying import copy_sessions
from sessions.exporting import export_session

from tests.conftest import ROOT, long_text
from tests.pg_cluster import free_port

PASSWORD = "s3cr:t/p@ss wörd%20#?&=+\\x"  # every character a URL or .pgpass must escape
WRONG = "wr0ng:p@ss/wörd%zz"
VIEWER_SQL = """
GRANT CONNECT ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT ON sessions, events, _migrations TO {role};
"""  # what a team runs for a viewer (after the workbench opened the database once, so the tables exist)


def forms(password: str) -> list[str]:
    return [password, urllib.parse.quote(password, safe=""), urllib.parse.quote(password),
            urllib.parse.quote_plus(password)]


def assert_hidden(text: str, password: str = PASSWORD) -> None:
    squeezed = "".join(text.split())  # a help text may wrap a long address over lines
    for form in forms(password):
        assert form not in text and "".join(form.split()) not in squeezed


@pytest.fixture
def no_ambient_password(monkeypatch, tmp_path):
    """No password from this machine's environment or home: only what a test gives."""
    for name in ("PGPASSWORD", "PGUSER", "PGHOST", "PGPORT", "PGDATABASE", "WORKBENCH_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-such-pgpass"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # snapshots land where the test can look


def role_name(stem: str) -> str:
    return f"{stem}_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def writer(pg_cluster, pg_url, no_ambient_password):
    """A role of its own with PASSWORD, owning the test's database; (role, database, port)."""
    database = urllib.parse.urlsplit(pg_url).path.lstrip("/")
    role = role_name("writer")
    pg_cluster.create_role(role, PASSWORD)
    pg_cluster.sql(f'ALTER DATABASE "{database}" OWNER TO "{role}"')
    yield role, database
    pg_cluster.drop_database(database)
    pg_cluster.sql(f'DROP ROLE IF EXISTS "{role}"')


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sessions", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env if env is not None else dict(os.environ), timeout=180)


def assert_store_hides(store: SessionStore) -> None:
    for shown in (store.path, store.events.location, repr(store), repr(store.events)):
        assert_hidden(shown)
    assert store.path.startswith("postgresql://") and "@127.0.0.1:" in store.path


def use(store: SessionStore) -> str:
    session = store.create_session("credentials")
    session.add_message("user", "hello over a password")
    assert store.open_session(session.id).render()[0]["content"] == "hello over a password"
    return session.id


# ---- where the password comes from ---------------------------------------------------------


def test_the_password_in_the_url(pg_cluster, writer):
    role, database = writer
    store = SessionStore(pg_cluster.url(database, user=role, password=PASSWORD), linger=0)
    try:
        use(store)
        assert_store_hides(store)
    finally:
        store.close()


def test_the_password_from_pgpassword(pg_cluster, writer, monkeypatch):
    role, database = writer
    url = pg_cluster.url(database, user=role)
    with pytest.raises(StoreError) as refused:  # without it, the server says no, and the error says where to put one
        SessionStore(url, linger=0)
    assert "PGPASSWORD or ~/.pgpass" in str(refused.value)
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    store = SessionStore(url, linger=0)
    try:
        use(store)
        assert_store_hides(store)
    finally:
        store.close()


def test_the_password_from_a_pgpass_file(pg_cluster, writer, monkeypatch, tmp_path):
    role, database = writer
    escaped = PASSWORD.replace("\\", "\\\\").replace(":", "\\:")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{pg_cluster.port}:{database}:{role}:{escaped}\n", encoding="utf-8")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    store = SessionStore(pg_cluster.url(database, user=role), linger=0)
    try:
        use(store)
        assert_store_hides(store)
    finally:
        store.close()


# ---- the password never shows ------------------------------------------------------------------


def test_errors_of_a_wrong_database_or_a_dead_port_hide_the_password(pg_cluster, writer):
    role, _ = writer
    with pytest.raises(StoreError) as missing:
        SessionStore(pg_cluster.url("no_such_database", user=role, password=PASSWORD), linger=0)
    message = str(missing.value)
    assert "no_such_database" in message and "does not exist" in message
    assert_hidden(message)

    port = free_port()  # nothing listens there
    dead = f"postgresql://{role}:{urllib.parse.quote(PASSWORD, safe='')}@127.0.0.1:{port}/anything"
    with pytest.raises(StoreError) as refused:
        SessionStore(dead, linger=0)
    message = str(refused.value)
    assert f"127.0.0.1:{port}" in message and "check that the server runs" in message
    assert_hidden(message)
    assert_hidden(repr(refused.value))


def test_a_wrong_password_on_the_command_line_is_one_clear_line(pg_cluster, writer):
    role, database = writer
    url = pg_cluster.url(database, user=role, password=WRONG)
    result = run("--db", url, "list")
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: cannot open the PostgreSQL store postgresql://") and "Traceback" not in line
    assert "password authentication failed" in line and "password (PGPASSWORD or ~/.pgpass)" in line
    assert_hidden(line, WRONG)
    assert_hidden(line, PASSWORD)


def test_help_and_mcp_config_hide_a_password_in_workbench_db(pg_cluster, writer):
    role, database = writer
    url = pg_cluster.url(database, user=role, password=PASSWORD)
    env = dict(os.environ, WORKBENCH_DB=url)
    for args in (["--help"], ["list", "--help"], ["mcp", "--help"], ["copy", "--help"]):
        result = run(*args, env=env)
        assert result.returncode == 0, result.stderr
        if args == ["--help"]:  # the default it names is the address, without its password
            assert f"{role}@127.0.0.1:{pg_cluster.port}/" in "".join(result.stdout.split())
        assert_hidden(result.stdout + result.stderr)

    env.pop("WORKBENCH_DB")
    result = run("mcp", "--print-config", "--db", url, env=env)
    assert result.returncode == 0, result.stderr
    assert_hidden(result.stdout + result.stderr)
    shown = json.loads(result.stdout)["mcpServers"]["context-workbench"]["env"]["WORKBENCH_DB"]
    assert shown == f"postgresql://{role}@127.0.0.1:{pg_cluster.port}/{database}"


def test_events_exports_and_tables_hold_no_password(pg_cluster, writer, tmp_path):
    role, database = writer
    url = pg_cluster.url(database, user=role, password=PASSWORD)
    store = SessionStore(url, linger=0)
    try:
        session = store.create_session("export me")
        session.add_message("user", long_text(6))
        pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.",
                                                        "num_fragments": 3})["fragments"]
        session.call_tool("fold_fragment", {"fragment_id": pieces[0]["fragment_id"]})
        session.run_model_tool_calls([{"id": "c1", "type": "function",
                                       "function": {"name": "search_context", "arguments": '{"query": "budget"}'}}])
        fork = session.fork(title="a fork")
        imported = store.import_session(session.export(tmp_path / "trace.jsonl"), title="imported")
        ids = [session.id, fork.id, imported.id]
        for session_id in ids:
            for event in store.events.load(session_id):
                assert_hidden(event.payload_json)
                assert_hidden(event.actor_json or "")
                assert json.loads(event.actor_json)["user"]  # the shared store stamps who wrote it
            assert_hidden(json.dumps(store.open_session(session_id).events(), default=str))
        said = export_session(store.open_session(session.id), "otlp", tmp_path / "direct.otlp.json")
        assert_hidden(said)
    finally:
        store.close()

    env = dict(os.environ)
    written: list[str] = [(tmp_path / "trace.jsonl").read_text(encoding="utf-8"),
                          (tmp_path / "direct.otlp.json").read_text(encoding="utf-8")]
    for format_name, output in [("jsonl", "t.jsonl"), ("otlp", "t.otlp.json"), ("markdown", "t.md"),
                                ("parquet", "tables")]:
        result = run("--db", url, "export", session.id[:6], "--format", format_name, "-o", str(tmp_path / output),
                     env=env)
        assert result.returncode == 0, result.stderr
        assert_hidden(result.stdout + result.stderr)
        if format_name == "parquet":
            for table in ("events", "messages"):
                rows = duckdb.sql(f"SELECT * FROM '{tmp_path / output / table}.parquet'").fetchall()
                assert rows
                written.append(repr(rows))
                written.append((tmp_path / output / f"{table}.parquet").read_bytes().decode("utf-8", "replace"))
        else:
            written.append((tmp_path / output).read_text(encoding="utf-8"))
    for text in written:
        assert_hidden(text)
    assert any("search_context" in text for text in written)

    # the store's own tables, every row of every table, as text
    tables = [name for (name,) in pg_cluster.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", dbname=database)]
    assert {"sessions", "events", "_migrations"} <= set(tables)
    for table in tables:
        rows = pg_cluster.sql(f'SELECT t::text FROM "{table}" t', dbname=database)
        assert_hidden("\n".join(row[0] for row in rows))
    # and the snapshot cache on this machine
    for folder, _, files in os.walk(tmp_path / "cache"):
        assert_hidden(folder)
        for name in files:
            assert_hidden(name)
            with open(os.path.join(folder, name), "rb") as cached:
                assert_hidden(cached.read().decode("utf-8", "replace"))


# ---- a viewer's read-only role ------------------------------------------------------------------


@pytest.fixture
def viewer(pg_cluster, pg_url, no_ambient_password):
    """A database an admin opened and filled, and a role made with VIEWER_SQL; (url, role, ids)."""
    from psycopg import sql

    admin = SessionStore(pg_url, linger=0)
    try:
        session = admin.create_session("team work")
        session.add_message("user", long_text(4))
        session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.",
                                               "num_fragments": 2})
        ids = [session.id, session.fork(title="a branch").id]
    finally:
        admin.close()
    database = urllib.parse.urlsplit(pg_url).path.lstrip("/")
    role = role_name("viewer")
    pg_cluster.create_role(role, PASSWORD)
    for statement in VIEWER_SQL.strip().splitlines():
        pg_cluster.sql(sql.SQL(statement.rstrip(";")).format(database=sql.Identifier(database),
                                                              role=sql.Identifier(role)), dbname=database)
    yield pg_cluster.url(database, user=role, password=PASSWORD), role, ids
    pg_cluster.drop_database(database)
    pg_cluster.sql(f'DROP ROLE IF EXISTS "{role}"')


def snapshot_of(pg_cluster, url: str) -> list:
    database = urllib.parse.urlsplit(url).path.lstrip("/")
    return pg_cluster.sql("SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM events), "
                          "(SELECT max(seq) FROM events)", dbname=database)


def test_a_viewer_reads_and_every_change_is_refused(pg_cluster, viewer, tmp_path):
    url, role, (first, branch) = viewer
    before = snapshot_of(pg_cluster, url)
    store = SessionStore(url, linger=0)
    other = SessionStore(tmp_path / "elsewhere.duckdb", linger=0)
    try:
        assert store.read_only is True
        assert sorted(row["id"] for row in store.list_sessions()) == sorted([first, branch])
        session = store.open_session(store.resolve_id(first[:6]))
        assert any("Paragraph 1." in str(message["content"]) for message in session.render())
        assert store.open_session(branch).stats()

        trace = session.export(tmp_path / "trace.jsonl")  # reading out is allowed
        source = other.create_session("to copy in")
        source.add_message("user", "hello")
        attempts = {
            "add_message": lambda: session.add_message("user", "may I?"),
            "call_tool": lambda: session.call_tool("fragment_context", {"start_marker": "Paragraph 1.",
                                                                        "end_marker": "End of notes.",
                                                                        "num_fragments": 3}),
            "create_session": lambda: store.create_session("new"),
            "fork": lambda: session.fork(title="my branch"),
            "import_file": lambda: store.import_file(trace, title="again"),
            "copy into it": lambda: copy_sessions(other, store),
        }
        for doing, attempt in attempts.items():
            with pytest.raises(StoreError) as refused:
                attempt()
            message = str(refused.value)
            assert f"the role {role!r} may read" in message and "but not change it" in message, doing
            assert_hidden(message)
        assert session.last_seq == store.open_session(first).last_seq
        found = session.call_tool("search_context", {"query": "Paragraph 1."})  # a look changes nothing: allowed
        assert found["total_matches"] >= 1
        detail = session.call_tool("get_search_detail", {"search_id": found["results"][0]["search_id"]})
        assert "Paragraph 1." in str(detail) and "error" not in detail  # it finds the search it follows
        assert session.last_seq == store.open_session(first).last_seq  # and neither was recorded
    finally:
        store.close()
        other.close()
    assert snapshot_of(pg_cluster, url) == before

    result = run("--db", url, "add", first, "user", "hi from the CLI", env=dict(os.environ))
    assert result.returncode == 1 and f"the role '{role}' may read" in result.stderr
    assert_hidden(result.stderr)
    assert snapshot_of(pg_cluster, url) == before
    listed = run("--db", url, "list", env=dict(os.environ))
    assert listed.returncode == 0 and first in listed.stdout


def test_a_viewer_on_a_database_with_no_tables_yet_is_told_so(pg_cluster, pg_url, no_ambient_password):
    from psycopg import sql

    database = urllib.parse.urlsplit(pg_url).path.lstrip("/")
    role = role_name("viewer")
    pg_cluster.create_role(role, PASSWORD)
    try:
        for statement in ("GRANT CONNECT ON DATABASE {database} TO {role}", "GRANT USAGE ON SCHEMA public TO {role}"):
            pg_cluster.sql(sql.SQL(statement).format(database=sql.Identifier(database), role=sql.Identifier(role)),
                           dbname=database)
        with pytest.raises(StoreError) as refused:
            SessionStore(pg_cluster.url(database, user=role, password=PASSWORD), linger=0)
        message = str(refused.value)
        assert role in message and "tables" in message, message
        assert "role that may create" in message or "may read" in message, message
        assert_hidden(message)
        assert pg_cluster.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", dbname=database) == [(0,)]
    finally:
        pg_cluster.sql(f'DROP OWNED BY "{role}"', dbname=database)
        pg_cluster.sql(f'DROP ROLE IF EXISTS "{role}"')
