"""Carrying out an intent: one tool call through the page's session, then a rerun to show it."""

from __future__ import annotations

import json
from typing import Any, Callable

import streamlit as st

from components.flash import flash
from components.intents import Intent
from engine import WorkbenchError
from engine.text import one_line

_DONE = {
    "fold_fragment": lambda r: f"Hid {r['fragment_id']}: {r['tokens_hidden']:,} tokens out of the window.",
    "restore_fragment": lambda r: f"Restored {r['fragment_id']}: {r['tokens_restored']:,} tokens back.",
    "summarize_fragment": lambda r: f"Summarized {r['fragment_id']}: {r['tokens_before']:,} → {r['tokens_after']:,} tokens.",
    "fragment_context": lambda r: f"Made {len(r['fragments'])} fragments." + (f" {r['note']}." if r.get("note") else ""),
    "search_context": lambda r: f"{r['total_matches']:,} match{'es' if r['total_matches'] != 1 else ''}.",
    "get_search_detail": lambda r: f"Opened {r['search_id']} in {r['message_id']}.",
    "memory_update": lambda r: f"Saved {r['memory_id']}.",
    "memory_delete": lambda r: f"Deleted {r['memory_id']} (Restore brings it back).",
    "memory_restore": lambda r: f"Restored {r['memory_id']} (it was {r['was']}).",
}

CallTool = Callable[[str, dict[str, Any]], dict[str, Any]]


def call_intent(call_tool: CallTool, intent: Intent) -> dict[str, Any]:
    """The intent's tool call through `call_tool` (the session's, leaving its events); a store
    that refuses comes back as an error result, like a tool's."""
    try:
        with st.spinner(f"{intent.tool} …"):
            return call_tool(intent.tool, intent.arguments)
    except WorkbenchError as exc:
        return {"error": str(exc)}


def note_outcome(intent: Intent, result: dict[str, Any]) -> None:
    """A notice for the next run of the page: the tool's error, or what the call did."""
    if "error" in result:
        flash("error", result["error"])
    else:
        describe = _DONE.get(intent.tool, lambda r: one_line(json.dumps(r), 200))
        flash("ok", describe(result))


def carry_out(call_tool: CallTool, intent: Intent) -> bool:
    """The tool call and its notice, with no rerun: for a button's `on_click`, which Streamlit
    runs before the rerun the click starts, so that rerun already shows the change (one run per
    click, not a run that finds the click and a second that shows it). Whether the call reached
    the log: a tool's error is recorded (`tool_failed`), a store that refuses records nothing.

    The spinner of a callback shows at the top of the page: Streamlit puts what a callback draws
    there, and a spinner is transient, so it takes no element's place."""
    try:
        with st.spinner(f"{intent.tool} …"):
            result = call_tool(intent.tool, intent.arguments)
    except WorkbenchError as exc:
        note_outcome(intent, {"error": str(exc)})
        return False
    note_outcome(intent, result)
    return True


def run_intent(call_tool: CallTool, intent: Intent | None) -> None:
    """Run the tool call, note the outcome, and rerun the page."""
    if intent is None:
        return
    note_outcome(intent, call_intent(call_tool, intent))
    st.rerun()
