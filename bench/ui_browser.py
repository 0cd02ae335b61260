"""The Context page in a real browser: `streamlit run` on 127.0.0.1 and Debian's Chromium through
playwright, timing a Hide click until the token bar shows the change (bench/ui.py's browser half).

The clock runs inside the page: a capturing click listener notes `performance.now()` as the
click lands, and a MutationObserver notes when the "In the window" number first differs from
the one read before. So a time is the browser's own (the click, the server's run, the delta over
the websocket, React's update), with no polling interval of playwright's in it. "Settled" is when
the run is over as well: no element left marked stale and no running indicator.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from browser_draw import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
WAIT_MS = 600_000  # a 10M-token session opening on a busy 2-core machine takes a while
METRIC = "In the window"

# Installed before each click; `value()` reads the token bar's headline number.
_ARM = """(label) => {
  const value = () => {
    const block = [...document.querySelectorAll('[data-testid="stMetric"]')].find(e => e.innerText.includes(label));
    const shown = block && block.querySelector('[data-testid="stMetricValue"]');
    return shown ? shown.innerText : null;
  };
  const bench = window.__bench = {before: value(), clicked: null, changed: null, after: null};
  document.addEventListener('click', () => { if (bench.clicked === null) bench.clicked = performance.now(); },
                            {capture: true, once: true});
  const watch = new MutationObserver(() => {
    const now = value();
    if (bench.changed === null && now !== null && now !== bench.before) {
      bench.changed = performance.now(); bench.after = now; watch.disconnect();
    }
  });
  watch.observe(document.body, {subtree: true, childList: true, characterData: true});
  return bench.before;
}"""
_CHANGED = "() => window.__bench && window.__bench.changed !== null"
_SETTLED = """() => !document.querySelector('[data-stale="true"]')
  && !document.querySelector('[data-testid="stStatusWidget"]')"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def offline_env(db: Path) -> dict[str, str]:
    """The environment ./workbench runs the app in (no cost-map fetch, no usage stats), on `db`."""
    return {**os.environ, "WORKBENCH_DB": str(db), "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}


@contextmanager
def app_server(db: Path, log: Path) -> Iterator[str]:
    """`streamlit run app.py` headless on a free 127.0.0.1 port over `db`; yields its URL and
    stops it by its PID."""
    port = free_port()
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=offline_env(db), stdout=output, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start; see {log}")
                time.sleep(0.25)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def settle(page) -> None:
    page.wait_for_timeout(200)  # a run that has not started yet shows nothing stale either
    page.wait_for_function(_SETTLED, timeout=WAIT_MS, polling=50)


def _hide_buttons(page):
    return page.get_by_role("button", name="Hide", exact=True)


def open_context(page, url: str, title: str) -> dict[str, float]:
    """Load the app (Context is its first page when the store has sessions), then do what
    tests/e2e do: pick the session titled `title` in the sidebar and follow the Context link.
    Seconds until each shows a Hide button and has settled: the first load opens the session
    from the store; the second finds it open."""
    started = time.perf_counter()
    page.goto(url)
    _hide_buttons(page).first.wait_for(timeout=WAIT_MS)
    settle(page)
    first = time.perf_counter() - started
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
    page.get_by_role("option").filter(has_text=title).click()
    settle(page)
    started = time.perf_counter()
    page.get_by_role("link", name="Context").click()
    _hide_buttons(page).first.wait_for(timeout=WAIT_MS)
    settle(page)
    return {"first_load_s": first, "navigate_s": time.perf_counter() - started}


def _next_page(page) -> None:
    """The next page of messages (its + button), once this page has no fragment left to hide."""
    page.locator('[data-testid="stNumberInputStepUp"]').first.click()
    _hide_buttons(page).first.wait_for(timeout=WAIT_MS)
    settle(page)


def hide_clicks(page, clicks: int) -> dict[str, list]:
    """`clicks` Hide clicks, one after another, each on the first fragment still visible on the
    page shown (then on the next page): per click the seconds until the token bar changed and
    until the page settled, and the numbers it showed before and after."""
    to_bar, to_settled, shown = [], [], []
    for _ in range(clicks):
        if not _hide_buttons(page).count():
            _next_page(page)
        button = _hide_buttons(page).first
        button.scroll_into_view_if_needed()
        before = page.evaluate(_ARM, METRIC)
        button.click()
        page.wait_for_function(_CHANGED, timeout=WAIT_MS, polling="raf")
        settle(page)
        bench = page.evaluate("() => window.__bench")
        settled = page.evaluate("() => performance.now()")
        to_bar.append((bench["changed"] - bench["clicked"]) / 1000)
        to_settled.append((settled - bench["clicked"]) / 1000)
        shown.append((before, bench["after"]))
    return {"to_bar": to_bar, "to_settled": to_settled, "shown": shown}


def measure_browser(db: Path, title: str, clicks: int, folder: Path, shot: Path | None = None) -> dict:
    """Start the app over `db`, open Context on the session titled `title` in Chromium, and time
    `clicks` Hide clicks; a screenshot of the last to `shot`."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise SystemExit(f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or set "
                         "WORKBENCH_CHROMIUM (playwright's own browser download is not used)")
    with app_server(db, folder / "streamlit.log") as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            result = {**open_context(page, url, title), **hide_clicks(page, clicks)}
            if shot is not None:
                page.screenshot(path=str(shot))
            return result
        finally:
            browser.close()
