"""Chat: talk to a model that can sculpt its own context, and watch the window change."""

from __future__ import annotations

import streamlit as st

from components.app_state import current_session, engine_errors
from components.chat_view import render_backend_form, render_chat
from components.flash import flash, show_flash
from components.token_bar import render_token_bar
from engine import render, stats, tool_schemas
from engine.llm import Backend, window_of
from sessions.turns import TurnHooks

session = current_session()
st.title("Chat")
st.caption(session.title)
show_flash()
settings = session.settings

with st.expander(f"Model: {settings['backend']['model']} · tools: {settings['tools']} · choice: {settings['tool_choice']}"):
    changes = render_backend_form(settings)
    if changes is not None:
        with engine_errors():
            session.configure(**changes)
            flash("ok", f"Now talking to {changes['model']}.")
            st.rerun()

state = session.state()
window = window_of(Backend(**settings["backend"]))
numbers = stats(state, session.encoding, tools=tool_schemas(settings["tools"]), window=window)
render_token_bar(numbers, key="chat_bar")
render_chat(state, render(state, session.encoding))

last = session.tail(1)
unanswered = bool(state.messages) and state.messages[-1].role in ("user", "tool")
if last and last[0].kind == "llm_failed":
    failure = last[0].payload()
    st.error(f"{failure['error']}", icon=":material/error:")
    retry = failure["retryable"]
elif unanswered:  # stopped, interrupted by leaving the page, or a conversation imported mid-way
    st.info("The last message has no answer yet (a turn stopped before the model replied?); it is kept.",
            icon=":material/pause:")
    retry = True
else:
    retry = False
if retry and st.button("Retry", key="retry_turn", icon=":material/refresh:"):
    with st.spinner("Asking again…"), engine_errors():
        session.retry_turn()
    st.rerun()

text = st.chat_input("Message the model (it can fold, summarize and search its own context)")
if text:
    # Clicking Stop reruns the page, which interrupts this run where it is: the message stays
    # in the log (Retry asks again) and the unfinished reply is dropped.
    st.button("Stop", key="stop_turn", icon=":material/stop:")
    with st.chat_message("user", avatar=":material/person:"):
        st.text(text)
    with st.chat_message("assistant", avatar=":material/smart_toy:"):
        steps = st.container()
        reply = st.empty()
        reply.caption(f"Reading {numbers['window_used_tokens'] if window else numbers['rendered_tokens']:,} tokens of "
                      "context… (a long context takes the embedded model a while)")
        streamed: list[str] = []

        def on_token(token: str) -> None:
            streamed.append(token)
            reply.text("".join(streamed))

        def on_step(call: dict) -> None:
            outcome = "✗" if "error" in call["result"] else "✓"
            steps.caption(f"{outcome} {call['name']}({call['arguments'][:80]})")
            streamed.clear()

        with engine_errors():
            session.run_turn(text, hooks=TurnHooks(on_token=on_token, on_step=on_step))
    st.rerun()
