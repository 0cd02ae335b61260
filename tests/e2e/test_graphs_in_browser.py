"""The graph pages in a real browser: the pyvis drawing paints its canvas offline, a click shows a
node's details, a hostile title stays text, and nothing is fetched from another host.

The helpers (`graph_frame`, `assert_canvas_drawn`, `click_node`, `Watch`) serve every graph page.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

from playwright.sync_api import expect

from sessions import SessionStore

from tests.e2e.conftest import pick_session

TIMEOUT = 60_000
EVIL = "<img src=x onerror=alert(1)>"
PAINTED = 2_000  # pixels not white: a handful of boxes and edges paints tens of thousands


class Watch:
    """Dialogs (alert, confirm, prompt) opened by the page or any of its iframes, and requests
    from any of them to a host other than this machine."""

    def __init__(self, page) -> None:
        self.dialogs: list[str] = []
        self.remote: list[str] = []
        page.on("dialog", self._dialog)  # Playwright reports a dialog of any frame on its page
        page.on("request", self._request)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _request(self, request) -> None:
        address = urlparse(request.url)
        if address.scheme in ("data", "blob", "about", "javascript") or address.hostname == "127.0.0.1":
            return
        self.remote.append(request.url)


def graph_frame(page, alt: str):
    """The Frame of the graph iframe whose title (render_graph's `alt`) is `alt`, once vis has drawn."""
    iframe = page.locator(f'iframe[title="{alt}"]')
    expect(iframe).to_be_visible(timeout=TIMEOUT)
    iframe.scroll_into_view_if_needed()
    frame = iframe.element_handle().content_frame()
    frame.wait_for_function("window.graphReady === true", timeout=TIMEOUT)
    return frame


def assert_canvas_drawn(frame, at_least: int = PAINTED) -> int:
    """The graph's canvas exists and has at least `at_least` painted (non-white, opaque) pixels."""
    painted = frame.evaluate("""() => {
        const canvas = document.querySelector('#mynetwork canvas');
        if (!canvas || !canvas.width || !canvas.height) return -1;
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 0; i < pixels.length; i += 4) {
            if (pixels[i + 3] > 0 && (pixels[i] < 240 || pixels[i + 1] < 240 || pixels[i + 2] < 240)) count++;
        }
        return count;
    }""")
    assert painted >= at_least, f"the canvas has {painted} painted pixels"
    return painted


def click_node(page, frame, node_id: str) -> None:
    """Click where vis drew `node_id` (its canvas position mapped to the page)."""
    spot = frame.evaluate("id => network.canvasToDOM(network.getPositions([id])[id])", node_id)
    box = frame.locator("#mynetwork").bounding_box()
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])


def _seed(db, title: str) -> dict[str, str]:
    store = SessionStore(db, lock_timeout=30)
    session = store.create_session(title)
    session.add_message("user", "Plan the offsite.")
    add = lambda **arguments: session.call_tool("add_task", arguments)["task_id"]  # noqa: E731
    ids = {"goal": add(title="Team offsite")}
    ids["dates"] = add(title="Pick the dates", parent=ids["goal"])
    ids["venue"] = add(title="Book the venue", parent=ids["goal"], depends_on=[ids["dates"]])
    ids["hotel"] = add(title="Reserve the hotel", parent=ids["goal"], depends_on=[ids["venue"]])
    ids["evil"] = add(title=EVIL, details=EVIL, parent=ids["goal"], depends_on=[ids["venue"]])
    session.call_tool("update_task", {"task_id": ids["dates"], "details": "Wednesday to Friday"})
    session.call_tool("complete_task", {"task_id": ids["dates"], "summary": "Wednesday to Friday"})
    ids["session"] = session.id
    store.close()
    return ids


def _open_tasks(server, browser, title: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    watch = Watch(page)
    pick_session(page, server["url"], title, "Tasks")
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible(timeout=TIMEOUT)
    return page, watch


def test_the_task_graph_draws_offline_and_a_click_opens_the_task(server, browser, shots):
    ids = _seed(server["db"], "graph in the browser")
    page, watch = _open_tasks(server, browser, "graph in the browser")
    frame = graph_frame(page, "task graph")
    assert_canvas_drawn(frame)
    assert sorted(frame.evaluate("network.body.nodeIndices")) == sorted(v for k, v in ids.items() if k != "session")
    shots(page, "30-tasks-graph")

    click_node(page, frame, ids["hotel"])
    panel = frame.locator("#graph-details")
    expect(panel).to_be_visible(timeout=TIMEOUT)  # the details inside the graph
    expect(panel).to_contain_text(f"{ids['hotel']} · stale")
    expect(panel).to_contain_text(f"waits for: {ids['venue']} (Book the venue)")
    heading = page.get_by_role("heading", name="Reserve the hotel")
    expect(heading).to_be_visible(timeout=TIMEOUT)  # and the click picked it for the panel below
    expect(page.get_by_text(f"{ids['goal']} (Team offsite)")).to_be_visible()  # its parent, in the details
    shots(page, "31-tasks-graph-clicked")
    assert watch.remote == [] and watch.dialogs == []
    page.close()


def test_a_hostile_title_shows_as_text_and_runs_nothing(server, browser, shots):
    ids = _seed(server["db"], "hostile title")
    page, watch = _open_tasks(server, browser, "hostile title")
    frame = graph_frame(page, "task graph")
    assert_canvas_drawn(frame)
    click_node(page, frame, ids["evil"])
    panel = frame.locator("#graph-details")
    expect(panel).to_contain_text(EVIL, timeout=TIMEOUT)  # the markup, shown as text
    page.mouse.move(0, 0)
    spot = frame.evaluate("id => network.canvasToDOM(network.getPositions([id])[id])", ids["evil"])
    box = frame.locator("#mynetwork").bounding_box()
    page.mouse.move(box["x"] + spot["x"], box["y"] + spot["y"])  # hover: vis's own tooltip
    expect(frame.locator("div.vis-tooltip")).to_contain_text(EVIL, timeout=TIMEOUT)
    expect(page.get_by_role("heading", name=EVIL)).to_be_visible(timeout=TIMEOUT)  # picked by the click
    page.get_by_role("tab", name="List").click()
    expect(page.get_by_text(EVIL).first).to_be_visible()
    time.sleep(1)  # an onerror would have fired by now
    for each in page.frames:
        assert each.locator('img[src="x"]').count() == 0
    assert watch.dialogs == [] and watch.remote == []
    shots(page, "32-tasks-hostile-title")
    page.close()


def test_the_page_follows_tasks_added_while_it_is_open(server, browser):
    ids = _seed(server["db"], "live board")
    page, watch = _open_tasks(server, browser, "live board")
    expect(page.get_by_text("1 of 5 done", exact=False)).to_be_visible(timeout=TIMEOUT)
    store = SessionStore(server["db"], lock_timeout=30)  # as a chat in another tab or the CLI would
    store.open_session(ids["session"]).call_tool("add_task", {"title": "Send the invitations"})
    store.close()
    expect(page.get_by_text("1 of 6 done", exact=False)).to_be_visible(timeout=TIMEOUT)  # no reload
    frame = graph_frame(page, "task graph")
    assert len(frame.evaluate("network.body.nodeIndices")) == 6
    assert watch.remote == []
    page.close()
