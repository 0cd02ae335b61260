"""Context policies: reversible, automatic sculpting for long sessions.

In the spirit of Anthropic's context editing and OpenCode's pruning plugins, but undoable:
when the rendered context passes a threshold, fold the oldest tool results beyond the last
N, then (if asked) summarize the oldest turns. System messages are never touched, nor is the
newest user message. The plan is pure; the session carries it out through the tool registry
and records a `policy_applied` event with the reason for each action, so a person can see
why and restore any of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.render import fold_marker
from engine.state import ContextState
from engine.tokens import TokenCounter


@dataclass(frozen=True)
class ContextPolicy:
    threshold: int  # rendered tokens (with tool schemas) above which the policy acts
    keep_tool_results: int = 2  # the newest N tool results stay visible
    summarize_turns: bool = False  # after folding, summarize the oldest user/assistant text too
    focus: str = "key facts, names, numbers and decisions"

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> "ContextPolicy | None":
        return cls(**settings) if settings else None


def plan(state: ContextState, policy: ContextPolicy, counter: TokenCounter,
         used: int) -> list[tuple[str, dict[str, Any], str]]:
    """(tool, arguments, reason) for each action, oldest material first, until under the threshold.

    `used` is the window figure the policy is judged by: the rendered context plus the tool
    schemas sent with it (`engine.settings.window_stats`), counted once by the caller.
    """
    if used <= policy.threshold:
        return []
    actions = []
    tool_messages = [m for m in state.messages if m.role == "tool"]
    protected = {m.id for m in tool_messages[-policy.keep_tool_results:]} if policy.keep_tool_results else set()
    for message in tool_messages:
        if message.id in protected:
            continue
        for fragment in message.fragments:
            if fragment.status != "visible":
                continue
            tokens = counter.count(fragment.text)
            saved = tokens - counter.count(fold_marker(fragment.id, tokens))
            if saved <= 0:
                continue
            actions.append(("fold_fragment", {"fragment_id": fragment.id},
                            f"context at {used:,} tokens is over the policy threshold of {policy.threshold:,}: "
                            f"folding an old tool result ({message.id}, {tokens:,} tokens; the newest "
                            f"{policy.keep_tool_results} stay visible)"))
            used -= saved
            if used <= policy.threshold:
                return actions
    if not policy.summarize_turns:
        return actions
    users = [m for m in state.messages if m.role == "user"]
    newest_user = users[-1].id if users else None
    for message in state.messages:
        if message.role not in ("user", "assistant") or message.id == newest_user:
            continue
        for fragment in message.fragments:
            tokens = counter.count(fragment.text)
            if fragment.status != "visible" or tokens < 200:
                continue
            actions.append(("summarize_fragment", {"fragment_id": fragment.id, "focus": policy.focus},
                            f"context still at {used:,} tokens after folding tool results: summarizing an old "
                            f"turn ({message.id}, {tokens:,} tokens)"))
            used -= int(tokens * 0.8)  # an estimate: the summary replaces most of it
            if used <= policy.threshold:
                return actions
    return actions
