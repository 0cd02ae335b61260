"""The conversation as a chat: messages as bubbles, a model's tool calls folded under its turn."""

from __future__ import annotations

import json
import time
from typing import Any, Iterable

import streamlit as st

from components.app_state import edit_guard
from components.reasoning_timeline import render_brake_notices
from components.reasoning_view import render_reasoning
from engine.brakes.events import brake_log
from engine.settings import EMBEDDED_MODEL, KNOWN_MODELS, TOOL_CHOICES
from engine.state import ContextState
from engine.streaming import ReasoningDelta, TextDelta
from engine.text import one_line, printable
from engine.tokens import token_counter
from engine.tools import TOOL_PROFILES

AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:", "system": ":material/settings:",
           "tool": ":material/build:"}


def render_chat(state: ContextState, rendered: list[dict[str, Any]], reasoning_sent: bool = False, limit: int = 60) -> None:
    """The last `limit` messages as a chat: reasoning collapsed above each reply, each tool call
    with its result collapsed beneath it, a stopped reply marked as such."""
    counter = token_counter()
    brakes = brake_log(state)
    start = max(0, len(rendered) - limit)
    if start:
        st.caption(f"{start} earlier messages are on the Context page.")
    shown_calls = {call["id"] for m in rendered[start:] for call in (m.get("tool_calls") or [])}
    answers = {m["tool_call_id"]: m for m in rendered[start:] if m["role"] == "tool" and m.get("tool_call_id") in shown_calls}
    for message, shown in zip(state.messages[start:], rendered[start:]):
        if shown["role"] == "tool" and shown.get("tool_call_id") in answers:
            continue  # shown under the call it answers
        with st.chat_message(shown["role"], avatar=AVATARS.get(shown["role"])):
            render_reasoning(message, counter, reasoning_sent)
            content = shown.get("content")
            if isinstance(content, list):
                content = "\n".join(part.get("text", f"[{part.get('type')}]") for part in content)
            if content:
                st.text(printable(content if len(content) < 20_000 else content[:20_000] + "\n…"))
            if message.stopped:
                st.caption(":material/stop_circle: stopped: this is what the model had written when it was stopped"
                           if message.text or message.reasoning else
                           ":material/stop_circle: stopped before the model wrote anything (it was still reading the context)")
            render_brake_notices(brakes.for_message(message.id))
            for call in shown.get("tool_calls") or []:
                function = call["function"]
                answer = answers.get(call["id"])
                failed = answer is not None and '"error"' in (answer.get("content") or "")[:20]
                label = f"{'✗' if failed else '✓'} {function['name']}({one_line(function.get('arguments', ''), 80)})"
                with st.expander(printable(label), expanded=False):
                    st.code(printable(_pretty(answer.get("content") if answer else "(no result yet)")), language="json")


def render_live_turn(updates: Iterable[Any], context_tokens: int, started: float) -> None:
    """A turn as it happens: a clock, the reasoning (collapsed), finished tool calls, the reply.

    `updates` yields text and reasoning deltas, finished steps (objects with `.call`) and None
    as a heartbeat; each heartbeat redraws the clock, which is also where a Streamlit rerun
    (Stop, or leaving the page) interrupts this loop."""
    status = st.empty()
    thinking = st.empty()
    steps = st.container()
    reply = st.empty()
    texts: list[str] = []
    reasoning: list[str] = []
    heard = False
    for update in updates:
        elapsed = time.monotonic() - started
        if isinstance(update, TextDelta):
            texts.append(update.text)
            reply.text(printable("".join(texts)))
        elif isinstance(update, ReasoningDelta):
            reasoning.append(update.text)
            with thinking.expander(f"Thinking… ({len(''.join(reasoning)):,} characters)", icon=":material/psychology:"):
                st.text(printable("".join(reasoning)[-20_000:]))
        elif update is not None and hasattr(update, "call"):
            call = update.call
            outcome = "✗" if "error" in call["result"] else "✓"
            steps.caption(printable(f"{outcome} {call['name']}({call['arguments'][:80]})"))
            texts.clear()
            reply.empty()
        heard = heard or update is not None
        status.caption(f"Writing… {elapsed:.0f} s" if heard else
                       f"Reading {context_tokens:,} tokens of context… {elapsed:.0f} s "
                       "(a long context takes the embedded model a while)")
    status.empty()


def _pretty(text: str | None) -> str:
    try:
        return json.dumps(json.loads(text or ""), indent=2, ensure_ascii=False)[:20_000]
    except ValueError:
        return (text or "")[:20_000]


def render_backend_form(settings: dict[str, Any]) -> dict[str, Any] | None:
    """Backend, tool profile, tool choice and budget; returns the changes when applied."""
    backend = settings["backend"]
    with st.form("backend", border=False):
        models = KNOWN_MODELS if backend["model"] in KNOWN_MODELS else [backend["model"], *KNOWN_MODELS]
        columns = st.columns([3, 3, 2])
        model = columns[0].selectbox("Model", models, index=models.index(backend["model"]), key="chat_model",
                                     help="a litellm model string; keys come from the environment")
        typed = columns[1].text_input("…or any litellm model string", key="chat_model_typed",
                                      placeholder="e.g. ollama_chat/qwen3")
        api_base = columns[2].text_input("API base (OpenAI-compatible servers)", value=backend.get("api_base") or "",
                                         key="chat_api_base", placeholder="http://127.0.0.1:8080/v1")
        columns = st.columns(3)
        profiles = list(TOOL_PROFILES)
        tools = columns[0].selectbox("Tools offered", profiles, index=profiles.index(settings["tools"]), key="chat_tools")
        choices = list(TOOL_CHOICES) + [n for n in TOOL_PROFILES["all"] if n == settings["tool_choice"]]
        tool_choice = columns[1].selectbox("Tool choice", choices, index=choices.index(settings["tool_choice"]),
                                           key="chat_tool_choice", help="required forces a tool on the first step only")
        budget = columns[2].number_input("Tool calls per turn", 0, 200, settings["max_tool_calls"], key="chat_budget")
        policy = settings.get("policy") or {}
        st.caption("Context policy: when the window passes a threshold, fold old tool results (undoable), "
                   "then optionally summarize old turns. 0 turns it off.")
        columns = st.columns(3)
        threshold = columns[0].number_input("Threshold (tokens)", 0, 10_000_000, policy.get("threshold", 0), step=500,
                                            key="chat_policy_threshold")
        keep = columns[1].number_input("Keep newest tool results", 0, 100, policy.get("keep_tool_results", 2),
                                       key="chat_policy_keep")
        summarize = columns[2].checkbox("Then summarize old turns", policy.get("summarize_turns", False),
                                        key="chat_policy_summarize")
        reasoning_options = {None: "the backend's convention", True: "sent back", False: "not sent back"}
        send_reasoning = st.selectbox("Earlier reasoning", list(reasoning_options), format_func=reasoning_options.get,
                                      index=list(reasoning_options).index(settings.get("send_reasoning")),
                                      key="chat_send_reasoning", help="whether a model is sent its earlier reasoning")
        starts_inside = st.checkbox("Replies start inside their reasoning", bool(backend.get("starts_in_reasoning")),
                                    key="chat_starts_in_reasoning",
                                    help="the server's chat template opens <think> itself, so only </think> arrives "
                                         "(DeepSeek-R1 or QwQ served without a reasoning parser): read the reply as "
                                         "reasoning until then, so the brakes can watch it")
        if st.form_submit_button("Apply", key="chat_apply", **edit_guard()):
            chosen_policy = ({"threshold": int(threshold), "keep_tool_results": int(keep), "summarize_turns": summarize}
                             if threshold else None)
            return {"model": typed.strip() or model, "api_base": api_base.strip() or None, "tools": tools,
                    "tool_choice": tool_choice, "max_tool_calls": int(budget), "policy": chosen_policy,
                    "send_reasoning": send_reasoning, "starts_in_reasoning": starts_inside}
    if backend["model"] == EMBEDDED_MODEL:
        st.caption("The embedded SmolLM2-135M runs on this machine: tiny, fast, and often wrong; it calls tools "
                   "reliably only when a tool is forced (tool choice 'required' or a tool's name).")
    return None
