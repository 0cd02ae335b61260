"""The throwaway PostgreSQL server of the tests (tests/pg_cluster.py, the pg_cluster and pg_url
fixtures): a real server on 127.0.0.1 that checks passwords and keeps databases apart."""

from __future__ import annotations

import socket

import psycopg
import pytest

from tests.pg_cluster import check_identifier


def test_the_admin_url_connects_with_its_password_and_a_wrong_one_is_refused(pg_cluster, pg_url):
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT current_user, current_database()").fetchone()[0] == pg_cluster.admin_user
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(pg_cluster.url(user=pg_cluster.admin_user, password="not-" + pg_cluster.admin_password))
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_cluster.url(user=pg_cluster.admin_user))  # no password at all


def test_two_created_databases_are_separate(pg_cluster):
    one, two = pg_cluster.create_database("t_sep_one"), pg_cluster.create_database("t_sep_two")
    try:
        with psycopg.connect(one, autocommit=True) as conn:
            conn.execute("CREATE TABLE marks (n int)")
            conn.execute("INSERT INTO marks VALUES (%s)", (1,))
        with psycopg.connect(two) as conn:
            assert conn.execute("SELECT to_regclass('marks')").fetchone() == (None,)
            assert conn.execute("SELECT current_database()").fetchone() == ("t_sep_two",)
        assert pg_cluster.sql("SELECT n FROM marks", dbname="t_sep_one") == [(1,)]
    finally:
        pg_cluster.drop_database("t_sep_one")
        pg_cluster.drop_database("t_sep_two")
    names = {row[0] for row in pg_cluster.sql("SELECT datname FROM pg_database")}
    assert not names & {"t_sep_one", "t_sep_two"}


def test_a_created_role_logs_in_with_its_password_only(pg_cluster, pg_url):
    pg_cluster.create_role("t_viewer", "s3cret: with @/ and %")
    try:
        dbname = pg_url.rsplit("/", 1)[1]
        with psycopg.connect(pg_cluster.url(dbname, user="t_viewer", password="s3cret: with @/ and %")) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("t_viewer",)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg_cluster.url(dbname, user="t_viewer", password="wrong"))
        assert "s3cret" not in (pg_cluster.log_path.read_text())
    finally:
        pg_cluster.sql("DROP ROLE t_viewer")


def test_the_server_listens_on_127_0_0_1_at_the_reported_port(pg_cluster, pg_url):
    assert pg_cluster.host == "127.0.0.1" and f"@127.0.0.1:{pg_cluster.port}/" in pg_url
    with socket.create_connection(("127.0.0.1", pg_cluster.port), timeout=5):
        pass
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT inet_server_addr()::text, inet_server_port()").fetchone() == (
            "127.0.0.1/32", pg_cluster.port,
        )
    assert pg_cluster.admin_password not in repr(pg_cluster)


def test_names_that_are_not_plain_identifiers_are_refused_before_any_sql(pg_cluster):
    for name in ('x"; DROP DATABASE postgres; --', "Upper", "", "a" * 64):
        with pytest.raises(ValueError, match="not a plain identifier"):
            pg_cluster.create_database(name)
    assert check_identifier("t_ok_1") == "t_ok_1"
