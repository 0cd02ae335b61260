"""An assistant's reasoning: collapsed above its reply, as text, with what it costs."""

from __future__ import annotations

import streamlit as st

from engine.state import Message
from engine.text import printable
from engine.tokens import TokenCounter

REASONING_SHOWN = 40_000


def render_reasoning(message: Message, counter: TokenCounter, sent: bool = False) -> None:
    """Nothing for a message without reasoning; else an expander holding it."""
    if not message.reasoning:
        return
    tokens = counter.count(message.reasoning)
    where = "sent back to the model" if sent else "not sent back to the model"
    with st.expander(f"Reasoning · {tokens:,} tokens · {where}", expanded=False, icon=":material/psychology:"):
        text = message.reasoning
        if len(text) > REASONING_SHOWN:
            text = text[:REASONING_SHOWN] + f"\n… ({len(message.reasoning) - REASONING_SHOWN:,} more characters)"
        st.text(printable(text))
