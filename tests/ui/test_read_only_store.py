"""The workbench on a PostgreSQL store opened with a role that may only read (a viewer's): every
page shows the sessions, the sidebar says the store is read-only and why, the edits are disabled
with that reason as their help, and an edit that reaches the store anyway (a click the browser
sent before the page was redrawn) is refused with the store's message: no event, no traceback."""

from __future__ import annotations

import os
import urllib.parse
import uuid

import pytest
from streamlit.testing.v1 import AppTest

from components.plain import plain
from sessions import SessionStore

from tests.ui.conftest import APP, fragmented_session

PASSWORD = "viewer-pw"
VIEWER_SQL = ('GRANT CONNECT ON DATABASE "{database}" TO "{role}"', 'GRANT USAGE ON SCHEMA public TO "{role}"',
              'GRANT SELECT ON sessions, events, _migrations TO "{role}"')
PAGES = ["pages/context.py", "pages/sessions.py", "pages/chat.py", "pages/tasks.py", "pages/memory.py",
         "pages/replay.py", "pages/export.py"]


@pytest.fixture
def viewer(pg_cluster, pg_url, monkeypatch):
    """A session written by the admin, then the workbench opened as a viewer role: (session id,
    fragment ids, admin url, role)."""
    session_id, ids = fragmented_session(pg_url, 1, 3, title="shared work")  # the admin opened it: the tables exist
    database = urllib.parse.urlsplit(pg_url).path.lstrip("/")
    role = f"viewer_{uuid.uuid4().hex[:10]}"
    pg_cluster.create_role(role, PASSWORD)
    for statement in VIEWER_SQL:
        pg_cluster.sql(statement.format(database=database, role=role), dbname=database)
    monkeypatch.setenv("WORKBENCH_DB", pg_cluster.url(database, role, PASSWORD))
    yield session_id, ids, pg_url, role
    pg_cluster.drop_database(database)  # ends the workbench's connections, which the process keeps
    pg_cluster.sql(f'DROP ROLE IF EXISTS "{role}"')


def _events(url: str, session_id: str) -> list[dict]:
    store = SessionStore(url, linger=0)
    try:
        return store.open_session(session_id).events()
    finally:
        store.close()


def _start(session_id: str, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["selected_session_id"] = session_id
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _reason(role: str, shown: bool = True) -> str:
    """What the sidebar and the disabled edits say (`shown`: as Markdown shows it, escaped): the
    store's own refusal, which names the role and the server, never the password."""
    store = SessionStore(os.environ["WORKBENCH_DB"])
    try:
        said = f"Read-only: {store.read_only_reason}"
    finally:
        store.close()
    assert f"the role '{role}' may read postgresql://{role}@" in said and PASSWORD not in said
    return plain(said) if shown else said


def _refusal(role: str) -> str:
    return plain(f"the role '{role}' may read")


def test_every_page_shows_the_sessions_and_says_the_store_is_read_only(viewer):
    session_id, _, _, role = viewer
    at = _start(session_id)  # the sidebar as the app draws it (AppTest keeps only the page's part after a switch)
    sidebar = [(type(element).__name__, getattr(element, "value", None)) for element in at.sidebar]
    store = next(i for i, (kind, value) in enumerate(sidebar) if kind == "Caption" and value.startswith("Store: "))
    assert sidebar[store + 1] == ("Info", _reason(role)), sidebar  # just below the store it is about
    assert "viewer-pw" not in str(at.sidebar) and role in sidebar[store][1]  # whose store, never the password
    for page in PAGES:
        at = _start(session_id, page)
        assert at.title and not at.error, (page, [e.value for e in at.error])
    sessions = _start(session_id, "pages/sessions.py")
    assert list(sessions.dataframe[0].value["title"]) == ["shared work"]
    for key in ("create_session", "fork_button", "load_demo_again"):
        button = sessions.button(key=key)
        assert button.disabled and button.help == _reason(role), key
    chat = _start(session_id, "pages/chat.py")
    assert chat.chat_input[0].proto.disabled and chat.chat_input[0].proto.placeholder == _reason(role, shown=False)
    applies = [b for b in chat.button if b.label in ("Apply", "Apply brakes", "Retry")]
    assert len(applies) >= 2 and all(b.disabled for b in applies)
    memory = _start(session_id, "pages/memory.py")
    assert [b.disabled for b in memory.button if b.label == "Save core memory"] == [True]
    replay = _start(session_id, "pages/replay.py")
    assert replay.button(key="fork_here").disabled
    assert replay.text[0].value.startswith("#")  # the latest event, read through the viewer's role


def test_the_context_page_disables_its_edits_saying_why(viewer):
    session_id, ids, _, role = viewer
    at = _start(session_id, "pages/context.py")
    hides = [at.button(key=f"m1-{fragment}-{position}-hide") for position, fragment in enumerate(ids[0])]
    assert all(hide.disabled and hide.help == _reason(role) for hide in hides)
    popovers = _popovers(at._tree)  # Summarize and Fragment…: AppTest has no element for them, their blocks say
    assert sorted(p.label for p in popovers) == ["Fragment…"] + ["Summarize"] * len(hides)
    assert all(p.disabled and p.help == _reason(role) for p in popovers)


def test_a_viewer_searches_and_opens_a_hit_and_nothing_is_recorded(viewer):
    session_id, _, admin_url, _ = viewer
    before = _events(admin_url, session_id)
    at = _start(session_id, "pages/context.py")
    search = next(b for b in at.button if b.label == "Search")
    assert not search.disabled  # a look, not an edit: it runs in memory on a read-only store
    at.text_input(key="search_query").set_value("Paragraph 2.")
    search.click().run()
    assert not at.exception, at.exception
    assert any("match" in expander.label and "Paragraph 2." in expander.label for expander in at.expander)
    opened = [b for b in at.button if b.label == "Open"]
    assert opened and not opened[0].disabled
    opened[0].click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert any("Paragraph 2." in text.value for text in at.text)
    assert _events(admin_url, session_id) == before  # the log is as it was: the looks stayed in memory


def _popovers(node) -> list:
    """The popover blocks under `node` (a Block's proto is a `Block` message, whose type may be one)."""
    proto = getattr(node, "proto", None)
    found = [proto.popover] if type(proto).__name__ == "Block" and proto.WhichOneof("type") == "popover" else []
    for child in getattr(node, "children", {}).values():
        found += _popovers(child)
    return found


@pytest.fixture
def revoked(pg_cluster, pg_url, monkeypatch):
    """The workbench opened by a role that may write, whose rights to write are then taken away
    (an admin's REVOKE while it runs): its buttons are enabled, and the store refuses them."""
    session_id, ids = fragmented_session(pg_url, 1, 3, title="shared work")
    database = urllib.parse.urlsplit(pg_url).path.lstrip("/")
    role = f"writer_{uuid.uuid4().hex[:10]}"
    pg_cluster.create_role(role, PASSWORD)
    for statement in (*VIEWER_SQL, 'GRANT INSERT, UPDATE ON sessions, events TO "{role}"'):
        pg_cluster.sql(statement.format(database=database, role=role), dbname=database)
    monkeypatch.setenv("WORKBENCH_DB", pg_cluster.url(database, role, PASSWORD))

    def revoke() -> None:
        pg_cluster.sql(f'REVOKE INSERT, UPDATE ON sessions, events FROM "{role}"', dbname=database)

    yield session_id, ids, pg_url, role, revoke
    pg_cluster.drop_database(database)
    pg_cluster.sql(f'DROP ROLE IF EXISTS "{role}"')


def test_a_hide_the_store_refuses_says_so_and_writes_nothing(revoked):
    session_id, ids, admin_url, role, revoke = revoked
    at = _start(session_id, "pages/context.py")
    hide = at.button(key=f"m1-{ids[0][1]}-1-hide")
    assert not hide.disabled and not at.sidebar.info  # the role could write when the workbench opened the store
    revoke()
    before = _events(admin_url, session_id)
    hide.click().run()
    assert not at.exception, at.exception
    errors = [error.value for error in at.error]
    assert any(_refusal(role) in error and "not change it" in error for error in errors), errors
    assert "Traceback" not in str(at) and PASSWORD not in str(at)
    assert _events(admin_url, session_id) == before  # nothing was written, not even a tool_failed
    at.run()  # the refusal reran the notice alone (AppTest keeps only that fragment): the whole page now
    assert at.button(key=f"m1-{ids[0][1]}-1-hide") and not at.exception  # still visible, as the store holds it


def test_a_create_the_store_refuses_says_so(revoked):
    session_id, _, admin_url, role, revoke = revoked
    at = _start(session_id, "pages/sessions.py")
    revoke()
    at.text_input(key="new_title").input("mine").run()
    at.button(key="create_session").click().run()
    assert not at.exception, at.exception
    assert any(_refusal(role) in error.value for error in at.error), [error.value for error in at.error]
    store = SessionStore(admin_url, linger=0)
    try:
        assert [row["title"] for row in store.list_sessions()] == ["shared work"]
    finally:
        store.close()
