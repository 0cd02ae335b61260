"""components/graph_view.py: the pyvis HTML draws offline, escapes text, places force drawings in
Python (steady from one draw to the next), and folds tall columns."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser

import pytest

from components import graph_layout, graph_view
from components.graph_layout import (
    FOLD_MIN, LAYER_GAP, ROW_GAP, SPRING_LIMIT, fold_rows, layered_positions, layered_rows, spring_positions,
)
from components.graph_view import (
    HIERARCHY_LIMIT, LARGE, MIN_SCALE, GraphEdge, GraphNode, graph_html, remote_references, script_json,
)

EVIL = "</script><img src=x onerror=alert(1)>"


def _data(html: str, name: str) -> list[dict]:
    """The nodes or edges as the page's script hands them to vis.DataSet."""
    return json.loads(re.search(rf"{name} = new vis\.DataSet\((.*?)\);\n", html).group(1))


def _options(html: str) -> dict:
    return json.loads(re.search(r"var options = (\{.*?\});\n", html).group(1))


def _details(html: str) -> dict:
    return json.loads(re.search(r"var details = (\{.*?\});\n", html).group(1))


class _Tags(HTMLParser):
    """The elements a browser's HTML parser would make (script bodies are raw text to it, too)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _chain(count: int, depth: int = 7, **node) -> tuple[list[GraphNode], list[GraphEdge]]:
    nodes = [GraphNode(f"n{i}", f"node {i}", level=i % depth, **node) for i in range(count)]
    return nodes, [GraphEdge(f"n{i}", f"n{i + 1}") for i in range(count - 1)]


def test_the_html_names_no_remote_host():
    html = graph_html(*_chain(5))
    assert remote_references(html) == []
    assert "cdn.jsdelivr.net" not in html and "bootstrap" not in html.lower()
    assert "vis-network" in html and len(html) > 500_000  # the library is inlined, not fetched


def test_remote_references_finds_what_a_browser_would_fetch():
    page = ('<script src="https://cdn.example.com/x.js"></script><link href=//fonts.example.org/a.css>'
            '<style>body{background:url("http://img.example.net/b.png")}</style><img src="/local.png">'
            '<a href="http://127.0.0.1:8501/app">app</a><img src="data:image/png;base64,AAAA">')
    assert remote_references(page) == ["https://cdn.example.com/x.js", "//fonts.example.org/a.css",
                                       "http://img.example.net/b.png"]


def test_a_label_or_tooltip_cannot_leave_the_script_or_become_markup():
    nodes = [GraphNode("a", EVIL, title=EVIL + " href", details=EVIL), GraphNode("b", "b", level=1)]
    html = graph_html(nodes, [GraphEdge("a", "b", title=EVIL)])
    parsed = _Tags()
    parsed.feed(html)
    assert "img" not in parsed.tags  # no element made from the text, so nothing for onerror to run on
    assert parsed.tags.count("script") == 4  # pyvis's bindings, vis-network, the drawing, our click panel
    assert EVIL not in html and "\\u003c/script\\u003e\\u003cimg" in html
    drawn = _data(html, "nodes")
    assert drawn[0]["label"] == EVIL and drawn[0]["title"] == EVIL + " href"  # the text itself, exactly
    assert _data(html, "edges")[0]["title"] == EVIL
    assert _details(html)["a"] == EVIL
    # pyvis switches to a template that sets the tooltip's innerHTML when a title holds "href"
    assert "popup.innerHTML" not in html and "innerHTML" not in parsed.scripts[-1]


def test_script_json_escapes_every_character_that_could_end_a_script():
    text = script_json({"x": "</script>&'\u2028"})
    assert not set("<>&'\u2028") & set(text)
    assert json.loads(text) == {"x": "</script>&'\u2028"}


def _fresh(nodes, edges, **options) -> str:
    """A drawing built as if never seen: no cached page, no earlier layout to start from."""
    graph_view._graph_html.cache_clear()
    graph_layout._LAID.clear()
    return graph_html(nodes, edges, **options)


@pytest.mark.parametrize("count", [5, LARGE + 1])
def test_every_force_drawing_is_placed_in_python_the_same_each_time(count):
    html = _fresh(*_chain(count), layout="force")
    assert _options(html)["physics"] == {"enabled": False}  # vis's physics starts from a random seed
    placed = _data(html, "nodes")
    assert all(isinstance(node["x"], float) and isinstance(node["y"], float) for node in placed)
    assert len({(node["x"], node["y"]) for node in placed}) == len(placed)  # no two on one spot
    again = _fresh(*_chain(count), layout="force")  # another visit, another process
    assert [(n["x"], n["y"]) for n in _data(again, "nodes")] == [(n["x"], n["y"]) for n in placed]
    assert _options(html)["interaction"]["hideEdgesOnDrag"] is (count > LARGE)


def test_separate_components_stay_together_and_edges_keep_a_readable_length():
    nodes = [GraphNode(f"c{i}", f"c{i}") for i in range(20)]
    edges = [GraphEdge(f"c{i}", f"c{i + 1}") for i in range(0, 20, 2)]  # ten separate pairs
    placed = {node["id"]: (node["x"], node["y"]) for node in _data(_fresh(nodes, edges, layout="force"), "nodes")}
    length = sorted(((placed[e.source][0] - placed[e.target][0]) ** 2 + (placed[e.source][1] - placed[e.target][1]) ** 2)
                    ** 0.5 for e in edges)
    assert 80 < length[len(length) // 2] < 140  # about graph_layout.EDGE px, not a huddle of labels
    span = max(max(abs(x), abs(y)) for x, y in placed.values())
    assert span < 6 * length[len(length) // 2]  # the pairs pulled to the middle, not flung to the corners


def test_layered_drawings_use_each_nodes_level():
    small = graph_html(*_chain(110, depth=10))  # a layered drawing leaves vis its layout longer
    hierarchical = _options(small)["layout"]["hierarchical"]
    assert hierarchical["enabled"] is True and hierarchical["direction"] == "LR"
    assert hierarchical["treeSpacing"] == hierarchical["nodeSpacing"]  # separate trees no further apart than rows
    assert [node["level"] for node in _data(small, "nodes")] == [i % 10 for i in range(110)]
    assert graph_html(*_chain(HIERARCHY_LIMIT, depth=30)).count('"x": ') == 0  # 10 a column: none folds
    big = graph_html(*_chain(HIERARCHY_LIMIT + 1))  # columns placed in Python, in level order
    assert _options(big)["layout"]["hierarchical"]["enabled"] is False
    placed = _data(big, "nodes")
    for level in range(6):
        assert max(n["x"] for n in placed if n["level"] == level) < min(n["x"] for n in placed if n["level"] == level + 1)
    assert len({(n["x"], n["y"]) for n in placed}) == len(placed)
    # 43 nodes a level, more than 1.5·√301 = 26: each level folds into two columns side by side
    assert {len({n["x"] for n in placed if n["level"] == level}) for level in range(7)} == {2}
    assert {n["x"] % LAYER_GAP for n in placed} == {0}


def test_a_flat_list_folds_into_columns_of_legible_height():
    todos = [GraphNode(f"t{i}", f"todo {i}", level=0) for i in range(20)]  # no dependencies: one level
    assert layered_rows([0] * 20) == (7, True) and layered_rows([0] * FOLD_MIN) == (FOLD_MIN, False)
    html = graph_html(todos, [])
    assert _options(html)["layout"]["hierarchical"]["enabled"] is False  # placed in Python, folded
    placed = [(node["x"], node["y"]) for node in _data(html, "nodes")]
    columns = sorted({x for x, _ in placed})
    assert columns == [0, LAYER_GAP, 2 * LAYER_GAP]  # 7, 7 and 6 rows, not one column of 20
    assert [x for x, _ in placed] == sorted(x for x, _ in placed)  # read down, then across, in order
    first = [y for x, y in placed if x == 0]
    assert first == sorted(first) and first[1] - first[0] == ROW_GAP
    assert fold_rows(1000) == 47 and fold_rows(20) == FOLD_MIN
    five = graph_html(todos[:5], [])  # short enough for vis's own layout
    assert _options(five)["layout"]["hierarchical"]["enabled"] is True


def test_a_small_drawing_is_never_fitted_below_the_minimum_scale():
    assert f"minScale = {MIN_SCALE}" in graph_html(*_chain(20))
    assert "minScale = 0" in graph_html(*_chain(LARGE + 1, depth=30))  # a big one may be seen whole


def test_a_layered_column_follows_the_nodes_that_point_at_it():
    nodes = [GraphNode("a", "a", level=0), GraphNode("b", "b", level=0),
             GraphNode("c", "c", level=1), GraphNode("d", "d", level=1)]
    placed = layered_positions(nodes, [GraphEdge("b", "c"), GraphEdge("a", "d")])
    assert placed["a"][1] < placed["b"][1] and placed["d"][1] < placed["c"][1]  # no crossing
    assert placed["a"][0] == placed["b"][0] == 0 and placed["c"][0] == placed["d"][0] == LAYER_GAP
    downward = layered_positions(nodes, [], direction="UD")
    assert downward["c"][1] == LAYER_GAP and downward["a"][1] == 0


def test_edges_keep_their_style_and_unknown_ends_are_left_out():
    nodes = [GraphNode("a", "a"), GraphNode("b", "b")]
    edges = [GraphEdge("a", "b", arrows="", dashes=True, color="#123456", width=3), GraphEdge("a", "gone")]
    drawn = _data(graph_html(nodes, edges), "edges")
    assert len(drawn) == 1
    assert drawn[0]["from"] == "a" and drawn[0]["to"] == "b" and drawn[0]["arrows"] == ""
    assert drawn[0]["dashes"] is True and drawn[0]["width"] == 3 and drawn[0]["color"]["color"] == "#123456"


def test_node_style_reaches_vis():
    node = GraphNode("a", "a", color="#ffe3c4", border="#bc4c00", border_width=3, dashed=True, group="stale")
    drawn = _data(graph_html([node], []), "nodes")[0]
    assert drawn["color"]["background"] == "#ffe3c4" and drawn["color"]["border"] == "#bc4c00"
    assert drawn["borderWidth"] == 3 and drawn["shapeProperties"]["borderDashes"] == [6, 4]
    assert "group" not in drawn  # vis's group palette would paint over the node's own colour


def test_the_same_graph_is_built_once():
    nodes, edges = _chain(20)
    first = graph_html(nodes, edges, height=400)
    assert graph_html(list(nodes), list(edges), height=400) is first
    assert graph_html(nodes, edges, height=401) is not first


def test_an_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="layered"):
        graph_html(*_chain(2), layout="circle")


def test_spring_positions_spread_nodes_apart_and_pull_neighbours_together():
    pairs = [(i, i + 1) for i in range(0, 198, 2)]  # 100 separate couples among 200 nodes
    laid = spring_positions(200, pairs)
    assert laid.shape == (200, 2) and abs(laid).max() <= 1.0
    linked = [((laid[a] - laid[b]) ** 2).sum() ** 0.5 for a, b in pairs]
    strangers = [((laid[a] - laid[a + 3]) ** 2).sum() ** 0.5 for a in range(0, 196, 2)]
    assert sorted(linked)[len(linked) // 2] < sorted(strangers)[len(strangers) // 2] / 3
    spiral = spring_positions(SPRING_LIMIT + 1, [])  # too many for the dense layout
    assert len({tuple(point) for point in spiral.round(6)}) == SPRING_LIMIT + 1


@pytest.mark.parametrize("count", [8, 140])
def test_a_grown_force_drawing_keeps_its_nodes_where_they_were(count):
    graph_layout._LAID.clear()
    nodes = [GraphNode(id=f"warm{i}", label=str(i)) for i in range(count)]
    edges = [GraphEdge(source=f"warm{i}", target=f"warm{i + 1}") for i in range(len(nodes) - 1)]
    first = _positions_of(graph_html(nodes, edges, layout="force"))
    grown = [GraphNode(id="warm-new", label="new"), *nodes]  # first: a cold start would shuffle every place
    second = _positions_of(graph_html(grown, [*edges, GraphEdge(source="warm-new", target="warm0")], layout="force"))
    moved = [math.dist(first[k], second[k]) for k in first]
    assert max(moved) < 1.0  # not one pixel: a new memory moved every node by 411 px at the median
    scale = max(abs(v) for point in first.values() for v in point)
    assert math.dist(second["warm-new"], second["warm0"]) < 0.5 * scale  # the new node settles by its neighbour
    assert min(math.dist(second["warm-new"], point) for point in first.values()) > 10  # and on no other
    fewer = _positions_of(graph_html(nodes[1:], edges[1:], layout="force"))  # one filtered out: the rest stay too
    assert max(math.dist(first[k], fewer[k]) for k in fewer) < 1.0


def _positions_of(html: str) -> dict[str, tuple[float, float]]:
    """Each node's fixed place in the drawing (its keys come sorted: id before x and y)."""
    found = re.findall(r'"id": "(warm[^"]*)"[^\]]*?"x": (-?[0-9.e+-]+), "y": (-?[0-9.e+-]+)', html)
    return {node_id: (float(x), float(y)) for node_id, x, y in found}
