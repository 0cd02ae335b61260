"""One event of the log, as a person reads it."""

from __future__ import annotations

import json
from typing import Callable

import streamlit as st

from engine.actors import actor_label
from engine.text import printable
from engine.records import EventRecord

PAYLOAD_SHOWN = 4_000


def describe(record: EventRecord) -> str:
    payload = record.payload()
    kind = record.kind
    if kind == "message_added":
        calls = payload.get("tool_calls") or []
        what = f"{len(calls)} tool call(s)" if calls and not payload.get("content") else f"{len(payload.get('content') or ''):,} characters"
        what += ", with reasoning" if payload.get("reasoning") else ""
        what += ", stopped" if payload.get("stopped") else ""
        return f"{payload['message_id']} added ({payload['role']}, {what})"
    if kind == "context_fragmented":
        pieces = sum(len(cut["pieces"]) for cut in payload["cuts"])
        return f"fragmented into {pieces} pieces across {len(payload['cuts'])} message(s)"
    if kind in ("fragment_folded", "fragment_restored"):
        return f"{payload['fragment_id']} {kind.split('_')[1]}"
    if kind == "fragment_summarized":
        return f"{payload['fragment_id']} summarized ({payload['summarizer']}, focus {payload['focus']!r})"
    if kind == "context_searched":
        return f"searched {payload['query']!r} ({payload['mode']}): {payload['total_matches']} matches"
    if kind == "search_detail_viewed":
        return f"opened search hit {payload['search_id']}"
    if kind == "llm_called" and payload["finish_reason"] == "stopped":
        return (f"{payload['model']} was stopped ({payload.get('stop_reason') or 'requested'}) after "
                f"{payload['usage'].get('completion_tokens', 0):,} tokens, {payload['latency_ms']:,.0f} ms")
    if kind == "llm_called":
        return (f"{payload['model']} answered ({payload['finish_reason']}, {payload['tool_calls']} tool calls, "
                f"{payload['usage'].get('prompt_tokens', 0):,} in / {payload['usage'].get('completion_tokens', 0):,} out, "
                f"{payload['latency_ms']:,.0f} ms)")
    if kind == "llm_failed":
        return f"{payload['model']} failed ({payload['error_kind']}): {payload['error']}"
    if kind == "session_configured":
        configured = payload["settings"]
        parts = [f"model {configured['backend'].get('model')}" if isinstance(configured.get("backend"), dict) else None,
                 *(f"{key} {configured[key]}" for key in sorted(configured) if key != "backend")]
        return "settings: " + (", ".join(p for p in parts if p) or "the defaults")
    if kind == "policy_applied":
        return f"context policy acted at {payload['rendered_tokens']:,} tokens: {len(payload['actions'])} action(s)"
    if kind == "tool_failed":
        return f"{payload['tool']} failed: {payload['error']}"
    if kind == "conversation_imported":
        parts = [f"imported from {payload['source']} ({payload['format']})"]
        if payload.get("relation"):
            parts.append(f"a {payload['relation']} of session {payload.get('parent_session')}")
        parts += [f"model {payload['model']}"] if payload.get("model") else []
        parts += [f"{len(payload['tools'])} tool definitions"] if payload.get("tools") else []
        parts += [f"{len(payload['memory'])} memory blocks"] if payload.get("memory") else []
        return ", ".join(parts)
    if kind == "context_compacted":
        return compaction_text(payload)
    if kind == "brake_applied":
        return brake_text(payload)
    return kind


def brake_text(payload: dict) -> str:
    """A `brake_applied` event in a line: detector, what it did, score against threshold, tokens."""
    did = {"stopped_reasoning": "stopped the reasoning", "warned": "warned of a tool loop",
           "tools_withdrawn": "withdrew the tools", "observed": "would have braked (observe)"}
    where = f" of {payload['message_id']}" if payload.get("message_id") else ""
    where += f" at reasoning step {payload['step'] + 1}" if isinstance(payload.get("step"), int) else ""
    threshold = f" (threshold {payload['threshold']:.2f})" if isinstance(payload.get("threshold"), (int, float)) else ""
    saved = {"estimate": f", ~{payload.get('tokens_saved', 0):,} saved (estimate)",
             "measured": f", {payload.get('tokens_saved', 0):,} after it (measured)"}.get(payload.get("saved_basis"), "")
    note = next((piece.get("note") for piece in payload.get("evidence") or [] if piece.get("note")), None)
    if payload["detector"] == "tool_loop":
        return f"brake tool_loop {did.get(payload['action'], payload['action'])}{where}" + (f": {note}" if note else "")
    return (f"brake {payload['detector']} {did.get(payload['action'], payload['action'])}{where}: score "
            f"{payload['score']:.2f}{threshold}, {payload.get('tokens_generated', 0):,} thinking tokens{saved}"
            + (f"; {note}" if note else ""))


def brake_steps(records: list[EventRecord]) -> list[tuple[int, str, str]]:
    """(seq, detector, description) of each brake, for Replay to offer as places to jump to."""
    return [(r.seq, str(r.payload().get("detector")), brake_text(r.payload())) for r in records if r.kind == "brake_applied"]


def compaction_text(payload: dict) -> str:
    before, after = payload.get("before_tokens"), payload.get("after_tokens")
    sizes = (f": {before:,} tokens before" if isinstance(before, int) else "") + (
        f", {after:,} after" if isinstance(after, int) else "")
    by = f" by {payload['source']}" if payload.get("source") else ""
    trigger = f" ({payload['trigger']})" if payload.get("trigger") else ""
    return f"context compacted{by}{trigger}{sizes}; what came before is folded"


def compaction_steps(records: list[EventRecord]) -> list[tuple[int, str]]:
    """(seq, description) of each compaction point, for Replay to offer as places to jump to."""
    return [(r.seq, compaction_text(r.payload())) for r in records if r.kind == "context_compacted"]


def render_event(record: EventRecord) -> None:
    st.text(printable(f"#{record.seq} · {record.ts:%Y-%m-%d %H:%M:%S} UTC · {record.kind} · by "
                      f"{actor_label(record.actor)}\n{describe(record)}"))
    text = json.dumps(record.payload(), indent=2, ensure_ascii=False)
    if len(text) > PAYLOAD_SHOWN:
        text = text[:PAYLOAD_SHOWN] + f"\n… ({len(text) - PAYLOAD_SHOWN:,} more characters)"
    with st.expander("Payload"):
        st.code(printable(text), language="json")


def render_timeline(records: list[EventRecord], step_key: str, after: Callable[[], None] | None = None) -> None:
    """Every event in a table; picking a row moves the replay to just after that event, then
    calls `after` (from the pick's callback: the page's rerun), if given."""
    table_key = f"timeline-{step_key}"
    seqs = [r.seq for r in records]

    def jump() -> None:  # a callback runs before the page does, so it may move the slider
        rows = st.session_state[table_key].selection.rows
        if rows and rows[0] < len(seqs):
            st.session_state[step_key] = seqs[rows[0]]
            if after is not None:
                after()

    rows = [{"step": r.seq, "time (UTC)": f"{r.ts:%H:%M:%S}", "kind": r.kind, "by": printable(actor_label(r.actor)),
             "what happened": describe(r)[:200]} for r in records]
    st.dataframe(rows, hide_index=True, width="stretch", height=300, on_select=jump,
                 selection_mode="single-row", key=table_key)
