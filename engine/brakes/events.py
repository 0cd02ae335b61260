"""The brakes' one event, `brake_applied`, and their slice of the state.

Every time a detector fires in a turn, the loop records `brake_applied`: which detector, its
score and the threshold it crossed, the evidence (step indices, text spans), what the brake did
and what it cost or saved. In mode "brake" a reasoning brake stopped the stream (`action`
"stopped_reasoning"); a tool loop was answered with a message naming the repeated call
("warned") and, when it went on, the turn's tools were withdrawn ("tools_withdrawn"). In mode
"observe" the action is "observed": nothing was stopped, and `tokens_saved` is measured (the
thinking the model did after the point the brake would have cut), not estimated.

The event changes nothing the model sees by itself (the cut reply and the brake text are the
message it belongs to); the slice keeps each message's brakes so Replay and the reasoning
timeline can show them where they happened, and a fork from before one replays without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.events import Event
from engine.state import ContextState
from engine.subsystem import Subsystem

EVIDENCE_TEXT_LIMIT = 400  # characters of one piece of evidence kept in the log (ours)
EVIDENCE_PIECES = 40  # pieces of evidence kept per brake (ours: the answers first, then markers)


class BrakeEvidence(BaseModel):
    """One `engine.brakes.Evidence`, as the log keeps it."""

    note: str
    positions: list[int] = Field(default_factory=list)
    text: str = ""
    spans: list[tuple[int, int]] = Field(default_factory=list)


class BrakeApplied(Event):
    kind: Literal["brake_applied"] = "brake_applied"
    detector: str  # hard_budget, answer_stability, overthink_score, confidence, missing_premise, repetition, tool_loop
    mode: Literal["brake", "observe"] = "brake"
    action: Literal["stopped_reasoning", "warned", "tools_withdrawn", "observed"]
    score: float
    threshold: float | None = None
    evidence: list[BrakeEvidence] = Field(default_factory=list)
    message_id: str | None = None  # the assistant message whose reasoning or tool call it concerns
    step: int | None = None  # the reasoning step the brake point falls in
    reasoning_chars: int | None = None  # where in that message's reasoning the brake point is
    tokens_generated: int = 0  # thinking tokens up to the brake point
    tokens_saved: int = 0  # thinking tokens not generated (estimated), or generated after it (observed)
    saved_basis: Literal["estimate", "measured", "none"] = "none"
    brake_text: str | None = None  # what was put at the end of the cut reasoning
    tool_calls: list[str] = Field(default_factory=list)  # the repeated calls' ids (tool loop)


@dataclass(frozen=True, slots=True)
class BrakeRecord:
    """What the slice keeps of one `brake_applied`: enough for the timeline and Replay."""

    seq: int  # the event's position in the log (1-based), so Replay can jump to it
    detector: str
    mode: str
    action: str
    score: float
    threshold: float | None
    step: int | None
    reasoning_chars: int | None
    tokens_generated: int
    tokens_saved: int
    saved_basis: str
    brake_text: str | None
    notes: tuple[str, ...]
    tool_calls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BrakeLog:
    """The slice: every brake so far, in order, and by message."""

    records: tuple[BrakeRecord, ...] = ()
    by_message: tuple[tuple[str, tuple[BrakeRecord, ...]], ...] = ()

    def for_message(self, message_id: str) -> tuple[BrakeRecord, ...]:
        return next((records for known, records in self.by_message if known == message_id), ())

    @property
    def tokens_saved(self) -> int:
        """Thinking tokens the brakes saved in this session (braked, not observed)."""
        return sum(record.tokens_saved for record in self.records if record.mode == "brake")


def _brake_applied(state: ContextState, event: BrakeApplied) -> None:
    log: BrakeLog = BRAKES.slice_of(state)
    record = BrakeRecord(
        state.event_count + 1, event.detector, event.mode, event.action, event.score, event.threshold, event.step,
        event.reasoning_chars, event.tokens_generated, event.tokens_saved, event.saved_basis, event.brake_text,
        tuple(piece.note for piece in event.evidence), tuple(event.tool_calls),
    )
    by_message = dict(log.by_message)
    if event.message_id is not None:
        by_message[event.message_id] = (*by_message.get(event.message_id, ()), record)
    state.slices[BRAKES.name] = BrakeLog((*log.records, record), tuple(by_message.items()))


BRAKES = Subsystem(
    "brakes",
    {BrakeApplied: _brake_applied},
    empty_slice=BrakeLog(),
    description="overthinking and tool-loop brakes: where each fired, why, and what it saved",
)


def brake_log(state: ContextState) -> BrakeLog:
    """The brakes applied so far in `state`."""
    return BRAKES.slice_of(state)


def evidence_for_log(evidence: Any) -> list[BrakeEvidence]:
    """A verdict's evidence as the event keeps it: each text cut to a readable length, and at
    most `EVIDENCE_PIECES` pieces (a long trace has thousands of markers), the rest counted."""
    pieces = list(evidence)
    kept = [BrakeEvidence(note=piece.note[:EVIDENCE_TEXT_LIMIT], positions=list(piece.positions),
                          text=piece.text[:EVIDENCE_TEXT_LIMIT], spans=[tuple(span) for span in piece.spans])
            for piece in pieces[:EVIDENCE_PIECES]]
    if len(pieces) > EVIDENCE_PIECES:
        kept.append(BrakeEvidence(note=f"and {len(pieces) - EVIDENCE_PIECES:,} more pieces of evidence not kept"))
    return kept
