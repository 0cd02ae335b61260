"""The brake as a stream observer: it hears one model call's reasoning and stops it when it is redundant.

A `ReasoningWatch` is handed every delta of a call (`engine.streaming`: reasoning deltas from a
backend's own channel or from inside `<think>` tags, the same stream either way). Each time a
reasoning step is finished (a blank line closes it, as SBT splits steps, algorithms.md §1.1)
it runs the session's detectors over the reasoning so far, in §1.8's order: hard budget,
the combined rule (`settled`: SBT score and answer stability together), either of those alone,
DEER confidence (only with a probe that returns log-probabilities), missing premise, then
repetition. Once the answer starts (a text delta
after reasoning), thinking is over and the watch stops checking.

In mode "brake" the first verdict that fires sets the watch's `signal`, which ends the stream
after the chunk in flight; the loop then records `brake_applied` and lets the model finish
(`sessions.braking`). In mode "observe" every detector that fires is noted once, with where it
fired, and the model goes on. Pure: no model, no store; the probe for DEER is a callable.

Cost: the regex detectors read the whole reasoning at each step (linear, fast); thinking tokens
are counted once per step and summed; repetition reads only the last `REPETITION_WINDOW`
characters, since a loop is local (DEER's back-to-back rule, Gemini CLI's 5,000-character
window); a long reasoning is checked less often (`_check`).

A reply whose chat template opened the reasoning in the prompt, so that only `</think>`
arrives (DeepSeek-R1 or QwQ on a server without a reasoning parser), cannot be told from an
answer until the tag comes, unless the backend says so (`Backend.starts_in_reasoning`: then the
stream reads it as reasoning from the start, and the watch sees it).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable

from engine.brakes.confidence import DEER_ANSWER_INDUCER, deer_confidence
from engine.brakes.combined import verdict_of
from engine.brakes.reasoning import CHANT_WINDOW, Counter, repetition
from engine.brakes.settings import REASONING_DETECTORS, brake_settings
from engine.brakes.steps import Step, split_steps
from engine.brakes.verdict import Evidence, Verdict
from engine.deltas import Delta, ReasoningDelta, TextDelta

REPETITION_WINDOW = 2 * CHANT_WINDOW  # characters of recent reasoning the repetition detector reads (ours)
# Ours: a step this long with no blank line is checked at its last line or sentence end, so a
# reasoning that never leaves a blank line is braked too (SBT's steps are blank-line parts).
LONG_STEP_CHARS = 1_500
# Ours: every closed step is checked up to this length; past it, once the text grew by GROWTH.
EVERY_STEP_UP_TO = 20_000
REPETITION_EVERY = 1_000  # ours: past EVERY_STEP_UP_TO, characters of new reasoning between repetition checks
GROWTH = 0.02
# DEER `max_judge_steps=10`: after ten trial answers it stops probing (algorithms.md §1.4).
DEER_MAX_PROBES = 10
# DEER's transition point (`--points 1`): a trial answer is forked where the model says "Wait".
DEER_TRANSITION = "wait"

_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")  # what ends a step, as in engine.brakes.steps
Probe = Callable[[str], Any]  # reasoning so far + DEER's inducer -> the trial's log-probabilities, or None


@dataclass(frozen=True)
class Firing:
    """A verdict that fired, and where: the reasoning step it came after, the reasoning's length
    in characters and its thinking tokens at that point."""

    verdict: Verdict
    step: int
    reasoning_chars: int
    tokens: int


class _PrefixCounter:
    """Counts a growing reasoning text's tokens without re-reading it: what lies before the
    start of its last step is counted once and kept. A step starts after a blank line, where
    the tokenizer's pre-split always breaks, so the sum equals counting the whole text."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._base, self._base_tokens = "", 0

    def count(self, text: str | None) -> int:
        if not text:
            return 0
        if not text.startswith(self._base):
            return self._counter.count(text)  # not the growing text (a bisection's prefix, a marker)
        start = len(self._base)
        for match in _BLANK_LINE.finditer(text, start):
            start = match.end()
        if start > len(self._base):
            self._base_tokens += self._counter.count(text[len(self._base):start])
            self._base = text[:start]
        return self._base_tokens + self._counter.count(text[len(self._base):])


def _shifted(verdict: Verdict, offset: int, step_offset: int) -> Verdict:
    """A verdict on a tail of the text, its spans and steps moved back into the whole text."""
    evidence = tuple(Evidence(piece.note, tuple(p + step_offset for p in piece.positions), piece.text,
                              tuple((s + offset, e + offset) for s, e in piece.spans)) for piece in verdict.evidence)
    return dataclasses.replace(verdict, evidence=evidence)


class ReasoningWatch:
    """Watches one model call's reasoning for the session's brakes; see the module docstring.

    Args:
        settings: The session's settings (their `"brakes"` part is read; defaults otherwise).
        counter: Counts thinking tokens (the session's tokenizer).
        signal: Set when a brake fires in mode "brake"; share it with the call's stop path.
        probe: For DEER's confidence: given the reasoning so far with the inducer, the trial
            answer's log-probabilities, or None when the backend gives none.
    """

    def __init__(self, settings: dict[str, Any], counter: Counter, signal: threading.Event | None = None,
                 probe: Probe | None = None) -> None:
        self.brakes = brake_settings(settings)
        self.detectors = [name for name in REASONING_DETECTORS if name in self.brakes["detectors"]]
        self.signal = signal
        self._probe = probe
        self._counter = _PrefixCounter(counter)
        self._pieces = counter  # counts each delta, for the running total the hard budget watches
        self._parts: list[str] = []
        self._checked_to = 0  # characters of reasoning already checked
        self._last_check = 0  # the length of the text at the last check
        self._length = 0  # characters of reasoning so far
        self._carry = ""  # the whitespace that ended the last delta
        self._closed: list[int] = []  # blank lines closing a step, not checked yet
        self._exact_tokens, self._exact_at = 0, 0  # thinking tokens counted exactly, up to this character
        self._answering = False
        self._probes = 0
        self._probed_step: int | None = None
        self._repetition_at = 0  # the text's length at the last repetition check
        self.firings: list[Firing] = []  # in order; in mode "brake" at most one

    @property
    def braking(self) -> bool:
        return self.brakes["mode"] == "brake"

    @property
    def fired(self) -> Firing | None:
        """The firing that stopped the call (mode "brake"), or the first one observed."""
        return self.firings[0] if self.firings else None

    def is_set(self) -> bool:
        """Whether the call should stop for the brake: it fired, and the answer has not begun in
        the same chunk (then the thinking is over, and a cut would only throw the answer away).
        The watch stands in the call's stop path like the `threading.Event` a stop is."""
        return self.signal is not None and self.signal.is_set() and not self._answering

    @property
    def reason(self) -> str | None:
        return getattr(self.signal, "reason", None)

    @property
    def reasoning(self) -> str:
        """The reasoning so far, as the log keeps it after a cut: leading space dropped, line
        ends made "\\n" (offsets in firings are into this text)."""
        return "".join(self._parts)

    def on_delta(self, delta: Delta) -> None:
        if isinstance(delta, TextDelta) and delta.text.strip() and self._parts:
            self._answering = True  # the answer has begun: the thinking is over
            return
        if not self.detectors or (self.braking and self.firings):
            return
        if isinstance(delta, ReasoningDelta) and not self._answering:
            text = delta.text.replace("\r\n", "\n").replace("\r", "\n")
            if not self._parts:
                text = text.lstrip()  # the timeline reads the reasoning stripped: offsets must agree
                if not text:
                    return
            start = self._length
            self._parts.append(text)
            self._length += len(text)
            self._closed += self._boundaries_in(text, start)
            over_budget = self._over_budget()
            if over_budget or self._due(self._closed) or self._length - self._checked_to >= LONG_STEP_CHARS:
                self._check(force=over_budget)

    def _boundaries_in(self, text: str, start: int) -> list[int]:
        """The blank lines closing a step that this delta completed (one split across two deltas
        is found too: the whitespace that ended the previous delta is read again)."""
        window = self._carry + text
        base = start - len(self._carry)
        self._carry = window[len(window.rstrip()):]  # trailing whitespace may begin the next blank line
        return [base + match.start() for match in _BLANK_LINE.finditer(window)
                if base + match.start() > self._checked_to and base + match.start() not in self._closed]

    def _due(self, points: list[int]) -> bool:
        """Whether any of these closed steps is to be checked now (see `_check`)."""
        return any(point <= EVERY_STEP_UP_TO or point >= self._last_check * (1 + GROWTH) for point in points)

    def _over_budget(self) -> bool:
        """Whether the thinking has reached the hard budget (and it has not fired yet). Tokens are
        estimated at 3 characters each from the last exact count, and counted exactly (the new
        part only) once the estimate reaches the budget, so the budget costs little per delta."""
        budget = self.brakes["thinking_budget"]
        if "hard_budget" not in self.detectors or any(f.verdict.detector == "hard_budget" for f in self.firings):
            return False
        if self._exact_tokens + (self._length - self._exact_at) / 3 < budget:
            return False
        text = self.reasoning
        self._exact_tokens += self._pieces.count(text[self._exact_at:])
        self._exact_at = len(text)
        return self._exact_tokens >= budget

    def _check(self, force: bool = False) -> None:
        """Run the detectors at each step closed since the last check, in order (a delta that
        closes several steps brakes at the first that fires, as a finer stream would); within a
        step that goes on for `LONG_STEP_CHARS` without a blank line, at its last line or
        sentence end (or where it has got to); and at once when the thinking reaches the hard
        budget (`force`). Past `EVERY_STEP_UP_TO` characters a step is checked only once the
        text has grown by `GROWTH` since the last check, so a very long reasoning costs about
        n log n, not n²."""
        text = self.reasoning
        points, self._closed = sorted(self._closed), []
        tail = points[-1] if points else self._checked_to
        if force or len(text) - tail >= LONG_STEP_CHARS:
            soft = _soft_end(text, tail)
            end = soft if soft > tail and not force else len(text)
            if end > tail:
                points.append(end)
        for number, point in enumerate(points):
            self._checked_to = point
            last = number == len(points) - 1
            if point > EVERY_STEP_UP_TO and point < self._last_check * (1 + GROWTH) and not (force and last):
                continue
            self._last_check = point
            upto = text[:point].rstrip()
            done = split_steps(upto)
            if done and self._check_at(upto, done):
                return

    def _check_at(self, upto: str, done: tuple[Step, ...]) -> bool:
        """The detectors on the reasoning up to a closed step; True once a brake stops the call."""
        tokens = self._counter.count(upto)
        for name in self.detectors:
            if any(firing.verdict.detector == name for firing in self.firings):
                continue  # observe mode notes each detector once
            verdict = self._verdict(name, upto, done)
            if verdict is not None and verdict.fires:
                self.firings.append(Firing(verdict, done[-1].index, len(upto), tokens))
                if self.braking:
                    if self.signal is not None:
                        self.signal.set(f"brake: {name} (score {verdict.score:.2f})")
                    return True
        return False

    def _verdict(self, name: str, text: str, done: tuple[Step, ...]) -> Verdict | None:
        if name == "repetition":
            return self._repetition(text)
        if name == "confidence":
            return self._confidence(text, done[-1])
        return verdict_of(name, text, self.brakes, self._counter)

    def _repetition(self, text: str) -> Verdict | None:
        if len(text) > EVERY_STEP_UP_TO and len(text) - self._repetition_at < REPETITION_EVERY:
            return None  # a loop takes hundreds of characters to show: a long text's window is re-read every so often
        self._repetition_at = len(text)
        if len(text) <= REPETITION_WINDOW:
            return repetition(text, self.brakes["repeat_limit"])
        cut = text.find("\n\n", len(text) - REPETITION_WINDOW)  # start the window at a step
        cut = len(text) - REPETITION_WINDOW if cut < 0 else cut + 2
        steps_before = len(split_steps(text[:cut]))
        return _shifted(repetition(text[cut:], self.brakes["repeat_limit"]), cut, steps_before)

    def _confidence(self, text: str, last: Step) -> Verdict | None:
        """DEER: when a step opens with "Wait", a trial answer on the thinking before it (at most ten)."""
        if self._probe is None or self._probes >= DEER_MAX_PROBES:
            return None
        if not re.match(rf"{DEER_TRANSITION}\b", last.text, re.IGNORECASE) or last.index in (0, self._probed_step):
            return None  # "Wait", not "Waiting"; and one trial per step, however often a long step is checked
        self._probes += 1
        self._probed_step = last.index
        logprobs = self._probe(text[: last.start].rstrip() + DEER_ANSWER_INDUCER)
        if logprobs is None:
            self._probes = DEER_MAX_PROBES  # the backend gives none: stop asking
            return None
        return deer_confidence(logprobs, self.brakes["confidence_threshold"])


def _soft_end(text: str, start: int) -> int:
    """The end of the last whole line, else of the last sentence, after `start`; `start` if none."""
    line = text.rfind("\n", start)
    if line > start:
        return line
    sentence = max(text.rfind(". ", start), text.rfind("? ", start), text.rfind("! ", start))
    return sentence + 1 if sentence > start else start


__all__ = ["DEER_MAX_PROBES", "Firing", "Probe", "REPETITION_WINDOW", "ReasoningWatch"]
