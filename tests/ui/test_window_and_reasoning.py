"""One window figure on every page, the sidebar's window choice everywhere, and reasoning
shown collapsed above its reply on Chat, Context and Replay."""

from __future__ import annotations

import pytest

from sessions import SessionStore

from tests.conftest import long_text

PAGES = ("pages/context.py", "pages/chat.py", "pages/replay.py")


def _seed(db):
    store = SessionStore(db, linger=0)
    session = store.create_session("thoughtful")
    session.add_message("system", "Think, then answer.")
    session.add_message("user", long_text(8))
    session.add_message("assistant", "Paragraph 3 holds the budget line.",
                        reasoning="The user wants the budget line. Paragraph 3 mentions budget line 39, so answer that.")
    session.configure(tools="all")  # a profile other than the default: every page must count its schemas
    store.close()
    return session.id


def _open(app, page, session_id, choice=None):
    at = app()
    at.session_state["selected_session_id"] = session_id
    if choice is not None:
        at.session_state["model_window_choice"] = choice
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_every_page_shows_the_same_window_figure(app, db):
    session_id = _seed(db)
    store = SessionStore(db, linger=0)
    expected = store.open_session(session_id).window_stats(None)
    store.close()
    figures = {page: _metric(_open(app, page, session_id), "In the window") for page in PAGES}
    assert set(figures.values()) == {f"{expected['rendered_tokens'] + expected['tool_schema_tokens']:,}"}, figures
    assert expected["tool_profile"] == "all" and expected["reasoning_tokens"] > 10
    assert expected["rendered_tokens"] == SessionStore(db, linger=0).open_session(session_id).stats()["rendered_tokens"]


@pytest.mark.parametrize("choice, shown", [(None, "8,192"), (128_000, "128,000")])
def test_the_sidebar_window_choice_applies_on_every_page(app, db, choice, shown):
    session_id = _seed(db)  # its model is the embedded one: 8,192 tokens unless the sidebar says otherwise
    for page in PAGES:
        assert _metric(_open(app, page, session_id, choice), "Window") == shown, page


def test_reasoning_is_shown_collapsed_above_the_reply_on_every_page(app, db):
    session_id = _seed(db)
    for page in PAGES:
        at = _open(app, page, session_id)
        labels = [e.label for e in at.expander if e.label.startswith("Reasoning")]
        assert labels and "not sent back to the model" in labels[0], (page, [e.label for e in at.expander])
        assert any("Paragraph 3 mentions budget line 39" in t.value for t in at.text), page
        assert any("Reasoning:" in c.value and "not sent back" in c.value for c in at.caption), page


def test_the_search_panel_can_include_reasoning(app, db):
    session_id = _seed(db)
    at = _open(app, "pages/context.py", session_id)
    at.text_input(key="search_query").input("mentions budget")
    at.checkbox(key="search_reasoning").check()
    at.button(key="FormSubmitter:search-Search").click().run()
    assert not at.exception, at.exception
    store = SessionStore(db, linger=0)
    searched = [e for e in store.open_session(session_id).events() if e["kind"] == "context_searched"][-1]
    store.close()
    assert searched["payload"]["include_reasoning"] is True
    assert [hit["part"] for hit in searched["payload"]["hits"]] == ["reasoning"]
    assert any("⟦mentions budget⟧" in t.value for t in at.text)


def test_replay_measures_each_step_against_the_model_the_session_had_then(app, db):
    store = SessionStore(db, linger=0)
    session = store.create_session("switched models")
    session.add_message("user", "hello")
    session.configure(model="gpt-4o")  # event 2: a 128,000-token window from here
    session.configure(model="embedded/smollm2-135m-instruct")  # event 3: back to 8,192
    store.close()
    at = app()
    at.session_state["selected_session_id"] = session.id
    at.session_state[f"replay_step-{session.id}"] = 2
    at.switch_page("pages/replay.py").run()
    assert not at.exception, at.exception
    assert _metric(at, "Window") == "128,000"
    at.session_state[f"replay_step-{session.id}"] = 3
    at.run()
    assert _metric(at, "Window") == "8,192"
