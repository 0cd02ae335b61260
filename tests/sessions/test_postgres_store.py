"""What only the PostgreSQL store has to get right: migrating an older or a brand-new database
(from many processes at once), waiting for a locked session without holding up readers, a
writer that did not lock, the listener losing its connection, snapshots kept off the server,
and text that looks like SQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import pytest

from engine import StoreError
from engine.events import FragmentFolded
from sessions import SessionStore
from sessions.migrations import MIGRATIONS
from sessions.stores.postgres import PostgresEventStore

from tests.conftest import ROOT, long_text

OPEN = "import sys; from sessions import SessionStore; SessionStore(sys.argv[1]).close(); print('opened')"


def _database(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_an_older_database_is_migrated_on_open(pg_cluster, pg_url):
    database = _database(pg_url)
    with pg_cluster.connect(database) as connection:  # the tables as the first two migrations left them
        for name, migration in MIGRATIONS["postgresql"][:2]:
            migration(connection)
        connection.execute("CREATE TABLE _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP DEFAULT now())")
        connection.execute("INSERT INTO _migrations (name) VALUES ('001_sessions_and_events'), "
                           "('002_sessions_imported_from')")
        connection.execute("INSERT INTO sessions VALUES ('abc123def456', 'old', now(), NULL, NULL, NULL)")
        connection.execute("INSERT INTO events VALUES ('abc123def456', 1, now(), 'message_added', %s)",
                           [json.dumps({"message_id": "m1", "role": "user", "content": "from before actors",
                                        "fragment_id": "f00001"})])
    store = SessionStore(pg_url)
    try:
        [record] = store.open_session("abc123def456").records()
        assert record.actor is None  # written before actors were kept: "unknown", and it still folds
        names = [row[0] for row in pg_cluster.sql("SELECT name FROM _migrations ORDER BY name", dbname=database)]
        assert names == [name for name, _ in MIGRATIONS["postgresql"]]
    finally:
        store.close()


def test_eight_processes_opening_a_new_database_at_once_migrate_it_once(pg_cluster, pg_url):
    openers = [subprocess.Popen([sys.executable, "-c", OPEN, pg_url], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(8)]
    for opener in openers:
        out, err = opener.communicate(timeout=120)
        assert opener.returncode == 0 and out.strip() == "opened", err
    rows = pg_cluster.sql("SELECT name, count(*) FROM _migrations GROUP BY name ORDER BY name",
                          dbname=_database(pg_url))
    assert rows == [(name, 1) for name, _ in MIGRATIONS["postgresql"]]


def test_a_locked_session_makes_a_writer_wait_then_fail_clearly_while_readers_read(pg_cluster, pg_url):
    store = SessionStore(pg_url, lock_timeout=0.5)
    try:
        session = store.create_session("held")
        session.add_message("user", "The storm is expected by evening.")
        with pg_cluster.connect(_database(pg_url)) as holder:  # another writer, inside its transaction
            holder.execute("BEGIN")
            holder.execute("SELECT 1 FROM sessions WHERE id = %s FOR UPDATE", [session.id])
            assert [e.seq for e in store.events.load(session.id)] == [1]  # a reader is not held up
            assert store.list_sessions()[0]["events"] == 1
            with pytest.raises(StoreError, match="stayed locked by another writer for 0.5 s; try again"):
                session.add_message("user", "blocked")
            holder.execute("ROLLBACK")
        session.add_message("user", "once the other writer is done")
        assert [e.seq for e in store.events.load(session.id)] == [1, 2]
    finally:
        store.close()


def test_a_writer_that_did_not_lock_makes_the_unit_start_again_on_the_fresh_events(pg_cluster, pg_url):
    store = SessionStore(pg_url)
    try:
        session = store.create_session("raced")
        session.add_message("user", "The storm is expected by evening.")
        fragment = session.state().messages[0].fragments[0].id
        built = []

        def build(fresh):
            built.append([e.seq for e in fresh])
            if len(built) == 1:  # a writer that ignores the lock takes seq 2 before our insert
                pg_cluster.sql("INSERT INTO events (session_id, seq, ts, kind, payload) VALUES "
                               "(%s, 2, now(), 'message_added', %s)",
                               [session.id, json.dumps({"message_id": "m2", "role": "user", "content": "intruder",
                                                        "fragment_id": "f00002"})], dbname=_database(pg_url))
            return [FragmentFolded(fragment_id=fragment)]

        fresh, records = store.events.append(session.id, 1, build)
        assert built == [[], [2]]  # the retry was handed only the event it had not seen
        assert [e.seq for e in fresh] == [2] and [r.seq for r in records] == [3]
        assert [e.kind for e in store.events.load(session.id)] == ["message_added", "message_added", "fragment_folded"]
    finally:
        store.close()


def test_the_listener_that_loses_its_connection_moves_the_token_and_listens_again(pg_cluster, pg_url):
    store = SessionStore(pg_url)
    try:
        session = store.create_session("followed")
        token = store.change_token()
        pg_cluster.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%' "
                       "AND datname = %s", [_database(pg_url)])
        assert _wait_for(lambda: store.change_token() != token)  # notifications may have been missed: read
        assert _wait_for(lambda: store.events.listener.error is None and store.events.listener._listening.is_set())
        time.sleep(0.3)  # LISTEN in force again on the new connection
        token = store.change_token()
        other = SessionStore(pg_url)
        other.open_session(session.id).add_message("user", "written elsewhere")
        other.close()
        assert _wait_for(lambda: store.change_token() != token)
    finally:
        store.close()


def test_a_unit_refused_at_commit_notifies_nobody_and_the_next_one_is_heard(pg_cluster, pg_url):
    # a deferred check, run by the server at COMMIT, after the unit's pg_notify: NOTIFY is transactional
    database = _database(pg_url)
    store, watcher = SessionStore(pg_url), SessionStore(pg_url)
    try:
        with pg_cluster.connect(database) as admin:
            admin.execute("CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                          "IF NEW.payload LIKE '%REFUSE-AT-COMMIT%' THEN RAISE EXCEPTION 'refused at commit'; "
                          "END IF; RETURN NEW; END $$")
            admin.execute("CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON events DEFERRABLE "
                          "INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_marked()")
        session = store.create_session("quiet")
        time.sleep(0.3)
        token = watcher.change_token()
        with pytest.raises(StoreError, match="refused at commit"):
            session.add_message("user", "REFUSE-AT-COMMIT")
        time.sleep(0.5)
        assert watcher.change_token() == token and store.events.load(session.id) == []
        session.add_message("user", "an ordinary message")
        assert _wait_for(lambda: watcher.change_token() != token)  # the watcher was listening all along
    finally:
        store.close()
        watcher.close()


def test_a_reader_inside_a_long_transaction_never_holds_a_writer_up(pg_cluster, pg_url):
    store = SessionStore(pg_url, lock_timeout=0.5)
    try:
        session = store.create_session("read while written")
        session.add_message("user", "first")
        with pg_cluster.connect(_database(pg_url)) as reader:
            reader.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            assert reader.execute("SELECT count(*) FROM events WHERE session_id = %s", [session.id]).fetchone() == (1,)
            reader.execute("SELECT * FROM sessions WHERE id = %s", [session.id]).fetchall()
            session.add_message("user", "second")  # would fail after 0.5 s if the reader held it up
            fragment = session.state().messages[1].fragments[0].id
            session.call_tool("fold_fragment", {"fragment_id": fragment})
            assert reader.execute("SELECT count(*) FROM events WHERE session_id = %s",
                                  [session.id]).fetchone() == (1,)  # the reader's snapshot is its own
            reader.execute("COMMIT")
        assert [e.seq for e in store.events.load(session.id)] == [1, 2, 3]
    finally:
        store.close()


def test_a_role_that_may_not_read_the_tables_is_told_what_to_grant(pg_cluster, pg_url):
    SessionStore(pg_url).close()  # the tables exist
    database = _database(pg_url)
    pg_cluster.create_role("outsider", "outsider-pw")
    pg_cluster.sql(f'GRANT CONNECT ON DATABASE "{database}" TO outsider')
    try:
        with pytest.raises(StoreError, match="may not read the workbench's tables: grant it SELECT on sessions, "
                                             "events and _migrations") as refused:
            SessionStore(pg_cluster.url(database, "outsider", "outsider-pw"))
        assert "outsider-pw" not in str(refused.value)
    finally:
        pg_cluster.sql(f'REVOKE ALL ON DATABASE "{database}" FROM outsider')
        pg_cluster.sql("DROP ROLE outsider")


@pytest.mark.parametrize("url, said", [
    ("postgresql://ana:anapass12345@[::1:5432/wb", "matching \"]\" in IPv6 host"),
    ("postgresql://ana:p@ss@wd1@127.0.0.1:5432/wb", "a '@' in the password must be written %40"),
])
def test_an_address_that_does_not_read_is_refused_without_its_password(url, said):
    with pytest.raises(StoreError) as refused:
        SessionStore(url)
    message = str(refused.value)
    assert said in message
    assert "anapass12345" not in message and "ss@wd1" not in message and "\n" not in message


def test_snapshots_of_a_server_session_live_in_the_cache_folder_and_match_the_server(pg_cluster, pg_url,
                                                                                     tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    store = SessionStore(pg_url)
    store.snapshots.min_events, store.snapshots.refresh_events = 10, 8
    try:
        session = store.create_session("long")
        for n in range(12):
            session.add_message("user", f"Round {n}. {long_text(3)}")
        assert str(store.snapshots.folder).startswith(str(tmp_path / "cache" / "context-workbench" / "snapshots"))
        opened = store.open_session(session.id)  # writes the snapshot
        assert store.snapshots.path(session.id).exists()
        assert store.open_session(session.id).render() == opened.render() == session.render()
        pg_cluster.sql("UPDATE events SET payload = replace(payload, 'Round 3.', 'Round X.') "
                       "WHERE session_id = %s AND seq = 4", [session.id], dbname=_database(pg_url))
        edited = store.open_session(session.id)  # the fingerprint no longer matches: the log is folded
        assert "Round X." in edited.render()[3]["content"]
    finally:
        store.close()


def test_text_that_looks_like_sql_is_only_ever_a_parameter(pg_url):
    store = SessionStore(pg_url)
    try:
        hostile = "Robert'); DROP TABLE events; -- \x00 $1 %s {0} \\x27"
        session = store.create_session(hostile)
        session.add_message("user", hostile)
        other = SessionStore(pg_url)
        reopened = other.open_session(session.id)
        other.close()
        assert reopened.render()[0]["content"] == hostile  # a NUL too: events keep it, as an escape
        assert reopened.title == hostile.replace("\x00", "\ufffd")  # a title is a label: no NUL in text columns
        with pytest.raises(Exception, match="no session"):
            store.resolve_id("'; DROP TABLE sessions; --")
        assert [row["id"] for row in store.list_sessions()] == [session.id]
    finally:
        store.close()


def test_the_store_is_shared_by_the_threads_of_one_process(pg_url):
    store = SessionStore(pg_url)
    try:
        session = store.create_session("threads")
        errors = []

        def write(n: int) -> None:
            try:
                for i in range(5):
                    session.add_message("user", f"thread {n} message {i}")
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert [e.seq for e in store.events.load(session.id)] == list(range(1, 41))
        assert isinstance(store.events, PostgresEventStore)
    finally:
        store.close()
