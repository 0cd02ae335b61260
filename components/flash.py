"""One-shot notices that survive the rerun after an action (a UI fact, not session data)."""

from __future__ import annotations

import streamlit as st

_KEY = "flash_notice"


def flash(kind: str, text: str) -> None:
    st.session_state[_KEY] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop(_KEY, (None, None))
    if kind == "error":
        st.error(text, icon=":material/error:")
    elif kind:
        st.success(text, icon=":material/check:")
