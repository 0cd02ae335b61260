"""A real server and a real browser: `streamlit run` on 127.0.0.1, driven by Debian's Chromium.

The server gets its own DuckDB file (`server`) or PostgreSQL database (`pg_server`) and a free
port, and is stopped by its PID. Screenshots of each step go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def serving(db, folder: Path) -> Iterator[dict]:
    """`streamlit run app.py` with WORKBENCH_DB=`db` (a DuckDB file or a PostgreSQL URL) on a free
    port, until the block ends; its log in `folder`. Yields {"url", "db", "pid"}."""
    port = _free_port()
    log = open(folder / "streamlit.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, "WORKBENCH_DB": str(db)}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"streamlit did not start; see {folder / 'streamlit.log'}")
        time.sleep(0.25)
    try:
        yield {"url": url, "db": db, "pid": process.pid}
    finally:
        process.terminate()  # stopped by its PID
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("e2e")
    with serving(folder / "browser.duckdb", folder) as served:
        yield served


@pytest.fixture(scope="module")
def pg_server(pg_cluster, tmp_path_factory):
    """The workbench served on a PostgreSQL database of its own (`db` is its admin URL)."""
    folder = tmp_path_factory.mktemp("e2e-pg")
    name = f"e2e_{folder.name.lower().replace('-', '_')}"
    url = pg_cluster.create_database(name)
    try:
        with serving(url, folder) as served:
            yield served
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium) "
            "or set WORKBENCH_CHROMIUM (playwright's own browser download is not used)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)

    def shoot(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return shoot


def pick_session(page, url: str, title: str, page_name: str | None = None) -> None:
    """Open the app, choose the session titled `title` in the sidebar, then go to a page."""
    page.goto(url)
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option").filter(has_text=title).click()
    if page_name:
        page.get_by_role("link", name=page_name).click()


def seed_session(db, title: str, *texts: str) -> str:
    """A session made through the API, as the CLI would while the app runs; returns its id."""
    from sessions import SessionStore

    store = SessionStore(db, lock_timeout=30)
    session = store.create_session(title)
    for text in texts:
        session.add_message("user", text)
    store.close()
    return session.id


# Records every change under a card's block (`window.cardChanges`): a card that was not rerun has none.
WATCH = """selector => {
    const card = document.querySelector(selector);
    window.cardChanges = [];
    new MutationObserver(records => {
        for (const r of records) {
            const where = r.target.getAttribute ? (r.target.getAttribute('data-testid') || r.target.className) : '#text';
            window.cardChanges.push(`${r.type} ${r.attributeName || ''} on ${where}`);
        }
    }).observe(card.closest('[data-testid="stVerticalBlock"]').parentElement,
               {subtree: true, childList: true, attributes: true, characterData: true});
}"""


def tool_elsewhere(db, session_id: str, tool: str, arguments: dict) -> dict:
    """Call a tool from another process, as an MCP server or the CLI would while the app runs:
    `python -m sessions --db DB tool SESSION TOOL --args JSON`; returns the tool's result."""
    import json

    done = subprocess.run([sys.executable, "-m", "sessions", "--db", str(db), "tool", session_id, tool,
                           "--args", json.dumps(arguments)],
                          cwd=ROOT, env={**os.environ}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if done.stdout.strip().startswith("{") else {"output": done.stdout}


# ---- graph pages (test_graphs_in_browser.py and test_memory_in_browser.py share these) ----

GRAPH_TIMEOUT = 60_000


class GraphWatch:
    """Dialogs (alert, confirm, prompt) opened by the page or any of its iframes, and requests
    from any of them to a host other than 127.0.0.1."""

    def __init__(self, page) -> None:
        self.dialogs: list[str] = []
        self.remote: list[str] = []
        page.on("dialog", self._dialog)  # Playwright reports a dialog of any frame on its page
        page.on("request", self._request)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _request(self, request) -> None:
        from urllib.parse import urlparse

        address = urlparse(request.url)
        if address.scheme in ("data", "blob", "about", "javascript") or address.hostname == "127.0.0.1":
            return
        self.remote.append(request.url)


def wait_for_graph(page, alt: str):
    """The Frame of the graph iframe titled `alt` (render_graph's `alt`), once vis has drawn."""
    from playwright.sync_api import expect

    iframe = page.locator(f'iframe[title="{alt}"]')
    expect(iframe).to_be_visible(timeout=GRAPH_TIMEOUT)
    iframe.scroll_into_view_if_needed()
    frame = iframe.element_handle().content_frame()
    frame.wait_for_function("window.graphReady === true", timeout=GRAPH_TIMEOUT)
    return frame


def painted_pixels(frame) -> int:
    """How many pixels of the graph's canvas are painted (opaque and not white); -1 with no canvas."""
    return frame.evaluate("""() => {
        const canvas = document.querySelector('#mynetwork canvas');
        if (!canvas || !canvas.width || !canvas.height) return -1;
        const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let count = 0;
        for (let i = 0; i < pixels.length; i += 4) {
            if (pixels[i + 3] > 0 && (pixels[i] < 240 || pixels[i + 1] < 240 || pixels[i + 2] < 240)) count++;
        }
        return count;
    }""")


def node_on_page(frame, node_id: str) -> tuple[float, float]:
    """Where vis drew `node_id`, in the page's coordinates (for a click or a hover)."""
    spot = frame.evaluate("id => network.canvasToDOM(network.getPositions([id])[id])", node_id)
    box = frame.locator("#mynetwork").bounding_box()
    return box["x"] + spot["x"], box["y"] + spot["y"]
