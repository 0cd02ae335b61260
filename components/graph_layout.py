"""Where the nodes of a graph go when vis does not place them (components/graph_view.py): columns
by level for a layered drawing, a spring layout for a force one.

Every force drawing is placed here (vis's physics starts from a random seed, so one new memory
moved every node and each visit drew a different picture), and so is a layered drawing past a
size or with a column taller than `fold_rows` (a flat todo list, drawn by vis as one tall column
of separate trees, shrank to a fifth to fit). A force drawing whose nodes were mostly laid out a
moment ago (a memory graph that grew while a chat runs) starts from where they were and settles
briefly: nodes do not jump, and it costs a quarter of a fresh layout. (graph_view's node and
edge types are not imported here: it imports this module.)
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from typing import Any, Sequence

import numpy as np

GraphNode = GraphEdge = Any  # graph_view's: a node has `id` and `level`, an edge `source` and `target`

LAYER_GAP = 220  # px between the columns of a layered drawing
ROW_GAP = 70  # px between the nodes of one column
_LAID: dict[str, tuple[float, float, float]] = {}  # the latest force positions by node id, in [-1, 1]², and the drawing's scale
_LAID_LOCK = threading.Lock()
WARM_SHARE, WARM_ITERATIONS = 0.8, 10  # a force drawing whose nodes were mostly laid out before: a short settle
SPRING_LIMIT = 1500  # past this many nodes a force drawing is a spiral: the dense spring layout is O(n²) (1.5 s at 1,000)
FOLD_MIN = 8  # a column of up to this many nodes is never folded: 8 rows of ROW_GAP fit a 600 px frame at full size
# A force drawing's scale: an edge about EDGE px long (vis's barnesHut springs were 140), and at
# least SPREAD·√n across, so a dense graph, whose edges are long, does not shrink into a blot.
EDGE, SPREAD = 110.0, 60.0
# A pull to the middle, as vis's barnesHut (centralGravity) and ForceAtlas2 (Jacomy et al. 2014)
# have: without it, separate components (a memory and its entities) fly to the corners and
# each shrinks to a huddle of overlapping labels. 3 of the repulsion's scale, by eye on real
# memory graphs of 19, 125 and 1,300 nodes.
GRAVITY = 3.0


def fold_rows(count: int) -> int:
    """The most nodes one column of a layered drawing of `count` nodes holds before it folds:
    about 1.5·√n, so a wide, shallow graph keeps its proportions, and never fewer than FOLD_MIN."""
    return max(FOLD_MIN, int(1.5 * count ** 0.5))


def layered_rows(levels: Sequence[int]) -> tuple[int, bool]:
    """The tallest column of a layered drawing whose nodes sit at `levels`, as drawn (after
    folding), and whether it folds (then `layered_positions` places the nodes, not vis)."""
    tallest = max(Counter(levels).values(), default=1)
    limit = fold_rows(len(levels))
    return math.ceil(tallest / math.ceil(tallest / limit)), tallest > limit


def positions(nodes: tuple[GraphNode, ...], edges: tuple[GraphEdge, ...], layout: str,
              direction: str) -> dict[str, tuple[float, float]]:
    """Where each node goes when vis does not place it: columns by level, or a spring layout."""
    if layout == "layered":
        return layered_positions(nodes, edges, direction)
    index = {node.id: position for position, node in enumerate(nodes)}
    pairs = [(index[edge.source], index[edge.target]) for edge in edges
             if edge.source in index and edge.target in index and edge.source != edge.target]
    warm = _warm_start(nodes, pairs)
    if warm is None:
        unit = spring_positions(len(nodes), pairs, gravity=GRAVITY)
        scale = max(EDGE / max(_typical_gap(unit, pairs), 1e-3), SPREAD * len(nodes) ** 0.5)
    else:  # most nodes were drawn a moment ago: they stay where they were, new ones settle in among them
        start, new, scale = warm
        unit = spring_positions(len(nodes), pairs, iterations=WARM_ITERATIONS, start=start, temperature=0.02,
                                gravity=GRAVITY, moving=new)
    with _LAID_LOCK:
        _LAID.update({node.id: (float(x), float(y), scale) for node, (x, y) in zip(nodes, unit)})
        while len(_LAID) > 4 * SPRING_LIMIT:  # the oldest first
            _LAID.pop(next(iter(_LAID)))
    return {node.id: (float(x) * scale, float(y) * scale) for node, (x, y) in zip(nodes, unit)}


def _typical_gap(unit: np.ndarray, pairs: Sequence[tuple[int, int]]) -> float:
    """The median length of an edge (or, with none, the median distance to the nearest node)."""
    if len(unit) < 2:
        return 1.0
    if pairs:
        ends = np.array(pairs)
        return float(np.median(np.sqrt(((unit[ends[:, 0]] - unit[ends[:, 1]]) ** 2).sum(axis=-1))))
    sample = unit[:: max(1, len(unit) // 300)]  # a sample keeps it O(n) memory past SPRING_LIMIT
    distance = np.sqrt(((sample[:, None, :] - unit[None, :, :]) ** 2).sum(axis=-1))
    distance[distance == 0] = np.inf
    return float(np.median(distance.min(axis=1)))


def _warm_start(nodes: tuple[GraphNode, ...],
                pairs: Sequence[tuple[int, int]]) -> tuple[np.ndarray, list[int], float] | None:
    """Where a force drawing starts when most of its nodes were laid out before (a graph that grew
    by a few memories while a chat runs): the known ones where they were (and they stay there),
    a new one at the middle of its known neighbours (nudged apart); the new ones' indices; the
    scale the known ones were drawn at. None when too few are known to be worth it."""
    with _LAID_LOCK:
        known = [_LAID.get(node.id) for node in nodes]
    if len(nodes) > SPRING_LIMIT or sum(point is not None for point in known) < WARM_SHARE * len(nodes):
        return None
    neighbours: dict[int, list[int]] = defaultdict(list)
    for source, target in pairs:
        neighbours[source].append(target)
        neighbours[target].append(source)
    rng = np.random.default_rng(len(nodes))
    start = np.zeros((len(nodes), 2), dtype=np.float32)
    new = []
    for position, point in enumerate(known):
        if point is not None:
            start[position] = point[:2]
            continue
        new.append(position)
        placed = [known[n][:2] for n in neighbours[position] if known[n] is not None]
        centre = np.mean(placed, axis=0) if placed else rng.uniform(-1, 1, 2)
        start[position] = centre + rng.normal(0, 0.02, 2)
    scale = float(np.median([point[2] for point in known if point is not None]))
    return start, new, scale


def layered_positions(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge],
                      direction: str = "LR") -> dict[str, tuple[float, float]]:
    """Columns by `level`, as a layered (Sugiyama) drawing places them: in each column, left to
    right, the nodes sorted by the mean place of the nodes pointing at them from earlier columns
    (the barycentre heuristic of Sugiyama, Tagawa and Toda, 1981), which uncrosses most edges in
    one sweep. A column taller than `fold_rows` is folded into several of even height side by
    side, read top to bottom then left to right, so a wide, shallow graph (a todo list with no
    dependency) keeps its proportions and its labels stay legible."""
    level = {node.id: node.level or 0 for node in nodes}
    earlier: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if edge.source in level and edge.target in level and level[edge.source] < level[edge.target]:
            earlier[edge.target].append(edge.source)
    columns: dict[int, list[str]] = defaultdict(list)
    for node in nodes:
        columns[level[node.id]].append(node.id)
    tall = fold_rows(len(nodes))
    across: dict[str, float] = {}  # the place along the column
    placed: dict[str, tuple[float, float]] = {}
    x = 0.0
    for depth in sorted(columns):
        members = columns[depth]
        order = {node_id: position for position, node_id in enumerate(members)}
        members = sorted(members, key=lambda node_id: (
            sum(across[p] for p in earlier[node_id] if p in across) / max(1, sum(p in across for p in earlier[node_id]))
            if any(p in across for p in earlier[node_id]) else 0.0, order[node_id]))
        rows = math.ceil(len(members) / math.ceil(len(members) / tall))  # folded columns of even height
        for start in range(0, len(members), rows):
            chunk = members[start:start + rows]
            for row, node_id in enumerate(chunk):
                across[node_id] = (row - (len(chunk) - 1) / 2) * ROW_GAP
                placed[node_id] = (x, across[node_id]) if direction == "LR" else (across[node_id] * 2, x)
            x += LAYER_GAP
    return placed


def spring_positions(count: int, pairs: Sequence[tuple[int, int]], iterations: int = 50, seed: int = 7,
                     start: np.ndarray | None = None, temperature: float = 0.1, gravity: float = 0.0,
                     moving: Sequence[int] | None = None) -> np.ndarray:
    """Fruchterman-Reingold (1991) positions in [-1, 1]², as networkx's dense `spring_layout` computes
    them: repulsion k²/d between every pair, attraction d²/k along edges, a cooling step; plus
    `gravity`, a pull to the middle. Given a `start` and the nodes `moving`, only those move (the
    rest are pinned, as dynamic layouts keep a person's mental map) and the result stays in the
    start's frame, not scaled again.

    Written out because networkx switches to a scipy sparse solver from 500 nodes, and scipy is not
    a dependency; the dense form costs O(n²) memory, so past `SPRING_LIMIT` nodes they go on a
    sunflower spiral instead (still no two on one spot)."""
    rng = np.random.default_rng(seed)
    if count > SPRING_LIMIT or count < 2:
        turn = np.pi * (3 - np.sqrt(5))  # the golden angle
        radius = np.sqrt(np.arange(count) + 0.5) / np.sqrt(max(count, 1))
        return np.column_stack([radius * np.cos(turn * np.arange(count)), radius * np.sin(turn * np.arange(count))])
    adjacency = np.zeros((count, count), dtype=np.float32)
    for source, target in pairs:
        adjacency[source, target] = adjacency[target, source] = 1.0
    positions = rng.random((count, 2), dtype=np.float32) if start is None else np.array(start, dtype=np.float32)
    rows = np.arange(count) if moving is None else np.asarray(moving, dtype=np.int64)
    k = np.float32(np.sqrt(1.0 / count))  # the ideal distance (networkx's default)
    temperature, gravity = np.float32(temperature), np.float32(gravity)
    cooling = temperature / (iterations + 1)
    for _ in range(iterations if len(rows) else 0):
        delta = positions[rows, None, :] - positions[None, :, :]  # only the moving rows: O(m·n)
        distance = np.maximum(np.sqrt((delta ** 2).sum(axis=-1)), np.float32(0.01))
        force = k * k / distance ** 2 - adjacency[rows] * distance / k
        displacement = np.einsum("ijk,ij->ik", delta, force)
        if gravity:
            displacement -= gravity * (positions[rows] - positions.mean(axis=0))
        length = np.maximum(np.sqrt((displacement ** 2).sum(axis=-1)), np.float32(0.01))
        positions[rows] += displacement * (temperature / length)[:, None]
        temperature -= cooling
    if start is not None:
        return positions
    positions -= positions.mean(axis=0)
    return positions / max(float(np.abs(positions).max()), 1e-9)
