"""The Chat page in a real browser, talking to the embedded model (a real model, on this machine)."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from sessions import SessionStore

from tests.e2e.conftest import pick_session, seed_session

TIMEOUT = 90_000


def test_chat_with_the_embedded_model(server, browser, shots):
    session_id = seed_session(server["db"], "chat in the browser", "Remember: the code word is PELICAN.")

    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], "chat in the browser", "Chat")
    expect(page.get_by_role("heading", name="Chat")).to_be_visible(timeout=TIMEOUT)
    in_window = page.locator('[data-testid="stMetric"]').filter(has_text="In the window").first
    before = in_window.inner_text()

    box = page.get_by_placeholder(re.compile("Message the model"))
    box.fill("Say hello to me in one short sentence.")
    box.press("Enter")
    expect(page.locator('[data-testid="stChatMessage"]')).to_have_count(3, timeout=TIMEOUT)  # the seed, ours, its reply
    expect(in_window).not_to_have_text(before, timeout=TIMEOUT)  # the token bar moves with the new messages
    deadline = time.monotonic() + 90
    while True:  # the turn is saved when its llm_called event is in the log
        store = SessionStore(server["db"], lock_timeout=30)
        kinds = [e["kind"] for e in store.open_session(session_id).events()]
        store.close()
        if "llm_called" in kinds or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert kinds[-3:] == ["message_added", "llm_called", "message_added"]
    expect(page.locator('[data-testid="stStatusWidget"]')).to_have_count(0, timeout=TIMEOUT)
    reply = page.locator('[data-testid="stChatMessage"]').nth(2).inner_text()
    assert reply.strip()
    shots(page, "09-chat-with-the-embedded-model")
    page.close()


def _events(db, session_id, until_kind: str, timeout: float = 90):
    """The session's events once one of `until_kind` is in the log (the worker writes it)."""
    deadline = time.monotonic() + timeout
    while True:
        store = SessionStore(db, lock_timeout=30)
        events = store.open_session(session_id).events()
        store.close()
        if any(e["kind"] == until_kind for e in events) or time.monotonic() > deadline:
            return events
        time.sleep(0.3)


def _ask_for_a_long_story(server, browser, title: str):
    """A page on Chat for the session `title`, with a long reply just asked for."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    pick_session(page, server["url"], title, "Chat")
    box = page.get_by_placeholder(re.compile("Message the model"))
    box.fill("Write a very long story about a lighthouse keeper, with many chapters.")
    box.press("Enter")
    return page


def test_a_turn_can_be_stopped_and_retried(server, browser, shots):
    session_id = seed_session(server["db"], "stop me")
    page = _ask_for_a_long_story(server, browser, "stop me")
    stop = page.get_by_role("button", name="Stop")
    expect(stop).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile("Writing…"))).to_be_visible(timeout=TIMEOUT)  # the reply has begun
    stop.click()
    expect(page.get_by_text("The last reply was stopped", exact=False)).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text(re.compile("stopped: this is what the model had written"))).to_be_visible()
    shots(page, "10-chat-turn-stopped")
    events = _events(server["db"], session_id, "llm_called")
    called = next(e for e in events if e["kind"] == "llm_called")
    assert called["payload"]["finish_reason"] == "stopped" and "Stop pressed" in called["payload"]["stop_reason"]
    assert called["payload"]["usage"]["completion_tokens"] > 0
    kept = events[-1]["payload"]
    assert kept["role"] == "assistant" and kept["stopped"] is True and kept["content"]  # the partial reply is kept
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    page.close()


def test_leaving_the_page_mid_turn_stops_the_turn_and_keeps_what_arrived(server, browser, shots):
    session_id = seed_session(server["db"], "leave me")
    page = _ask_for_a_long_story(server, browser, "leave me")
    expect(page.get_by_text(re.compile("Writing…"))).to_be_visible(timeout=TIMEOUT)
    page.get_by_role("link", name="Context").click()
    expect(page.get_by_role("heading", name="Context")).to_be_visible(timeout=TIMEOUT)
    events = _events(server["db"], session_id, "llm_called")
    called = next(e for e in events if e["kind"] == "llm_called")
    assert called["payload"]["finish_reason"] == "stopped" and "page left" in called["payload"]["stop_reason"]
    assert events[-1]["payload"]["stopped"] is True
    page.get_by_role("link", name="Chat").click()
    expect(page.get_by_text(re.compile("stopped: this is what the model had written"))).to_be_visible(timeout=TIMEOUT)
    shots(page, "11-chat-left-mid-turn")
    page.close()
