"""The conversation as a chat: messages as bubbles, a model's tool calls folded under its turn."""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from engine.llm import EMBEDDED_MODEL, KNOWN_MODELS, TOOL_CHOICES
from engine.state import ContextState
from engine.text import one_line, printable
from engine.tools import TOOL_PROFILES

AVATARS = {"user": ":material/person:", "assistant": ":material/smart_toy:", "system": ":material/settings:",
           "tool": ":material/build:"}


def render_chat(state: ContextState, rendered: list[dict[str, Any]], limit: int = 60) -> None:
    """The last `limit` messages as a chat, each tool call with its result collapsed beneath it."""
    start = max(0, len(rendered) - limit)
    if start:
        st.caption(f"{start} earlier messages are on the Context page.")
    shown_calls = {call["id"] for m in rendered[start:] for call in (m.get("tool_calls") or [])}
    answers = {m["tool_call_id"]: m for m in rendered[start:] if m["role"] == "tool" and m.get("tool_call_id") in shown_calls}
    for message, shown in zip(state.messages[start:], rendered[start:]):
        if shown["role"] == "tool" and shown.get("tool_call_id") in answers:
            continue  # shown under the call it answers
        with st.chat_message(shown["role"], avatar=AVATARS.get(shown["role"])):
            content = shown.get("content")
            if isinstance(content, list):
                content = "\n".join(part.get("text", f"[{part.get('type')}]") for part in content)
            if content:
                st.text(printable(content if len(content) < 20_000 else content[:20_000] + "\n…"))
            for call in shown.get("tool_calls") or []:
                function = call["function"]
                answer = answers.get(call["id"])
                failed = answer is not None and '"error"' in (answer.get("content") or "")[:20]
                label = f"{'✗' if failed else '✓'} {function['name']}({one_line(function.get('arguments', ''), 80)})"
                with st.expander(printable(label), expanded=False):
                    st.code(printable(_pretty(answer.get("content") if answer else "(no result yet)")), language="json")


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
        if st.form_submit_button("Apply", key="chat_apply"):
            chosen_policy = ({"threshold": int(threshold), "keep_tool_results": int(keep), "summarize_turns": summarize}
                             if threshold else None)
            return {"model": typed.strip() or model, "api_base": api_base.strip() or None, "tools": tools,
                    "tool_choice": tool_choice, "max_tool_calls": int(budget), "policy": chosen_policy}
    if backend["model"] == EMBEDDED_MODEL:
        st.caption("The embedded SmolLM2-135M runs on this machine: tiny, fast, and often wrong; it calls tools "
                   "reliably only when a tool is forced (tool choice 'required' or a tool's name).")
    return None
