"""The memory graph as text and controls: the core memory panel, the filters and legend, search,
the list, and one memory's details (its history and the message it came from).

Every content, entity and message excerpt is text from a model or a person: it goes into
st.text, st.code or a dataframe (which show text as text), or through `plain()` for the widgets
that read Markdown. The legend is our own constant HTML (st.html), never memory text.

Changes are intents (`components.intents.Intent`) the page runs through the session's tool
registry (`components.actions.run_intent`), so a person's edit, delete or restore leaves the
same events as a model's. Search is a read: `memory_search` through the registry on the state
shown, which at a past Replay step searches the memories as they were then.
"""

from __future__ import annotations

import difflib
from typing import Any

import streamlit as st

from components.actions import CallTool, call_intent
from components.app_state import edit_guard
from components.flash import flash
from components.follow import open_on_context
from components.intents import Intent
from components.memory_graph import DELETED_MARK, ENTITY, GONE, MERGED_MARK, PALETTE, MemoryFilter, drawn_entities, filtered_graph, written_steps
from components.message_view import source_excerpt
from components.plain import plain, shown_value
from engine.memory import CORE_ID, CORE_MEMORY_TOKENS, MEMORY_TYPES, Memory, MemoryGraph, memory_graph
from engine.render import core_memory_message
from engine.state import ContextState
from engine.text import one_line, printable
from engine.tokens import token_counter
from engine.tools import ToolContext, registry

EXCERPT_CHARS = 300
CELL_CHARS = 300
LIST_LIMIT = 2_000  # past this many memories the list shows the newest and says how many more
EVERY_ENTITY = ""
CORE_LINES = 10  # a longer core memory scrolls in a box of CORE_HEIGHT px, so the graph stays in sight
CORE_HEIGHT = 260


# ---- the core memory --------------------------------------------------------------------------


def render_core_panel(state: ContextState, encoding: str, editable: bool, key: str) -> Intent | None:
    """Core memory as the model sees it, its size against the 512-token bound, its history, and
    a form that saves a new text with memory_update("core", ...) (when `editable`)."""
    core = memory_graph(state).get(CORE_ID)
    text = core.content if core is not None and core.live else ""
    counter = token_counter(encoding)
    tokens = counter.count(text) if text else 0
    st.subheader("Core memory", anchor=False)
    if text:
        long = text.count("\n") > CORE_LINES or len(text) > CORE_LINES * 80
        st.code(printable(text), language=None, wrap_lines=True, height=CORE_HEIGHT if long else "content")
    elif core is not None:
        st.caption("The core memory was deleted; its last text is in its history, and Restore brings it back.")
    else:
        st.caption("No core memory yet. A model writes it with memory_insert(\"core\", ...) or "
                   "memory_update(\"core\", ...); you can write it below.")
    st.progress(min(tokens / CORE_MEMORY_TOKENS, 1.0), text=f"{tokens:,} of {CORE_MEMORY_TOKENS} tokens")
    message = core_memory_message(state, counter.name)
    if message is not None:
        st.caption(f"Sent first with every request, opening the system prompt (or as a system message of its own "
                   f"when there is none): {counter.count(message['content']):,} tokens with its header.")
    if core is not None and core.history:
        with st.expander(f"History ({len(core.history)} change{'s' if len(core.history) != 1 else ''})"):
            render_history(core, key=f"{key}-history")
    if not editable:
        st.caption("Turn off “Follow the Replay step” to change memories: changes apply to the latest step.")
        return None
    version = len(core.history) if core is not None else 0
    text_key = f"{key}-text-{version}"  # a saved change starts a fresh box holding the new text
    refused = st.session_state.get(_refused_key(key))
    # shown while the box still holds the refused text: not after a good save, a page switch or a new try
    refusal = refused["error"] if refused and refused["text"] == st.session_state.get(text_key) else None
    with st.expander("Edit core memory", expanded=not text or refusal is not None):
        if refusal is not None:  # here, beside the text to fix, and only here (no notice at the top)
            st.error(plain(refusal), icon=":material/error:")
        with st.form(f"{key}-form", border=False):
            new_text = st.text_area("Core memory text", value=text, height=220, key=text_key,
                                    help=f"at most {CORE_MEMORY_TOKENS} tokens; saved with memory_update(\"core\", ...)")
            if st.form_submit_button("Save core memory", type="primary", icon=":material/save:", key=f"{key}-save",
                                     **edit_guard()):
                return Intent("memory_update", {"memory_id": CORE_ID, "content": new_text})
    return None


def _refused_key(key: str) -> str:
    return f"{key}-refused"


def run_core_save(call_tool: CallTool, intent: Intent | None, key: str) -> None:
    """Run the core form's memory_update as `run_intent` does, except for a refusal (too many
    tokens, say): it stays in the form, open, beside the text the person typed, once; a notice
    at the top of the page would be far from the text to fix and would close the form."""
    if intent is None:
        return
    result = call_intent(call_tool, intent)
    if "error" in result:
        st.session_state[_refused_key(key)] = {"error": result["error"], "text": intent.arguments.get("content")}
    else:
        st.session_state.pop(_refused_key(key), None)
        flash("ok", f"Saved {result['memory_id']}.")
    st.rerun()


# ---- history ----------------------------------------------------------------------------------


def history_rows(memory: Memory) -> list[dict[str, Any]]:
    """A row per past value: the step that changed it, the change, the field, the value it had before."""
    rows = []
    for entry in memory.history:
        fields = [(name, value) for name, value in entry.items()  # merged_into None says nothing
                  if name not in ("seq", "change") and not (name == "merged_into" and value is None)]
        for name, value in fields or [("", None)]:
            rows.append({"step": entry.get("seq"), "change": entry.get("change"), "field": name,
                         "value before": printable(shown_value(value))})
    return rows


def versions(memory: Memory) -> list[tuple[int, str]]:
    """Each text the memory has had, with the step it took that text: the first, then each update."""
    steps = [memory.created_seq] + [entry["seq"] for entry in memory.history if entry.get("change") == "updated"]
    texts = [entry["content"] for entry in memory.history if entry.get("change") == "updated"] + [memory.content]
    return list(zip(steps, texts))


def render_history(memory: Memory, key: str) -> None:
    """The table of past values, and a line diff of any one update against the text before it."""
    rows = history_rows(memory)
    if not rows:
        st.caption("Never changed.")
        return
    st.dataframe(rows, hide_index=True, width="stretch")
    texts = versions(memory)
    if len(texts) < 2:
        return
    updates = list(range(1, len(texts)))
    chosen = st.selectbox("What an update changed", updates, index=len(updates) - 1, key=key,
                          format_func=lambda i: f"the update at step {texts[i][0]}")
    diff = difflib.unified_diff(texts[chosen - 1][1].splitlines(), texts[chosen][1].splitlines(),
                                f"before step {texts[chosen][0]}", f"after step {texts[chosen][0]}", lineterm="", n=1)
    st.code(printable("\n".join(diff)) or "(only spacing changed)", language="diff")


# ---- filters and legend -----------------------------------------------------------------------


def render_legend() -> None:
    """What the shapes and colours of the drawing mean (constant HTML)."""
    def swatch(fill: str, outline: str, what: str, round_: bool, dashed: bool = False) -> str:
        shape = "border-radius:50%" if round_ else "transform:rotate(45deg)"
        return (f'<span style="display:inline-flex;align-items:center;margin-right:14px;white-space:nowrap">'
                f'<span style="display:inline-block;width:11px;height:11px;background:{fill};border:2px '
                f'{"dashed" if dashed else "solid"} {outline};{shape};margin-right:7px"></span>{what}</span>')

    parts = [swatch(fill, outline, name, False) for name, (fill, outline, _) in PALETTE.items()]
    parts.append(swatch(GONE[0], GONE[1], f"{DELETED_MARK.strip()} deleted", False, dashed=True))
    parts.append(swatch(GONE[0], GONE[1], f"{MERGED_MARK.strip()} merged into another", False, dashed=True))
    parts.append(swatch(ENTITY[0], ENTITY[1], "entity", True))
    st.html('<div style="font:13px sans-serif;line-height:1.9;color:#1f2328">◆ memories: '
            + "".join(parts) + " · size grows with the number of links</div>")


def _keep_valid(key: str, options: list[Any], default: Any) -> None:
    """Reset a widget's remembered value that is no longer among its options (memories come and go)."""
    if key in st.session_state and st.session_state[key] not in options:
        st.session_state[key] = default


def _keep_span(key: str, steps: list[int]) -> None:
    """Keep a chosen range of steps as memories come (or go, following Replay): an end that stood
    at the first or last step moves with it, so new memories show; one inside snaps to the
    nearest step still there. The key stays the same, so a live update keeps the choice."""
    ends_key = f"{key}-ends"
    old_first, old_last = st.session_state.get(ends_key, (steps[0], steps[-1]))
    st.session_state[ends_key] = (steps[0], steps[-1])
    if key not in st.session_state:
        return
    low, high = st.session_state[key]
    low = steps[0] if low <= old_first else next((step for step in steps if step >= low), steps[-1])
    high = steps[-1] if high >= old_last else next((step for step in reversed(steps) if step <= high), steps[0])
    if low > high:
        low, high = steps[0], steps[-1]
    if (low, high) != tuple(st.session_state[key]):
        st.session_state[key] = (low, high)


def render_filters(graph: MemoryGraph, key: str) -> MemoryFilter:
    """Type, deleted-and-merged, written-between and focus controls; returns the filter they make."""
    top = st.columns([5, 3], vertical_alignment="bottom")
    bottom = st.columns([5, 2, 1], vertical_alignment="bottom")
    kinds = top[0].multiselect("Memory types", list(MEMORY_TYPES), default=list(MEMORY_TYPES), key=f"{key}-types")
    gone = top[1].checkbox("Show deleted and merged", key=f"{key}-gone",
                           help="grey, with a dashed outline; pick one below to restore it")
    steps = written_steps(graph)
    span = None
    if len(steps) > 1:
        _keep_span(f"{key}-steps", steps)
        span = bottom[0].select_slider("Written between steps", options=steps, value=(steps[0], steps[-1]),
                                       key=f"{key}-steps", format_func=lambda s: f"step {s}",
                                       help="the order memories were written (an event's own time is in the list)")
    unfocused = MemoryFilter(tuple(kinds), gone, span)
    names = [EVERY_ENTITY] + [name for name, _ in drawn_entities(filtered_graph(graph, unfocused))]
    _keep_valid(f"{key}-focus", names, EVERY_ENTITY)
    entity = bottom[1].selectbox("Focus on an entity", names, key=f"{key}-focus",
                                 format_func=lambda name: printable(name) if name else "(every entity)",
                                 help="the entity, the memories that name it, and what those name")
    hops = bottom[2].number_input("Hops", 1, 5, 1, key=f"{key}-hops", disabled=not entity,
                                  help="how many memories away from the entity the drawing reaches")
    return MemoryFilter(tuple(kinds), gone, span, entity or None, int(hops))


# ---- search -----------------------------------------------------------------------------------


def search_memories(state: ContextState, arguments: dict[str, Any], encoding: str) -> dict[str, Any]:
    """memory_search through the tool registry on `state` (a read: it writes nothing)."""
    return registry.call("memory_search", arguments, ToolContext.for_state(state, encoding)).result


def render_search(state: ContextState, encoding: str, key: str) -> None:
    """A search box (BM25 over content and entities, as a model searches) and its hits with scores."""
    asked_key = f"{key}-asked"
    with st.form(key, border=False):
        query_column, type_column, go = st.columns([5, 2, 1.3], vertical_alignment="bottom")
        query = query_column.text_input("Search memories (BM25, as memory_search)", key=f"{key}-query")
        kind = type_column.selectbox("Type", [None, *MEMORY_TYPES], format_func=lambda k: k or "all",
                                     key=f"{key}-type")
        if go.form_submit_button("Search", icon=":material/search:", key=f"{key}-go"):
            st.session_state[asked_key] = {"query": query, "memory_type": kind, "limit": 20}
    asked = st.session_state.get(asked_key)
    if not asked:
        return
    result = search_memories(state, asked, encoding)
    if "error" in result:
        st.error(plain(result["error"]), icon=":material/error:")
        return
    hits = result["hits"]
    st.caption(plain(f"{result['total']:,} memor{'y' if result['total'] == 1 else 'ies'} match "
                     f"“{one_line(asked['query'], 80)}”, best first; showing {len(hits)}. "
                     + (result.get("note") or "")))
    if hits:
        st.dataframe([{"id": hit["memory_id"], "score": hit["score"], "type": hit["memory_type"],
                       "content": printable(one_line(hit["content"], CELL_CHARS)),
                       "entities": printable(", ".join(hit["entities"])), "when": hit["when"] or ""}
                      for hit in hits], hide_index=True, width="stretch")
    if st.button("Clear search", key=f"{key}-clear", icon=":material/close:"):
        st.session_state.pop(asked_key, None)
        st.rerun()


# ---- the list and one memory ------------------------------------------------------------------


def memory_rows(memories: list[Memory]) -> list[dict[str, Any]]:
    """One row per memory, newest first: id, type, content, entities, when, status, step."""
    return [{"id": m.id, "type": m.memory_type, "content": printable(one_line(m.content, CELL_CHARS)),
             "entities": printable(", ".join(m.entities)), "when": m.when or "",
             "status": m.status if m.status != "merged" else f"merged into {m.merged_into}", "step": m.created_seq}
            for m in reversed(memories)]


def render_memory_list(memories: list[Memory]) -> None:
    """The memories the filters leave, as a table (sortable, searchable from its toolbar)."""
    rows = memory_rows(memories)
    st.dataframe(rows[:LIST_LIMIT], hide_index=True, width="stretch",
                 column_config={"content": st.column_config.TextColumn(width="large")})
    if len(rows) > LIST_LIMIT:
        st.caption(f"… and {len(rows) - LIST_LIMIT:,} older memories (narrow the filters to see them)")


def message_excerpt(state: ContextState, message_id: str | None) -> str:
    """Where a memory came from, as plain text."""
    return source_excerpt(state, message_id, "written", EXCERPT_CHARS)


def render_memory_details(memory: Memory, state: ContextState, editable: bool) -> Intent | None:
    """A picked memory: content, facts, history, the message it came from, and Delete or Restore."""
    status = memory.status if memory.status != "merged" else f"merged into {memory.merged_into}"
    st.markdown(f"**{plain(memory.id)}** · {memory.memory_type} · **{plain(status)}** · "
                f"written at step {memory.created_seq}")
    st.text(printable(memory.content))
    facts = {"entities": ", ".join(memory.entities) or "(none)"}
    if memory.occurred_at:  # an event's own time, as given; `when` is it, or else the time recorded
        facts["happened"] = memory.occurred_at
    facts["recorded"] = memory.recorded_at or "(no time recorded)"
    if memory.merged_from:
        facts["merged from"] = ", ".join(memory.merged_from)
    if memory.merged_into:
        facts["merged into"] = memory.merged_into
    st.markdown("  \n".join(f"**{name}:** {plain(printable(' '.join(value.split())))}" for name, value in facts.items()))
    st.markdown("**History**")
    render_history(memory, key=f"memory_diff-{memory.id}")
    st.markdown("**The message it came from**")
    st.text(printable(message_excerpt(state, memory.message_id)))
    if memory.message_id and any(message.id == memory.message_id for message in state.messages):
        if st.button(f"Read {memory.message_id} on the Context page", key=f"memory_source-{memory.id}",
                     icon=":material/view_agenda:", help="opens the page of messages that holds it, marked"):
            open_on_context(memory.message_id)
    if not editable:
        return None
    if memory.live:
        if st.button("Delete", key=f"memory_delete-{memory.id}", icon=":material/delete:",
                     **edit_guard("memory_delete: it stays in the history, and Restore brings it back")):
            return Intent("memory_delete", {"memory_id": memory.id})
    elif st.button("Restore", key=f"memory_restore-{memory.id}", icon=":material/restore_from_trash:",
                   type="primary", **edit_guard("memory_restore: bring it back as it was")):
        return Intent("memory_restore", {"memory_id": memory.id})
    return None
