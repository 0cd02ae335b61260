"""The token bar: how full the window is and what fills it."""

from __future__ import annotations

import streamlit as st

SEGMENTS = [  # (label, colour)
    ("core memory", "#54a24b"),
    ("visible text", "#4c78a8"),
    ("fold markers", "#9ecae9"),
    ("summaries", "#f58518"),
    ("tool calls and framing", "#b279a2"),
    ("reasoning", "#72b7b2"),
    ("tool schemas", "#bab0ac"),
    ("free", "#eeeeee"),
]


SESSION_MODEL = "The session's model"
CUSTOM = "Custom"
CHOICE = "model_window_choice"  # the sidebar's choice, kept for every page (not a widget key)
CUSTOM_TOKENS = "model_window_custom_tokens"
DEFAULT_CUSTOM = 32_000


def current_window(session_window: int | None) -> int | None:
    """The window every page measures against: the sidebar's choice, by default the window of
    the session's own model (`session_window`)."""
    choice = st.session_state.get(CHOICE, SESSION_MODEL)
    if choice == CUSTOM:
        return int(st.session_state.get(CUSTOM_TOKENS, DEFAULT_CUSTOM))
    if isinstance(choice, int):
        return choice
    return session_window


def render_window_picker(session_model: str | None, session_window: int | None, known: dict[str, int | None]) -> None:
    """The model-window chooser for the sidebar: the session's model, a known model (`known`:
    model string -> window, from the one table in engine.llm), or a custom size."""
    windows = {window for window in known.values() if window}
    options: list = [SESSION_MODEL, *sorted(windows), CUSTOM]
    labels = {window: ", ".join(m for m, w in known.items() if w == window) + f" · {window:,}" for window in windows}
    own = f"{session_window:,}" if session_window else "unknown to litellm: pick one"
    labels[SESSION_MODEL] = f"This session's model ({session_model or 'none'} · {own})"
    labels[CUSTOM] = "Custom size"
    if st.session_state.get(CHOICE) not in options:
        st.session_state[CHOICE] = SESSION_MODEL
    st.session_state["window_picker"] = st.session_state[CHOICE]

    def chosen() -> None:
        st.session_state[CHOICE] = st.session_state["window_picker"]

    st.selectbox("Model window", options, format_func=lambda option: labels[option], key="window_picker",
                 on_change=chosen, help="what every page measures the context against")
    if st.session_state[CHOICE] == CUSTOM:
        st.session_state["window_custom"] = int(st.session_state.get(CUSTOM_TOKENS, DEFAULT_CUSTOM))

        def typed() -> None:
            st.session_state[CUSTOM_TOKENS] = int(st.session_state["window_custom"])

        st.number_input("Window (tokens)", min_value=1_000, max_value=10_000_000, step=1_000, key="window_custom",
                        on_change=typed)


def segments(stats: dict) -> dict[str, int]:
    used = stats["rendered_tokens"] + stats["tool_schema_tokens"]
    window = stats.get("window_tokens", used)
    return {
        "core memory": stats.get("core_memory_tokens", 0),
        "visible text": stats["visible_tokens"],
        "fold markers": stats["fold_marker_tokens"],
        "summaries": stats["summary_tokens"],
        "tool calls and framing": stats["tool_call_tokens"] + stats["overhead_tokens"],
        "reasoning": stats.get("reasoning_tokens", 0) if stats.get("reasoning_sent") else 0,
        "tool schemas": stats["tool_schema_tokens"],
        "free": max(window - used, 0),
    }


def bar_html(parts: dict[str, int], window: int | None) -> str:
    """The bar as HTML built only from numbers and the fixed labels above (no user text)."""
    scale = max(window or 0, sum(parts.values()), 1)
    blocks = "".join(
        f'<div title="{label}: {parts[label]:,} tokens" style="width:{100 * parts[label] / scale:.3f}%;'
        f'background:{colour};height:100%"></div>'
        for label, colour in SEGMENTS
        if parts[label]
    )
    marker = ""
    if window and window < scale:
        marker = (f'<div title="window: {window:,} tokens" style="position:absolute;left:{100 * window / scale:.3f}%;'
                  'top:-6px;bottom:-6px;border-left:3px solid #d62728"></div>')
    legend = " ".join(
        f'<span style="white-space:nowrap;margin-right:14px"><span style="display:inline-block;width:10px;'
        f'height:10px;background:{colour};margin-right:4px"></span>{label} {parts[label]:,}</span>'
        for label, colour in SEGMENTS
    )
    return (
        '<div style="font-family:sans-serif;font-size:13px">'
        f'<div style="position:relative;display:flex;height:26px;border:1px solid #ccc;border-radius:4px">{blocks}{marker}</div>'
        f'<div style="margin-top:6px;line-height:1.8">{legend}</div></div>'
    )


def render_token_bar(stats: dict, key: str = "token_bar") -> None:
    """A stacked bar of the window, the headline numbers, and what is hidden."""
    window = stats.get("window_tokens")
    used = stats["rendered_tokens"] + stats["tool_schema_tokens"]
    parts = segments(stats)
    columns = st.columns(4)
    profile = stats.get("tool_profile")
    columns[0].metric("In the window", f"{used:,}", help="rendered messages plus the schemas of the tools offered"
                      + (f" (profile '{profile}')" if profile else "")
                      + (", plus earlier reasoning" if stats.get("reasoning_sent") else ""))
    columns[1].metric("Window", f"{window:,}" if window else "—")
    columns[2].metric("Hidden by folds", f"{stats['folded_tokens']:,}")
    columns[3].metric("Summarized", f"{stats['summarized_tokens']:,}", help="original tokens now shown as summaries")
    with st.container(key=key):
        st.html(bar_html(parts, window))
    if window and used > window:
        st.warning(f"Over the window by {used - window:,} tokens: a model would see an error or a truncated context.")
    elif window:
        st.caption(f"{used / window:.0%} of the window used · {stats['saved_tokens']:,} tokens saved by folds and summaries")
    if stats.get("reasoning_tokens"):
        note = stats.get("reasoning_note") or ("reasoning is sent back" if stats.get("reasoning_sent") else "reasoning is not sent back")
        st.caption(f"Reasoning: {stats['reasoning_tokens']:,} tokens; {note}.")
