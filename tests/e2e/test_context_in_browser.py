"""The Context page in Chromium at the scale of issue 11's benchmark: a Hide click reruns the token
bar and that message's card only (keyed fragments), the other tabs show the fold when opened,
and the message list pages by fragment rows.

"Only" is watched, not assumed: a MutationObserver on another message's card records every
change under it, attributes included. A whole-page rerun marks each element it has not yet
redrawn as stale (`data-stale`) and then redraws it, so it leaves records there; a rerun of
other fragments leaves none."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from sessions import SessionStore
from tests.conftest import long_text
from tests.e2e.conftest import WATCH, pick_session

TIMEOUT = 30_000
TITLE = "three long messages"


def _seed(db) -> tuple[str, list[list[str]]]:
    store = SessionStore(db, lock_timeout=30)
    session = store.create_session(TITLE)
    ids = []
    for number in (1, 2, 3):
        message_id = session.add_message("user", f"Start {number}.\n{long_text(20)}\nEnd {number}.")
        cut = session.call_tool("fragment_context", {"start_marker": f"Start {number}.", "end_marker": f"End {number}.",
                                                     "num_fragments": 20, "message_id": message_id})
        ids.append([piece["fragment_id"] for piece in cut["fragments"]])
    store.close()
    return session.id, ids


def _store_numbers(db, session_id) -> tuple[int, list[str]]:
    store = SessionStore(db, lock_timeout=30)
    try:
        session = store.open_session(session_id)
        stats = session.window_stats(None)
        return stats["rendered_tokens"] + stats["tool_schema_tokens"], [e["kind"] for e in session.events()]
    finally:
        store.close()


def _in_window(page) -> str:
    block = page.locator('[data-testid="stMetric"]').filter(has_text="In the window").first
    return block.locator('[data-testid="stMetricValue"]').inner_text(timeout=TIMEOUT)





def _idle(page) -> None:
    page.wait_for_timeout(300)
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=TIMEOUT)


def test_a_hide_click_updates_the_bar_and_its_card_and_the_tabs_follow(server, browser, shots):
    session_id, ids = _seed(server["db"])
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], TITLE, "Context")
    expect(page.locator(".st-key-message-m2")).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    expect(page.locator(".st-key-message-m3")).to_have_count(0)  # 40 rows a page: m3 is on page 2
    before, _ = _store_numbers(server["db"], session_id)
    assert _in_window(page) == f"{before:,}"
    first_card = page.locator(".st-key-message-m1").inner_text()
    page.evaluate(WATCH, ".st-key-message-m1")

    target = ids[1][0]
    page.locator(f".st-key-m2-{target}-0-hide").get_by_role("button", name="Hide").click()
    expect(page.locator(f".st-key-m2-{target}-0-restore")).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    assert page.evaluate("window.cardChanges") == []  # m1's card was not rerun, nor marked stale
    after, kinds = _store_numbers(server["db"], session_id)
    assert after < before and _in_window(page) == f"{after:,}"  # the bar shows what the store holds
    assert kinds[-1] == "fragment_folded" and kinds.count("fragment_folded") == 1
    expect(page.get_by_text(re.compile(rf"Hid {target}"))).to_be_visible(timeout=TIMEOUT)
    assert page.locator(".st-key-message-m1").inner_text() == first_card
    expect(page.locator(".st-key-message-m2").get_by_text(f"[folded fragment {target}")).to_be_visible()
    shots(page, "context-after-a-hide")

    page.get_by_role("tab", name="What the model sees").click()  # a closed tab runs when opened
    expect(page.get_by_text(re.compile(rf"folded fragment {target}")).first).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("tab", name="Messages").click()
    page.locator('[data-testid="stNumberInputStepUp"]').first.click()
    expect(page.locator(".st-key-message-m3")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".st-key-message-m1")).to_have_count(0)
    shots(page, "context-page-two")
    page.close()


def test_a_hide_click_after_the_cli_added_a_message_redraws_the_page_and_the_sidebar(server, browser, shots):
    title = "two messages, then one more from the CLI"
    store = SessionStore(server["db"], lock_timeout=30)
    session = store.create_session(title)
    ids = []
    for number in (1, 2):
        message_id = session.add_message("user", f"Start {number}.\n{long_text(3)}\nEnd {number}.")
        cut = session.call_tool("fragment_context", {"start_marker": f"Start {number}.", "end_marker": f"End {number}.",
                                                     "num_fragments": 3, "message_id": message_id})
        ids.append([piece["fragment_id"] for piece in cut["fragments"]])
    store.close()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Context")
    expect(page.locator(".st-key-message-m2")).to_be_visible(timeout=TIMEOUT)
    _idle(page)
    picker = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"] input').first
    expect(picker).to_have_value(re.compile(r"· 2 msgs$"))

    store = SessionStore(server["db"], lock_timeout=30)  # as `python -m sessions` would, while the page is open
    store.open_session(session.id).add_message("user", "Added by the CLI.")
    store.close()
    page.locator(f".st-key-m1-{ids[0][0]}-0-hide").get_by_role("button", name="Hide").click()
    expect(page.locator(f".st-key-m1-{ids[0][0]}-0-restore")).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".st-key-message-m3").get_by_text("Added by the CLI.")).to_be_visible(timeout=TIMEOUT)
    expect(picker).to_have_value(re.compile(r"· 3 msgs$"), timeout=TIMEOUT)  # the sidebar redrawn too
    shots(page, "context-hide-after-the-cli")
    page.close()
