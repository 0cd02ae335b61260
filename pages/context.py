"""Context: what fills the window, and the tools to sculpt it.

Another page sends a person to one message by putting its id under `context_jump`
(components/follow.py `open_on_context`): this page takes it once, opens the page of messages
that holds it and marks it there.

A Hide or Restore click reruns only what it changes: the token bar, the search hits and the
card of that one message, each an `st.fragment` with a key, named by the click's callback
(`st.rerun([...])` from `on_click`). The callback makes the tool call before that rerun, so the
rerun already shows the change. A whole-page run per click, twice over (one to find the click,
one after `st.rerun()` to show it), took 0.7-1.8 s at 1M tokens in Chromium (bench/ui.py,
issue 11). The other tabs run only while open (`on_change="rerun"`): what they show is
computed when a person opens them, so it is never a view from before the last click. A closed
tab draws none of its widgets, and Streamlit drops the value of a widget a run does not draw, so
the page number and the tabs' own choices are kept while their tab is closed
(`persist_state="page"`: kept while the person stays on this page).

A fragment's rerun calls it with the arguments of its last call from a full run, so each
fragment takes ids and reads the session's state afresh, and shows a store that cannot be read
(busy, held by the CLI) as an error in its place: a fragment's exception is not caught by
anything around its call.

The keyed rerun shows one click's change and nothing else, so it is right only when that click's
event is the first since the page was drawn. The page keeps the last event it shows
(components/follow.py `SHOWN`, a UI fact); when other events came first and the page has not
shown them yet, the click reruns the whole page instead, sidebar included. So does a click after
messages were added since the last whole run: the sidebar's count of messages is drawn only by
a whole run.

Following live (components/follow.py): events another process writes (an MCP client folding a
fragment, the CLI adding a message) rerun the same keyed fragments a click would, chosen by
`_live_keys` from what they touched (engine/changes.py): a fold, restore, summary or cut reruns
the token bar, the search hits and the cards of those messages if they are on the page shown; a
new message reruns the message list (its pager and cards) instead of the cards; a search, the
hits; an open "What the model sees" or "Original and rendered" tab, whenever the window changed;
tasks alone, nothing. Settings, an import's origin, or an event of a kind the page does not
know rerun the whole page (the sidebar's model window and the cards' reasoning marks follow the
settings), and so does a click after new messages were shown by the list alone.
"""

from __future__ import annotations

from bisect import bisect_right

import streamlit as st

from components.actions import carry_out, run_intent
from components.app_state import engine_errors, require_session, selected_session_id
from components.flash import show_flash
from components.follow import CONTEXT_JUMP, follow_live, mark_shown, shown_seq
from components.intents import Intent
from components.message_view import CONTROLS_HELP, message_pages, render_message
from components.model_view import render_model_messages, render_side_by_side
from components.plain import plain
from components.search_panel import latest_search, render_search_form, render_search_results
from components.token_bar import current_window, render_token_bar
from engine import render
from engine.changes import Touched
from engine.settings import sends_reasoning, settings_of, window_stats
from engine.windows import settings_window
from engine.tokens import token_counter
from sessions.service import Workbench

PAGE_SIZE = 10  # messages on a page at most
PAGE_ROWS = 40  # fragment rows on a page at most (components/message_view.py `message_pages`)
PAGE_KEY = "message_page"
TAB_KEY = "context_tab"
RANGE_KEY = "model_range"  # What the model sees: the messages shown
MARK = "context_jump_target"  # our constant key: the marked message's box, outlined by constant CSS
SUMMARY = "context-summary"  # the fragments' keys, for st.rerun([...])
SEARCH = "context-search"
LIST = "context-list"
MODEL_VIEW = "context-model-view"
SIDE_BY_SIDE = "context-side-by-side"
CARDS = "context_cards"  # (session id, the ids of the messages on the page shown)
LISTED = "context_listed"  # the session whose messages the sidebar counts right; None once the list alone showed more
JUMPED = "context_jumped"  # a jump's message, until the list has opened its page once

service = Workbench.shared()


def _message_key(message_id: str) -> str:
    return f"context-message-{message_id}"


def _session(session_id: str):
    """The page's session inside a fragment (the page has said whatever there is to say of it)."""
    session = service.find(session_id)
    if session is None:
        st.stop()
    return session


@st.fragment(key=SUMMARY)
def _summary(session_id: str) -> None:
    """The notice of the last action, the token bar and the tokens by role."""
    show_flash()
    with engine_errors():
        session = _session(session_id)
        state = session.state()
        window = current_window(settings_window(settings_of(state))[1])
        stats = window_stats(state, settings_of(state), window, session.encoding)
        render_token_bar(stats)
        with st.expander("By role"):
            # a static table: a data grid here was redrawn on every Hide click, for five rows.
            # st.table reads its cells as Markdown: a role is one of four fixed names (a message
            # is refused otherwise, engine/messages.py), and plain() keeps it text all the same
            st.table([{"role": plain(role), **numbers} for role, numbers in stats["by_role"].items()])


@st.fragment(key=SEARCH)
def _search_hits(session_id: str) -> None:
    """The hits of the newest search: a hit's fragment may be the one just hidden."""
    with engine_errors():
        session = _session(session_id)
        state, looks = session.looks()  # a viewer's searches are not in the log: they are looks
        search, detail = latest_search(session.tail(200) + looks)
        run_intent(session.call_tool, render_search_results(state, search, detail,
                                                            cleared_key=f"search_cleared-{session.id}"))


def _act(session_id: str, message_id: str, intent: Intent) -> None:
    """A Hide or Restore click's callback: the tool call, then a rerun of what it changed.

    A fold or a restore leaves one event (its own, or `tool_failed`); any other event since the
    page was drawn came from elsewhere, and the whole page reruns to show it. A call the store
    refused left none: only the notice is new."""
    session = _session(session_id)
    recorded = carry_out(session.call_tool, intent)
    if shown_seq(session_id) != session.last_seq - int(recorded) or st.session_state.get(LISTED) != session_id:
        st.rerun()
    if not recorded:
        st.rerun(SUMMARY)
    mark_shown(session_id, session.last_seq)  # the reruns below bring the page up to it
    st.rerun([SUMMARY, SEARCH, _message_key(message_id)])


def _live_keys(touched: Touched) -> list[str] | None:
    """The fragments to rerun for events written elsewhere (components/follow.py); None: the page."""
    if touched.settings or touched.imported or touched.other:
        return None
    keys = []
    if touched.window:
        keys += [SUMMARY, MODEL_VIEW, SIDE_BY_SIDE]  # the tabs' keys count only while they are open
    if touched.searched or touched.fragments:
        keys.append(SEARCH)
    if touched.added:
        keys.append(LIST)
        st.session_state[LISTED] = None  # the sidebar's count is behind until the next whole run
    else:
        cards = st.session_state.get(CARDS, (None, ()))[1]
        keys += [_message_key(message_id) for message_id in cards if message_id in touched.messages]
    return keys


def _message_card(session_id: str, message_id: str, marked: bool) -> None:
    """One message's card (run as a fragment keyed by the message)."""
    with engine_errors():
        session = _session(session_id)
        state = session.state()
        message = state.message(message_id)
        counter = token_counter(session.encoding)
        sent = sends_reasoning(settings_of(state))

        def act(intent: Intent) -> None:
            _act(session_id, message_id, intent)

        if not marked:
            run_intent(session.call_tool, render_message(message, counter, sent, act))
            return
        st.html(f"<style>.st-key-{MARK} {{outline: 3px solid #0969da; outline-offset: 4px; "
                "border-radius: 0.5rem}</style>")  # constant CSS: no text of the message in it
        with st.container(key=MARK):
            run_intent(session.call_tool, render_message(message, counter, sent, act))


@st.fragment(key=LIST)
def _message_list(session_id: str, jump: str | None) -> None:
    """The pager and the cards of the page shown; a jump's message outlined (and its page opened
    once). Reruns alone when messages are added elsewhere, and on its pager."""
    with engine_errors():
        session = _session(session_id)
        state = session.state()
        if not state.messages:
            st.info("This session has no messages yet.")
        position = next((i for i, message in enumerate(state.messages) if message.id == jump), None)
        starts = message_pages(state.messages, PAGE_SIZE, PAGE_ROWS)
        pages = len(starts)
        if position is not None:  # said on each run of the list until the next whole run forgets the jump
            if st.session_state.pop(JUMPED, None) == jump:
                st.session_state[PAGE_KEY] = bisect_right(starts, position)
            where = f" on page {bisect_right(starts, position)} of {pages}" if pages > 1 else ""
            st.info(f"Showing {plain(jump)}{where}, the message the link pointed to (outlined below).",
                    icon=":material/my_location:")
        elif jump is not None:
            st.warning(f"Message {plain(jump)} is not in this session's context.", icon=":material/search_off:")
        st.caption(CONTROLS_HELP)
        if pages > 1:
            if not 1 <= st.session_state.get(PAGE_KEY, 1) <= pages:
                st.session_state[PAGE_KEY] = 1
            page = st.number_input(f"Page (of {pages}; up to {PAGE_SIZE} messages or {PAGE_ROWS} fragments each)",
                                   1, pages, key=PAGE_KEY, persist_state="page")
        else:
            page = 1
        shown = state.messages[starts[page - 1] : starts[page] if page < pages else None]
        st.session_state[CARDS] = (session_id, tuple(message.id for message in shown))
        for message in shown:
            st.fragment(key=_message_key(message.id))(_message_card)(session_id, message.id, message.id == jump)


@st.fragment(key=MODEL_VIEW)
def _model_view(session_id: str) -> None:
    """What the model sees, from the messages chosen (reruns alone on its slider, and live)."""
    with engine_errors():
        session = _session(session_id)
        rendered = render(session.state(), session.encoding)
        if rendered:
            kept = st.session_state.get(RANGE_KEY)
            if kept is not None and not 1 <= kept[0] <= kept[1] <= len(rendered):
                del st.session_state[RANGE_KEY]  # a range kept from a longer session: back to the default
            first, last = st.slider("Messages", 1, max(len(rendered), 2), (1, min(len(rendered), 5)),
                                    key=RANGE_KEY, persist_state="page") if len(rendered) > 1 else (1, 1)
            render_model_messages(rendered, first, last)


@st.fragment(key=SIDE_BY_SIDE)
def _side_by_side(session_id: str) -> None:
    """One message as stored and as the model is sent it."""
    with engine_errors():
        session = _session(session_id)
        state = session.state()
        if not state.messages:
            return
        rendered = render(state, session.encoding)
        paired = rendered[len(rendered) - len(state.messages):]  # core memory, when it is a message of its own, left out
        by_id = {message.id: (message, shown) for message, shown in zip(state.messages, paired)}
        chosen = st.selectbox("Message", list(by_id), key="side_by_side", persist_state="page")
        render_side_by_side(*by_id[chosen])


state = None
with engine_errors():
    session = require_session(service.find(selected_session_id()))
    state = session.state()
if state is None:
    show_flash()  # a click's notice, now or never: it would be stale on the next run
    st.stop()
st.session_state[LISTED] = session.id
st.title("Context")
st.caption(plain(session.title))
_summary(session.id)
run_intent(session.call_tool, render_search_form())
_search_hits(session.id)

jump = st.session_state.pop(CONTEXT_JUMP, None)  # taken once: the next whole run shows the page as it was left
if jump is not None:
    st.session_state[JUMPED] = jump  # the list opens the jump's page once, then leaves the pager to the person
    if any(message.id == jump for message in state.messages):
        st.session_state[TAB_KEY] = "Messages"  # the jump's message is on that tab
messages, model_view, side_by_side = st.tabs(["Messages", "What the model sees", "Original and rendered"],
                                             key=TAB_KEY, on_change="rerun")
if messages.open:
    with messages:
        _message_list(session.id, jump)
if model_view.open:
    with model_view:
        _model_view(session.id)
if side_by_side.open:
    with side_by_side:
        _side_by_side(session.id)
follow_live(session, service, _live_keys, state.event_count)
