"""The Tasks graph in a real browser: the pyvis drawing paints its canvas offline, a click shows a
task's details in a panel that can be closed and leaves the task in sight, a hostile title stays
text, only a click in the page's own graph picks a task (not a message from another origin or
from the page itself), a flat todo list draws at a legible size, and the view is kept while the
board grows. The helpers (GraphWatch, wait_for_graph, painted_pixels, node_on_page) are in
tests/e2e/conftest.py, shared with the Memory page's test.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

from playwright.sync_api import expect

from components.graph_view import MIN_SCALE
from sessions import SessionStore

from tests.e2e.conftest import GRAPH_TIMEOUT, GraphWatch, node_on_page, painted_pixels, pick_session, wait_for_graph

EVIL = "<img src=x onerror=alert(1)>"
PAINTED = 2_000  # pixels not white: a handful of boxes and edges paints tens of thousands
QUIET = 3  # seconds a forged message is given to (wrongly) pick a task: the bridge answers in well under one


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


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request in the test output
        pass


def _open_tasks(server, browser, title: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    watch = GraphWatch(page)
    pick_session(page, server["url"], title, "Tasks")
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible(timeout=GRAPH_TIMEOUT)
    return page, watch


def _node_box(frame, node_id: str) -> dict[str, float]:
    """The node's box in the frame's coordinates (as the panel's getBoundingClientRect)."""
    return frame.evaluate("""id => {
        const box = network.getBoundingBox(id), a = network.canvasToDOM({x: box.left, y: box.top}),
              b = network.canvasToDOM({x: box.right, y: box.bottom}), at = document.getElementById('mynetwork').getBoundingClientRect();
        return {left: a.x + at.left, top: a.y + at.top, right: b.x + at.left, bottom: b.y + at.top};
    }""", node_id)


def _overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


def test_the_task_graph_draws_offline_and_a_click_opens_the_task(server, browser, shots):
    ids = _seed(server["db"], "graph in the browser")
    page, watch = _open_tasks(server, browser, "graph in the browser")
    frame = wait_for_graph(page, "task graph")
    assert painted_pixels(frame) >= PAINTED
    assert sorted(frame.evaluate("network.body.nodeIndices")) == sorted(v for k, v in ids.items() if k != "session")
    shots(page, "30-tasks-graph")

    panel = frame.locator("#graph-details")
    for task in ("goal", "hotel"):  # one on the left, one on the right: the panel takes the other side
        page.mouse.click(*node_on_page(frame, ids[task]))
        expect(panel).to_be_visible(timeout=GRAPH_TIMEOUT)  # the details inside the graph
        expect(panel).to_contain_text(f"{ids[task]} · ")
        assert not _overlaps(panel.evaluate("p => p.getBoundingClientRect().toJSON()"), _node_box(frame, ids[task]))
    expect(panel).to_contain_text(f"{ids['hotel']} · stale")
    expect(panel).to_contain_text(f"waits for: {ids['venue']} (Book the venue)")
    heading = page.get_by_role("heading", name="Reserve the hotel")
    expect(heading).to_be_visible(timeout=GRAPH_TIMEOUT)  # and the click picked it for the panel below
    expect(page.get_by_text(f"{ids['goal']} (Team offsite)")).to_be_visible()  # its parent, in the details
    shots(page, "31-tasks-graph-clicked")
    frame.get_by_role("button", name="Close the details").click()
    expect(panel).to_be_hidden()
    assert frame.evaluate("network.getSelectedNodes()") == []
    expect(heading).to_be_visible()  # closing is not a pick
    assert watch.remote == [] and watch.dialogs == []
    page.close()


def test_a_hostile_title_shows_as_text_and_runs_nothing(server, browser, shots):
    ids = _seed(server["db"], "hostile title")
    page, watch = _open_tasks(server, browser, "hostile title")
    frame = wait_for_graph(page, "task graph")
    assert painted_pixels(frame) >= PAINTED
    page.mouse.click(*node_on_page(frame, ids["evil"]))
    panel = frame.locator("#graph-details")
    expect(panel).to_contain_text(EVIL, timeout=GRAPH_TIMEOUT)  # the markup, shown as text
    tooltip = frame.locator("div.vis-tooltip")
    page.mouse.move(*node_on_page(frame, ids["venue"]))  # hover while the panel is open: no tooltip over it
    time.sleep(1)  # vis shows a tooltip after 150 ms
    assert tooltip.count() == 0 or tooltip.evaluate("t => getComputedStyle(t).visibility") == "hidden"
    frame.get_by_role("button", name="Close the details").click()
    page.mouse.move(0, 0)
    page.mouse.move(*node_on_page(frame, ids["evil"]))  # hover: vis's own tooltip
    expect(tooltip).to_contain_text(EVIL, timeout=GRAPH_TIMEOUT)
    expect(tooltip).to_be_visible()
    expect(page.get_by_role("heading", name=EVIL)).to_be_visible(timeout=GRAPH_TIMEOUT)  # picked by the click
    page.get_by_role("tab", name="List").click()
    expect(page.get_by_text(EVIL).first).to_be_visible()
    time.sleep(1)  # an onerror would have fired by now
    for each in page.frames:
        assert each.locator('img[src="x"]').count() == 0
    assert watch.dialogs == [] and watch.remote == []
    shots(page, "32-tasks-hostile-title")
    page.close()


def test_the_page_follows_tasks_added_while_it_is_open_and_keeps_the_view(server, browser):
    ids = _seed(server["db"], "live board")
    page, watch = _open_tasks(server, browser, "live board")
    expect(page.get_by_text("1 of 5 done", exact=False)).to_be_visible(timeout=GRAPH_TIMEOUT)
    frame = wait_for_graph(page, "task graph")
    fitted = frame.evaluate("network.getScale()")
    page.mouse.move(*node_on_page(frame, ids["goal"]))
    page.mouse.wheel(0, -300)  # the person zooms in
    frame.wait_for_function("Object.keys(sessionStorage).some(key => key.startsWith('workbench-graph-view:'))",
                            timeout=GRAPH_TIMEOUT)
    time.sleep(1)  # the wheel's last zoom step
    zoomed = frame.evaluate("network.getScale()")
    assert zoomed > fitted * 1.05
    store = SessionStore(server["db"], lock_timeout=30)  # as a chat in another tab or the CLI would
    store.open_session(ids["session"]).call_tool("add_task", {"title": "Send the invitations"})
    store.close()
    expect(page.get_by_text("1 of 6 done", exact=False)).to_be_visible(timeout=GRAPH_TIMEOUT)  # no reload
    frame = wait_for_graph(page, "task graph")
    frame.wait_for_function("window.network && network.body.nodeIndices.length === 6 && window.graphReady",
                            timeout=GRAPH_TIMEOUT)  # a new drawing ...
    assert abs(frame.evaluate("network.getScale()") - zoomed) < 1e-6  # ... shown as the person left it
    assert watch.remote == []
    page.close()


def test_a_kept_view_that_shows_nothing_of_the_graph_gives_way_to_the_whole_graph(server, browser):
    ids = _seed(server["db"], "far away view")
    page, _ = _open_tasks(server, browser, "far away view")
    frame = wait_for_graph(page, "task graph")
    frame.evaluate("""() => {  // a view kept from another drawing, far from every node of this one
        for (const key of Object.keys(sessionStorage)) if (key.startsWith('workbench-graph-view:'))
            sessionStorage.setItem(key, JSON.stringify({scale: 4, position: {x: 90000, y: 90000}}));
        network.moveTo({scale: 4, position: {x: 90000, y: 90000}, animation: false});
        network.emit('zoom', {});  // kept as the person's view
    }""")
    page.reload()
    frame = wait_for_graph(page, "task graph")
    inside = frame.evaluate("""() => Object.values(network.getPositions()).filter(p => {
        const d = network.canvasToDOM(p), box = document.getElementById('mynetwork');
        return d.x >= 0 && d.y >= 0 && d.x <= box.clientWidth && d.y <= box.clientHeight; }).length""")
    assert inside == len(ids) - 1  # every task in sight again (ids also holds the session)
    frame.evaluate("network.moveTo({scale: 4, position: {x: 90000, y: 90000}, animation: false})")
    frame.locator("canvas").dblclick(position={"x": 20, "y": 20})  # empty canvas: the whole graph again
    assert frame.evaluate("network.getScale()") < 4
    page.close()


def test_a_flat_todo_list_draws_legibly(server, browser, shots):
    store = SessionStore(server["db"], lock_timeout=30)
    session = store.create_session("twenty todos")
    for number in range(1, 21):  # as an imported Claude Code todo list: no dependencies, no parents
        session.call_tool("add_task", {"title": f"Todo item number {number} from a flat list"})
    store.close()
    page, watch = _open_tasks(server, browser, "twenty todos")
    frame = wait_for_graph(page, "task graph")
    assert frame.evaluate("network.getScale()") >= MIN_SCALE  # vis's fit drew them at 0.18
    shots(page, "33-tasks-flat-list")
    page.close()


def test_only_a_click_in_the_pages_own_graph_picks_a_task(server, browser, tmp_path):
    ids = _seed(server["db"], "forged clicks")  # the newest session: a fresh visit opens it
    page, _ = _open_tasks(server, browser, "forged clicks")
    frame = wait_for_graph(page, "task graph")
    chosen = page.get_by_role("heading", name="Team offsite")  # the first task, picked by default
    expect(chosen).to_be_visible(timeout=GRAPH_TIMEOUT)
    channel = f"tasks-{ids['session']}"  # the page's own channel: only the sender is wrong
    page.evaluate("([channel, node]) => window.postMessage({workbenchGraph: channel, node}, '*')",
                  [channel, ids["hotel"]])  # not a graph frame
    time.sleep(QUIET)
    expect(chosen).to_be_visible()
    frame.evaluate("network.emit('click', {nodes: ['constructor'], edges: [], event: {}, pointer: {}})")
    expect(frame.locator("#graph-details-text")).to_have_text("")  # not Object's own constructor
    page.close()

    (tmp_path / "framing.html").write_text(  # another site (another port) framing the app, posting into it
        f'<iframe id="app" src="{server["url"]}/tasks" width="1350" height="1150"></iframe><script>'
        f'setInterval(() => document.getElementById("app").contentWindow.postMessage('
        f'{{workbenchGraph: "{channel}", node: "{ids["hotel"]}"}}, "*"), 300);</script>', encoding="utf-8")
    site = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"http://127.0.0.1:{site.server_port}/framing.html")
        app = page.frame_locator("#app")
        expect(app.get_by_role("heading", name="Team offsite")).to_be_visible(timeout=GRAPH_TIMEOUT)
        framed = next(each for each in page.frames if each.url.startswith(server["url"]))
        graph = wait_for_graph(framed, "task graph")
        time.sleep(QUIET)  # ten forged messages
        expect(app.get_by_role("heading", name="Team offsite")).to_be_visible()
        page.mouse.click(*node_on_page(graph, ids["venue"]))  # a real click still picks
        expect(app.get_by_role("heading", name="Book the venue")).to_be_visible(timeout=GRAPH_TIMEOUT)
        page.close()
    finally:
        site.shutdown()
        site.server_close()
