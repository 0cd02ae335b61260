"""Pages that follow the log live, in Chromium: another process (`python -m sessions tool`, as an
MCP server would) writes events while a page is open, and the page shows them with no click.

"Without redrawing what did not change" is watched, not assumed: a MutationObserver on another
message's card records every change under it. A whole-page rerun marks each element it has not
yet redrawn as stale (`data-stale`) and then redraws it, so it leaves records there; a rerun of
the touched fragments leaves none (tests/e2e/test_context_in_browser.py shows both)."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from sessions import SessionStore
from tests.e2e.conftest import WATCH, pick_session, tool_elsewhere
from tests.ui.conftest import fragmented_session

TIMEOUT = 30_000



def _in_store(db, session_id) -> tuple[int, int]:
    """(what fills the window, the number of events) as the store holds them."""
    store = SessionStore(db, lock_timeout=30)
    try:
        session = store.open_session(session_id)
        stats = session.window_stats(None)
        return stats["rendered_tokens"] + stats["tool_schema_tokens"], session.last_seq
    finally:
        store.close()


def _in_window(page) -> str:
    block = page.locator('[data-testid="stMetric"]').filter(has_text="In the window").first
    return block.locator('[data-testid="stMetricValue"]').inner_text(timeout=TIMEOUT)


def _idle(page) -> None:
    page.wait_for_timeout(300)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=TIMEOUT)


def _follow_live(page):
    """The sidebar's "Follow live" switch (its input)."""
    return page.locator('[data-testid="stSidebar"]').get_by_role("switch", name="Follow live")


def test_the_context_page_shows_a_fold_made_elsewhere_and_redraws_only_its_card(server, browser, shots):
    title = "followed while another process folds"
    session_id, ids = fragmented_session(server["db"], 2, 3, title=title)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Context")
    expect(page.locator(".st-key-message-m2")).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    before, _ = _in_store(server["db"], session_id)
    assert _in_window(page) == f"{before:,}"
    page.evaluate(WATCH, ".st-key-message-m1")

    target = ids[1][0]
    assert tool_elsewhere(server["db"], session_id, "fold_fragment", {"fragment_id": target})["fragment_id"] == target
    expect(page.locator(f".st-key-m2-{target}-0-restore")).to_be_visible(timeout=TIMEOUT)  # no click
    expect(page.locator(".st-key-message-m2").get_by_text(f"[folded fragment {target}")).to_be_visible()
    after, _ = _in_store(server["db"], session_id)
    assert after < before
    expect(page.locator('[data-testid="stMetric"]').filter(has_text="In the window")
           .locator('[data-testid="stMetricValue"]')).to_have_text(f"{after:,}", timeout=TIMEOUT)
    _idle(page)
    assert page.evaluate("window.cardChanges") == []  # m1's card was not rerun, nor marked stale
    shots(page, "live-context-after-a-fold-elsewhere")

    _follow_live(page).click(force=True)  # paused: nothing reruns, a caption counts what waits
    expect(_follow_live(page)).not_to_be_checked(timeout=TIMEOUT)
    _idle(page)
    paused = ids[0][1]
    tool_elsewhere(server["db"], session_id, "fold_fragment", {"fragment_id": paused})
    expect(page.get_by_text("Paused: 1 new event waiting.")).to_be_visible(timeout=TIMEOUT)
    assert page.locator(f".st-key-m1-{paused}-1-hide").is_visible()  # still drawn as it was
    assert page.locator(f".st-key-m1-{paused}-1-restore").count() == 0
    shots(page, "live-context-paused")
    _follow_live(page).click(force=True)  # on again: the page shows what waited
    expect(page.locator(f".st-key-m1-{paused}-1-restore")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile(r"^Paused:"))).to_have_count(0, timeout=TIMEOUT)
    page.close()


def test_the_context_page_shows_a_message_the_cli_added(server, browser):
    title = "a message arrives from the CLI"
    session_id, _ = fragmented_session(server["db"], 1, 3, title=title)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Context")
    expect(page.locator(".st-key-message-m1")).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    store = SessionStore(server["db"], lock_timeout=30)  # this test's process is another process to the app
    store.open_session(session_id).add_message("user", "Added while the page was open.")
    store.close()
    expect(page.locator(".st-key-message-m2").get_by_text("Added while the page was open.")).to_be_visible(timeout=TIMEOUT)
    page.close()


def _step_shown(page):
    """The first line of the event the Replay page shows ("#3 · ... · fragment_folded")."""
    return page.locator(".st-key-replay-step [data-testid='stText']").first


def test_replay_follows_at_the_latest_step_and_stays_at_an_earlier_one(server, browser, shots):
    title = "replayed while another process folds"
    session_id, ids = fragmented_session(server["db"], 1, 3, title=title)  # 2 events: the message and its cut
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Replay")
    nav = page.locator('[data-testid="stMain"]')
    expect(nav.get_by_text(re.compile(r"· 2 events$"))).to_be_visible(timeout=TIMEOUT)
    expect(_step_shown(page)).to_contain_text("#2 ·", timeout=TIMEOUT)
    _idle(page)

    tool_elsewhere(server["db"], session_id, "fold_fragment", {"fragment_id": ids[0][0]})
    expect(nav.get_by_text(re.compile(r"· 3 events$"))).to_be_visible(timeout=TIMEOUT)  # no click
    expect(_step_shown(page)).to_contain_text("fragment_folded", timeout=TIMEOUT)  # on to the new latest
    assert "#3 ·" in _step_shown(page).inner_text()
    _idle(page)

    page.get_by_role("button", name="Back").click()
    expect(_step_shown(page)).to_contain_text("#2 ·", timeout=TIMEOUT)
    _idle(page)
    page.evaluate(WATCH, ".st-key-replay-step [data-testid='stText']")
    tool_elsewhere(server["db"], session_id, "fold_fragment", {"fragment_id": ids[0][1]})
    expect(nav.get_by_text(re.compile(r"· 4 events$"))).to_be_visible(timeout=TIMEOUT)
    slider = page.get_by_role("slider", name=re.compile("Step"))
    expect(slider).to_have_attribute("max", "4", timeout=TIMEOUT)  # "of N" grew
    expect(slider).to_have_attribute("value", "2")
    _idle(page)
    assert "#2 ·" in _step_shown(page).inner_text()  # the earlier step stays
    assert page.evaluate("window.cardChanges") == []  # and what it shows was not redrawn
    shots(page, "live-replay-at-an-earlier-step")
    page.close()


def test_replay_left_at_the_latest_step_is_at_the_latest_again_after_a_pause(server, browser):
    title = "replay paused while another process folds"
    session_id, ids = fragmented_session(server["db"], 1, 3, title=title)  # 2 events
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Replay")
    nav = page.locator('[data-testid="stMain"]')
    expect(_step_shown(page)).to_contain_text("#2 ·", timeout=TIMEOUT)
    _idle(page)
    _follow_live(page).click(force=True)
    expect(_follow_live(page)).not_to_be_checked(timeout=TIMEOUT)
    _idle(page)
    tool_elsewhere(server["db"], session_id, "fold_fragment", {"fragment_id": ids[0][0]})
    expect(page.get_by_text("Paused: 1 new event waiting.")).to_be_visible(timeout=TIMEOUT)
    _follow_live(page).click(force=True)  # on again: the whole page runs, and the latest is the new one
    expect(nav.get_by_text(re.compile(r"· 3 events$"))).to_be_visible(timeout=TIMEOUT)
    expect(_step_shown(page)).to_contain_text("#3 ·", timeout=TIMEOUT)
    _idle(page)
    tool_elsewhere(server["db"], session_id, "fold_fragment", {"fragment_id": ids[0][1]})  # and it follows on
    expect(_step_shown(page)).to_contain_text("#4 ·", timeout=TIMEOUT)
    page.close()


def test_chat_shows_a_reply_written_elsewhere(server, browser):
    title = "chatted elsewhere"
    session_id, _ = fragmented_session(server["db"], 1, 3, title=title)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Chat")
    expect(page.locator('[data-testid="stChatMessage"]').first).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    store = SessionStore(server["db"], lock_timeout=30)  # another process, as the CLI's chat would
    store.open_session(session_id).add_message("assistant", "A reply written by another process.")
    store.close()
    expect(page.get_by_text("A reply written by another process.")).to_be_visible(timeout=TIMEOUT)
    page.close()


def test_tasks_page_shows_a_task_added_elsewhere(server, browser):
    title = "planned elsewhere"
    session_id, _ = fragmented_session(server["db"], 1, 3, title=title)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Tasks")
    expect(page.get_by_text(re.compile(r"^No tasks yet"))).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    tool_elsewhere(server["db"], session_id, "add_task", {"title": "Read the committee notes"})
    expect(page.get_by_text(re.compile(r"0 of 1 done"))).to_be_visible(timeout=TIMEOUT)
    page.close()
