"""The Memory page in a real browser: the graph paints its canvas offline, a click opens a memory,
a hostile memory stays text and opens no dialog in the page or the graph's iframe, and nothing
is fetched from a host other than 127.0.0.1."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from sessions import SessionStore

from tests.e2e.conftest import GRAPH_TIMEOUT, GraphWatch, node_on_page, painted_pixels, pick_session, wait_for_graph

EVIL = "<img src=x onerror=alert(1)>"
PAINTED = 2_000  # pixels not white: a few nodes and edges paint tens of thousands


def _seed(db, title: str) -> dict[str, str]:
    store = SessionStore(db, lock_timeout=30)
    session = store.create_session(title)
    session.add_message("user", "Ada booked Hall B for Tuesday.")
    call = lambda name, **arguments: session.call_tool(name, arguments)["memory_id"]  # noqa: E731
    ids = {
        "fact": call("memory_insert", memory_type="semantic", content="Ada prefers tea", entities=["Ada", "tea"]),
        "event": call("memory_insert", memory_type="episodic", content="Ada booked Hall B",
                      entities=["Ada", "Hall B"], when="Tuesday 14:00"),
        "link": call("memory_link", entities=["Ada", "Bob"], description="Ada works with Bob"),
        "evil": call("memory_insert", memory_type="semantic", content=EVIL, entities=[EVIL, "Ada"]),
        "core": call("memory_update", memory_id="core", content="The user is Ada."),
    }
    ids["session"] = session.id
    store.close()
    return ids


def _open_memory(server, browser, title: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    watch = GraphWatch(page)
    pick_session(page, server["url"], title, "Memory")
    expect(page.get_by_role("heading", name="Memory", exact=True)).to_be_visible(timeout=GRAPH_TIMEOUT)
    return page, watch


def test_the_memory_graph_draws_offline_and_a_click_opens_the_memory(server, browser, shots):
    ids = _seed(server["db"], "memory in the browser")
    page, watch = _open_memory(server, browser, "memory in the browser")
    frame = wait_for_graph(page, "memory graph")
    assert painted_pixels(frame) >= PAINTED
    drawn = set(frame.evaluate("network.body.nodeIndices"))
    memories = {ids[key] for key in ("fact", "event", "link", "evil", "core")}
    assert memories <= drawn and {"entity:ada", "entity:tea", "entity:hall b", "entity:bob"} <= drawn
    shots(page, "40-memory-graph")

    page.mouse.click(*node_on_page(frame, ids["event"]))
    panel = frame.locator("#graph-details")
    expect(panel).to_be_visible(timeout=GRAPH_TIMEOUT)  # the details inside the graph
    expect(panel).to_contain_text(f"{ids['event']} · episodic · live")
    expect(panel).to_contain_text("when: Tuesday 14:00")
    details = page.locator('[data-testid="stMarkdownContainer"]').filter(
        has_text=f"{ids['event']} · episodic · live · written at step")
    expect(details).to_be_visible(timeout=GRAPH_TIMEOUT)  # and the click picked it for the details below
    shots(page, "41-memory-graph-clicked")
    assert watch.remote == [] and watch.dialogs == []
    page.close()


def test_a_hostile_memory_shows_as_text_and_runs_nothing(server, browser, shots):
    ids = _seed(server["db"], "hostile memory")
    page, watch = _open_memory(server, browser, "hostile memory")
    frame = wait_for_graph(page, "memory graph")
    assert painted_pixels(frame) >= PAINTED
    page.mouse.click(*node_on_page(frame, ids["evil"]))
    expect(frame.locator("#graph-details")).to_contain_text(EVIL, timeout=GRAPH_TIMEOUT)  # markup shown as text
    page.mouse.move(0, 0)
    page.mouse.move(*node_on_page(frame, "entity:" + EVIL.casefold()))  # hover: vis's own tooltip
    expect(frame.locator("div.vis-tooltip")).to_contain_text(f"entity · {EVIL}", timeout=GRAPH_TIMEOUT)
    shown = page.locator('[data-testid="stText"]').filter(has_text=EVIL)  # the click picked it: its content below
    expect(shown.first).to_be_visible(timeout=GRAPH_TIMEOUT)
    time.sleep(1)  # an onerror would have fired by now
    for each in page.frames:  # the page, the graph's iframe, and any other
        assert each.locator('img[src="x"]').count() == 0
    assert watch.dialogs == [] and watch.remote == []
    shots(page, "42-memory-hostile")
    page.close()


def test_the_page_follows_memories_written_while_it_is_open(server, browser):
    ids = _seed(server["db"], "live memory")
    page, watch = _open_memory(server, browser, "live memory")
    expect(page.get_by_text("5 of 5 memories shown (5 live).")).to_be_visible(timeout=GRAPH_TIMEOUT)
    store = SessionStore(server["db"], lock_timeout=30)  # as a chat in another tab or the CLI would
    new = store.open_session(ids["session"]).call_tool(
        "memory_insert", {"memory_type": "semantic", "content": "Bob flies in on Monday", "entities": ["Bob"]})
    store.close()
    expect(page.get_by_text("6 of 6 memories shown (6 live).")).to_be_visible(timeout=GRAPH_TIMEOUT)  # no reload
    frame = wait_for_graph(page, "memory graph")
    assert new["memory_id"] in frame.evaluate("network.body.nodeIndices")
    assert watch.remote == []
    page.close()
