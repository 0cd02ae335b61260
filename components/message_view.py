"""One message with its fragments, and the buttons that sculpt them.

Per fragment: Hide (fold), Summarize (with a focus), Restore. Per message: Fragment (by
markers and a count) or Split evenly. Each button returns an `Intent`; the page runs it
through the tool registry, so a click leaves the same events a model's call would.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from components.app_state import edit_guard
from components.intents import Intent
from components.reasoning_view import render_reasoning
from engine.render import tool_call_tokens, render_pieces
from engine.state import ContextState, Message
from engine.text import one_line, printable
from engine.tokens import TokenCounter

STATUS_ICON = {"visible": "●", "folded": "▸", "summarized": "≈"}
Act = Callable[[Intent], None]  # a page's callback that carries out an intent before the rerun
FRAGMENTS_SHOWN = 30
TEXT_SHOWN = 20_000
PREVIEW_CHARS = 800  # a visible fragment up to this long (and 12 lines) is shown whole, with no expander
# What the buttons do, said once above the list: a tooltip on every Hide and Restore button was
# a few hundred more nodes on the page for the browser to redraw on each click (bench/ui.py).
CONTROLS_HELP = ("Hide runs fold_fragment (a one-line marker takes the fragment's place), Restore runs "
                 "restore_fragment, Summarize runs summarize_fragment: the tool calls a model makes.")


def even_split_markers(message: Message) -> tuple[str, str] | None:
    """Markers spanning the message's visible text: a prefix, and the shortest suffix whose
    first occurrence after that prefix is at the very end."""
    visible = [f for f in message.fragments if f.status == "visible"]
    if not visible or visible[-1].end - visible[0].start < 2:
        return None
    text, first, last = message.text, visible[0], visible[-1]
    start = text[first.start : first.start + min(40, first.end - first.start, last.end - first.start - 1)]
    longest = min(last.end - last.start, last.end - first.start - len(start))
    length = 1
    while True:
        length = min(longest, max(length, 40))
        end = text[last.end - length : last.end]
        if length == longest or text.find(end, first.start + len(start)) == last.end - length:
            return start, end
        length *= 4


def _fragment_controls(fragment, key: str, first, second, act: Act | None) -> Intent | None:
    """Hide or Restore, and Summarize. With `act`, Hide and Restore hand their intent to it
    from the click's callback (and return nothing); without, the intent is returned."""
    def pressed(label: str, suffix: str, intent: Intent) -> bool:
        clicked = first.button(label, key=f"{key}-{suffix}", on_click=act, args=(intent,) if act else None,
                               **edit_guard())
        return clicked and act is None

    if fragment.status == "visible":
        hide = Intent("fold_fragment", {"fragment_id": fragment.id})
        if pressed("Hide", "hide", hide):
            return hide
        with second.popover("Summarize", **edit_guard()):
            focus = st.text_input("Focus", value="key points", key=f"{key}-focus")
            if st.button("Summarize", key=f"{key}-summarize", type="primary"):
                return Intent("summarize_fragment", {"fragment_id": fragment.id, "focus": focus})
        return None
    restore = Intent("restore_fragment", {"fragment_id": fragment.id})
    if pressed("Restore", "restore", restore):
        return restore
    return None


def _fragment_form(message: Message) -> Intent | None:
    key = f"frag-{message.id}"
    with st.popover("Fragment…", **edit_guard("fragment_context: split this message into fragments")):
        with st.form(key, border=False):  # one submit: typing in a field does not close the popover
            count = st.number_input("Fragments", min_value=1, max_value=20, value=5, key=f"{key}-count")
            markers = even_split_markers(message)
            even = st.form_submit_button("Split evenly", key=f"{key}-even", type="primary", disabled=markers is None)
            st.caption("…or between two exact pieces of text (both included):")
            start = st.text_input("Start marker", key=f"{key}-start")
            end = st.text_input("End marker", key=f"{key}-end")
            between = st.form_submit_button("Fragment between markers", key=f"{key}-markers")
    if even and markers:
        return Intent("fragment_context", {"start_marker": markers[0], "end_marker": markers[1],
                                           "num_fragments": int(count), "message_id": message.id})
    if between:
        return Intent("fragment_context", {"start_marker": start, "end_marker": end,
                                           "num_fragments": int(count), "message_id": message.id})
    return None


def _preview(text: str) -> tuple[str, bool]:
    """A short text whole; the first lines of a long one (code and logs keep their lines); and
    whether it was cut."""
    if len(text) <= PREVIEW_CHARS and text.count("\n") < 12:
        return text, False
    lines = text.splitlines()
    head = "\n".join(line if len(line) <= 300 else line[:299] + "…" for line in lines[:6])
    return head, len(lines) > 6 or len(head) < len(text.rstrip("\n"))


def render_message(message: Message, counter: TokenCounter, reasoning_sent: bool = False,
                   act: Act | None = None) -> Intent | None:
    """A bordered card: header, reasoning (collapsed), tool-call details, fragments with their
    controls; the intent of a button pressed, or, with `act`, Hide and Restore go to `act` from
    the click's callback."""
    pieces = render_pieces(message, counter)
    original = sum(p.original_tokens for p in pieces)
    rendered = sum(p.rendered_tokens for p in pieces)
    intent = None
    with st.container(border=True, key=f"message-{message.id}"):
        head, action = st.columns([5, 1])
        detail = f"{original:,} tokens"
        if rendered != original:
            detail += f" → {rendered:,} rendered"
        call_tokens = tool_call_tokens(message, counter)
        if call_tokens:
            detail += f" + {call_tokens:,} in tool calls"
        if len(pieces) > 1:
            detail += f" · {len(pieces)} fragments"
        if message.stopped:
            detail += " · stopped"
        head.markdown(f"**{message.id}** · {message.role} · {detail}")  # ids, a fixed role and numbers only
        if message.tool_call_id:
            head.caption(f"result of call {printable(message.tool_call_id)}")
        with action:
            intent = _fragment_form(message) if message.fragments else None
        render_reasoning(message, counter, reasoning_sent)
        for call in message.tool_calls or ():
            function = call.get("function", {})
            st.text(printable(f"→ {function.get('name')}({one_line(str(function.get('arguments', '')), 300)})"))
        for position, piece in enumerate(pieces[:FRAGMENTS_SHOWN]):
            fragment = piece.fragment
            info, text, first, second = st.columns([2, 7.5, 1.3, 2])
            info.text(f"{STATUS_ICON[fragment.status]} {fragment.id}\n{fragment.status} · {piece.original_tokens:,} tok")
            shown = piece.text if len(piece.text) <= TEXT_SHOWN else piece.text[:TEXT_SHOWN] + f"\n… ({len(piece.text) - TEXT_SHOWN:,} more characters)"
            with text:
                head, cut = _preview(shown) if fragment.status == "visible" else (shown, False)
                st.text(printable(head))
                if cut:
                    with st.expander("Full text"):
                        st.text(printable(shown))
            intent = _fragment_controls(fragment, f"{message.id}-{fragment.id}-{position}", first, second, act) or intent
        if len(pieces) > FRAGMENTS_SHOWN:
            st.caption(f"{len(pieces) - FRAGMENTS_SHOWN} more fragments not shown; search finds text in all of them.")
    return intent


def message_pages(messages: list[Message], size: int, rows: int) -> list[int]:
    """Where each page of the message list starts: at most `size` messages, and no more than
    `rows` fragment rows unless one message alone has more (a page holds at least one).

    The browser's cost of a click grows with the widgets on the page, not with the session:
    ten essays of twenty fragments each made 200 rows, about 10,000 DOM nodes, and a second of
    Chromium's time per Hide click (bench/ui.py, issue 11). Short messages still come ten a page."""
    starts, count, used = [0], 0, 0
    for index, message in enumerate(messages):
        shown = min(max(len(message.fragments), 1), FRAGMENTS_SHOWN)
        if count and (count == size or used + shown > rows):
            starts.append(index)
            count = used = 0
        count += 1
        used += shown
    return starts


def source_excerpt(state: ContextState, message_id: str | None, made: str = "made", chars: int = 400) -> str:
    """Where a task or a memory came from, as plain text: the message's id, role and the start of
    its text, or why there is none to show."""
    if message_id is None:
        return f"It was {made} before any message was in the context (or by an import that named none)."
    found = next((message for message in state.messages if message.id == message_id), None)
    if found is None:
        return f"Message {message_id} is not in this session's context at this step."
    text = one_line(found.text or found.calls_text or found.reasoning or "", chars)
    return f"{message_id} · {found.role}: {text or '(no text)'}"
