"""One assistant message's reasoning as a timeline: its steps, markers, answers and brakes.

What the reasoning timeline in Chat and Replay draws, and what `check_reasoning` tells a model:
the steps (split at blank lines, as the detectors split them), each with its tokens, the SBT
markers and the answers in it; the step where the answer first settled (the first step that
reached the latest answer, SBT's FS); where a brake cut the reasoning (or would have, in mode
"observe") and the tokens that saved; and every detector's verdict on the reasoning as it
stands. Pure: it reads a `ContextState`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.brakes.events import BrakeRecord, brake_log
from engine.brakes.combined import session_verdicts
from engine.brakes.reasoning import Counter, marker_ratio, marker_spans
from engine.brakes.settings import REASONING_DETECTORS, brake_settings
from engine.brakes.steps import extract_answers, read_reasoning, split_steps
from engine.brakes.verdict import Verdict
from engine.state import ContextState, Message


@dataclass(frozen=True)
class TimelineStep:
    index: int
    start: int  # character offsets in the timeline's `text`
    end: int
    tokens: int
    markers: tuple[tuple[str, int, int], ...]  # (marker, start, end), offsets in `text`
    answers: tuple[str, ...]  # normalized answers stated in this step
    after_brake: bool  # the brake text, or (observed) what the model thought after the brake point
    inserted: bool = False  # the brake text the workbench put there, not the model's thinking


@dataclass(frozen=True)
class ReasoningTimeline:
    message_id: str
    text: str  # the reasoning, both channels joined (engine.brakes.steps.read_reasoning)
    steps: tuple[TimelineStep, ...]
    tokens: int  # the model's own thinking tokens (the brake text left out)
    marker_ratio: float
    latest_answer: str | None
    settled_step: int | None  # the first step that reached the latest answer
    answer_steps: tuple[tuple[str, int], ...]  # every answer stated, with its step, in order
    brakes: tuple[BrakeRecord, ...]  # this message's brakes, in order
    verdicts: tuple[Verdict, ...]  # every detector that reads only the text, at the session's thresholds,
    # on the model's own thinking: up to the brake point when a brake cut it (what the detector saw)
    active_detectors: tuple[str, ...] = ()  # the detectors this session runs

    @property
    def brake(self) -> BrakeRecord | None:
        """The brake that cut this reasoning (or the first observed one), if any."""
        cut = [record for record in self.brakes if record.action == "stopped_reasoning"]
        observed = [record for record in self.brakes if record.action == "observed"]
        return (cut or observed or [None])[0]

    @property
    def tokens_saved(self) -> int:
        """The thinking the brake saved (estimated), or, observed, what came after its point (measured)."""
        return self.brake.tokens_saved if self.brake is not None else 0


def reasoning_messages(state: ContextState) -> list[Message]:
    """The assistant messages that hold reasoning, in order (in either channel)."""
    return [message for message in state.messages
            if message.role == "assistant" and read_reasoning(_text(message), message.reasoning).text]


def _text(message: Message) -> str:
    return message.content if isinstance(message.content, str) else ""


def reasoning_timeline(state: ContextState, message_id: str | None = None, counter: Counter | None = None) -> ReasoningTimeline | None:
    """The timeline of `message_id` (default: the latest message with reasoning); None if it has none."""
    if counter is None:
        from engine.tokens import token_counter

        counter = token_counter()
    candidates = reasoning_messages(state)
    message = (candidates[-1] if candidates else None) if message_id is None else \
        next((m for m in candidates if m.id == message_id), None)
    if message is None:
        return None
    text = read_reasoning(_text(message), message.reasoning).text
    steps = split_steps(text)
    brakes = brake_log(state).for_message(message.id)
    cut_at = next((record.reasoning_chars for record in brakes if record.reasoning_chars is not None), None)
    cutting = next((record for record in brakes if record.action == "stopped_reasoning"), None)
    cut = cutting.reasoning_chars if cutting is not None else None
    # The brake text the workbench put after the cut; what follows it is the model's again.
    inserted_to = cut + len("\n\n") + len(cutting.brake_text or "") if cutting is not None and cut is not None else None
    own = text[:cut].rstrip() if cut is not None else text  # the brake text after a cut is not the model's
    answers = extract_answers(own)
    markers = marker_spans(own)
    timeline_steps = tuple(
        TimelineStep(step.index, step.start, step.end, counter.count(step.text),
                     tuple(m for m in markers if step.start <= m[1] < step.end),
                     tuple(a.value for a in answers if a.step == step.index),
                     cut_at is not None and step.start >= cut_at,
                     inserted_to is not None and cut <= step.start < inserted_to)
        for step in steps
    )
    latest = answers[-1].value if answers else None
    settled = next((a.step for a in answers if a.value == latest), None) if latest is not None else None
    brake_set = brake_settings(state.settings)
    verdicts = session_verdicts(own, brake_set, REASONING_DETECTORS, counter)
    return ReasoningTimeline(
        message.id, text, timeline_steps, counter.count(own), marker_ratio(own, counter), latest, settled,
        tuple((a.value, a.step) for a in answers), brakes, verdicts, tuple(brake_set["detectors"]),
    )
