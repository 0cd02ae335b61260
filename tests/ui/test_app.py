"""The minimal app, run by Streamlit's AppTest against a real DuckDB file."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from sessions import SessionStore

from tests.conftest import ROOT, long_text

APP = str(ROOT / "app.py")


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("WORKBENCH_DB", str(path))
    return path


def test_an_empty_store_explains_how_to_start(db):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("No sessions yet" in info.value for info in at.info)


def test_a_session_shows_its_rendered_context_and_token_breakdown(db):
    store = SessionStore(db, linger=0)
    session = store.create_session("shown in the app")
    session.add_message("system", "Be helpful.")
    session.add_message("user", long_text(8) + "\n<script>alert('x')</script> <b>bold?</b>")
    pieces = session.call_tool("fragment_context", {"start_marker": "Paragraph 1.", "end_marker": "End of notes.", "num_fragments": 3})
    session.call_tool("fold_fragment", {"fragment_id": pieces["fragments"][0]["fragment_id"]})
    expected = session.stats()
    store.close()

    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Rendered"] == f"{expected['rendered_tokens']:,}"
    assert metrics["Folded"] == f"{expected['folded_tokens']:,}"
    texts = [t.value for t in at.text]
    assert any("<script>alert('x')</script>" in t for t in texts)  # shown as characters, not HTML
    assert any(f"[folded fragment {pieces['fragments'][0]['fragment_id']}" in t for t in texts)
    assert not any("<script>" in m.value for m in at.markdown)
