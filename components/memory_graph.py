"""The memory graph as a drawing: nodes and edges for components/graph_view.py, from the engine's slice.

HGMem (arXiv 2512.23959; algorithms.md §3) stores memory as a hypergraph: each memory point is a
hyperedge over the entities it names. A hypergraph is drawn as its bipartite incidence graph
(`engine.memory.bipartite_graph`): entities on one side as dots, memories on the other as
diamonds, an edge where a memory names an entity. What users of graph views ask for
(field-notes.md, "Graph visualizers"): colour by kind with a legend, size by importance, filters,
and focus on one node's neighbourhood. So:

- A memory's fill is its Mem-alpha type (core, semantic, episodic; arXiv 2509.25911, §4) or
  "link" (a hyperedge written by memory_link); a deleted or merged memory, shown only when asked,
  is grey with a dashed outline, so it can be found and restored.
- Every node's size grows with its degree in the drawing (the square root, so a hub of 100
  memories does not swallow the page).
- Filters are one frozen `MemoryFilter`: types, whether gone memories show, a range of steps
  (the order memories were written: an episodic memory's own time is free text as the model
  gave it, so it cannot be ordered reliably), and a focus on one entity and its neighbours
  (`engine.memory.focus`). The list on the page uses the same filter (`filtered_memories`).

Labels, tooltips and details are plain text; graph_view escapes them in the HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from components.graph_view import GraphEdge, GraphNode
from engine.memory import MEMORY_TYPES, Memory, MemoryGraph, bipartite_graph, entity_node, focus
from engine.text import one_line

# memory type -> (fill, outline, what it is); fills light enough for dark text beside them
PALETTE: dict[str, tuple[str, str, str]] = {
    "core": ("#ffd8a8", "#bc4c00", "core memory: always at the top of the context"),
    "semantic": ("#c8e1ff", "#0969da", "a fact"),
    "episodic": ("#d2f4d8", "#1a7f37", "an event, with its time"),
    "link": ("#e8d7ff", "#8250df", "a link: joins entities with a description"),
}
GONE = ("#eaeef2", "#8c959f", "deleted or merged (shown when asked)")
DELETED_MARK = "✕ "  # starts a deleted memory's label (the legend shows both marks)
MERGED_MARK = "⇢ "  # starts a merged one's: it lives on in the memory it was merged into
ENTITY = ("#fff8c5", "#9a6700", "an entity a memory names")
EDGE = "#8c959f"
GONE_EDGE = "#afb8c1"
MEMORY_SHAPE = "diamond"
ENTITY_SHAPE = "dot"
BASE_SIZE = 10.0
SIZE_STEP = 6.0  # per square root of degree
MAX_SIZE = 60.0
LABEL_CHARS = 32  # a node shows the start of its text; the tooltip has more
TOOLTIP_CHARS = 400
DETAIL_CHARS = 1_500


@dataclass(frozen=True, slots=True)
class MemoryFilter:
    """What the drawing and the list show. `steps` is an inclusive range of `created_seq`;
    `entity` (a name, any spelling) focuses on it and what lies within `hops` memories of it."""

    memory_types: tuple[str, ...] = MEMORY_TYPES
    include_gone: bool = False
    steps: tuple[int, int] | None = None
    entity: str | None = None
    hops: int = 1


def written_steps(graph: MemoryGraph) -> list[int]:
    """The distinct steps at which memories were written, in order (the time filter's stops)."""
    return sorted({memory.created_seq for memory in graph.memories})


def node_size(degree: int) -> float:
    """A node's drawn size for its degree: grows with the square root, capped."""
    return min(BASE_SIZE + SIZE_STEP * math.sqrt(max(degree, 0)), MAX_SIZE)


def filtered_graph(graph: MemoryGraph, chosen: MemoryFilter = MemoryFilter()) -> nx.Graph:
    """The bipartite entity-memory graph with `chosen` applied; entities no shown memory names
    are dropped. A focus on an entity not in the filtered graph shows nothing."""
    drawn = bipartite_graph(graph, chosen.memory_types, include_gone=chosen.include_gone)
    if chosen.steps is not None:
        first, last = chosen.steps
        drawn.remove_nodes_from([node for node, data in list(drawn.nodes(data=True))
                                 if data["kind"] == "memory" and not first <= graph.get(node).created_seq <= last])
        drawn.remove_nodes_from([node for node, data in list(drawn.nodes(data=True))
                                 if data["kind"] == "entity" and drawn.degree(node) == 0])
    if chosen.entity:
        try:
            drawn = focus(drawn, chosen.entity, chosen.hops)
        except KeyError:
            return nx.Graph()
    return drawn


def filtered_memories(graph: MemoryGraph, chosen: MemoryFilter = MemoryFilter()) -> list[Memory]:
    """The memories the drawing shows, in the order they were written."""
    drawn = filtered_graph(graph, chosen)
    return [memory for memory in graph.memories if memory.id in drawn]


def drawn_entities(drawn: nx.Graph) -> list[tuple[str, int]]:
    """The entities in a drawing with how many of its memories name each, most named first."""
    found = [(data["name"], drawn.degree(node)) for node, data in drawn.nodes(data=True) if data["kind"] == "entity"]
    return sorted(found, key=lambda item: (-item[1], item[0].casefold()))


def memory_tooltip(memory: Memory) -> str:
    """Plain text for the hover tooltip: id, type, status, the content, its entities and time."""
    status = memory.status if memory.status != "merged" else f"merged into {memory.merged_into}"
    lines = [f"{memory.id} · {memory.memory_type} · {status}", one_line(memory.content, TOOLTIP_CHARS)]
    if memory.entities:
        lines.append("entities: " + ", ".join(memory.entities))
    if memory.when:
        lines.append(f"when: {memory.when}")
    return "\n".join(lines)


def memory_details(memory: Memory) -> str:
    """Plain text for the panel a click opens: more of the content, where it came from, its past."""
    lines = [f"{memory.id} · {memory.memory_type} · {memory.status}", memory.content[:DETAIL_CHARS]
             + ("…" if len(memory.content) > DETAIL_CHARS else "")]
    if memory.entities:
        lines.append("entities: " + ", ".join(memory.entities))
    if memory.when:
        lines.append(f"when: {memory.when}")
    lines.append(f"written at step {memory.created_seq}" + (f", after message {memory.message_id}"
                                                             if memory.message_id else ""))
    if memory.merged_from:
        lines.append("merged from: " + ", ".join(memory.merged_from))
    if memory.merged_into:
        lines.append(f"merged into: {memory.merged_into}")
    if memory.history:
        lines.append(f"changed {len(memory.history)} time(s); the history is below the graph")
    return "\n".join(lines)


def _entity_tooltip(name: str, degree: int) -> str:
    return f"entity · {name}\nnamed by {degree} memor{'y' if degree == 1 else 'ies'} shown"


def memory_drawing(graph: MemoryGraph, chosen: MemoryFilter = MemoryFilter()) -> tuple[list[GraphNode], list[GraphEdge]]:
    """Nodes (memories in the order written, then entities by first mention) and edges
    (memory to entity) for graph_view, with `chosen` applied."""
    drawn = filtered_graph(graph, chosen)
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    entity_nodes: list[GraphNode] = []
    placed: set[str] = set()
    for memory in graph.memories:
        if memory.id not in drawn:
            continue
        fill, outline, _ = PALETTE.get(memory.memory_type, GONE) if memory.live else GONE
        mark = "" if memory.live else (DELETED_MARK if memory.status == "deleted" else MERGED_MARK)
        nodes.append(GraphNode(
            id=memory.id, label=mark + one_line(memory.content, LABEL_CHARS), title=memory_tooltip(memory),
            details=memory_details(memory), color=fill, border=outline, border_width=2.0 if memory.live else 1.0,
            dashed=not memory.live, shape=MEMORY_SHAPE, size=node_size(drawn.degree(memory.id)),
            group=memory.memory_type if memory.live else "gone",
            font_color="#1f2328" if memory.live else "#6e7781",
        ))
        for name in memory.entities:
            node = entity_node(name)
            if node not in drawn:
                continue
            edges.append(GraphEdge(memory.id, node, arrows="", color=EDGE if memory.live else GONE_EDGE,
                                   dashes=not memory.live, width=1.5 if memory.live else 1.0))
            if node not in placed:
                placed.add(node)
                degree = drawn.degree(node)
                label = drawn.nodes[node]["name"]
                entity_nodes.append(GraphNode(
                    id=node, label=one_line(label, LABEL_CHARS), title=_entity_tooltip(label, degree),
                    details=_entity_tooltip(label, degree), color=ENTITY[0], border=ENTITY[1], border_width=1.5,
                    shape=ENTITY_SHAPE, size=node_size(degree), group="entity",
                ))
    return nodes + entity_nodes, edges
