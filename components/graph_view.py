"""Graphs drawn with pyvis, offline and safe: the only module that builds pyvis HTML.

Pages describe a graph as plain data (`GraphNode`, `GraphEdge`); `graph_html` turns it into one
self-contained HTML page and `render_graph` shows it in an iframe. What it promises:

- Offline. pyvis 0.3.2 with `cdn_resources="in_line"` inlines vis-network 9.1.2, but its
  template always adds two bootstrap tags from cdn.jsdelivr.net; they are removed, and
  `remote_references` finds any `src=`, `href=` or `url(...)` to a host other than this machine
  (offline-dependencies.md §6: counting "https://" misleads, the vis JS holds URL strings).
- Safe. A label or tooltip is text from a model or a person. The nodes and edges reach the page
  as JSON inside a <script>: Jinja's `tojson` writes `<`, `>`, `&` and `'` as \\u003c-style
  escapes, so `</script>` in a label cannot close the tag (and the extra data we add is escaped
  the same way). vis-network 9.1.2 puts a string `title` into its tooltip with `innerText`
  (`Popup.setText`), which shows markup as text. pyvis switches to a template that sets
  `innerHTML` when any title contains "href"; we render pyvis's template ourselves with that
  switch off, so no tooltip is ever parsed as HTML. Labels are drawn on a canvas as text.
- Steady and responsive at 1,000 nodes. A force drawing always gets its places from Python (a
  spring layout, Fruchterman-Reingold as networkx computes it, components/graph_layout.py) and
  vis runs no physics: vis's physics starts from a random seed, so one new memory moved every
  node (411 px at the median) and each visit drew another picture. A drawing that grew keeps
  its nodes where they were; only the new ones settle in. A layered drawing is vis's hierarchical layout up to
  `HIERARCHY_LIMIT` nodes unless a column is too tall for it (a flat todo list); past it, or
  then, columns by `level` come from Python, tall ones folded side by side. vis's own layouts
  cost seconds at 1,000 nodes.
- Legible and kept. A drawing of up to `LARGE` nodes is never shown smaller than `MIN_SCALE`
  (vis's fit shrank 20 todos to 0.18); the person's zoom and pan are kept in the frame's
  sessionStorage (keyed by channel and first node) and come back when the graph is redrawn.
- A click opens a panel (with a close button) in the corner away from the node, and posts the
  node's id to the parent page, whose origin is the only target; the listener takes a message
  only from this origin and from one of the page's graph frames.

The vis JS alone is ~700 KB, so each distinct graph is built once (`lru_cache` on the frozen
input) and a rerun with the same graph costs a dictionary look-up.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, Sequence

from pyvis.network import Network

from components import graph_layout

Layout = Literal["layered", "force"]

# Up to these sizes vis lays out; past them the positions come from Python. Measured by
# bench/graphs.py in headless Chromium (time until vis has drawn): a physics run takes 0.75 s at
# 100 nodes, 1.4 s at 150, 4.9 s at 1,000 (0.7 s with positions given); vis's hierarchical layout
# 0.46 s at 150, 0.69 s at 300, 3.3 s at 1,000 (0.94 s with columns given). Physics is off at
# every size (a random start moves every node on each redraw); the bench's --vis-lays-out still
# raises the limit to compare. A spring layout in Python costs 16 ms at 100 nodes.
PHYSICS_LIMIT = 0
HIERARCHY_LIMIT = 300
LARGE = 100  # past this many nodes: edges hidden while dragging, and fit may go below MIN_SCALE (an overview)
MIN_SCALE = 0.75  # labels of 14 px drawn at 10.5 px at least; smaller is unreadable
_CACHED = 16  # distinct graphs kept (each ~0.7 MB of HTML)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")

_BOOTSTRAP_LINK = re.compile(r"<link[^>]*cdn\.jsdelivr\.net[^>]*/?>", re.S)
_BOOTSTRAP_SCRIPT = re.compile(r"<script[^>]*cdn\.jsdelivr\.net[^>]*>\s*</script>", re.S)
_HEADING = re.compile(r"<center>\s*<h1>\s*</h1>\s*</center>", re.S)
_SLOT = re.compile(r"__[A-Z_]+__")  # a value put into _PANEL
_OLD_VIS_COMMENT = re.compile(r"<!--\s*<link[^>]*node_modules/vis.*?-->", re.S)  # the template's own leftover
_REMOTE = re.compile(
    r"""(?:\b(?:src|href)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])\s*((?:[a-z][a-z0-9+.-]*:)?//[^"'\s>)]+)""",
    re.I,
)


@dataclass(frozen=True, slots=True)
class GraphNode:
    """One node. `label` is drawn on it, `title` is its tooltip (plain text, newlines kept)."""

    id: str
    label: str
    title: str = ""
    color: str = "#97c2fc"  # the fill
    shape: str = "box"  # vis shapes: box, ellipse, dot, diamond, square, triangle, ...
    size: float | None = None  # for shapes with the label outside (dot, diamond, square, ...)
    level: int | None = None  # the column (layered layout)
    group: str | None = None  # for the caller; not sent to vis, whose group palette would override `color`
    border: str | None = None  # the outline colour; None: a darker shade of grey
    border_width: float = 1.0
    dashed: bool = False  # a dashed outline (for stale or tentative things)
    font_color: str = "#1f2328"
    details: str = ""  # shown in the panel when the node is clicked (plain text); default: title


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """One edge from `source` to `target`; `arrows` is "to", "from", "to;from" or "" (none)."""

    source: str
    target: str
    arrows: str = "to"
    color: str = "#8c959f"
    dashes: bool = False
    width: float = 1.0
    title: str = ""


def graph_html(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge], *, layout: Layout = "layered",
               height: int = 560, direction: Literal["LR", "UD"] = "LR", channel: str = "graph") -> str:
    """One self-contained HTML page drawing the graph (built once per distinct input).

    A click on a node shows its `details` in a panel inside the graph, and posts the node's id
    to the page on `channel`, where `render_graph(..., channel=...)` hands it to Python."""
    if layout not in ("layered", "force"):
        raise ValueError(f"layout is 'layered' or 'force', not {layout!r}")
    return _graph_html(tuple(nodes), tuple(edges), layout, int(height), direction, channel)


def render_graph(html: str, height: int = 560, *, channel: str = "graph", alt: str = "graph") -> str | None:
    """Show a page from `graph_html` in an iframe of `height`; returns the id of the node just
    clicked in it (on the rerun that click caused), else None.

    The graph is in a srcdoc iframe, which cannot call Streamlit; a bodiless custom component
    (Streamlit's components v2) listens for the iframe's message and sets it as a trigger value.
    Call it before creating a widget whose state the click should set."""
    import streamlit as st

    st.iframe(html, height=height + 4, alt=alt)
    result = _click_bridge()(key=f"graph-click-{channel}", data={"channel": channel}, height=0,
                             on_clicked_change=lambda: None)
    clicked = getattr(result, "clicked", None)
    return clicked if isinstance(clicked, str) else None


# A click counts only when it comes from this origin and from one of this page's graph frames
# (its window carries the channel): another site framing the app, or any script posting to the
# app's window, cannot pick a node.
_BRIDGE_JS = """
export default function ({ data, setTriggerValue }) {
  const fromGraph = (source) => Array.from(document.querySelectorAll("iframe")).some((frame) => {
    try { return frame.contentWindow === source && frame.contentWindow.workbenchGraphChannel === data.channel; }
    catch (e) { return false; }
  });
  const listen = (event) => {
    const message = event.data;
    if (event.origin !== window.location.origin || !event.source || !fromGraph(event.source)) return;
    if (message && message.workbenchGraph === data.channel && typeof message.node === "string") {
      setTriggerValue("clicked", message.node);
    }
  };
  window.addEventListener("message", listen);
  return () => window.removeEventListener("message", listen);
}
"""


@lru_cache(maxsize=1)
def _click_bridge():
    import streamlit as st

    return st.components.v2.component("workbench_graph_click", js=_BRIDGE_JS)


def remote_references(html: str) -> list[str]:
    """Every `src=`, `href=`, `url(...)` or `@import` in `html` that names a host other than this machine."""
    found = []
    for match in _REMOTE.finditer(html):
        address = match.group(1)
        host = re.sub(r"^(?:[a-z][a-z0-9+.-]*:)?//", "", address, flags=re.I).split("/")[0].split("@")[-1]
        if not any(host == local or host.startswith(local + ":") for local in LOCAL_HOSTS):
            found.append(address)
    return found


def script_json(value: object) -> str:
    """JSON safe inside a <script>: `<`, `>`, `&`, `'` and the JS line separators as \\u escapes."""
    text = json.dumps(value, ensure_ascii=False)
    for char in "<>&'\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


# ---- building ----------------------------------------------------------------------------


@lru_cache(maxsize=_CACHED)
def _graph_html(nodes: tuple[GraphNode, ...], edges: tuple[GraphEdge, ...], layout: str, height: int,
                direction: str, channel: str) -> str:
    if layout == "force":
        fixed = len(nodes) > PHYSICS_LIMIT
    else:
        fixed = len(nodes) > HIERARCHY_LIMIT or graph_layout.layered_rows([node.level or 0 for node in nodes])[1]
    positions = graph_layout.positions(nodes, edges, layout, direction) if fixed else {}
    net = Network(height=f"{height}px", width="100%", directed=True, cdn_resources="in_line", heading="")
    for node in nodes:
        net.add_node(node.id, **_node_options(node, positions.get(node.id)))
    known = {node.id for node in nodes}
    for edge in edges:
        if edge.source in known and edge.target in known:
            net.add_edge(edge.source, edge.target, **_edge_options(edge))
    net.set_options(json.dumps(_options(layout, fixed, len(nodes) > LARGE, direction)))
    return _finish(_render(net, layout == "force" and not fixed), nodes, channel, layout)


def _node_options(node: GraphNode, position: tuple[float, float] | None) -> dict:
    border = node.border or "#57606a"
    options = {
        "label": node.label,
        "title": node.title,
        "shape": node.shape,
        "color": {"background": node.color, "border": border,
                  "highlight": {"background": node.color, "border": "#0969da"},
                  "hover": {"background": node.color, "border": "#0969da"}},
        "borderWidth": node.border_width,
        "borderWidthSelected": node.border_width + 2,
        "shapeProperties": {"borderDashes": [6, 4] if node.dashed else False},
        "font": {"color": node.font_color, "face": "sans-serif", "size": 14},
    }
    if node.size is not None:
        options["size"] = node.size
    if node.level is not None:
        options["level"] = node.level
    if position is not None:
        options["x"], options["y"] = position
    return options


def _edge_options(edge: GraphEdge) -> dict:
    options = {"arrows": edge.arrows, "color": {"color": edge.color, "highlight": "#0969da", "inherit": False},
               "dashes": edge.dashes, "width": edge.width}
    if edge.title:
        options["title"] = edge.title
    return options


def _options(layout: str, fixed: bool, large: bool, direction: str) -> dict:
    options: dict = {
        "interaction": {"hover": True, "tooltipDelay": 150, "navigationButtons": False, "keyboard": False,
                        "hideEdgesOnDrag": large, "hideEdgesOnZoom": large},
        "edges": {"smooth": False if fixed else {"type": "cubicBezier", "forceDirection":
                                                 "horizontal" if direction == "LR" else "vertical", "roundness": 0.4}},
        "nodes": {"margin": 8, "widthConstraint": {"maximum": graph_layout.LAYER_GAP - 40}},  # folded columns keep a gap
    }
    if fixed:
        options["physics"] = {"enabled": False}
        options["layout"] = {"hierarchical": {"enabled": False}}
    elif layout == "layered":
        options["physics"] = {"enabled": False}
        options["layout"] = {"hierarchical": {"enabled": True, "direction": direction, "sortMethod": "directed",
                                              "levelSeparation": graph_layout.LAYER_GAP, "nodeSpacing": graph_layout.ROW_GAP + 30,
                                              "treeSpacing": graph_layout.ROW_GAP + 30,  # vis: 200 between trees
                                              "shakeTowards": "roots"}}
    else:
        options["physics"] = {"enabled": True, "solver": "barnesHut",
                              "barnesHut": {"gravitationalConstant": -4000, "springLength": 140},
                              "stabilization": {"enabled": True, "iterations": 300, "fit": True}}
    return options


def _render(net: Network, physics: bool) -> str:
    """pyvis's template rendered as `Network.generate_html` does, but never with its tooltip-link
    variant (which sets a tooltip's innerHTML) nor its menus."""
    nodes, edges, heading, height, width, options = net.get_network_data()
    template = net.templateEnv.get_template(net.path)
    return template.render(height=height, width=width, nodes=nodes, edges=edges, heading="", options=options,
                           physics_enabled=physics,
                           use_DOT=False, dot_lang=None, widget=False, bgcolor=net.bgcolor, conf=False,
                           tooltip_link=False, neighborhood_highlight=False, select_menu=False,
                           filter_menu=False, notebook=False, cdn_resources="in_line")


_STYLE = """
<style>
  body { margin: 0; font-family: sans-serif; }
  #mynetwork { border: 1px solid #d0d7de; border-radius: 6px; float: none; box-sizing: border-box; }
  .card { border: 0; }
  div.vis-tooltip { white-space: pre-wrap; max-width: 360px; font: 13px sans-serif; padding: 6px 8px;
                 background: #fffbe6; border: 1px solid #d4a72c; border-radius: 4px; position: absolute; }
  body.details-open div.vis-tooltip { visibility: hidden !important; }
  #graph-details { position: absolute; top: 8px; right: 8px; max-width: 340px; max-height: 70%; overflow: auto;
                   display: none; white-space: pre-wrap; font: 13px/1.4 sans-serif; color: #1f2328;
                   background: rgba(255,255,255,0.96); border: 1px solid #8c959f; border-radius: 6px;
                   padding: 8px 30px 8px 10px; box-shadow: 0 2px 8px rgba(0,0,0,0.15); z-index: 10; }
  #graph-details.left { right: auto; left: 8px; }
  #graph-details.bottom { top: auto; bottom: 8px; }
  #graph-details-close { position: absolute; top: 2px; right: 2px; width: 26px; height: 26px; padding: 0;
                         border: 0; border-radius: 4px; background: none; color: #57606a; font: 18px/26px sans-serif;
                         cursor: pointer; }
  #graph-details-close:hover, #graph-details-close:focus { background: #eaeef2; color: #1f2328; }
</style>
"""  # in <head>: laid out before vis sizes its canvas (later, vis rescales the view ~1 s in, undoing a restored zoom)

_PANEL = """
<div id="graph-details" role="status" aria-live="polite"><button id="graph-details-close" type="button"
  aria-label="Close the details" title="Close">&times;</button><div id="graph-details-text"></div></div>
<script type="text/javascript">
  (function () {
    var details = __DETAILS__;
    var channel = __CHANNEL__, layered = __LAYERED__, minScale = __MIN_SCALE__;
    var viewKey = "workbench-graph-view:" + channel + ":" + __FIRST__;
    var box = document.getElementById("mynetwork"), panel = document.getElementById("graph-details");
    var text = document.getElementById("graph-details-text");
    window.workbenchGraphChannel = channel;  // the parent's listener checks it
    box.style.position = "relative";
    box.appendChild(panel);
    window.graphReady = false;
    function keepView() {
      try { sessionStorage.setItem(viewKey, JSON.stringify({scale: network.getScale(), position: network.getViewPosition()})); } catch (e) {}
    }
    function startView() {  // the person's last view of this graph, else fit but never smaller than minScale
      var kept = null;
      try { kept = JSON.parse(sessionStorage.getItem(viewKey) || "null"); } catch (e) {}
      if (kept && kept.scale > 0 && kept.position && isFinite(kept.position.x) && isFinite(kept.position.y)) {
        network.moveTo({position: kept.position, scale: kept.scale, animation: false});
        if (anyInView()) return;  // else the kept view shows nothing of this graph: fit it instead
        network.fit({animation: false});
      }
      if (network.getScale() >= minScale) return;
      var at = network.getPositions(), ids = Object.keys(at), scale = minScale;
      if (!ids.length) return;
      var xs = ids.map(function (id) { return at[id].x; }), ys = ids.map(function (id) { return at[id].y; });
      function axis(low, high, size, margin) {  // centred if it fits, else from its start (the roots)
        if (!layered || (high - low + 2 * margin) * scale <= size) return (low + high) / 2;
        return low - margin + size / 2 / scale;
      }
      network.moveTo({scale: scale, animation: false, position: {
        x: axis(Math.min.apply(null, xs), Math.max.apply(null, xs), box.clientWidth, 130),
        y: axis(Math.min.apply(null, ys), Math.max.apply(null, ys), box.clientHeight, 40)}});
    }
    function anyInView() {
      var at = network.getPositions();
      return Object.keys(at).some(function (id) {
        var dom = network.canvasToDOM(at[id]);
        return dom.x >= 0 && dom.y >= 0 && dom.x <= box.clientWidth && dom.y <= box.clientHeight;
      });
    }
    network.once("afterDrawing", function () { startView(); window.graphReady = true; });
    network.on("doubleClick", function (params) {  // on empty canvas: the whole graph again
      if (!params.nodes.length) { network.fit({animation: false}); keepView(); }
    });
    network.redraw();  // vis may have drawn once already, before this script ran
    network.on("zoom", keepView);
    network.on("dragEnd", function (params) { if (!params.nodes.length) keepView(); });
    network.on("stabilizationIterationsDone", function () { network.setOptions({physics: {enabled: false}}); });
    function close() {
      panel.style.display = "none";
      panel.dataset.node = "";
      document.body.classList.remove("details-open");
    }
    function place(id) {  // the corner away from the node; if it still covers it (a narrow frame), pan
      if (!Object.hasOwn(details, id)) return;  // not a node of this drawing
      var width = box.clientWidth, spot = network.canvasToDOM(network.getPositions([id])[id]);
      panel.classList.toggle("left", spot.x > width / 2);
      panel.classList.toggle("bottom", spot.y < box.clientHeight / 2);
      var frame = box.getBoundingClientRect(), rect = panel.getBoundingClientRect(), node = network.getBoundingBox(id);
      var a = network.canvasToDOM({x: node.left, y: node.top}), b = network.canvasToDOM({x: node.right, y: node.bottom});
      var left = rect.left - frame.left, right = rect.right - frame.left;
      if (a.x < right && b.x > left && a.y < rect.bottom - frame.top && b.y > rect.top - frame.top) {
        var free = panel.classList.contains("left") ? (right + width) / 2 : left / 2, view = network.getViewPosition();
        network.moveTo({position: {x: view.x + (spot.x - free) / network.getScale(), y: view.y}, animation: false});
      }
    }
    document.getElementById("graph-details-close").addEventListener("click", function () {
      close();
      network.unselectAll();
    });
    network.on("click", function (params) {
      if (!params.nodes.length) { close(); return; }
      var id = String(params.nodes[0]);
      text.textContent = Object.hasOwn(details, id) ? details[id] : "";  // text, never markup; own keys only
      panel.style.display = "block";
      panel.dataset.node = id;
      document.body.classList.add("details-open");
      place(id);
      try {  // to the parent page only, and only when it is of this origin (reading its location throws if not)
        window.parent.postMessage({workbenchGraph: channel, node: id}, window.parent.location.origin);
      } catch (e) {}
    });
  })();
</script>
"""


def _finish(html: str, nodes: tuple[GraphNode, ...], channel: str, layout: str) -> str:
    html = _BOOTSTRAP_SCRIPT.sub("", _BOOTSTRAP_LINK.sub("", html))
    html = _OLD_VIS_COMMENT.sub("", _HEADING.sub("", html))
    details = {node.id: node.details or node.title or node.label for node in nodes}
    values = {"__DETAILS__": details, "__CHANNEL__": channel, "__LAYERED__": layout == "layered",
              "__MIN_SCALE__": MIN_SCALE if len(nodes) <= LARGE else 0, "__FIRST__": nodes[0].id if nodes else ""}
    panel = _SLOT.sub(lambda slot: script_json(values[slot.group()]), _PANEL)  # one pass: a value is never read as a slot
    html = html.replace("</head>", _STYLE + "</head>", 1) if "</head>" in html else _STYLE + html
    return html.replace("</body>", panel + "</body>", 1) if "</body>" in html else html + panel
