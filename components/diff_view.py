"""A line diff between two renders of the same session."""

from __future__ import annotations

import difflib
import json
from typing import Any

import streamlit as st

from engine.text import printable

DIFF_LINES_SHOWN = 4_000


def rendered_lines(rendered: list[dict[str, Any]]) -> list[str]:
    lines = []
    for number, message in enumerate(rendered, start=1):
        lines.append(f"### m{number} · {message['role']}")
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        lines.extend((text or "").splitlines() or [""])
        for call in message.get("tool_calls") or []:
            lines.append(f"→ {json.dumps(call, ensure_ascii=False)}")
    return lines


def render_diff(before: list[dict[str, Any]], after: list[dict[str, Any]], before_label: str, after_label: str) -> None:
    diff = list(difflib.unified_diff(rendered_lines(before), rendered_lines(after), before_label, after_label, lineterm="", n=2))
    if not diff:
        st.caption("No difference in what the model sees.")
        return
    shown = diff[:DIFF_LINES_SHOWN]
    if len(diff) > DIFF_LINES_SHOWN:
        shown.append(f"… {len(diff) - DIFF_LINES_SHOWN:,} more diff lines")
    st.code(printable("\n".join(shown)), language="diff")
