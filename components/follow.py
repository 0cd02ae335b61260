"""How a page keeps up with a session: it follows the log, or the Replay page's step; and how it
sends a person to one message on the Context page.

- Following the log: while a chat runs (in this tab, another tab or another process), a small
  fragment polls the session's last event number every `POLL_SECONDS` and reruns the page only
  when it moved; a rerun with nothing new costs one cheap read past the last seq.
- Following the Replay step: with the toggle on, the page shows the session as it was at the
  step chosen on the Replay page, so a graph can be stepped through like the conversation. The
  step is fixed, so the page does not rerun as events arrive; only its caption polls, so its
  "of N" stays true.
- Jumping to a message: `open_on_context(message_id)` puts the id under `CONTEXT_JUMP` and
  switches to the Context page, which opens the page of messages holding it and marks it.

Why the values live under keys no widget owns: Streamlit forgets a widget's value when a page
that does not draw the widget runs. The Replay slider's own key (`replay_step-<session id>`) is
gone once the Memory page has run, and a toggle's key is gone after a visit to Replay. So the
step is kept under `replay_at-<session id>` and each toggle under `<page>_following-<session id>`;
the widgets start from them and write them back, as the sidebar's session picker keeps its
choice (components/session_picker.py).

Components never open a session: the functions take the page's session as a parameter. It needs
only `id`, `last_seq` and `refresh()`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

POLL_SECONDS = 2.0  # how often a page looks for new events
CONTEXT_JUMP = "context_jump"  # a message id the Context page opens and marks, then forgets


def replay_step_key(session_id: str) -> str:
    """The Replay slider's widget key for this session (Streamlit drops it on other pages)."""
    return f"replay_step-{session_id}"


def replay_at_key(session_id: str) -> str:
    """The key that keeps the step chosen on the Replay page for this session, on every page."""
    return f"replay_at-{session_id}"


def chosen_replay_step(session_id: str) -> int | None:
    """The step chosen on the Replay page for this session; None for the latest (or no visit yet)."""
    step = st.session_state.get(replay_at_key(session_id))
    return None if step is None else int(step)


def keep_replay_step(session_id: str, step: int | None) -> None:
    """Remember `step` as the Replay page's position (the page calls it each time it draws);
    None means the latest, so the Replay page opens at the latest again after the session grew."""
    if step is None:
        st.session_state.pop(replay_at_key(session_id), None)
    else:
        st.session_state[replay_at_key(session_id)] = int(step)


def _kept_toggle(label: str, key: str, kept: str, help: str) -> bool:
    """A toggle whose value outlives pages that do not draw it: kept under `kept`."""
    if key not in st.session_state:  # first draw, or back from a page without it
        st.session_state[key] = bool(st.session_state.get(kept, False))
    value = st.toggle(label, key=key, help=help)
    st.session_state[kept] = value
    return value


def followed_step(session: Any, page_key: str, noun: str = "page") -> int | None:
    """Draw the "Follow the Replay step" toggle; return the step to fold (`session.state(at)`),
    or None for the latest when the toggle is off.

    `page_key` keeps each page's toggle apart; `noun` names what is shown ("the board as it was...")."""
    follow = _kept_toggle("Follow the Replay step", key=f"{page_key}_follow-{session.id}",
                          kept=f"{page_key}_following-{session.id}",
                          help=f"Show {noun} as it was at the step chosen on the Replay page")
    if not follow:
        return None
    step = chosen_replay_step(session.id)
    at = min(max(step, 0), session.last_seq) if step is not None else session.last_seq
    _replay_caption(session, noun, at, chosen=step is not None)
    st.page_link("pages/replay.py", label="Choose the step on Replay", icon=":material/history:")
    return at


@st.fragment(run_every=POLL_SECONDS)
def _replay_caption(session: Any, noun: str, at: int, chosen: bool) -> None:
    """Where the page stands against the log; reruns alone, so "of N" grows with the session
    while what is shown stays at step `at`."""
    session.refresh()
    last = session.last_seq
    note = "" if chosen else " (the latest when the page was drawn: no earlier step is chosen on the Replay page)"
    st.caption(f"Showing {noun} at Replay step {at} of {last}{note}; it stays at that step as the session "
               "grows (turn this off to follow the log).")


@st.fragment(run_every=POLL_SECONDS)
def follow_the_log(session: Any, shown_seq: int) -> None:
    """Rerun the whole page when events arrived since it was drawn at `shown_seq`."""
    session.refresh()
    if session.last_seq != shown_seq:
        st.rerun()


def open_on_context(message_id: str) -> None:
    """Go to the Context page with `message_id` opened and marked there (it reads `CONTEXT_JUMP`)."""
    st.session_state[CONTEXT_JUMP] = message_id
    st.switch_page("pages/context.py")
