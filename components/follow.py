"""Two ways a page keeps up with a session: it follows the log, or the Replay page's step.

- Following the log: while a chat runs (in this tab, another tab or another process), a small
  fragment polls the session's last event number every `POLL_SECONDS` and reruns the page only
  when it moved; a rerun with nothing new costs one cheap read past the last seq.
- Following the Replay step: with the toggle on, the page shows the session as it was at the
  step chosen on the Replay page (pages/replay.py keeps it in `replay_step-<session id>`), so a
  graph can be stepped through like the conversation.

Components never open a session: both functions take the page's session as a parameter. It needs
only `id`, `last_seq` and `refresh()`.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

POLL_SECONDS = 2.0  # how often a page looks for new events


def replay_step_key(session_id: str) -> str:
    """The session-state key where the Replay page keeps its position for this session."""
    return f"replay_step-{session_id}"


def followed_step(session: Any, page_key: str, noun: str = "page") -> int | None:
    """Draw the "Follow the Replay step" toggle; return the step to fold (`session.state(at)`),
    or None for the latest when the toggle is off.

    `page_key` keeps each page's toggle apart; `noun` names what is shown ("the board as it was...")."""
    follow = st.toggle("Follow the Replay step", key=f"{page_key}_follow-{session.id}",
                       help=f"Show {noun} as it was at the step chosen on the Replay page")
    if not follow:
        return None
    last = session.last_seq
    step = st.session_state.get(replay_step_key(session.id))
    at = min(max(int(step), 0), last) if step is not None else last
    chosen = "" if step is not None else " (no step chosen on the Replay page yet: the latest)"
    st.caption(f"Showing {noun} at Replay step {at} of {last}{chosen}.")
    st.page_link("pages/replay.py", label="Choose the step on Replay", icon=":material/history:")
    return at


@st.fragment(run_every=POLL_SECONDS)
def follow_the_log(session: Any, shown_seq: int) -> None:
    """Rerun the whole page when events arrived since it was drawn at `shown_seq`."""
    session.refresh()
    if session.last_seq != shown_seq:
        st.rerun()
