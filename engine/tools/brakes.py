"""The brakes' tools for a model: read the detectors' report on its reasoning, set its thinking budget.

`check_reasoning` is the detectors' view of the latest assistant reasoning (or a named
message's): its steps, the SBT marker ratio, every answer stated and where, the step where the
answer settled, and each detector's score against its threshold, so a model can see for itself
that it is going round in circles. `set_reasoning_budget` moves the hard budget (s1's cap) for
the rest of the session; it is a `session_configured` change like any a person makes.
"""

from __future__ import annotations

from typing import Any

from engine.brakes.settings import brake_settings
from engine.brakes.timeline import reasoning_timeline
from engine.errors import ToolInputError
from engine.events import SessionConfigured
from engine.tools.registry import ToolContext, ToolResult
from engine.tools.types import ThinkingTokens

_STEP_PREVIEW = 120  # characters of each step shown (ours: enough to recognise it)


def check_reasoning(ctx: ToolContext, message_id: str | None = None) -> ToolResult:
    """Report whether your latest reasoning is going in circles, as the overthinking brakes see it.

    Reads the reasoning of the latest assistant message that has any (or of message_id), cut
    into steps at blank lines. Returns the number of steps and thinking tokens, the share of
    hesitation markers ("Wait", "Hmm", "Let me check", ...), every answer you stated and the
    step it is in, the step where your latest answer was first reached, and each detector's
    score and whether it fires (answer stability, overthink score, hard budget, repetition,
    missing premise). If answer stability or the overthink score fires, you have your answer:
    stop re-checking and give it. If missing premise fires, the question lacks something:
    say what, and ask.

    Args:
        message_id: Optional: the assistant message to check, such as "m4"; by default the latest one with reasoning.
    """
    timeline = reasoning_timeline(ctx.state, message_id, ctx.counter)
    if timeline is None:
        if message_id is not None:
            raise ToolInputError(f"message {message_id!r} is not an assistant message with reasoning; "
                                 "leave message_id out to check the latest reasoning")
        raise ToolInputError("no assistant message has reasoning yet: there is nothing to check")
    steps = [{"step": step.index, "tokens": step.tokens, "markers": [marker for marker, _, _ in step.markers],
              "answers": list(step.answers), "text": timeline.text[step.start:step.end][:_STEP_PREVIEW]}
             for step in timeline.steps]
    verdicts: list[dict[str, Any]] = [{"detector": verdict.detector, "score": round(verdict.score, 3),
                                       "fires": verdict.fires, "evidence": [piece.note for piece in verdict.evidence][:5]}
                                      for verdict in timeline.verdicts]
    result: dict[str, Any] = {
        "message_id": timeline.message_id,
        "steps": len(timeline.steps),
        "thinking_tokens": timeline.tokens,
        "marker_ratio": round(timeline.marker_ratio, 4),
        "answers": [{"answer": value, "step": step} for value, step in timeline.answer_steps],
        "latest_answer": timeline.latest_answer,
        "first_reached_at_step": timeline.settled_step,
        "detectors": verdicts,
        "step_details": steps[-20:],  # the latest steps: what a model can act on
    }
    if len(steps) > 20:
        result["note"] = f"step_details shows the last 20 of {len(steps)} steps"
    return ToolResult.ok(result)


def set_reasoning_budget(ctx: ToolContext, tokens: ThinkingTokens) -> ToolResult:
    """Set how many tokens you may spend thinking before your reasoning is cut and you must answer.

    The hard budget (s1's cap) applies to every later reply in this session. When your
    thinking reaches it, the stream is stopped, your reasoning is closed, and you write your
    answer from what you have. Use a small budget (such as 2000) for easy questions and a
    larger one (such as 16000) for hard ones.

    Args:
        tokens: The thinking budget in tokens, from 16 to 10,000,000.
    """
    explicit = dict(ctx.state.settings)
    brakes = dict(explicit.get("brakes") or {})
    previous = brake_settings(explicit)["thinking_budget"]
    brakes["thinking_budget"] = tokens
    detectors = brake_settings({"brakes": brakes})["detectors"]
    notes = []
    if not detectors:  # the person turned the brakes off: a model does not turn them back on
        notes.append("the brakes are off in this session: the budget is kept but nothing enforces it")
    elif "hard_budget" not in detectors:
        brakes["detectors"] = [*detectors, "hard_budget"]  # a budget that nothing enforces would be a lie
    explicit["brakes"] = brakes
    result: dict[str, Any] = {"thinking_budget": tokens, "previous": previous, "mode": brake_settings(explicit)["mode"]}
    if result["mode"] == "observe" and detectors:
        notes.append("the brakes are in observe mode: reaching the budget is recorded, not enforced")
    if notes:
        result["note"] = "; ".join(notes)
    return ToolResult.ok(result, [SessionConfigured(settings=explicit)])
