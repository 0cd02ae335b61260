"""What every brake detector returns: a `Verdict`, with the `Evidence` a person can check.

Detectors are pure functions over the stream so far (reasoning steps, tool calls, trial-answer
log-probabilities); each returns one `Verdict`. The brake decides what to do with a verdict
that fires; the UI and the `brake_applied` event show its evidence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Evidence:
    """One thing a detector saw.

    Attributes:
        note: A sentence a person can read ("read_file called 3 times with the same arguments").
        positions: Where it was: step indices for reasoning detectors, 0-based call positions
            in the turn for the tool-loop detector, token indices for confidence.
        text: The span itself: the step text, the repeated call, the trial answer.
        spans: `(start, end)` character offsets of `text` in the reasoning text the
            reasoning detectors read (`engine.brakes.steps.read_reasoning`); empty elsewhere.
    """

    note: str
    positions: tuple[int, ...] = ()
    text: str = ""
    spans: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Verdict:
    """A detector's finding: its name, a score, whether it fires, and why.

    Attributes:
        detector: The detector's name, as brake settings select it ("tool_loop", "confidence").
        score: The detector's measure; each detector's docstring says its scale and threshold.
        fires: Whether the score reached the detector's threshold.
        evidence: What it saw, for the event log and the reasoning timeline.
    """

    detector: str
    score: float
    fires: bool
    evidence: tuple[Evidence, ...] = ()

    @classmethod
    def quiet(cls, detector: str, note: str, score: float = 0.0) -> "Verdict":
        """A verdict that does not fire, with one note saying why (e.g. "no log-probabilities")."""
        return cls(detector=detector, score=score, fires=False, evidence=(Evidence(note=note),))
