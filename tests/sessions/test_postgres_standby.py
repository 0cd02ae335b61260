"""A hot standby (a read replica of the workbench's database): it shows the sessions, refuses every
edit as a replica's (not the role's) fault, and follows the primary's commits without LISTEN,
which a standby cannot do."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from engine import StoreError
from sessions import SessionStore

from tests.pg_cluster import free_port


@pytest.fixture
def standby(pg_cluster, pg_url):
    """A standby of the test cluster, streaming from it (pg_basebackup -R), on its own port: its URL."""
    folder = pg_cluster._short_tempdir("wbsb-")
    data = folder / "data"
    done = pg_cluster._run("pg_basebackup", "-D", str(data), "-R", "-X", "stream", "-c", "fast", "-h", str(pg_cluster.socket_dir),
                           "-p", str(pg_cluster.port), "-U", pg_cluster.admin_user)
    assert done.returncode == 0, done.stderr
    port = free_port()
    log = folder / "standby.log"
    started = pg_cluster._run("pg_ctl", "start", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", f"-p {port}")
    assert started.returncode == 0, started.stderr + (log.read_text() if log.exists() else "")
    parts = urllib.parse.urlsplit(pg_url)
    yield urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{port}")))
    pg_cluster._run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w")


def test_a_standby_shows_the_sessions_refuses_edits_and_follows_the_primary(pg_url, standby):
    primary = SessionStore(pg_url)
    session = primary.create_session("replicated")
    session.add_message("user", "The storm is expected by evening.")
    deadline = time.monotonic() + 30
    while True:  # the standby has replayed the primary's tables and the first events
        try:
            replica = SessionStore(standby)
            if [e.seq for e in replica.events.load(session.id)] == [1]:
                break
            replica.close()
        except StoreError:
            pass
        assert time.monotonic() < deadline, "the standby never caught up"
        time.sleep(0.2)
    try:
        assert replica.read_only and replica.open_session(session.id).render()[0]["content"].startswith("The storm")
        with pytest.raises(StoreError, match="is a read-only server \\(a standby, a read replica\\).*Open the primary"):
            replica.open_session(session.id).add_message("user", "refused")
        assert "read-only server" in replica.read_only_reason
        found = replica.open_session(session.id).call_tool("search_context", {"query": "storm"})
        assert found["total_matches"] == 1  # a look works on a replica too, unrecorded
        token = replica.change_token()
        time.sleep(1.5)
        assert replica.change_token() == token  # nothing replayed: the token stays (no LISTEN storm)
        session.add_message("user", "Written on the primary.")
        deadline = time.monotonic() + 30
        while replica.change_token() == token:
            assert time.monotonic() < deadline, "the standby's token never moved"
            time.sleep(0.05)
        deadline = time.monotonic() + 30
        while len(replica.events.load(session.id)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert replica.events.listener.error is None
    finally:
        replica.close()
        primary.close()
