"""A session's brake settings: which detectors run, their thresholds, and what a firing does.

The settings live under `"brakes"` in the session's settings (`engine.settings`), recorded by
`session_configured` like every other chat setting, so a fork or a replay brakes exactly as the
original did. Only what a person or a model changed is stored; `brake_settings` lays it over
`DEFAULT_BRAKES`.

Mode `"brake"` (the default for a new session) stops the stream when a detector fires;
`"observe"` records the same `brake_applied` event and lets the model go on, so a person can see
what the brakes would have done (and how many tokens that would have saved, measured) before
trusting them. An empty `detectors` list turns the brakes off.
"""

from __future__ import annotations

from typing import Any

from engine.brakes.confidence import DEER_THRESHOLD
from engine.brakes.reasoning import DEER_REPEAT_LIMIT, MIP_MIN_STEPS, SBT_THRESHOLD
from engine.brakes.tool_loop import TOOL_LOOP_REPEATS
from engine.errors import WorkbenchError

# The detectors, in the order §1.8 of algorithms.md checks them (the first that fires brakes);
# repetition guards against a looping model, tool_loop watches the turn's tool calls.
# "settled" is §1.1's combined rule (SBT score and answer stability together: engine.brakes.combined).
REASONING_DETECTORS = ("hard_budget", "settled", "answer_stability", "overthink_score", "confidence",
                       "missing_premise", "repetition")
DETECTORS = (*REASONING_DETECTORS, "tool_loop")
# What a new session brakes on: the combination bench-brakes measures as "default". Left to opt
# into: answer stability or the SBT score alone (they cut answers the model later revises),
# DEER's confidence (a trial call with log-probabilities at each "Wait", which not every backend
# answers) and missing premise (it also fires on 10-16% of well-posed GSM8K traces: a person
# who wants it to ask rather than guess turns it on, or watches it in observe mode).
DEFAULT_DETECTORS = ("hard_budget", "settled", "repetition", "tool_loop")
MODES = ("brake", "observe")
TUNED_THINKING_BUDGET = 16_000

# The text put at the end of the cut reasoning before the model writes its answer.
BRAKE_TEXTS = {
    # SBT-E's braking prompt (arXiv 2505.14604, build_sbt-e.py; algorithms.md §1.1).
    "sbt-e": "Wait, I've gotten the same answer multiple times, time to end the thinking.",
    # SBT-D's (build_sbt-d.py): for a model that is verbose rather than settled.
    "sbt-d": "Wait, my answer is too verbose, let me answer it more concisely.",
    # Qwen's hand-over sentence after a cut (field-notes.md "Online reasoning budgets"): without
    # it Qwen's answers can come out empty.
    "qwen": "Considering the limited time by the user, I have to give the solution based on the thinking directly now.",
}
# MiP (algorithms.md §1.2 mitigation): brake with an abstain/clarify message, not "same answer".
MISSING_PREMISE_TEXT = ("Wait, the question does not give everything the answer depends on. Instead of guessing, "
                        "I should say exactly what is missing and ask for it.")

DEFAULT_BRAKES: dict[str, Any] = {
    "mode": "brake",
    "detectors": list(DEFAULT_DETECTORS),
    # The three below were tuned by bench-brakes on the well-posed tune part (30% of questions)
    # from the sources' values: DEER's 9,600-token budget, SBT-E's two answers, Dynasor's
    # certainty; on the report part they keep 98.4% of answers (README, "Brakes").
    "thinking_budget": TUNED_THINKING_BUDGET,  # hard_budget: DEER's max_generated_tokens, in thinking tokens
    "answer_repeats": 1,  # answer_stability and settled: answer-stating steps that must agree
    "answer_certain": False,  # ... and whether the latest must be said without hesitation (Dynasor)
    "overthink_threshold": SBT_THRESHOLD,  # overthink_score and settled: SBT's tau
    "confidence_threshold": DEER_THRESHOLD,  # confidence: DEER's
    "premise_steps": MIP_MIN_STEPS,  # missing_premise: steps with a cue
    "repeat_limit": DEER_REPEAT_LIMIT,  # repetition: DEER's rep
    "tool_loop_repeats": TOOL_LOOP_REPEATS,  # tool_loop: OpenCode's and Roo Code's 3
    "exempt_tools": [],  # tools that may repeat (polling), field-notes.md "Doom loops"
    "brake_text": "sbt-e",
    "finish_tokens": 512,  # the most the model may write after a brake: "finish briefly"
}

_LIMITS: dict[str, tuple[type, float, float, str]] = {
    "thinking_budget": (int, 16, 10_000_000, "thinking tokens"),
    "answer_repeats": (int, 1, 20, "answer-stating steps that agree"),
    "overthink_threshold": (float, 0.01, 1.0, "an SBT score"),
    "confidence_threshold": (float, 0.0, 1.0, "a probability"),
    "premise_steps": (int, 1, 50, "steps with a missing-premise cue"),
    "repeat_limit": (int, 2, 100, "times a sentence is said back to back"),
    "tool_loop_repeats": (int, 2, 50, "identical calls in a turn"),
    "finish_tokens": (int, 16, 100_000, "tokens"),
}


def brake_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The brake settings in force: the defaults with the session's own laid over them."""
    return {**DEFAULT_BRAKES, **(settings.get("brakes") or {})}


def brake_text(brakes: dict[str, Any], detector: str) -> str:
    """What the brake says at the end of the cut reasoning for a verdict of `detector`."""
    if detector == "missing_premise":
        return MISSING_PREMISE_TEXT
    return BRAKE_TEXTS[brakes["brake_text"]]


def threshold_of(brakes: dict[str, Any], detector: str) -> float | None:
    """The setting a detector fires at, for the event log (None for the tool loop's pattern)."""
    key = {"hard_budget": "thinking_budget", "answer_stability": "answer_repeats", "settled": "overthink_threshold",
           "overthink_score": "overthink_threshold", "confidence": "confidence_threshold",
           "missing_premise": "premise_steps", "repetition": "repeat_limit",
           "tool_loop": "tool_loop_repeats"}[detector]
    return float(brakes[key])


def validate_brakes(value: Any) -> None:
    """Refuse brake settings the loop could not use, saying which and what would do."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise WorkbenchError('brakes are an object such as {"mode": "observe", "thinking_budget": 8000}')
    unknown = set(value) - set(DEFAULT_BRAKES)
    if unknown:
        raise WorkbenchError(f"unknown brake settings {sorted(map(str, unknown))}; brakes take {', '.join(DEFAULT_BRAKES)}")
    brakes = {**DEFAULT_BRAKES, **value}
    if brakes["mode"] not in MODES:
        raise WorkbenchError(f"brake mode must be 'brake' (stop the stream) or 'observe' (record only), not {brakes['mode']!r}")
    detectors = brakes["detectors"]
    if not isinstance(detectors, list):
        raise WorkbenchError(f"brakes.detectors is a list of names such as [\"settled\", \"tool_loop\"], not {detectors!r}")
    bad = [name for name in detectors if name not in DETECTORS]
    if bad:
        raise WorkbenchError(f"unknown brake detectors {bad!r}; choose from {', '.join(DETECTORS)} (an empty list turns the brakes off)")
    for key, (kind, low, high, what) in _LIMITS.items():
        number = brakes[key]
        whole = isinstance(number, int) and not isinstance(number, bool)
        ok = whole if kind is int else (whole or isinstance(number, float))
        if not ok or not low <= number <= high:
            shown = f"{low:,}" if kind is int else f"{low}"
            raise WorkbenchError(f"brakes.{key} must be {'a whole number' if kind is int else 'a number'} of {what} "
                                 f"from {shown} to {high:,}, not {number!r}")
    if not isinstance(brakes["answer_certain"], bool):
        raise WorkbenchError(f"brakes.answer_certain must be true or false, not {brakes['answer_certain']!r}")
    if brakes["brake_text"] not in BRAKE_TEXTS:
        raise WorkbenchError(f"brake_text must be one of {', '.join(BRAKE_TEXTS)}, not {brakes['brake_text']!r}")
    exempt = brakes["exempt_tools"]
    if not isinstance(exempt, list) or not all(isinstance(name, str) and name for name in exempt):
        raise WorkbenchError("brakes.exempt_tools is a list of tool names that may repeat, such as [\"check_status\"]")
