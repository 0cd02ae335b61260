"""Replay: step through a session's events like a video; diff two steps; fork from any step.

Replay folds the saved events; it never calls a model.

Two keyed fragments: the controls (`NAV`: where the session stands, the buttons, the jumps to
compactions and brakes, the slider) and what the chosen step shows (`VIEW`). Dragging the
slider reruns both (its callback names them); the diff's and the tabs' own choices rerun the
view alone. A button or a pick in the log reruns the whole page: a value a callback gives the
slider reaches the browser in a whole run, not in a keyed rerun of the slider's fragment (the
browser kept showing, and then sent back, the step before: seen in Chromium with Streamlit
1.67), unless the slider's range changed too, as it does when the log grew.

It follows the log live (components/follow.py): at the latest step, events written elsewhere
move it to the new latest and rerun both; at an earlier step only the controls rerun, so the
slider's "of N" grows while what the step shows stays as drawn. New settings rerun the page
(the sidebar's model window follows them).
"""

from __future__ import annotations

import streamlit as st

from components.app_state import edit_guard, engine_errors, require_session, select_session, selected_session_id
from components.diff_view import render_diff
from components.event_view import brake_steps, compaction_steps, render_event, render_timeline
from components.flash import flash
from components.follow import (chosen_replay_step, follow_live, keep_replay_step, only_polled, replay_step_key,
                               shown_seq)
from components.plain import plain
from components.reasoning_timeline import render_reasoning_panel
from components.reasoning_view import render_reasoning
from components.token_bar import current_window, render_token_bar
from engine import render
from engine.changes import Touched
from engine.render import core_memory_message, render_each
from engine.settings import sends_reasoning, settings_of, window_stats
from engine.text import printable
from engine.tokens import token_counter
from engine.windows import settings_window
from sessions.service import Workbench

NAV = "replay-nav"
VIEW = "replay-view"
TO_LATEST = "replay_to_latest"  # a session id: the controls move its slider to the new latest once


def _at_latest_key(session_id: str) -> str:
    """Whether the person left Replay at the latest step: then it stays at the latest as the log
    grows, whatever run draws it next (a live rerun, or the whole run after following resumes).
    Kept apart from the slider's value, which is the old latest until the controls run again."""
    return f"replay_at_latest-{session_id}"


def _drawn_key(session_id: str) -> str:
    """The step the controls drew last: what the slider is put back to when the browser sent an
    old value with the poll's request (components.follow.only_polled)."""
    return f"replay_drawn-{session_id}"


service = Workbench.shared()


def _session(session_id: str):
    session = service.find(session_id)
    if session is None:
        st.stop()
    return session


def _rerun_both() -> None:
    st.rerun([NAV, VIEW])


@st.fragment(key=NAV)
def _nav(session_id: str) -> None:
    """Where the session stands, and the controls that choose the step."""
    session = _session(session_id)
    step_key = replay_step_key(session_id)  # the slider's key: Streamlit drops it on pages that do not draw it
    records = session.records()
    last = len(records)
    st.caption(f"{plain(session.title)} · {last} events")
    if not records:
        st.info("This session has no events yet.")
        return
    latest_key = _at_latest_key(session_id)
    if st.session_state.get(step_key) is None:  # first visit, or back from another page: the step last chosen
        kept = chosen_replay_step(session_id)
        st.session_state[step_key] = last if kept is None else kept
        st.session_state[latest_key] = kept is None
    step = st.session_state[step_key]
    moved_on = st.session_state.pop(TO_LATEST, None) == session_id
    if step > last or moved_on or st.session_state.get(latest_key, False):
        step = last
    # Written back on every run, not only when it changed: when the log grew, the slider's range
    # changes, and in a keyed rerun a slider whose range changed starts again at its minimum unless
    # its value was set in that run (seen in Chromium with Streamlit 1.67).
    st.session_state[step_key] = st.session_state[_drawn_key(session_id)] = step

    def step_by(delta: int) -> None:  # then the whole page reruns (see above)
        jump_to(st.session_state[step_key] + delta)

    def jump_to(step: int) -> None:
        st.session_state[step_key] = min(max(step, 0), last)
        st.session_state[latest_key] = st.session_state[step_key] >= last
        st.rerun()

    def slid() -> None:
        if only_polled():  # the browser's old value, sent with the poll's rerun: not a person's move
            st.session_state[step_key] = st.session_state[_drawn_key(session_id)]
            return
        st.session_state[latest_key] = st.session_state[step_key] >= last
        _rerun_both()

    buttons = st.columns(4)
    buttons[0].button("Start", icon=":material/first_page:", key="first", on_click=step_by, args=(-last,),
                      help="before the first event", width="stretch")
    buttons[1].button("Back", icon=":material/chevron_left:", key="back", on_click=step_by, args=(-1,),
                      help="one event back", width="stretch")
    buttons[2].button("Forward", icon=":material/chevron_right:", key="forward", on_click=step_by, args=(1,),
                      help="one event forward", width="stretch")
    buttons[3].button("Latest", icon=":material/last_page:", key="latest", on_click=step_by, args=(last,),
                      help="the latest event", width="stretch")
    compactions = compaction_steps(records)
    if compactions:  # where the source's own tool compacted its context (Claude Code's compact_boundary)
        st.caption(f"{len(compactions)} compaction point(s): jump to one to see the window before and after it")
        jumps = st.columns(min(len(compactions), 6))
        for position, (seq, text) in enumerate(compactions[:6]):
            jumps[position].button(f"Compaction at step {seq}", key=f"compaction-{seq}", help=plain(text),
                                   on_click=jump_to, args=(seq,), width="stretch")
    brakes = brake_steps(records)
    if brakes:  # where a brake cut the reasoning, warned of a tool loop, or observed (issue 9)
        st.caption(f"{len(brakes)} brake(s): jump to one to see it in the log, and a reasoning brake on the timeline")
        jumps = st.columns(min(len(brakes), 6))
        for position, (seq, detector, text) in enumerate(brakes[:6]):
            jumps[position].button(f"Brake ({detector}) at step {seq}", key=f"brake-{seq}", help=plain(text),
                                   on_click=jump_to, args=(seq,), width="stretch")
    at = st.slider("Step (events applied)", 0, last, key=step_key, on_change=slid)
    keep_replay_step(session_id, at if at < last else None)  # what Tasks and Memory follow; the latest stays the latest


@st.fragment(key=VIEW)
def _view(session_id: str) -> None:
    """The chosen step: its event, the window then, the context, the diff and the log."""
    with st.container(key="replay-step"):  # a constant key: the browser tests find the step's part by it
        _step(session_id)


def _step(session_id: str) -> None:
    session = _session(session_id)
    step_key = replay_step_key(session_id)
    if not session.last_seq or st.session_state.get(step_key) is None:
        return
    records = session.records()
    at = min(int(st.session_state[step_key]), len(records))
    last = len(records)
    if at:
        render_event(records[at - 1])
    else:
        st.text("#0 · before the first event: an empty context")
    state = session.state(at)
    step_settings = settings_of(state)  # the model (and window) of the session as it was at this step
    window = current_window(settings_window(step_settings)[1])
    render_token_bar(window_stats(state, step_settings, window, session.encoding), key="replay_bar")

    fork_column, _ = st.columns([1, 3])
    if fork_column.button(f"Fork from step {at}", key="fork_here", type="primary", **edit_guard()):
        with engine_errors():
            fork = service.fork(session.id, at)
            select_session(fork.id)
            flash("ok", f"Forked at step {at}: a new session {fork.id} with the first {at} events.")
            st.switch_page("pages/context.py")

    render_reasoning_panel(state, key=f"replay-reasoning-{session.id}", counter=token_counter(session.encoding))
    rendered_now = render_each(state, session.encoding)
    core = core_memory_message(state, session.encoding)
    context_tab, diff_tab, timeline_tab = st.tabs(["Context at this step", "Diff between two steps", "All events"])
    with timeline_tab:
        st.caption("Pick an event to jump just after it.")
        render_timeline(records, step_key, after=st.rerun)
    with context_tab:
        if not rendered_now and core is None:
            st.caption("Nothing yet.")
        if core is not None:  # always at the top of what the model is sent
            with st.expander(f"core memory · sent first, opening the system prompt · {len(core['content']):,} characters"):
                st.code(printable(core["content"]), language=None, wrap_lines=True)
        counter = token_counter(session.encoding)
        for message, shown in zip(state.messages, rendered_now):
            content = shown.get("content")
            text = content if isinstance(content, str) else "" if content is None else str(content)
            stopped = " · stopped" if message.stopped else ""
            with st.expander(f"{message.id} · {shown['role']} · {len(text):,} characters{stopped}",
                             expanded=len(rendered_now) <= 3):
                render_reasoning(message, counter, sends_reasoning(step_settings))
                st.text(printable(text[:20_000] + (f"\n… ({len(text) - 20_000:,} more characters)"
                                                   if len(text) > 20_000 else "")))
                for call in shown.get("tool_calls") or []:
                    st.text(printable(f"→ {call['function']['name']}({call['function'].get('arguments', '')[:500]})"))
    with diff_tab:
        against = st.radio("Compare this step with", ["the step before", "another step"], horizontal=True,
                           key="diff_mode")
        other = max(at - 1, 0) if against == "the step before" else st.number_input("Step", 0, last, max(at - 1, 0),
                                                                                     key="diff_other")
        before, after = (int(other), at) if other <= at else (at, int(other))
        render_diff(render(session.state(before), session.encoding), render(session.state(after), session.encoding),
                    f"step {before}", f"step {after}")


def _live_keys(session, touched: Touched) -> list[str] | None:
    """At the latest step: on to the new latest, both fragments. Earlier: the controls alone."""
    if touched.settings or touched.imported or touched.other:
        return None
    step_key = replay_step_key(session.id)
    step = st.session_state.get(step_key)
    if step is None or step == shown_seq(session.id) or st.session_state.get(_at_latest_key(session.id), False):
        st.session_state[TO_LATEST] = session.id  # the controls move the slider, in their run: a callback's
        keep_replay_step(session.id, None)          # write was lost once the slider's range changed
        return [NAV, VIEW]
    return [NAV]


session = require_session(service.find(selected_session_id()))
shown = session.last_seq
st.title("Replay")
_nav(session.id)
_view(session.id)
follow_live(session, service, lambda touched: _live_keys(session, touched), shown)
