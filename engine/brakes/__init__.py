"""Overthinking and loop brakes: pure detectors over the stream so far (issue 9).

Each detector returns a `Verdict` (detector, score, fires, evidence); the loop decides whether
to record it (observe) or stop the stream (brake). Sources and thresholds: see each module.
"""

from engine.brakes.verdict import Evidence, Verdict
from engine.brakes.tool_loop import (
    PING_PONG_MIN_CALLS,
    TOOL_LOOP_REPEATS,
    canonical_call,
    detect_ping_pong,
    detect_repeated_calls,
    detect_tool_loop,
    tool_loop_message,
)
from engine.brakes.confidence import (
    DEER_THRESHOLD,
    deer_confidence,
)
from engine.brakes.steps import Answer, Reasoning, Step, extract_answers, final_answer, read_reasoning, split_steps
from engine.brakes.reasoning import (
    SBT_MARKERS,
    SBT_THRESHOLD,
    answer_stability,
    check_reasoning,
    hard_budget,
    missing_premise,
    overthink_score,
    repetition,
)

__all__ = [
    "SBT_MARKERS", "SBT_THRESHOLD", "Answer", "Reasoning", "Step", "answer_stability", "check_reasoning",
    "extract_answers", "final_answer", "hard_budget", "missing_premise", "overthink_score", "read_reasoning",
    "repetition", "split_steps",
    "DEER_THRESHOLD",
    "PING_PONG_MIN_CALLS",
    "TOOL_LOOP_REPEATS",
    "Evidence",
    "Verdict",
    "canonical_call",
    "deer_confidence",
    "detect_ping_pong",
    "detect_repeated_calls",
    "detect_tool_loop",
    "tool_loop_message",
]
