"""The brakes in the agent loop: cut redundant reasoning, let the model finish, stop tool loops.

The detectors are pure (`engine.brakes`); this module is where they act on a live turn.

Reasoning. Every model call of a turn is heard by a `ReasoningWatch` (one more observer beside
the UI's) whose signal is the call's second way to stop, beside the person's. When a detector
fires in mode "brake" the stream ends after the chunk in flight; the reasoning so far, with the
brake text after it (SBT-E's, or Qwen's hand-over sentence, or the missing-premise one), goes
back to the model as the start of its reply, closed with `</think>`, and the model writes its
answer in at most `finish_tokens`, with no tools. One assistant message holds the cut reasoning,
the brake text and that answer; `brake_applied` follows it with the detector, score, evidence,
thinking tokens generated and an estimate of the tokens saved (`engine.brakes.savings`). In
mode "observe" nothing is stopped, and each detector that fired is recorded with the tokens the
model went on to think after that point.

Tool loops. Before a model's tool calls run, each is checked against the turn's calls so far:
the call that makes a loop (the same call three times, or A-B-A-B) is not run; its result is a
message naming what was repeated. If the loop goes on after that warning, the call is answered
"tools withdrawn" and the rest of the turn is offered no tools. Observe mode records and runs.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.brakes import canonical_call, detect_ping_pong, detect_repeated_calls, tool_loop_message
from engine.brakes.events import BrakeApplied, evidence_for_log
from engine.brakes.steps import final_answer
from engine.brakes.savings import estimated_saving, measured_saving
from engine.brakes.settings import brake_settings, brake_text, threshold_of
from engine.brakes.watch import ReasoningWatch
from engine.events import Event, MessageAdded
from engine.llm import Completion, LLMError, complete, trial_logprobs
from engine.settings import EMBEDDED_MODEL, Backend
from engine.streaming import Observer, ReasoningDelta, StopSignal, as_callback
from engine.think_tags import CLOSE_TAG, OPEN_TAG
from engine.tokens import TokenCounter

BRAKE_FINISH = "brake_finish"  # llm_called.purpose of the call that writes the answer after a brake


class EitherStop:
    """Set when either signal is: the turn's (a person's Stop) or the call's own (a brake).

    Quacks like the `threading.Event` that `engine.llm.complete` checks; its `reason` is the
    first set signal's."""

    def __init__(self, *signals: threading.Event | None) -> None:
        self._signals = [signal for signal in signals if signal is not None]

    def is_set(self) -> bool:
        return any(signal.is_set() for signal in self._signals)

    @property
    def reason(self) -> str | None:
        return next((getattr(signal, "reason", None) for signal in self._signals if signal.is_set()), None)


def watch_call(settings: dict[str, Any], counter: TokenCounter, observer: Observer | None,
               backend: Backend, messages: list[dict[str, Any]]) -> tuple[ReasoningWatch, Observer]:
    """A watch for one model call, and the observer that feeds both it and the caller's. With
    the confidence detector on, its probe forks DEER's trial answer from the same backend."""

    def probe(prompt: str) -> Any:
        return trial_logprobs(backend, messages, f"{OPEN_TAG}\n{prompt}")

    # The embedded model runs one call at a time: a trial inside its own stream would wait forever.
    watch = ReasoningWatch(settings, counter, StopSignal(), probe=None if backend.model == EMBEDDED_MODEL else probe)
    tell = as_callback(observer) if observer is not None else None

    def both(delta: Any) -> None:
        watch.on_delta(delta)
        if tell is not None:
            tell(delta)

    return watch, both


def braked(completion: Completion, watch: ReasoningWatch, turn_stop: threading.Event | None) -> bool:
    """Whether the brake (not a person) stopped this call."""
    return bool(completion.stopped and watch.braking and watch.fired is not None and watch.is_set()
                and not (turn_stop is not None and turn_stop.is_set()))


@dataclass
class Finished:
    """A braked reply made whole: the reasoning with the brake text, the answer, the events."""

    reasoning: str
    content: str
    finish: Completion | None  # None when the finishing call failed (then `error` says why)
    after: Callable[[MessageAdded], list[Event]]
    detector: str
    error: LLMError | None = None
    answer_from_reasoning: bool = False  # the model wrote no answer after the brake: this is its reasoning's


def finish_after_brake(backend: Backend, messages: list[dict[str, Any]], completion: Completion,
                       watch: ReasoningWatch, observer: Observer | None,
                       turn_stop: threading.Event | None, tools: list[dict[str, Any]] | None = None) -> Finished:
    """Close the cut reasoning with the brake text and let the model answer briefly. `tools`:
    the tools this call offered, offered again, so a model that was about to call one still can
    (the loop runs the calls and goes on); None where it could not call any."""
    firing = watch.fired
    assert firing is not None
    brakes = watch.brakes
    text = brake_text(brakes, firing.verdict.detector)
    cut = watch.reasoning[: firing.reasoning_chars].rstrip()
    reasoning = f"{cut}\n\n{text}"
    if observer is not None:
        as_callback(observer)(ReasoningDelta(f"\n\n{text}"))  # the person sees the brake text arrive
    prefill = {"role": "assistant", "content": f"{OPEN_TAG}\n{reasoning}\n{CLOSE_TAG}\n\n"}
    # The prefill has closed the reasoning: the finish's reply is the answer, whatever the template.
    short = dataclasses.replace(backend, max_tokens=min(brakes["finish_tokens"], backend.max_tokens),
                                starts_in_reasoning=False)
    finish, error = None, None
    try:
        finish = complete(short, [*messages, prefill], tools=tools or None, tool_choice="auto" if tools else None,
                          observer=observer, stop=turn_stop)
    except LLMError as exc:  # the loop reports it; the cut reasoning is kept either way
        error = exc
    spent = completion.usage.get("completion_tokens", 0)
    # The model could not have written past max_tokens, unless its backend does not count
    # thinking in it (it already thought past it): then there is no cap to apply.
    tokens_left = backend.max_tokens - spent if spent < backend.max_tokens else None
    saved = estimated_saving(firing.verdict.detector, firing.tokens, tokens_left)

    def after(message: MessageAdded) -> list[Event]:
        return [_event(brakes, firing, "brake", "stopped_reasoning", message.message_id,
                       tokens_saved=saved, basis="estimate", text=text)]

    content = (finish.content or "") if finish is not None else (completion.content or "")
    from_reasoning = False
    if finish is not None and finish.reasoning and finish.reasoning.strip():
        # A server that does not continue a prefilled reply thinks again: keep that thinking too.
        reasoning = f"{reasoning}\n\n{finish.reasoning.strip()}"
    if finish is not None and not finish.stopped and not content.strip() and not finish.tool_calls:
        # It ran out of room before answering: answer with what the cut reasoning had reached
        # (marked so), or leave the reply empty and stopped, so a person can retry.
        content, from_reasoning = final_answer(cut) or "", True
    return Finished(reasoning, content, finish, after, firing.verdict.detector, error, from_reasoning)


def observed(watch: ReasoningWatch, completion: Completion, counter: TokenCounter) -> Callable[[MessageAdded], list[Event]] | None:
    """For a call the brake did not stop: one `brake_applied` ("observed") per detector that
    fired, with the thinking the model did after that point, measured. In mode "observe" that
    is the point; in mode "brake" it happens when the answer had begun in the chunk that closed
    the step, or a person stopped the call at the same moment."""
    if not watch.firings:
        return None
    total = counter.count(watch.reasoning)
    mode = watch.brakes["mode"]

    def after(message: MessageAdded) -> list[Event]:
        return [_event(watch.brakes, firing, mode, "observed", message.message_id,
                       tokens_saved=measured_saving(total, firing.tokens), basis="measured")
                for firing in watch.firings]

    return after


def _event(brakes: dict[str, Any], firing: Any, mode: str, action: str, message_id: str, *,
           tokens_saved: int, basis: str, text: str | None = None) -> BrakeApplied:
    verdict = firing.verdict
    return BrakeApplied(detector=verdict.detector, mode=mode, action=action, score=verdict.score,
                        threshold=threshold_of(brakes, verdict.detector), evidence=evidence_for_log(verdict.evidence),
                        message_id=message_id, step=firing.step, reasoning_chars=firing.reasoning_chars,
                        tokens_generated=firing.tokens, tokens_saved=tokens_saved, saved_basis=basis,
                        brake_text=text)


def chain_after(*afters: Callable[[MessageAdded], list[Event]] | None) -> Callable[[MessageAdded], list[Event]] | None:
    """One `after` for a message from several (None where none has events to add)."""
    present = [after for after in afters if after is not None]
    if not present:
        return None
    return lambda message: [event for after in present for event in after(message)]


# ---- tool loops -----------------------------------------------------------------------------

WITHDRAWN = ("Tools are withdrawn for the rest of this turn: the loop went on after the warning. "
             "Answer now from the results you already have.")


@dataclass
class LoopGuard:
    """The turn's tool calls so far, and what the brake has done about loops in them."""

    settings: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    warned: bool = False
    withdrawn: bool = False
    since: int = 0  # where ping-pong is looked for: after the last loop the brake acted on

    @property
    def brakes(self) -> dict[str, Any]:
        return brake_settings(self.settings)

    @property
    def active(self) -> bool:
        return "tool_loop" in self.brakes["detectors"]

    def _loop_of_latest(self, brakes: dict[str, Any]) -> Any:
        """The loop the latest call belongs to, or None: the same call made `tool_loop_repeats`
        times in the turn (however far apart), or A-B-A-B since the last loop acted on."""
        latest = self.history[-1]
        key = canonical_call(latest)
        exempt = brakes["exempt_tools"]
        if key is None or key[0] in exempt:
            return None
        same = [call for call in self.history if canonical_call(call) == key]
        repeated = detect_repeated_calls(same, k=brakes["tool_loop_repeats"])
        if repeated.fires:
            return repeated
        recent = self.history[self.since:]
        ping_pong = detect_ping_pong(recent, exempt=exempt)
        if ping_pong.fires and any(len(recent) - 1 in piece.positions for piece in ping_pong.evidence):
            return ping_pong
        return None

    def screen(self, calls: list[dict[str, Any]]) -> tuple[dict[int, dict[str, Any]], Callable[[MessageAdded], list[Event]]]:
        """For a model's new calls: the results that replace running a call (by its index in
        `calls`), and the `brake_applied` events to record after the message that holds them."""
        answers: dict[int, dict[str, Any]] = {}
        found: list[tuple[int, Any, str]] = []  # (index, verdict, action)
        brakes = self.brakes
        for index, call in enumerate(calls):
            self.history.append(call)
            if self.withdrawn:
                answers[index] = {"error": WITHDRAWN}
                continue
            verdict = self._loop_of_latest(brakes) if self.active else None
            if verdict is None:
                continue
            self.since = len(self.history)
            if brakes["mode"] == "observe":
                found.append((index, verdict, "observed"))
            elif not self.warned:
                self.warned = True
                answers[index] = {"error": tool_loop_message(verdict)}
                found.append((index, verdict, "warned"))
            else:
                self.withdrawn = True
                answers[index] = {"error": WITHDRAWN}
                found.append((index, verdict, "tools_withdrawn"))

        def after(message: MessageAdded) -> list[Event]:
            ids = [call["id"] for call in message.tool_calls or []]
            mode = brakes["mode"]
            return [BrakeApplied(detector="tool_loop", mode=mode, action=action, score=verdict.score,
                                 threshold=1.0,  # the verdict's score is repeats / limit (or run / 4): it fires at 1
                                 evidence=evidence_for_log(verdict.evidence), message_id=message.message_id,
                                 tool_calls=[ids[index]] if index < len(ids) else [],
                                 brake_text=answers.get(index, {}).get("error"))
                    for index, verdict, action in found]

        return answers, after


__all__ = ["BRAKE_FINISH", "EitherStop", "chain_after", "Finished", "LoopGuard", "braked", "finish_after_brake", "observed", "watch_call"]
