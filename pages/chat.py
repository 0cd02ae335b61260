"""Chat: talk to a model that can sculpt its own context, and watch the window change.

A turn runs in a worker thread (`sessions.agent.Turn`); this page shows its deltas as they
come. Stop sets the turn's stop signal, and so does leaving the page mid-turn (the rerun
interrupts this script, whose `finally` stops the turn): either way the model call ends,
`llm_called` records it as stopped, and the partial reply is kept, marked stopped.

It follows the log live (components/follow.py): the transcript (token bar, graph summary,
messages, reasoning panel) is a keyed fragment, rerun when events written elsewhere (an MCP
client folding, another tab's turn, the CLI) change what fills the window, the tasks, the
memories or the brakes. New messages, a model call's record (a failure offers Retry), settings
and events of unknown kinds rerun the page: the Retry button and the message box below the
transcript depend on the last message. A turn streaming in this tab is never disturbed: the
poll's rerun requests wait until the turn's run ends (Streamlit does not let a fragment's
rerun cut a running script short), and the callback leaves this tab's running turn alone.
"""

from __future__ import annotations

import time
import uuid

import streamlit as st

from components.app_state import edit_guard, engine_errors, read_only_reason, require_session, selected_session_id
from components.brake_form import brakes_summary, render_brake_form
from components.chat_view import render_backend_form, render_chat, render_live_turn
from components.flash import flash, show_flash
from components.follow import follow_live
from components.graph_summary import render_graph_summary
from components.plain import plain
from components.reasoning_timeline import render_reasoning_panel
from components.token_bar import current_window, render_token_bar
from engine import WorkbenchError
from engine.changes import Touched
from engine.render import render_each
from engine.settings import settings_of, window_stats
from engine.tokens import token_counter
from engine.windows import settings_window
from sessions.service import Workbench

LEFT_MID_TURN = "stopped from the workbench (Stop pressed, or the page left mid-turn)"

TRANSCRIPT = "chat-transcript"
service = Workbench.shared()


@st.fragment(key=TRANSCRIPT)
def _transcript(session_id: str) -> None:
    """What fills the window, the graphs' summary, the messages and the reasoning panel."""
    with engine_errors():
        session = service.find(session_id)
        if session is None:
            return
        state = session.state()
        numbers = window_stats(state, settings_of(state), current_window(settings_window(settings_of(state))[1]),
                               session.encoding)
        render_token_bar(numbers, key="chat_bar")
        render_graph_summary(state, token_counter(session.encoding))
        render_chat(state, render_each(state, session.encoding), numbers["reasoning_sent"])
        render_reasoning_panel(state, key=f"chat-reasoning-{session.id}")


def _live_keys(session_id: str, tab: str, touched: Touched) -> list[str] | None:
    """What events written elsewhere rerun here (components/follow.py); None: the page."""
    running = service.running_turn(session_id)
    if running is not None and running[0] == tab:
        return []  # this tab's own turn: its run shows it, and a rerun of the page would stop it
    if touched.added or touched.model or touched.settings or touched.imported or touched.other:
        return None
    return [TRANSCRIPT] if touched.window or touched.tasks or touched.memory or touched.brakes else []


session = require_session(service.find(selected_session_id()))
st.title("Chat")
st.caption(plain(session.title))
show_flash()

tab = st.session_state.setdefault("browser_tab_id", uuid.uuid4().hex)  # a UI fact: which tab this is
running = service.running_turn(session.id)
elsewhere = False
if running is not None and running[0] == tab:  # this tab's turn, which a previous run started (Stop, or back here)
    running[1].stop(LEFT_MID_TURN)
    with st.spinner("Stopping the turn: what the model has said so far is being saved…"):
        running[1].join(120)
elif running is not None:
    elsewhere = True

shown = session.last_seq  # read before the fold: an event landing in between costs one more rerun, never a miss
state = session.state()
settings = settings_of(state)
with st.expander(f"Model: {settings['backend']['model']} · tools: {settings['tools']} · choice: {settings['tool_choice']}"):
    changes = render_backend_form(settings)
    if changes is not None:
        with engine_errors():
            session.configure(**changes)
            flash("ok", f"Now talking to {changes['model']}.")
            st.rerun()
with st.expander(brakes_summary(settings)):
    brake_changes = render_brake_form(settings)
    if brake_changes:
        with engine_errors(toast=True):
            session.configure(brakes=brake_changes)
            flash("ok", f"Brakes changed: {', '.join(brake_changes)}.")
            st.rerun()
    elif brake_changes is not None:
        st.caption("Nothing to apply: the brakes are already so.")

_transcript(session.id)

last = session.tail(1)
unanswered = bool(state.messages) and (state.messages[-1].role in ("user", "tool") or state.messages[-1].stopped)
if last and last[0].kind == "llm_failed":
    failure = last[0].payload()
    st.error(f"{failure['error']}", icon=":material/error:")
    retry = failure["retryable"]
elif unanswered:  # stopped, or a conversation imported mid-way
    st.info("The last reply was stopped, or the last message has no answer yet; Retry asks the model again.",
            icon=":material/pause:")
    retry = True
else:
    retry = False
retry_clicked = retry and not elsewhere and st.button("Retry", key="retry_turn", icon=":material/refresh:",
                                                      **edit_guard())
if elsewhere:
    st.info("A turn started in another tab is running on this session; its reply appears here once it is saved.",
            icon=":material/hourglass_top:")
text = st.chat_input(read_only_reason() or "Message the model (it can fold, summarize and search its own context)",
                     disabled=elsewhere or read_only_reason() is not None)
if not (text or retry_clicked):
    follow_live(session, service, lambda touched: _live_keys(session.id, tab, touched), shown)

if text or retry_clicked:
    if text:
        with st.chat_message("user", avatar=":material/person:"):
            st.text(text)
    try:
        turn = service.start_turn(session, text or None, tab)  # no text: ask again after the last message
    except WorkbenchError as exc:
        flash("error", str(exc))
        st.rerun()
    st.button("Stop", key="stop_turn", icon=":material/stop:", help="ends the model call; the partial reply is kept")
    window = current_window(settings_window(settings)[1])
    numbers = window_stats(state, settings, window, session.encoding)
    try:
        with st.chat_message("assistant", avatar=":material/smart_toy:"):
            render_live_turn(turn.updates(), numbers["window_used_tokens"] if window else numbers["rendered_tokens"],
                             time.monotonic())
    finally:
        if not turn.done:  # interrupted by a rerun: Stop, or another page
            turn.stop(LEFT_MID_TURN)
            turn.join(0.5)
    try:
        result = turn.outcome()
    except WorkbenchError as exc:
        flash("error", str(exc))
    else:
        if result.get("error"):
            flash("error", result["error"])
    st.rerun()
