"""How many thinking tokens a brake saved, estimated from the trace so far.

A braked model never writes what it would have written, so the saving can only be estimated.
The estimate is the tokens thought up to the brake point times how much longer traces went on
after the same detector would have fired, measured on the 2,744 real traces in
`../shared/data/reasoning-traces/` (`./workbench bench-brakes`, the median continuation ratio
per detector on the report part), and never more than the model's remaining token budget.
In mode "observe" the model went on, so the saving is measured instead (`measured_saving`).
"""

from __future__ import annotations

# Median of (thinking tokens after the brake point) / (thinking tokens before it) on the report
# part of bench-brakes, per detector (bench/brakes_report.py `_continuation`): on well-posed
# traces, except missing premise, measured where it belongs, on all traces. Confidence has no
# trace data (no log-probabilities in them) and takes the settled rule's figure.
CONTINUATION = {
    "hard_budget": 0.60,
    "settled": 0.24,
    "answer_stability": 0.01,
    "overthink_score": 0.24,
    "confidence": 0.24,
    "missing_premise": 1.85,
    "repetition": 0.61,
}
DEFAULT_CONTINUATION = 0.24


def estimated_saving(detector: str, tokens_generated: int, tokens_left: int | None) -> int:
    """Thinking tokens the brake likely saved: `tokens_generated` x the detector's continuation
    ratio, capped at `tokens_left` (what the model's `max_tokens` still allowed; None: no cap)."""
    estimate = round(max(0, tokens_generated) * CONTINUATION.get(detector, DEFAULT_CONTINUATION))
    return max(0, min(estimate, tokens_left)) if tokens_left is not None else estimate


def measured_saving(total_thinking_tokens: int, tokens_at_brake_point: int) -> int:
    """In mode "observe": the thinking the model did after the point the brake would have cut."""
    return max(0, total_thinking_tokens - tokens_at_brake_point)
