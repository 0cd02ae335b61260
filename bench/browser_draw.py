"""Drawing a graph page in Debian's headless Chromium until vis has drawn it: what the graph
benchmarks (bench/graphs.py, bench/memory_graph.py) time in the browser."""

from __future__ import annotations

import os
import time
from pathlib import Path

from timing import summary

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def draw(browser, html: str, folder: Path, repeat: int, name: str = "graph.html") -> dict:
    """Load the page from a file until vis has drawn it, `repeat` times; the painted pixels of the last."""
    path = folder / name
    path.write_text(html, encoding="utf-8")
    seconds, painted = [], 0
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1200, "height": 760})
        started = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_function("window.graphReady === true", timeout=300_000, polling=20)
        seconds.append(time.perf_counter() - started)
        painted = page.evaluate("""() => {
            const c = document.querySelector('#mynetwork canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] < 240 || d[i + 1] < 240)) n++;
            return n; }""")
        page.close()
    return {"draw": summary(seconds), "painted_px": painted}
