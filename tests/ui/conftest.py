"""AppTest fixtures: every test gets its own DuckDB file through WORKBENCH_DB."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from sessions import SessionStore

from tests.conftest import ROOT

APP = str(ROOT / "app.py")


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "ui.duckdb"
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    return path


@pytest.fixture
def app(db):
    def start(page: str | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60).run()
        if page:
            at.switch_page(page).run()
        assert not at.exception, at.exception
        return at

    return start


def events_of(db, session_id):
    store = SessionStore(db, linger=0)
    try:
        return store.open_session(session_id).events()
    finally:
        store.close()
