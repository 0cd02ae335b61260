"""AppTest fixtures: every test gets its own DuckDB file through WORKBENCH_DB."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from sessions import SessionStore

from tests.conftest import ROOT, long_text

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


def fragmented_session(db, messages: int, fragments: int, text: str | None = None,
                       title: str = "fragmented") -> tuple[str, list[list[str]]]:
    """A session of `messages` user messages, each cut into `fragments`; the fragment ids per message.
    (The browser tests seed theirs with it too, while the app holds the same file: it waits for it.)"""
    store = SessionStore(db, linger=0, lock_timeout=30)
    session = store.create_session(title)
    ids = []
    for number in range(1, messages + 1):
        body = f"Start of message {number}.\n" + (text or long_text(fragments)) + f"\nEnd of message {number}."
        message_id = session.add_message("user", body)
        cut = session.call_tool("fragment_context", {"start_marker": f"Start of message {number}.",
                                                     "end_marker": f"End of message {number}.",
                                                     "num_fragments": fragments, "message_id": message_id})
        ids.append([piece["fragment_id"] for piece in cut["fragments"]])
    store.close()
    return session.id, ids
