"""The reasoning detectors at a session's own thresholds, and §1.8's combined rule, `settled`.

`settled` is the rule algorithms.md §1.1 gives for braking with SBT at inference ("brake when
score >= 0.2 and the same answer has appeared"), which §1.8 ranks after the hard budget: the
SBT overthink score has reached its threshold and answer stability holds. Either signal alone
brakes too early on the real traces (bench-brakes: the SBT score alone, or a first answer the
model later revises); together they keep at least 98% of answers. It is the default brake.

`verdict_of` is the one place that maps a detector's name and the brake settings to a call, so
the live watch, the reasoning timeline and `check_reasoning` judge the same way.
"""

from __future__ import annotations

from typing import Any

from engine.brakes.reasoning import Counter, answer_stability, hard_budget, missing_premise, overthink_score, repetition
from engine.brakes.verdict import Verdict

SETTLED = "settled"


def settled(reasoning: str, threshold: float, repeats: int, certain: bool, counter: Counter | None = None) -> Verdict:
    """SBT score >= `threshold` and the latest answer stable over `repeats` answer-stating steps
    (said without hesitation when `certain`). Score = the SBT score; the evidence is both
    detectors' (the answers, then where the answer was first reached)."""
    stability = answer_stability(reasoning, repeats, certain=certain)
    sbt = overthink_score(reasoning, threshold, counter)
    first_reached = tuple(piece for piece in sbt.evidence if piece.note.endswith("first reached"))
    return Verdict(SETTLED, sbt.score, stability.fires and sbt.fires, stability.evidence + first_reached)


def verdict_of(name: str, reasoning: str, brakes: dict[str, Any], counter: Counter | None = None) -> Verdict | None:
    """Detector `name` on `reasoning` at the thresholds in `brakes`; None for the detectors that
    need more than the text (DEER confidence: a trial answer; tool_loop: the turn's calls)."""
    if name == "hard_budget":
        return hard_budget(reasoning, brakes["thinking_budget"], counter)
    if name == SETTLED:
        return settled(reasoning, brakes["overthink_threshold"], brakes["answer_repeats"], brakes["answer_certain"], counter)
    if name == "answer_stability":
        return answer_stability(reasoning, brakes["answer_repeats"], certain=brakes["answer_certain"])
    if name == "overthink_score":
        return overthink_score(reasoning, brakes["overthink_threshold"], counter)
    if name == "missing_premise":
        return missing_premise(reasoning, brakes["premise_steps"])
    if name == "repetition":
        return repetition(reasoning, brakes["repeat_limit"])
    return None


def session_verdicts(reasoning: str, brakes: dict[str, Any], names: tuple[str, ...], counter: Counter | None = None) -> tuple[Verdict, ...]:
    """Each of `names` that reads only the text, in the given order, at the session's thresholds."""
    verdicts = (verdict_of(name, reasoning, brakes, counter) for name in names)
    return tuple(verdict for verdict in verdicts if verdict is not None)
