"""A Hide or Restore click on the Context page when the store is not as the page drew it: the
fragment already folded by another process, a store too busy to answer, a message added by the
CLI since the page was drawn. Each click must end in a page that says what happened and shows
what the store holds, never a traceback and never half a page from before."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine import StoreError
from sessions import SessionStore
from sessions.service import Workbench

from tests.conftest import ROOT
from tests.ui.conftest import events_of, fragmented_session

HOLDER = """
import sys
from sessions.database import Database
db = Database(sys.argv[1], linger=0)
with db.connect():   # the file held, as a long CLI command holds it
    print("holding", flush=True)
    sys.stdin.readline()
"""


def _seed(db, messages: int = 2, fragments: int = 4) -> tuple[str, list[list[str]]]:
    return fragmented_session(db, messages, fragments)


def _as_the_cli(db, session_id, act) -> None:
    """`act(session)` through a second store on the same file, as `python -m sessions` would."""
    store = SessionStore(db, linger=0)
    try:
        act(store.open_session(session_id))
    finally:
        store.close()


def _headers(at) -> list[str]:
    return [m.value.split(" · ")[0] for m in at.markdown if m.value.startswith("**m")]


def test_a_hide_of_a_fragment_folded_elsewhere_says_so_and_shows_the_fold(app, db):
    session_id, ids = _seed(db)
    at = app("pages/context.py")
    target = ids[1][2]
    _as_the_cli(db, session_id, lambda session: session.call_tool("fold_fragment", {"fragment_id": target}))
    at.button(key=f"m2-{target}-2-hide").click().run()
    assert not at.exception, at.exception
    assert any(f"fragment {target} is already folded" in error.value for error in at.error)
    assert at.button(key=f"m2-{target}-2-restore")  # the card shows what the store holds
    failed = [e for e in events_of(db, session_id) if e["kind"] == "tool_failed"]
    assert [(e["payload"]["tool"], e["payload"]["arguments"]) for e in failed] == [("fold_fragment", {"fragment_id": target})]
    assert "already folded" in failed[0]["payload"]["error"]


def test_a_click_after_the_cli_added_a_message_redraws_the_whole_page(app, db):
    session_id, ids = _seed(db)
    at = app("pages/context.py")
    assert _headers(at) == ["**m1**", "**m2**"]
    _as_the_cli(db, session_id, lambda session: session.add_message("user", "Added by the CLI."))
    target = ids[1][0]
    at.button(key=f"m2-{target}-0-hide").click().run()
    assert not at.exception, at.exception
    assert _headers(at) == ["**m1**", "**m2**", "**m3**"]  # the whole page, not only m2's card
    assert "Added by the CLI." in [t.value for t in at.text]
    assert at.button(key=f"m2-{target}-0-restore")
    at.button(key=f"m2-{target}-0-restore").click().run()  # nothing else since: the keyed path again
    assert _headers(at) == ["**m2**"] and at.button(key=f"m2-{target}-0-hide")


def test_a_store_failing_the_reads_after_a_click_shows_an_error_not_a_traceback(app, db):
    session_id, ids = _seed(db)
    at = app("pages/context.py")

    def busy(*args, **kwargs):
        raise StoreError("the database is in use by another process (a test) and stayed locked")

    target = ids[1][0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Workbench.shared().find(session_id), "state", busy)  # the page's own session
        at.button(key=f"m2-{target}-0-hide").click().run()
    assert not at.exception, at.exception
    assert any("in use by another process (a test) and stayed locked" in error.value for error in at.error)
    assert events_of(db, session_id)[-1]["payload"] == {"fragment_id": target}  # the click's fold was saved
    at.run()
    assert not at.error and at.button(key=f"m2-{target}-0-restore")


def test_a_click_while_another_process_holds_the_store_says_so_and_changes_nothing(app, db, monkeypatch):
    session_id, ids = _seed(db)
    at = app("pages/context.py")
    before = len(events_of(db, session_id))
    monkeypatch.setattr(Workbench.shared().store.events.db, "lock_timeout", 0.5)  # not the 5 s a person waits
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(db)], cwd=ROOT, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        target = ids[1][0]
        at.button(key=f"m2-{target}-0-hide").click().run()
        assert not at.exception, at.exception
        assert any("stayed locked for 0.5 s" in error.value for error in at.error)
        assert not _headers(at)  # only the notice reran: the card, as drawn, still offers Hide
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    assert len(events_of(db, session_id)) == before
    at.run().button(key=f"m2-{target}-0-hide").click().run()  # the store free again: the click goes through
    assert not at.error and at.button(key=f"m2-{target}-0-restore")
    assert events_of(db, session_id)[-1]["kind"] == "fragment_folded"
