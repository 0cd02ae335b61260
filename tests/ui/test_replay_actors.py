"""Replay says who wrote each event, in the step's event line and in the "All events" table: a
program's message, a person's fold through the workbench, a model's tool call; on DuckDB and on
PostgreSQL (where the store adds the writing process's user and host). An actor's name is text
from a writer: the table shows it as it is, never as HTML or Markdown."""

from __future__ import annotations

import getpass
import socket

import pytest
from streamlit.testing.v1 import AppTest

from components.follow import replay_step_key
from engine.actors import Actor
from sessions import SessionStore
from sessions.service import Workbench

from tests.conftest import long_text
from tests.ui.conftest import APP

ODD = '<img src=x onerror="alert(1)"> *bold* [link](http://x)'  # a name a writer chose


@pytest.fixture(params=["duckdb", "postgresql"])
def store_url(request, tmp_path, monkeypatch):
    """The store's address (a DuckDB file, or a fresh PostgreSQL database), and where it says
    the events were written: "" on DuckDB, " · user@host" on PostgreSQL."""
    if request.param == "duckdb":
        url, where = str(tmp_path / "actors.duckdb"), ""
    else:
        url, where = request.getfixturevalue("pg_url"), f" · {getpass.getuser()}@{socket.gethostname()}"
    monkeypatch.setenv("WORKBENCH_DB", url)
    return url, where


def _seed(url: str) -> tuple[str, list[str]]:
    """A program's message and cut, a person's fold (through the workbench), a model's fold, and
    a restore by an actor with an odd name; the labels expected, in order."""
    store = SessionStore(url, linger=0)
    session = store.create_session("who did what")
    message_id = session.add_message("user", "Start.\n" + long_text(6) + "\nEnd.")
    cut = session.call_tool("fragment_context", {"start_marker": "Start.", "end_marker": "End.", "num_fragments": 3,
                                                 "message_id": message_id})
    ids = [piece["fragment_id"] for piece in cut["fragments"]]
    store.close()
    workbench = Workbench.shared(url)  # the instance the app uses: a click there is a person's
    workbench.session(session.id).call_tool("fold_fragment", {"fragment_id": ids[0]})
    model_side = SessionStore(url, linger=0)  # another process's store, as an MCP server's
    try:
        opened = model_side.open_session(session.id)
        opened.call_tool("fold_fragment", {"fragment_id": ids[1]}, from_model=True)
        opened.call_tool("restore_fragment", {"fragment_id": ids[1]}, actor=Actor.person(ODD))
        kinds = [event["kind"] for event in opened.events()]
    finally:
        model_side.close()
    workbench.session(session.id).refresh()
    assert kinds[-5:] == ["message_added", "context_fragmented", "fragment_folded", "fragment_folded",
                          "fragment_restored"]
    return session.id, ["program", "program", "person (workbench)", "model", f"person ({ODD})"]


def test_replay_shows_who_wrote_each_event(store_url):
    url, where = store_url
    session_id, labels = _seed(url)
    expected = [label + where for label in labels]
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["selected_session_id"] = session_id
    at.run()
    at.switch_page("pages/replay.py").run()
    assert not at.exception, at.exception

    table = at.dataframe[0].value
    assert list(table["by"])[-5:] == expected
    assert list(table["kind"])[-2:] == ["fragment_folded", "fragment_restored"]
    last = len(table)
    for back, label in enumerate(reversed(expected)):  # each step's event line, from the latest back
        line = at.text[0].value.splitlines()[0]
        assert line.startswith(f"#{last - back} · ") and line.endswith(f" · by {label}"), (line, label)
        at.slider(key=replay_step_key(session_id)).set_value(last - back - 1).run()
        assert not at.exception, at.exception

    # the odd name is a cell's text and the event line's text, never Markdown or HTML anywhere
    assert ODD in list(at.dataframe[0].value["by"])[-1]
    drawn_as_markup = [str(e.proto) for e in (*at.markdown, *at.caption, *at.get("html")) if "onerror" in str(e.proto)]
    assert drawn_as_markup == []
