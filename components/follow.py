"""How a page keeps up with a session: it follows the log live, or the Replay page's step; and
how it sends a person to one message on the Context page.

- Following live: another process (an MCP server, the CLI, a program) or another tab writes
  events; the page shows them within about a second, without a click, redrawing only what
  they touched. A small fragment in the sidebar (`POLL`) runs every `LIVE_SECONDS`; it asks
  the service for the session's last event (`Workbench.latest`: a stat of the DuckDB file
  while nothing was committed, a read only once it moved). When the log moved past the event
  the page shows, the page should rerun its keyed fragments, but Streamlit 1.67 takes
  `st.rerun([keys])` only from a widget's callback, never from a fragment's body. So the poll
  mounts a bodiless component (`_bridge`, inline JS that sees two numbers and no text) whose
  script sets a trigger when they differ; the trigger's callback (`_caught_up`) asks
  `engine.changes.touched` what the new events touch, asks the page which keys that means
  (its `choose`), and reruns those and the poll, or the whole page when `choose` says None.
  The page keeps the last event it shows under `SHOWN` (a UI fact); a whole run draws the
  latest and sets it.
- Pausing: the sidebar's "Follow live" toggle (on by default, kept under `LIVE`, a key no
  widget owns, so it holds on every page). Paused, the poll still looks (a stat) and says how
  many events wait, but reruns nothing; turning it on reruns the page, which shows them.
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
the widgets start from them and write them back. A toggle gets its kept value as its default
(`value=`), sent in every run; the Replay slider gets its step written under its key in every
run, as the sidebar's session picker does (components/session_picker.py). A value written under
a widget's key in one run only is lost when the next run interrupts that one.

Components never open a session: the functions take the page's session (they need `id`,
`last_seq`, `tail` and `state`) and its service (`latest`) as parameters.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

import streamlit as st
from streamlit.errors import StreamlitAPIException
from streamlit.runtime.scriptrunner import get_script_run_ctx

from components.plain import plain
from engine.changes import Touched, touched
from engine.errors import WorkbenchError

LIVE_SECONDS = 0.5  # how often a following page looks for new events (a stat while there are none)
POLL_SECONDS = 2.0  # how often the "Follow the Replay step" caption looks
CONTEXT_JUMP = "context_jump"  # a message id the Context page opens and marks, then forgets
LIVE = "follow_live"  # the "Follow live" choice, kept for every page (no widget owns it)
LIVE_TOGGLE = "follow_live_toggle"  # the sidebar toggle's own key (Streamlit drops it on pages without it)
SHOWN = "follow_shown"  # (session id, the last event the page shows)
POLL = "follow-poll"  # the poll fragment's key
REPLAY_CAPTION = "follow-replay-caption"  # the "Follow the Replay step" caption's poll fragment's key
_TOKEN = "follow_token"  # the store's change token this tab saw last
_ASKED = "follow_asked"  # (session id, the event shown before, how many fragments the keyed rerun runs)
_TICK = "follow_tick"  # counts polls that found the page behind, so the bridge's script runs again
# What a page reruns for the events it is told of: fragment keys, or None for the whole page.
Choose = Callable[[Touched], "Sequence[str] | None"]


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
    """A toggle whose value outlives pages that do not draw it: kept under `kept`, and given to
    the toggle as its default in every run (see `follow_live` for why not through its key)."""
    value = st.toggle(label, value=bool(st.session_state.get(kept, False)), key=key, help=help)
    st.session_state[kept] = value
    return value


def followed_step(session: Any, page_key: str, noun: str = "page", service: Any = None) -> int | None:
    """Draw the "Follow the Replay step" toggle; return the step to fold (`session.state(at)`),
    or None for the latest when the toggle is off.

    `page_key` keeps each page's toggle apart; `noun` names what is shown ("the board as it was...");
    with `service`, its caption's poll is a stat while nothing was committed."""
    follow = _kept_toggle("Follow the Replay step", key=f"{page_key}_follow-{session.id}",
                          kept=f"{page_key}_following-{session.id}",
                          help=f"Show {noun} as it was at the step chosen on the Replay page")
    if not follow:
        return None
    step = chosen_replay_step(session.id)
    at = min(max(step, 0), session.last_seq) if step is not None else session.last_seq
    _replay_caption(session, noun, at, step is not None, service)
    st.page_link("pages/replay.py", label="Choose the step on Replay", icon=":material/history:")
    return at


@st.fragment(run_every=POLL_SECONDS, key=REPLAY_CAPTION)
def _replay_caption(session: Any, noun: str, at: int, chosen: bool, service: Any = None) -> None:
    """Where the page stands against the log; reruns alone, so "of N" grows with the session
    while what is shown stays at step `at` (with `service`, a stat while nothing was committed)."""
    if service is not None:
        last, st.session_state[_TOKEN] = service.latest(session.id, st.session_state.get(_TOKEN))
    else:
        session.refresh()
        last = session.last_seq
    note = "" if chosen else " (the latest when the page was drawn: no earlier step is chosen on the Replay page)"
    st.caption(f"Showing {noun} at Replay step {at} of {last}{note}; it stays at that step as the session "
               "grows (turn this off to follow the log).")


# ---- following live ----------------------------------------------------------------------


def live() -> bool:
    """Whether pages follow new events now (the sidebar's "Follow live"; on until turned off)."""
    return bool(st.session_state.get(LIVE, True))


def shown_seq(session_id: str) -> int | None:
    """The last event of `session_id` the page shows, or None when it shows another session."""
    kept = st.session_state.get(SHOWN)
    return kept[1] if kept is not None and kept[0] == session_id else None


def mark_shown(session_id: str, seq: int) -> None:
    """Say that the page now shows `session_id` up to event `seq` (a whole run, or a rerun of
    every part the events since touched)."""
    st.session_state[SHOWN] = (session_id, int(seq))


def follow_live(session: Any, service: Any, choose: Choose, shown: int | None = None) -> None:
    """Follow `session` live on this page: the sidebar's toggle and the poll. Call it once in
    the page's whole run, after drawing it at event `shown` (default: the session's last).

    `choose(touched)` names the keyed fragments to rerun for what new events touched (the poll
    is added), or None to rerun the whole page; it runs in the trigger's callback, so it reads
    only what the callback can: its argument and `st.session_state`."""
    mark_shown(session.id, session.last_seq if shown is None else shown)
    st.session_state.setdefault(_TOKEN, None)
    # The choice reaches the toggle as its default, sent in every run. A value written under the
    # toggle's key before it is drawn is sent to the browser once, in that run's message only: when
    # the next run interrupted that one (a click on the session picker right after the page opened),
    # the browser drew the toggle at its default, off, and the next poll sent off back, so the
    # page stopped following by itself (seen in Chromium with Streamlit 1.67, about one run in ten).
    st.sidebar.toggle("Follow live", value=live(), key=LIVE_TOGGLE, on_change=_toggled,
                      help="On: this page shows events written elsewhere (an MCP client, the CLI, another tab) "
                           "within about a second, redrawing only what they change. Off: the page stays as it "
                           "is and says how many events are waiting; turning it on shows them.")
    with st.sidebar:
        _poll(session, service, choose)


def board_keys(board: str, touched: Touched, own: bool) -> list[str] | None:
    """`choose` for a page whose one board shows one subsystem (Tasks, Memory): the whole page for
    settings, an import or an event it does not know; the board when its own events came (`own`)."""
    if touched.settings or touched.imported or touched.other:
        return None
    return [board] if own else []


def _toggled() -> None:
    st.session_state[LIVE] = bool(st.session_state[LIVE_TOGGLE])  # then the whole page reruns


@st.fragment(run_every=LIVE_SECONDS, key=POLL)
def _poll(session: Any, service: Any, choose: Choose) -> None:
    """Look for new events (a stat while there are none) and let the bridge ask for a rerun."""
    try:
        latest, token = service.latest(session.id, st.session_state.get(_TOKEN))
    except WorkbenchError as exc:  # held by another process past the wait, or the file replaced: say so, look again
        st.caption(f"Not following for now: {plain(str(exc))}")
        return
    st.session_state[_TOKEN] = token
    _check_asked(session.id)
    shown = shown_seq(session.id)
    if shown is None:
        return
    behind = latest != shown
    if behind and not live():
        waiting = latest - shown
        st.caption(f"Paused: {waiting:,} new event{'s' if waiting != 1 else ''} waiting.")
    # Asked for only from the poll's own runs: a trigger set while the page's whole run was still
    # drawing got its keyed rerun, yet the browser kept the page as the whole run left it (seen in
    # Chromium about once in three on the Memory page). The next poll, half a second on, asks.
    ask = behind and live() and not whole_run()
    tick = st.session_state[_TICK] = st.session_state.get(_TICK, 0) + int(ask)
    data = {"latest": latest, "shown": shown, "tick": tick} if ask else {"latest": shown, "shown": shown}
    mount_bridge(data, lambda: _caught_up(session, service, choose))


def mount_bridge(data: dict[str, int], on_moved: Callable[[], None]) -> None:
    """The browser's half: a bodiless component whose script sets the `moved` trigger when the
    page is behind, so `on_moved` runs as a widget callback, where keyed reruns are allowed."""
    _bridge()(key="follow-bridge", data=data, height=0, on_moved_change=on_moved)


def _caught_up(session: Any, service: Any, choose: Choose) -> None:
    """The trigger's callback: rerun what the events since the shown one touched."""
    if whole_run():
        return  # a person's click or a navigation reruns the whole page anyway, which shows the latest
    shown = shown_seq(session.id)
    try:
        latest, st.session_state[_TOKEN] = service.latest(session.id, st.session_state.get(_TOKEN))  # a stat, mostly
    except WorkbenchError:
        st.rerun(POLL)  # the poll says what is wrong, and asks again when it can
    if shown is None or latest == shown or not live():
        st.rerun(POLL)
    if latest < shown:
        st.rerun()
    what = touched((record.event for record in session.tail(latest - shown)), session.state())
    keys = choose(what)
    if keys is None:
        st.rerun()  # the whole run marks the latest as shown
    keys = _registered(keys)
    st.session_state[_ASKED] = (session.id, shown, 1 + len(get_script_run_ctx().fragment_storage.resolve_target(keys))
                                if keys else 1)
    mark_shown(session.id, latest)
    st.rerun([*keys, POLL])


def _check_asked(session_id: str) -> None:
    """In the poll: did the keyed rerun the callback asked for run? It puts the poll last, so a
    poll run that ran fewer fragments than asked means the rerun was lost (seen in Chromium on
    the Memory page now and then, Streamlit 1.67: the callback's keyed rerun never ran); the page
    is then still at the event it showed before, and the next poll asks again."""
    asked = st.session_state.pop(_ASKED, None)
    if asked is None or asked[0] != session_id or whole_run():
        return
    ctx = get_script_run_ctx()
    if len(ctx.fragment_ids_this_run or ()) < asked[2]:
        mark_shown(session_id, asked[1])


def only_polled() -> bool:
    """Whether the browser asked for this run only for the poll (or the Replay caption's poll).
    Each request carries every widget's value as the browser had it when it sent it; a poll's,
    sent while a run was setting a widget (the Replay slider moved by Back, the session picker
    by a fork), carries the value before, which is no person's change. In a widget's callback:
    put the value the page drew back, and do nothing else (seen in Chromium with Streamlit 1.67:
    Back, then the slider was at the latest again). A person's change asks for its own rerun."""
    ctx = get_script_run_ctx()
    if ctx is None or not ctx.fragment_ids_this_run:
        return False
    polls: set[str] = set()
    for key in (POLL, REPLAY_CAPTION):
        try:
            polls.update(ctx.fragment_storage.resolve_target(key))
        except StreamlitAPIException:
            continue
    return set(ctx.fragment_ids_this_run) <= polls


def whole_run() -> bool:
    """Whether this run is the whole page's (then it draws everything anyway), not fragments'."""
    ctx = get_script_run_ctx()
    return not (ctx and ctx.fragment_ids_this_run)


def _registered(keys: Sequence[str]) -> list[str]:
    """The keys of fragments drawn now (a card paged away, or a closed tab, is not)."""
    ctx = get_script_run_ctx()
    found = []
    for key in dict.fromkeys(keys):
        try:
            if ctx is not None and ctx.fragment_storage.resolve_target(key):
                found.append(key)
        except StreamlitAPIException:
            continue
    return found


# Only numbers cross into the browser: no text of a session is in the data or the script.
_BRIDGE_JS = """
export default function ({ data, setTriggerValue }) {
  if (data.latest !== data.shown) setTriggerValue("moved", data.latest);
}
"""


@lru_cache(maxsize=1)
def _bridge():
    return st.components.v2.component("workbench_follow", js=_BRIDGE_JS)


def open_on_context(message_id: str) -> None:
    """Go to the Context page with `message_id` opened and marked there (it reads `CONTEXT_JUMP`)."""
    st.session_state[CONTEXT_JUMP] = message_id
    st.switch_page("pages/context.py")
