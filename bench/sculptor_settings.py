"""Sculptor's three settings for a benchmark case, shared by bench/pi_llm.py and bench/needlebench.py.

- `baseline`: the prompt alone, no tools;
- `unified`: Sculptor's six tools and its unified system prompt (paper v2, App. C);
- `task`: the tools and the benchmark's task-specific prompt; only its key part is published, and
  it is used as published.
With tools the first step has `tool_choice="required"`, as in Sculptor's zero-shot runs (§3.1),
and the agent loop stops at the session's tool budget, Sculptor's 20 calls per turn.
"""

from __future__ import annotations

import time
from typing import Any

TOOL_BUDGET = 20  # Sculptor's tool calls per turn (§3.1 of the paper)
UNIFIED_PROMPT = ("You are a helpful assistant. You can autonomously manage your own context: fold irrelevant "
                  "information, focus on useful details, summarize long texts to keep your context concise, and use "
                  "search tools to find key information in large documents.")
SETTINGS = ("baseline", "unified", "task")


def new_session(title: str, prompt: str, system: str | None = None):
    """An in-memory session holding the case's prompt as its one user message."""
    from sessions import SessionStore

    session = SessionStore(":memory:").create_session(title)
    if system:
        session.add_message("system", system)
    session.add_message("user", prompt)
    return session


def run_setting(title: str, prompt: str, task_prompt: str, model: str, setting: str,
                api_base: str | None) -> dict[str, Any]:
    """One turn of `model` on the case in `setting`: the reply, the tool calls, tokens and seconds."""
    from sessions.agent import run_turn

    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; use {', '.join(SETTINGS)}")
    system = {"baseline": None, "unified": UNIFIED_PROMPT, "task": task_prompt}[setting]
    session = new_session(title, prompt, system)
    changes: dict[str, Any] = {"model": model, "tools": "none" if setting == "baseline" else "sculptor",
                               **({"api_base": api_base} if api_base else {})}
    if setting != "baseline":
        changes["tool_choice"] = "required"
        changes["max_tool_calls"] = TOOL_BUDGET
    session.configure(**changes)
    started = time.perf_counter()
    result = run_turn(session, None)
    return {"reply": result.get("reply"), "calls": len(result.get("tool_calls") or []),
            "tokens_after": session.stats()["rendered_tokens"], "seconds": round(time.perf_counter() - started, 1)}


def model_calls(session, calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Run tool calls as one assistant message of a model would: through the registry, each result
    a tool message at the end of the context (so its tokens count), in one transaction."""
    import json

    made = [{"id": f"call_{session.last_seq}_{n}", "type": "function",
             "function": {"name": name, "arguments": json.dumps(arguments)}} for n, (name, arguments) in enumerate(calls)]
    return session.run_model_tool_calls(made)
