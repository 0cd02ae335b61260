"""Context: what fills the window, and the tools to sculpt it.

Another page sends a person to one message by putting its id under `context_jump`
(components/follow.py `open_on_context`): this page takes it once, opens the page of messages
that holds it and marks it there.
"""

from __future__ import annotations

import math

import streamlit as st

from components.actions import run_intent
from components.app_state import require_session, selected_session_id
from components.flash import show_flash
from components.follow import CONTEXT_JUMP
from components.message_view import render_message
from components.model_view import render_model_messages, render_side_by_side
from components.plain import plain
from components.search_panel import latest_search, render_search_form, render_search_results
from components.token_bar import current_window, render_token_bar
from engine import render
from engine.settings import settings_of, window_stats
from engine.windows import settings_window
from engine.tokens import token_counter
from sessions.service import Workbench

PAGE_SIZE = 10
PAGE_KEY = "message_page"
MARK = "context_jump_target"  # our constant key: the marked message's box, outlined by constant CSS

service = Workbench.shared()
session = require_session(service.find(selected_session_id()))
st.title("Context")
st.caption(plain(session.title))
show_flash()

state = session.state()
jump = st.session_state.pop(CONTEXT_JUMP, None)  # taken once: the next rerun shows the page as it was left
position = next((i for i, message in enumerate(state.messages) if message.id == jump), None)
window = current_window(settings_window(settings_of(state))[1])
stats = window_stats(state, settings_of(state), window, session.encoding)  # the same state as the rest of the page
render_token_bar(stats)
with st.expander("By role"):
    st.dataframe(
        [{"role": role, **numbers} for role, numbers in stats["by_role"].items()], hide_index=True, width="stretch"
    )

run_intent(session.call_tool, render_search_form())
search, detail = latest_search(session.tail(200))
run_intent(session.call_tool, render_search_results(state, search, detail, cleared_key=f"search_cleared-{session.id}"))

messages, model_view, side_by_side = st.tabs(["Messages", "What the model sees", "Original and rendered"])
with messages:
    if not state.messages:
        st.info("This session has no messages yet.")
    pages = max(1, math.ceil(len(state.messages) / PAGE_SIZE))
    if position is not None:
        st.session_state[PAGE_KEY] = position // PAGE_SIZE + 1
        where = f" on page {position // PAGE_SIZE + 1} of {pages}" if pages > 1 else ""
        st.info(f"Showing {plain(jump)}{where}, the message the link pointed to (outlined below).",
                icon=":material/my_location:")
    elif jump is not None:
        st.warning(f"Message {plain(jump)} is not in this session's context.", icon=":material/search_off:")
    if pages > 1:
        if not 1 <= st.session_state.get(PAGE_KEY, 1) <= pages:
            st.session_state[PAGE_KEY] = 1
        page = st.number_input(f"Page (of {pages}, {PAGE_SIZE} messages each)", 1, pages, key=PAGE_KEY)
    else:
        page = 1
    counter = token_counter(session.encoding)
    for message in state.messages[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        if position is not None and message.id == jump:
            st.html(f"<style>.st-key-{MARK} {{outline: 3px solid #0969da; outline-offset: 4px; "
                    "border-radius: 0.5rem}</style>")  # constant CSS: no text of the message in it
            with st.container(key=MARK):
                run_intent(session.call_tool, render_message(message, counter, stats["reasoning_sent"]))
        else:
            run_intent(session.call_tool, render_message(message, counter, stats["reasoning_sent"]))

with model_view:
    rendered = render(state, session.encoding)  # the same state as everything else on this page
    if rendered:
        first, last = st.slider("Messages", 1, max(len(rendered), 2), (1, min(len(rendered), 5)), key="model_range") \
            if len(rendered) > 1 else (1, 1)
        render_model_messages(rendered, first, last)

with side_by_side:
    if state.messages:
        paired = rendered[len(rendered) - len(state.messages):]  # core memory, when it is a message of its own, left out
        by_id = {message.id: (message, shown) for message, shown in zip(state.messages, paired)}
        chosen = st.selectbox("Message", list(by_id), key="side_by_side")
        render_side_by_side(*by_id[chosen])
