"""Context: what fills the window, and the tools to sculpt it."""

from __future__ import annotations

import math

import streamlit as st

from components.actions import run_intent
from components.app_state import current_session
from components.flash import show_flash
from components.message_view import render_message
from components.model_view import render_model_messages, render_side_by_side
from components.search_panel import render_search_form, render_search_results
from components.token_bar import render_token_bar, render_window_picker
from engine import tool_schemas
from engine.tokens import token_counter

PAGE_SIZE = 10

session = current_session()
title, picker = st.columns([3, 1], vertical_alignment="bottom")
title.title("Context")
title.caption(session.title)
with picker:
    window = render_window_picker()
show_flash()

state = session.state()
stats = session.stats(tools=tool_schemas("sculptor"), window=window)
render_token_bar(stats)
with st.expander("By role"):
    st.dataframe(
        [{"role": role, **numbers} for role, numbers in stats["by_role"].items()], hide_index=True, width="stretch"
    )

run_intent(session, render_search_form())
last_search = last_detail = None
for record in reversed(session.records()):
    if record.kind == "search_detail_viewed" and last_detail is None and last_search is None:
        last_detail = record.payload()
    if record.kind == "context_searched":
        last_search = record.payload()
        break
run_intent(session, render_search_results(state, last_search, last_detail))

messages, model_view = st.tabs(["Messages", "What the model sees"])
with messages:
    if not state.messages:
        st.info("This session has no messages yet.")
    pages = max(1, math.ceil(len(state.messages) / PAGE_SIZE))
    if pages > 1:
        page = st.number_input(f"Page (of {pages}, {PAGE_SIZE} messages each)", 1, pages, 1, key="message_page")
    else:
        page = 1
    counter = token_counter(session.encoding)
    for message in state.messages[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]:
        run_intent(session, render_message(message, counter))

with model_view:
    rendered = session.render()
    if rendered:
        first, last = st.slider("Messages", 1, max(len(rendered), 2), (1, min(len(rendered), 5)), key="model_range") \
            if len(rendered) > 1 else (1, 1)
        render_model_messages(rendered, first, last)
        st.subheader("Original and rendered, side by side")
        chosen = st.selectbox("Message", [m.id for m in state.messages], key="side_by_side")
        index = int(chosen[1:]) - 1
        render_side_by_side(state.messages[index], rendered[index])
