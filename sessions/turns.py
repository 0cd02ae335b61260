"""The agent loop: a model reads the rendered context, calls tools, and answers.

For one user message: render the context, call the model with the registry's tool schemas
(the session's tool profile), run each tool call through the registry, append the call and
result messages, and repeat until the model answers without a tool call or the per-turn
tool budget runs out (then it is asked once more, with no tools, for its answer). Each step
is one transaction: the `llm_called` event, the model's message and, for tool calls, the
tool events and result messages land together. A failed call records `llm_failed`; the
person's message is kept, and `retry_turn` asks again.

Replay never calls a model: everything a model said is in the log.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from engine.events import LLMCalled, LLMFailed
from engine.llm import EMBEDDED_MODEL, TOOL_CHOICES, Backend, Completion, LLMError, complete
from engine.tools import TOOL_PROFILES, tool_schemas

if TYPE_CHECKING:
    from sessions.session import Session

DEFAULT_SETTINGS: dict[str, Any] = {
    "backend": Backend().as_config(),
    "tools": "sculptor",
    "tool_choice": "auto",
    "max_tool_calls": 20,
    "policy": None,
}


@dataclass
class TurnHooks:
    """What the UI wants to hear while a turn runs, and a way to stop it."""

    on_token: Callable[[str], None] | None = None
    on_step: Callable[[dict[str, Any]], None] | None = None
    stop: threading.Event | None = None


def settings_of(session: "Session") -> dict[str, Any]:
    return {**DEFAULT_SETTINGS, **session.state().settings}


def validate_settings(settings: dict[str, Any]) -> dict[str, Any]:
    from engine import WorkbenchError

    if settings["tools"] not in TOOL_PROFILES:
        raise WorkbenchError(f"unknown tool profile {settings['tools']!r}; use one of {', '.join(TOOL_PROFILES)}")
    choice = settings["tool_choice"]
    if choice not in TOOL_CHOICES and choice not in TOOL_PROFILES[settings["tools"]]:
        raise WorkbenchError(
            f"tool_choice must be one of {', '.join(TOOL_CHOICES)} or the name of a tool in the "
            f"{settings['tools']!r} profile, not {choice!r}"
        )
    budget = settings["max_tool_calls"]
    if isinstance(budget, bool) or not isinstance(budget, int) or not 0 <= budget <= 200:
        raise WorkbenchError(f"max_tool_calls must be a whole number from 0 to 200, not {budget!r}")
    Backend(**settings["backend"])  # unknown fields raise here
    if settings.get("policy") is not None:
        from engine.policy import ContextPolicy

        try:
            policy = ContextPolicy.from_settings(settings["policy"])
        except TypeError as exc:
            raise WorkbenchError(f"a policy takes threshold, keep_tool_results, summarize_turns and focus ({exc})") from None
        whole = lambda value: isinstance(value, int) and not isinstance(value, bool)  # noqa: E731
        if not whole(policy.threshold) or policy.threshold < 100:
            raise WorkbenchError("a policy's threshold must be a whole number of tokens, at least 100")
        if not whole(policy.keep_tool_results) or policy.keep_tool_results < 1:
            raise WorkbenchError("a policy must keep at least the newest tool result (keep_tool_results >= 1), "
                                 "or the model could not read what it just asked for")
        if not isinstance(policy.summarize_turns, bool) or not isinstance(policy.focus, str) or not policy.focus.strip():
            raise WorkbenchError("a policy's summarize_turns must be true or false, and its focus some words")
    return settings


def _backend(settings: dict[str, Any], model: str | None, api_base: str | None) -> Backend:
    backend = Backend(**settings["backend"])
    if model is not None and model != backend.model:
        backend = Backend(model=model, api_base=api_base, temperature=backend.temperature, max_tokens=backend.max_tokens)
    elif api_base is not None:
        backend = Backend(**{**backend.as_config(), "api_base": api_base})
    return backend


def _llm_called(completion: Completion, step: int) -> LLMCalled:
    return LLMCalled(model=completion.model, usage=completion.usage, latency_ms=round(completion.latency_ms, 1),
                     finish_reason=completion.finish_reason, tool_calls=len(completion.tool_calls), step=step)


def run_turn(
    session: "Session",
    text: str | None,
    *,
    model: str | None = None,
    api_base: str | None = None,
    tools: str | None = None,
    tool_choice: str | None = None,
    max_tool_calls: int | None = None,
    hooks: TurnHooks | None = None,
) -> dict[str, Any]:
    """Run one turn (`text=None` retries after the last user message); see the module doc."""
    hooks = hooks or TurnHooks()
    settings = validate_settings({
        **settings_of(session),
        **{k: v for k, v in {"tools": tools, "tool_choice": tool_choice, "max_tool_calls": max_tool_calls}.items() if v is not None},
    })
    backend = _backend(settings, model, api_base)
    if text is not None:
        session.add_message("user", text)
    calls_made: list[dict[str, Any]] = []
    totals = {"prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0}
    step = 0
    while True:
        step += 1
        budget_left = settings["max_tool_calls"] - len(calls_made)
        if settings.get("policy"):
            session.apply_policy(tools=settings["tools"])  # before every model call: tool results grow within a turn
        if hooks.stop is not None and hooks.stop.is_set():
            return {"reply": None, "stopped": True, "tool_calls": calls_made, "usage": totals, "steps": step - 1}
        choice = settings["tool_choice"]
        schemas = tool_schemas(settings["tools"])
        can_call = bool(schemas) and budget_left > 0 and choice != "none"
        if choice not in TOOL_CHOICES:  # a tool's name: force that tool
            choice = {"type": "function", "function": {"name": choice}}
        if choice != "auto" and step > 1:
            choice = "auto"  # Sculptor's zero-shot runs forced a tool on the first step only
        messages = session.render()
        # Once tools were used, some APIs want the schemas sent on every call: send them with "none".
        used_tools = any(m.get("tool_calls") for m in messages)
        offered = schemas if can_call or used_tools else []
        try:
            completion = complete(backend, messages, tools=offered or None,
                                  tool_choice=(choice if can_call else "none") if offered else None,
                                  on_token=hooks.on_token, stop=hooks.stop)
        except LLMError as exc:
            session.record([LLMFailed(model=backend.model, error_kind=exc.kind, error=exc.message, retryable=exc.retryable)])
            return {"reply": None, "error": exc.message, "error_kind": exc.kind, "tool_calls": calls_made,
                    "usage": totals, "steps": step}
        for key in totals:
            totals[key] += completion.usage.get(key, 0)
        if completion.tool_calls and can_call and not completion.stopped:
            calls = completion.tool_calls[:budget_left]
            results = session.run_model_tool_calls(calls, content=completion.content,
                                                   before=[_llm_called(completion, step)])
            for call, result in zip(calls, results):
                record = {"name": call["function"]["name"], "arguments": call["function"]["arguments"], "result": result}
                calls_made.append(record)
                if hooks.on_step:
                    hooks.on_step(record)
            continue
        reply = completion.content or ""
        session.add_message("assistant", reply, before=[_llm_called(completion, step)])
        return {"reply": reply, "tool_calls": calls_made, "usage": totals, "steps": step,
                "stopped": completion.stopped, "model": backend.model}


__all__ = ["DEFAULT_SETTINGS", "EMBEDDED_MODEL", "TurnHooks", "run_turn", "settings_of"]
