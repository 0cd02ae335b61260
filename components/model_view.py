"""What the model sees: the exact rendered messages, and original against rendered."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from engine.state import Message
from engine.text import printable

JSON_SHOWN = 200_000


def render_model_messages(rendered: list[dict[str, Any]], first: int, last: int) -> None:
    """The OpenAI-format messages first..last (1-based), exactly as they would be sent."""
    parts, size = [], 0
    for message in rendered[first - 1 : last]:  # stop dumping once enough is shown
        part = json.dumps(message, indent=2, ensure_ascii=False)
        parts.append(part)
        size += len(part)
        if size > JSON_SHOWN:
            break
    text = "[\n" + ",\n".join(parts) + "\n]"
    if size > JSON_SHOWN:
        text = text[:JSON_SHOWN] + "\n… (cut here; narrow the range to see the rest)"
    st.code(printable(text), language="json", wrap_lines=True, height=600)


def _content_text(content: Any) -> str:
    if content is None:
        return "(no text)"
    if isinstance(content, list):
        return "\n".join(part.get("text", f"[{part.get('type', 'part')}]") for part in content)
    return content


def render_side_by_side(message: Message, rendered: dict[str, Any]) -> None:
    original, shown = st.columns(2)
    original.caption(f"{message.id} · original")
    original.text(printable(message.text or "(no text)")[:JSON_SHOWN])
    shown.caption(f"{message.id} · as the model sees it")
    shown.text(printable(_content_text(rendered.get("content")))[:JSON_SHOWN])
