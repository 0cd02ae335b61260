"""Where the nodes of a graph go when vis does not place them (components/graph_view.py): columns
by level for a layered drawing, a spring layout for a force one.

Past a size vis's own layout costs seconds in the browser, so graph_view asks here instead. A
force drawing whose nodes were mostly laid out a moment ago (a memory graph that grew while a
chat runs) starts from where they were and settles briefly: nodes do not jump, and it costs a
quarter of a fresh layout. (graph_view's node and edge types are not imported here: it imports
this module.)
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any, Sequence

import numpy as np

GraphNode = GraphEdge = Any  # graph_view's: a node has `id` and `level`, an edge `source` and `target`

LAYER_GAP = 220  # px between the columns of a layered drawing
ROW_GAP = 70  # px between the nodes of one column
_LAID: dict[str, tuple[float, float]] = {}  # the latest force positions by node id, in [-1, 1]²
_LAID_LOCK = threading.Lock()
WARM_SHARE, WARM_ITERATIONS = 0.8, 10  # a force drawing whose nodes were mostly laid out before: a short settle
SPRING_LIMIT = 1500  # past this many nodes a force drawing is a spiral: the dense spring layout is O(n²) (1.5 s at 1,000)


def positions(nodes: tuple[GraphNode, ...], edges: tuple[GraphEdge, ...], layout: str,
               direction: str) -> dict[str, tuple[float, float]]:
    """Where each node goes when vis does not place it: columns by level, or a spring layout."""
    if layout == "layered":
        return layered_positions(nodes, edges, direction)
    index = {node.id: position for position, node in enumerate(nodes)}
    pairs = [(index[edge.source], index[edge.target]) for edge in edges
             if edge.source in index and edge.target in index and edge.source != edge.target]
    start = _warm_start(nodes, pairs)
    if start is None:
        unit = spring_positions(len(nodes), pairs)
    else:  # most nodes were drawn a moment ago: they stay about where they were, new ones settle in
        unit = spring_positions(len(nodes), pairs, iterations=WARM_ITERATIONS, start=start, temperature=0.02)
    with _LAID_LOCK:
        _LAID.update({node.id: (float(x), float(y)) for node, (x, y) in zip(nodes, unit)})
        while len(_LAID) > 4 * SPRING_LIMIT:  # the oldest first
            _LAID.pop(next(iter(_LAID)))
    laid = unit * (60.0 * len(nodes) ** 0.5)  # mean spacing about constant
    return {node.id: (float(x), float(y)) for node, (x, y) in zip(nodes, laid)}


def _warm_start(nodes: tuple[GraphNode, ...], pairs: Sequence[tuple[int, int]]) -> np.ndarray | None:
    """Where a force drawing starts when most of its nodes were laid out before (a graph that grew
    by a few memories while a chat runs): the known ones where they were, a new one at the middle
    of its known neighbours (nudged apart). None when too few are known to be worth it."""
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
    for position, point in enumerate(known):
        if point is not None:
            start[position] = point
            continue
        placed = [known[n] for n in neighbours[position] if known[n] is not None]
        centre = np.mean(placed, axis=0) if placed else rng.uniform(-1, 1, 2)
        start[position] = centre + rng.normal(0, 0.02, 2)
    return start


def layered_positions(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge],
                      direction: str = "LR") -> dict[str, tuple[float, float]]:
    """Columns by `level`, as a layered (Sugiyama) drawing places them: in each column, left to
    right, the nodes sorted by the mean place of the nodes pointing at them from earlier columns
    (the barycentre heuristic of Sugiyama, Tagawa and Toda, 1981), which uncrosses most edges in
    one sweep. A column taller than about 1.5·√n nodes is folded into several side by side, so a
    wide, shallow graph (many tasks with no dependency) keeps its proportions."""
    level = {node.id: node.level or 0 for node in nodes}
    earlier: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        if edge.source in level and edge.target in level and level[edge.source] < level[edge.target]:
            earlier[edge.target].append(edge.source)
    columns: dict[int, list[str]] = defaultdict(list)
    for node in nodes:
        columns[level[node.id]].append(node.id)
    tall = max(24, int(1.5 * len(nodes) ** 0.5))
    across: dict[str, float] = {}  # the place along the column
    placed: dict[str, tuple[float, float]] = {}
    x = 0.0
    for depth in sorted(columns):
        members = columns[depth]
        order = {node_id: position for position, node_id in enumerate(members)}
        members = sorted(members, key=lambda node_id: (
            sum(across[p] for p in earlier[node_id] if p in across) / max(1, sum(p in across for p in earlier[node_id]))
            if any(p in across for p in earlier[node_id]) else 0.0, order[node_id]))
        for start in range(0, len(members), tall):
            chunk = members[start:start + tall]
            for row, node_id in enumerate(chunk):
                across[node_id] = (row - (len(chunk) - 1) / 2) * ROW_GAP
                placed[node_id] = (x, across[node_id]) if direction == "LR" else (across[node_id] * 2, x)
            x += LAYER_GAP
    return placed


def spring_positions(count: int, pairs: Sequence[tuple[int, int]], iterations: int = 50, seed: int = 7,
                     start: np.ndarray | None = None, temperature: float = 0.1) -> np.ndarray:
    """Fruchterman-Reingold (1991) positions in [-1, 1]², as networkx's dense `spring_layout` computes
    them: repulsion k²/d between every pair, attraction d²/k along edges, a cooling step.

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
    k = np.float32(np.sqrt(1.0 / count))  # the ideal distance (networkx's default)
    temperature = np.float32(temperature)
    cooling = temperature / (iterations + 1)
    for _ in range(iterations):
        delta = positions[:, None, :] - positions[None, :, :]
        distance = np.maximum(np.sqrt((delta ** 2).sum(axis=-1)), np.float32(0.01))
        force = k * k / distance ** 2 - adjacency * distance / k
        displacement = np.einsum("ijk,ij->ik", delta, force)
        length = np.maximum(np.sqrt((displacement ** 2).sum(axis=-1)), np.float32(0.01))
        positions += displacement * (temperature / length)[:, None]
        temperature -= cooling
    positions -= positions.mean(axis=0)
    return positions / max(float(np.abs(positions).max()), 1e-9)
