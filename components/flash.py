"""One-shot notices that survive the rerun after an action (a UI fact, not session data)."""

from __future__ import annotations

import streamlit as st

from components.plain import plain

_KEY = "flash_notice"


def flash(kind: str, text: str) -> None:
    st.session_state[_KEY] = (kind, text)


def show_flash() -> None:
    """Errors as a box at the top of the page and a toast; successes as a toast (seen wherever you scrolled)."""
    kind, text = st.session_state.pop(_KEY, (None, None))
    text = plain(text) if text is not None else None  # notices name sessions, files and fragments: text, never Markdown
    if kind == "error":
        st.error(text, icon=":material/error:")
        st.toast(text, icon=":material/error:", duration="long")
    elif kind:
        st.toast(text, icon=":material/check:")
