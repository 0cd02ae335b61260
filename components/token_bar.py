"""The token bar: how full the window is and what fills it."""

from __future__ import annotations

import streamlit as st

MODEL_WINDOWS = {
    "SmolLM2-135M (embedded) · 8,192": 8_192,
    "GPT-4o / GPT-4.1 mini · 128,000": 128_000,
    "Claude Sonnet 4.5 · 200,000": 200_000,
    "GPT-4.1 · 1,047,576": 1_047_576,
    "Gemini 2.5 Pro · 1,048,576": 1_048_576,
}
SEGMENTS = [  # (label, colour)
    ("visible text", "#4c78a8"),
    ("fold markers", "#9ecae9"),
    ("summaries", "#f58518"),
    ("tool calls and framing", "#b279a2"),
    ("tool schemas", "#bab0ac"),
    ("free", "#eeeeee"),
]


WINDOW = "model_window_tokens"  # the chosen window, kept for every page (not a widget key)


def current_window() -> int:
    return st.session_state.get(WINDOW, next(iter(MODEL_WINDOWS.values())))


def _chosen() -> None:
    choice = st.session_state["window_picker"]
    st.session_state["window_is_custom"] = choice == "Custom"
    if choice != "Custom":
        st.session_state[WINDOW] = MODEL_WINDOWS[choice]


def _custom() -> None:
    st.session_state[WINDOW] = int(st.session_state["window_custom"])


def render_window_picker() -> int:
    """The model-window chooser for the sidebar (a known model, or a custom size)."""
    window = current_window()
    named = {tokens: label for label, tokens in MODEL_WINDOWS.items()}
    custom = st.session_state.get("window_is_custom") or window not in named
    st.session_state["window_picker"] = "Custom" if custom else named[window]
    choice = st.selectbox("Model window", [*MODEL_WINDOWS, "Custom"], key="window_picker", on_change=_chosen)
    if choice == "Custom":
        st.session_state["window_custom"] = window
        st.number_input("Window (tokens)", min_value=1_000, max_value=10_000_000, step=1_000, key="window_custom",
                        on_change=_custom)
    return window


def segments(stats: dict) -> dict[str, int]:
    used = stats["rendered_tokens"] + stats["tool_schema_tokens"]
    window = stats.get("window_tokens", used)
    return {
        "visible text": stats["visible_tokens"],
        "fold markers": stats["fold_marker_tokens"],
        "summaries": stats["summary_tokens"],
        "tool calls and framing": stats["tool_call_tokens"] + stats["overhead_tokens"],
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
    columns[0].metric("In the window", f"{used:,}", help="rendered messages plus tool schemas")
    columns[1].metric("Window", f"{window:,}" if window else "—")
    columns[2].metric("Hidden by folds", f"{stats['folded_tokens']:,}")
    columns[3].metric("Summarized", f"{stats['summarized_tokens']:,}", help="original tokens now shown as summaries")
    with st.container(key=key):
        st.html(bar_html(parts, window))
    if window and used > window:
        st.warning(f"Over the window by {used - window:,} tokens: a model would see an error or a truncated context.")
    elif window:
        st.caption(f"{used / window:.0%} of the window used · {stats['saved_tokens']:,} tokens saved by folds and summaries")
