"""Graph benchmark: building and drawing the task graph at 100 and 1,000 tasks.

    ./workbench bench-graphs                  # 100 to 1,000 tasks, either side of the limits, layered and force
    ./workbench bench-graphs --sizes 100 1000 --repeat 5 --json
    ./workbench bench-graphs --no-browser     # build times and sizes only

A random task DAG (fixed seed: each task depends on up to three of the 50 before it, every
tenth is a goal the next ones belong to, a third done, some active, some stale) is folded from
events, then timed: `task_graph` (board to nodes and edges), `graph_html` (the pyvis page,
built afresh each time), the page's size, and, in Debian's headless Chromium, the time from
loading the page until vis has drawn it (its first `afterDrawing`) with the canvas painted.
Sizes either side of `PHYSICS_LIMIT` (force) and `HIERARCHY_LIMIT` (layered) show what the limits
buy: below them vis lays the graph out itself (a physics run, or its hierarchical layout), past
them the positions come from Python; `--vis-lays-out` lifts both, to see what vis costs past them.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from browser_draw import CHROMIUM, CHROMIUM_ARGS, draw  # noqa: E402
from timing import cell, summary, timed  # noqa: E402


def random_board(count: int, seed: int = 10):
    """A board of `count` tasks folded from the events the tools would write."""
    from engine import replay
    from engine.tasks import TaskAdded, TaskCompleted, TaskRevised, task_board

    rng = random.Random(seed)
    events, goal = [], None
    for index in range(count):
        task_id = f"t{index:05x}"
        if index % 10 == 0:
            goal = task_id
            events.append(TaskAdded(task_id=task_id, title=f"goal {index // 10}: ship part {index // 10}"))
            continue
        earlier = [f"t{other:05x}" for other in range(max(0, index - 50), index) if other % 10]
        depends = rng.sample(earlier, min(len(earlier), rng.randint(0, 3)))
        events.append(TaskAdded(task_id=task_id, title=f"task {index}: {rng.choice(['write', 'test', 'review'])} "
                                f"module {rng.randint(1, 99)}", parent=goal, depends_on=depends))
    done = set()
    for index in range(count):  # finish a third, in order, where what they wait for is done
        task_id = f"t{index:05x}"
        added = events[index]
        if index % 10 and rng.random() < 0.33 and all(d in done for d in added.depends_on):
            done.add(task_id)
            events.append(TaskCompleted(task_id=task_id, summary=f"finished {task_id}"))
        elif index % 10 and rng.random() < 0.1:
            events.append(TaskRevised(task_id=task_id, changes={"status": "active"}, previous={"status": "open"}))
        elif index % 10 and rng.random() < 0.1:
            events.append(TaskRevised(task_id=task_id, changes={"status": "stale"}, previous={"status": "open"}))
    return task_board(replay(events))


def build(board, layout: str, repeat: int) -> dict:
    from components import graph_layout, graph_view
    from components.task_graph import task_graph

    (nodes, edges), _ = timed(task_graph, board)
    data = [timed(task_graph, board)[1] for _ in range(repeat)]
    pages = []
    for _ in range(repeat):
        graph_view._graph_html.cache_clear()  # built afresh, as for a graph not seen before
        graph_layout._LAID.clear()  # and no earlier layout to start from
        html, seconds = timed(graph_view.graph_html, nodes, edges, layout=layout, height=700)
        pages.append(seconds)
    _, cached = timed(graph_view.graph_html, nodes, edges, layout=layout, height=700)
    return {"nodes": len(nodes), "edges": len(edges), "layout": layout, "data": summary(data),
            "html": summary(pages), "cached_ms": cached * 1000, "html_bytes": len(html),
            "vis_layout": len(nodes) <= (graph_view.PHYSICS_LIMIT if layout == "force" else graph_view.HIERARCHY_LIMIT),
            "page": html}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 101, 150, 300, 301, 1000])
    parser.add_argument("--layouts", nargs="+", default=["layered", "force"], choices=["layered", "force"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--vis-lays-out", action="store_true", help="let vis lay out every size (no limits)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from components import graph_view

    if args.vis_lays_out:
        graph_view.PHYSICS_LIMIT = graph_view.HIERARCHY_LIMIT = 10**9

    rows = []
    for size in args.sizes:
        board = random_board(size)
        for layout in args.layouts:
            print(f"building {size} tasks, {layout} ...", file=sys.stderr, flush=True)
            rows.append(build(board, layout, args.repeat))
    if not args.no_browser and Path(CHROMIUM).exists():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="workbench-bench-graphs-") as folder:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for row in rows:
                print(f"drawing {row['nodes']} tasks, {row['layout']} ...", file=sys.stderr, flush=True)
                row.update(draw(browser, row["page"], Path(folder), args.repeat))
            browser.close()
    for row in rows:
        del row["page"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"PHYSICS_LIMIT = {graph_view.PHYSICS_LIMIT}, HIERARCHY_LIMIT = {graph_view.HIERARCHY_LIMIT} nodes; "
          "times p50 / tail in ms")
    header = f"{'tasks':>6} {'edges':>6} {'layout':8} {'vis lays out':12} {'task_graph':>26} {'graph_html':>26} " \
             f"{'cached':>7} {'HTML KB':>8} {'draw (Chromium)':>28} {'painted px':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        drawn = cell(row["draw"], 0) if "draw" in row else "(not run)"
        print(f"{row['nodes']:>6} {row['edges']:>6} {row['layout']:8} {'yes' if row['vis_layout'] else 'no':12} "
              f"{cell(row['data']):>26} {cell(row['html'], 1):>26} {row['cached_ms']:>7.3f} "
              f"{row['html_bytes'] / 1024:>8.0f} {drawn:>28} {row.get('painted_px', 0):>10,}")


if __name__ == "__main__":
    main()
