"""Memory graph benchmark: building and drawing the bipartite memory drawing up to 1,000 nodes.

    .venv/bin/python bench/memory_graph.py                     # either side of LARGE, and 1,000 nodes
    .venv/bin/python bench/memory_graph.py --sizes 600:400 --repeat 5 --json
    .venv/bin/python bench/memory_graph.py --no-browser        # build times and sizes only

A random memory graph (fixed seed; sizes as memories:entities, 600:400 makes 1,000 nodes) is
folded from the events the tools write: half semantic, a third episodic, the rest links, each
naming one to four entities drawn with a Zipf-like weight (a few hubs, a long tail; every entity
named at least once), one in twenty deleted. Then timed: `memory_drawing` (slice to nodes and
edges), `graph_html` (the pyvis page, built afresh each time: force layout, as the Memory page
draws it), the same with one memory more (as while a chat runs: the layout starts from the last
one), the cached rebuild, the page's size, and, in Debian's headless Chromium, the time from
loading the page until vis has drawn it (its first `afterDrawing`) with the canvas painted.
Sizes either side of graph_view's `LARGE` show what that threshold changes.
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

WORDS = ["venue", "budget", "flight", "hotel", "agenda", "dinner", "invoice", "contract", "badge", "room"]


def random_memories(memories: int, entities: int, seed: int = 10):
    """A memory graph of `memories` memories over `entities` entities, folded from events."""
    from engine import replay
    from engine.memory import MemoryDeleted, MemoryInserted, memory_graph

    rng = random.Random(seed)
    names = [f"entity {index}" for index in range(entities)]
    weights = [1 / (rank + 1) for rank in range(entities)]  # Zipf-like: a few hubs, a long tail
    chosen: list[list[str]] = []
    for index in range(memories):
        count = rng.randint(2, 4) if index % 7 == 0 else rng.randint(1, 3)
        chosen.append(list(dict.fromkeys(rng.choices(names, weights, k=count))))
    named = {name for group in chosen for name in group}
    for name in names:  # every entity named at least once, so the drawing has them all
        if name not in named:
            rng.choice(chosen).append(name)
    events = []
    for index, group in enumerate(chosen):
        kind = "link" if index % 7 == 0 else "episodic" if index % 3 == 0 else "semantic"
        if kind == "link" and len(group) < 2:
            group.append(names[(names.index(group[0]) + 1) % entities])
        text = f"{kind} memory {index}: the {rng.choice(WORDS)} for {', '.join(group)} is settled"
        events.append(MemoryInserted(memory_id=f"m{index:05x}", memory_type=kind, content=text, entities=group,
                                     occurred_at=f"2026-05-{index % 28 + 1:02d}" if kind == "episodic" else None))
    events += [MemoryDeleted(memory_id=f"m{index:05x}") for index in range(0, memories, 20)]
    return memory_graph(replay(events))


def build(graph, repeat: int, include_gone: bool) -> dict:
    from components import graph_layout, graph_view
    from components.memory_graph import MemoryFilter, memory_drawing

    chosen = MemoryFilter(include_gone=include_gone)
    nodes, edges = memory_drawing(graph, chosen)
    data = [timed(memory_drawing, graph, chosen)[1] for _ in range(repeat)]
    pages, grown = [], []
    for _ in range(repeat):
        graph_view._graph_html.cache_clear()  # built afresh, as for a graph not seen before
        graph_layout._LAID.clear()  # ... and with no layout to start from
        html, seconds = timed(graph_view.graph_html, nodes, edges, layout="force", height=560, channel="memory")
        pages.append(seconds)
    _, cached = timed(graph_view.graph_html, nodes, edges, layout="force", height=560, channel="memory")
    for step in range(repeat):  # one memory more, as while a chat runs: the layout starts from the last
        extra = graph_view.GraphNode(id=f"grown-{step}", label="new memory")
        more = [*edges, graph_view.GraphEdge(source=extra.id, target=nodes[0].id)]
        grown.append(timed(graph_view.graph_html, [*nodes, extra], more, layout="force", height=560,
                           channel="memory")[1])
    return {"memories": len(graph.memories), "nodes": len(nodes), "edges": len(edges), "gone_shown": include_gone,
            "data": summary(data), "html": summary(pages), "grown": summary(grown), "cached_ms": cached * 1000, "html_bytes": len(html),
            "vis_layout": len(nodes) <= graph_view.PHYSICS_LIMIT, "page": html}  # never, now (0)


def _size(text: str) -> tuple[int, int]:
    memories, _, entities = text.partition(":")
    return int(memories), int(entities)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=_size, nargs="+",
                        help="memories:entities pairs; by default either side of LARGE, then 600:400")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    from components import graph_view

    limit = graph_view.LARGE  # with the deleted ones shown, memories + entities nodes
    sizes = args.sizes or [(limit * 3 // 5, limit * 2 // 5), (limit * 3 // 5 + 1, limit * 2 // 5), (600, 400)]
    rows = []
    for memories, entities in sizes:
        graph = random_memories(memories, entities)
        for include_gone in (False, True):
            print(f"building {memories} memories over {entities} entities, gone shown: {include_gone} ...",
                  file=sys.stderr, flush=True)
            rows.append(build(graph, args.repeat, include_gone))
    if not args.no_browser and Path(CHROMIUM).exists():
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="workbench-bench-memory-") as folder:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for row in rows:
                print(f"drawing {row['nodes']} nodes ...", file=sys.stderr, flush=True)
                row.update(draw(browser, row["page"], Path(folder), args.repeat, "memory-graph.html"))
            browser.close()
    for row in rows:
        del row["page"]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"LARGE = {graph_view.LARGE} nodes; force layout, placed in Python; times p50 / tail in ms")
    header = f"{'memories':>8} {'nodes':>6} {'edges':>6} {'gone':5} {'vis lays out':12} {'memory_drawing':>26} " \
             f"{'graph_html':>26} {'one more memory':>26} {'cached':>7} {'HTML KB':>8} {'draw (Chromium)':>28} {'painted px':>10}"
    print(header)
    print("-" * len(header))
    for row in rows:
        drawn = cell(row["draw"], 0) if "draw" in row else "(not run)"
        print(f"{row['memories']:>8} {row['nodes']:>6} {row['edges']:>6} {'shown' if row['gone_shown'] else 'hid':5} "
              f"{'yes' if row['vis_layout'] else 'no':12} {cell(row['data']):>26} {cell(row['html'], 1):>26} {cell(row['grown'], 1):>26} "
              f"{row['cached_ms']:>7.3f} {row['html_bytes'] / 1024:>8.0f} {drawn:>28} {row.get('painted_px', 0):>10,}")


if __name__ == "__main__":
    main()
