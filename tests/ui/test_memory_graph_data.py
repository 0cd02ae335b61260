"""components/memory_graph.py: the memory slice as a bipartite drawing, its filters, and safe HTML.

The slices are folded from the engine's own events, so the drawing is tested on what a log holds.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from components.graph_view import graph_html
from components.memory_graph import (
    DELETED_MARK, ENTITY_SHAPE, GONE, MAX_SIZE, MEMORY_SHAPE, PALETTE, MemoryFilter, drawn_entities, filtered_graph, filtered_memories,
    MERGED_MARK, memory_drawing, memory_tooltip, node_size, written_steps,
)
from engine import replay
from engine.memory import MEMORY_TYPES, MemoryDeleted, MemoryInserted, MemoryMerged, entity_node, memory_graph

EVIL = "<img src=x onerror=alert(1)>"


def _inserted(memory_id, memory_type, content, *entities, when=None):
    return MemoryInserted(memory_id=memory_id, memory_type=memory_type, content=content, entities=list(entities),
                          occurred_at=when)


def _graph(*extra):
    """Ada in three memories, Hall B in two, tea, Bob and the core memory in one each (steps 1-5)."""
    events = [
        _inserted("core", "core", "The user is Ada."),
        _inserted("m1", "semantic", "Ada prefers tea", "Ada", "tea"),
        _inserted("m2", "episodic", "Ada booked Hall B", "Ada", "Hall B", when="Tuesday 14:00"),
        _inserted("h1", "link", "Ada and Bob share Hall B", "Ada", "Bob", "hall  b"),  # the same entity as Hall B
        _inserted("m3", "semantic", "Bob hates mornings", "Bob"),
        *extra,
    ]
    return memory_graph(replay(events))


def _by_id(nodes):
    return {node.id: node for node in nodes}


def test_the_drawing_is_bipartite_memories_to_entities():
    nodes, edges = memory_drawing(_graph())
    drawn = _by_id(nodes)
    memories = {node_id for node_id, node in drawn.items() if node.shape == MEMORY_SHAPE}
    entities = {node_id for node_id, node in drawn.items() if node.shape == ENTITY_SHAPE}
    assert memories == {"core", "m1", "m2", "h1", "m3"}
    assert entities == {entity_node(name) for name in ("Ada", "tea", "Hall B", "Bob")}
    assert drawn[entity_node("Hall B")].label == "Hall B"  # the first spelling seen
    assert sorted((edge.source, edge.target) for edge in edges) == sorted(
        [("m1", "entity:ada"), ("m1", "entity:tea"), ("m2", "entity:ada"), ("m2", "entity:hall b"),
         ("h1", "entity:ada"), ("h1", "entity:bob"), ("h1", "entity:hall b"), ("m3", "entity:bob")])
    assert all(edge.arrows == "" for edge in edges)  # incidence, not direction
    for memory in _graph().memories:  # coloured by type
        assert drawn[memory.id].color == PALETTE[memory.memory_type][0]


def test_sizes_grow_with_degree():
    drawn = _by_id(memory_drawing(_graph())[0])
    ada, hall, tea = drawn[entity_node("Ada")], drawn[entity_node("Hall B")], drawn[entity_node("tea")]
    assert ada.size > hall.size > tea.size
    assert drawn["h1"].size > drawn["m1"].size > drawn["m3"].size > drawn["core"].size  # 3, 2, 1, 0 entities
    assert node_size(10_000) == MAX_SIZE
    assert drawn_entities(filtered_graph(_graph()))[:2] == [("Ada", 3), ("Bob", 2)]


def test_a_type_filter_keeps_those_memories_and_only_the_entities_they_name():
    nodes, edges = memory_drawing(_graph(), MemoryFilter(memory_types=("semantic",)))
    assert set(_by_id(nodes)) == {"m1", "m3", entity_node("Ada"), entity_node("tea"), entity_node("Bob")}
    assert len(edges) == 3
    assert _by_id(nodes)[entity_node("Ada")].size == node_size(1)  # its degree in what is drawn
    assert memory_drawing(_graph(), MemoryFilter(memory_types=()))[0] == []


def test_a_step_range_keeps_the_memories_written_in_it():
    graph = _graph()
    assert written_steps(graph) == [1, 2, 3, 4, 5]
    assert [m.id for m in filtered_memories(graph, MemoryFilter(steps=(2, 3)))] == ["m1", "m2"]
    nodes, _ = memory_drawing(graph, MemoryFilter(steps=(5, 5)))
    assert set(_by_id(nodes)) == {"m3", entity_node("Bob")}  # Ada is named by none in range


def test_focus_shows_an_entity_and_its_neighbours_hop_by_hop():
    graph = _graph()
    one = MemoryFilter(entity="TEA")  # any spelling of the name
    assert set(_by_id(memory_drawing(graph, one)[0])) == {"m1", entity_node("tea"), entity_node("Ada")}
    two = MemoryFilter(entity="tea", hops=2)
    assert {m.id for m in filtered_memories(graph, two)} == {"m1", "m2", "h1"}
    three = MemoryFilter(entity="tea", hops=3)
    assert {m.id for m in filtered_memories(graph, three)} == {"m1", "m2", "h1", "m3"}
    assert memory_drawing(graph, MemoryFilter(entity="nobody")) == ([], [])
    hidden = MemoryFilter(memory_types=("episodic",), entity="tea")  # filtered out before the focus
    assert memory_drawing(graph, hidden) == ([], [])


def test_gone_memories_are_hidden_unless_asked_and_then_greyed():
    merged = MemoryMerged(memory_id="m9", memory_type="semantic", sources=["m1", "m3"], entities=["Ada", "tea", "Bob"],
                          description="Ada prefers tea; Bob hates mornings")
    graph = _graph(MemoryDeleted(memory_id="m2"), merged)
    shown = {m.id for m in filtered_memories(graph)}
    assert shown == {"core", "h1", "m9"}
    nodes, edges = memory_drawing(graph, MemoryFilter(include_gone=True))
    drawn = _by_id(nodes)
    assert {"m1", "m2", "m3"} <= set(drawn)
    assert (DELETED_MARK, MERGED_MARK) == ("✕ ", "⇢ ")  # the marks the page's legend names
    for memory_id, mark in (("m2", DELETED_MARK), ("m1", MERGED_MARK), ("m3", MERGED_MARK)):
        assert drawn[memory_id].color == GONE[0] and drawn[memory_id].dashed and drawn[memory_id].label.startswith(mark)
    assert not drawn["m9"].dashed and drawn["m9"].color == PALETTE["semantic"][0]
    assert all(edge.dashes for edge in edges if edge.source in ("m1", "m2", "m3"))
    assert "merged into m9" in drawn["m1"].title
    assert "merged from: m1, m3" in drawn["m9"].details


def test_tooltips_carry_the_content_entities_and_time():
    memory = _graph().get("m2")
    assert memory_tooltip(memory) == "m2 · episodic · live\nAda booked Hall B\nentities: Ada, Hall B\nwhen: Tuesday 14:00"
    assert set(PALETTE) == set(MEMORY_TYPES)  # every type has a colour in the legend


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def test_a_malicious_memory_is_text_in_the_html():
    graph = _graph(_inserted("m6", "semantic", EVIL, EVIL, "Ada"))
    html = graph_html(*memory_drawing(graph), layout="force", channel="memory")
    parsed = _Tags()
    parsed.feed(html)
    assert "img" not in parsed.tags and EVIL not in html
    nodes = json.loads(re.search(r"nodes = new vis\.DataSet\((.*?)\);\n", html).group(1))
    by_id = {node["id"]: node for node in nodes}
    assert by_id["m6"]["label"] == EVIL and by_id[entity_node(EVIL)]["label"] == EVIL
    assert EVIL in by_id["m6"]["title"]  # the exact text, shown by vis as innerText
    assert by_id[entity_node(EVIL)]["title"].startswith(f"entity · {EVIL}")
    details = json.loads(re.search(r"var details = (\{.*?\});\n", html).group(1))
    assert EVIL in details["m6"]
