"""The Memory page in a real browser: the graph paints its canvas offline, a click opens a memory,
a hostile memory stays text and opens no dialog in the page or the graph's iframe, and nothing
is fetched from a host other than 127.0.0.1. With the rest of the app: the step chosen on Replay
is followed after a switch through the sidebar (Streamlit drops a widget's state on pages that do
not draw it, which AppTest cannot show as a browser does), a refused core save stays in its open
form, a memory's source message opens marked on Context, and a URL in a memory is no link."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from sessions import SessionStore

from engine.tokens import token_counter
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
    ids["before_delete"] = str(session.last_seq)
    ids["wrong"] = call("memory_insert", memory_type="semantic", content="Bob hates Hall B", entities=["Bob"])
    session.call_tool("memory_delete", {"memory_id": ids["wrong"]})
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
    core = f"core memory ({token_counter().count('The user is Ada.')} tokens)"
    expect(page.get_by_text(f"Live: 4 memories + {core}. Shown: 5 of the 6 written")).to_be_visible(
        timeout=GRAPH_TIMEOUT)
    store = SessionStore(server["db"], lock_timeout=30)  # as a chat in another tab or the CLI would
    new = store.open_session(ids["session"]).call_tool(
        "memory_insert", {"memory_type": "semantic", "content": "Bob flies in on Monday", "entities": ["Bob"]})
    store.close()
    expect(page.get_by_text(f"Live: 5 memories + {core}. Shown: 6 of the 7 written")).to_be_visible(
        timeout=GRAPH_TIMEOUT)  # no reload
    frame = wait_for_graph(page, "memory graph")
    assert new["memory_id"] in frame.evaluate("network.body.nodeIndices")
    assert watch.remote == []
    page.close()


def _sidebar(page, name: str) -> None:
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible(timeout=GRAPH_TIMEOUT)


def _expect_step(page, step: int) -> None:
    """The Replay slider (a range input) stands at `step`."""
    expect(page.get_by_role("slider", name="Step (events applied)")).to_have_value(str(step), timeout=GRAPH_TIMEOUT)


def test_the_memory_follows_the_step_chosen_on_replay(server, browser, shots):
    ids = _seed(server["db"], "memory at a step")
    step, last = int(ids["before_delete"]), int(ids["before_delete"]) + 2  # the wrong fact, then its delete
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    pick_session(page, server["url"], "memory at a step", "Replay")
    _expect_step(page, last)
    page.get_by_role("button", name="Back").click()  # before the delete: the wrong fact still lives
    _expect_step(page, last - 1)
    _sidebar(page, "Memory")
    page.get_by_text("Follow the Replay step", exact=True).click()
    expect(page.get_by_text(f"Showing the memory at Replay step {last - 1} of {last};")).to_be_visible(
        timeout=GRAPH_TIMEOUT)
    frame = wait_for_graph(page, "memory graph")
    assert ids["wrong"] in frame.evaluate("network.body.nodeIndices")  # live at that step, so drawn
    shots(page, "43-memory-following-replay")

    _sidebar(page, "Replay")  # the step is still the one chosen, not the latest
    _expect_step(page, last - 1)
    page.get_by_role("button", name="Back").click()  # before the wrong fact was written
    _expect_step(page, step)
    _sidebar(page, "Memory")  # the toggle is still on, at the new step: the wrong fact not written yet
    expect(page.get_by_role("switch", name="Follow the Replay step")).to_be_checked(timeout=GRAPH_TIMEOUT)
    expect(page.get_by_text(f"Showing the memory at Replay step {step} of {last};")).to_be_visible(
        timeout=GRAPH_TIMEOUT)
    frame = wait_for_graph(page, "memory graph")
    assert ids["wrong"] not in frame.evaluate("network.body.nodeIndices")
    page.get_by_text("Follow the Replay step", exact=True).click()  # off: the latest, where it is deleted
    expect(page.get_by_text("Live: 4 memories")).to_be_visible(timeout=GRAPH_TIMEOUT)
    page.close()


def test_a_refused_core_save_stays_in_the_open_form(server, browser, shots):
    _seed(server["db"], "core refused")
    page, _ = _open_memory(server, browser, "core refused")
    page.get_by_text("Edit core memory").click()
    box = page.get_by_role("textbox", name="Core memory text")
    box.fill("word " * 600)
    page.get_by_role("button", name="Save core memory").click()
    error = page.locator('[data-testid="stExpander"]').filter(has_text="Edit core memory").locator(
        '[data-testid="stAlertContentError"]')
    expect(error).to_contain_text("at most 512 tokens", timeout=GRAPH_TIMEOUT)
    assert page.locator('[data-testid="stAlertContentError"]').count() == 1  # once, in the form
    expect(box).to_be_visible()  # the form is open, with the text to fix
    assert box.input_value().strip() == ("word " * 600).strip()
    box.scroll_into_view_if_needed()
    shots(page, "44-memory-core-refused")
    page.close()


def test_a_source_message_opens_marked_on_context_and_a_url_is_no_link(server, browser, shots):
    ids = _seed(server["db"], "memory source")
    store = SessionStore(server["db"], lock_timeout=30)
    store.open_session(ids["session"]).call_tool("memory_update", {
        "memory_id": ids["fact"], "content": "Ada prefers tea",
        "entities": ["Ada", "http://evil.example/x", "www.evil.example"]})
    store.close()
    page, _ = _open_memory(server, browser, "memory source")
    page.locator('[data-testid="stSelectbox"]').filter(has_text="Memory").last.click()
    page.get_by_role("option").filter(has_text=ids["fact"]).click()
    facts = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="entities:")
    expect(facts).to_contain_text("evil.example/x", timeout=GRAPH_TIMEOUT)
    for each in page.frames:
        assert each.locator('a[href*="evil.example"]').count() == 0  # GFM would link a bare URL
    page.get_by_role("button", name="Read m1 on the Context page").click()
    expect(page.get_by_role("heading", name="Context", exact=True)).to_be_visible(timeout=GRAPH_TIMEOUT)
    expect(page.get_by_text("Showing m1, the message the link pointed to")).to_be_visible(timeout=GRAPH_TIMEOUT)
    marked = page.locator(".st-key-context_jump_target")
    expect(marked).to_contain_text("m1", timeout=GRAPH_TIMEOUT)
    assert marked.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    shots(page, "45-context-jump")
    page.close()
