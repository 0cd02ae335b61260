"""Helpers for bench/brakes.py: reading the MiP-Overthinking traces, streaming one through the
detectors, grading answers, and the seeded tune/report split.

A trace is streamed step by step, as a model sends it: after each blank-line step the detectors
of `engine.brakes` run on the reasoning so far (`text[:step.end]`). The answer-based ones
(answer stability, the SBT score) move both ways as the text grows, so their scores are kept
per step, which lets the bench tune thresholds without re-streaming; calling them on every
prefix is quadratic (25 marker regexes over 70 KB, 600 times, is 20 s for one QwQ trace), so
`_answer_scores` computes the same numbers in one pass and tests/engine/test_brakes_bench.py
checks them against the detectors step by step.
Hard budget, repetition and missing premise only grow with the text (more tokens, more
repeats, more steps with a cue), so the first step where each fires is found by bisection over
the same prefixes: the same step as checking after every step, in log(steps) calls.

Token counts come from `engine.tokens.token_counter`; the tokens so far are the sum of each
step's own count (separators included), which is what a streaming counter would add up.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from engine.brakes import extract_answers, missing_premise, repetition, split_steps
from engine.brakes.reasoning import SBT_BETA, answer_certain, marker_spans, step_answers
from engine.brakes.steps import normalize_answer
from engine.tokens import token_counter

TRACE_KEYS = ("deepseek-reasoner (question)", "deepseek-reasoner (insufficient_question)", "model_answer")
TUNE_SHARE = 0.3  # 30% of questions tune the thresholds, 70% report
SPLIT_SEED = "brakes-bench-1"


@dataclass
class Run:
    """One trace streamed through the detectors: per-step scores and the facts to grade it."""

    model: str
    dataset: str  # "gsm8k", "math" or "math-MiP"
    split: str  # "tune" or "report"
    tokens: list[int]  # thinking tokens so far after each step
    answers: list[str | None]  # the answer extractable from the reasoning so far, per step
    sbt: list[float]  # SBT overthink score per step
    stable: list[int]  # steps that reached the latest answer, per step (SBT-E's count)
    streak: list[int]  # the run of steps ending at the latest answer that state it (Dynasor's count)
    certain: list[bool]  # whether that latest answer was said without hesitation (`answer_certain`)
    repetition_at: int | None  # first step where repetition fires
    mip_at: int | None  # first step where missing premise fires
    final: str | None  # the trace's own final answer
    gold: str
    extras: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.tokens[-1] if self.tokens else 0


@lru_cache(maxsize=4096)
def _count_short(text: str) -> int:
    return token_counter().count(text)


def split_trace(trace: str) -> tuple[str, str]:
    """(thinking, final answer) of a trace in any of the four models' formats (README)."""
    if "</think>" in trace:
        thinking, _, answer = trace.partition("</think>")
        return thinking.removeprefix("<think>").strip(), answer.strip()
    if trace.startswith("think\n"):
        body = trace[len("think\n"):]
        cut = body.rfind("\nanswer\n")
        if cut >= 0:
            return body[:cut].strip(), body[cut + len("\nanswer\n"):].strip()
        return body.strip(), ""
    return trace.strip(), ""  # cut off at the token limit: all thinking, no answer


def gold_answer(dataset: str, answer: str) -> str:
    if dataset == "gsm8k":
        return normalize_answer(answer.rsplit("####", 1)[-1])
    return normalize_answer(answer)


def _number(value: str) -> float | None:
    try:
        return float(value.replace(",", ""))
    except ValueError:
        match = re.fullmatch(r"\\frac\{(-?\d+)\}\{(\d+)\}", value)
        return int(match.group(1)) / int(match.group(2)) if match and int(match.group(2)) else None


def correct(value: str | None, gold: str) -> bool:
    """A rough grader: normalized answers equal, or equal as numbers (GSM8K has no labels)."""
    if value is None:
        return False
    if value == gold:
        return True
    a, b = _number(value), _number(gold)
    return a is not None and b is not None and abs(a - b) < 1e-6


def split_of(key: str) -> str:
    digest = hashlib.sha256(f"{SPLIT_SEED}:{key}".encode()).digest()
    return "tune" if int.from_bytes(digest[:8], "big") / 2**64 < TUNE_SHARE else "report"


def _first_firing(check, n: int) -> int | None:
    """The first of n steps where a growing-text detector fires (bisection), or None."""
    if n == 0 or not check(n - 1):
        return None
    low, high = 0, n - 1
    while low < high:
        middle = (low + high) // 2
        if check(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _answer_scores(thinking: str, ends: list[int], tokens: list[int]) -> tuple[list, ...]:
    """Per step: the latest answer so far, the SBT overthink score, SBT-E's count, Dynasor's
    streak and whether the latest answer was certain: the numbers `overthink_score` and
    `answer_stability` give on `thinking[:end]` (a test checks this step by step), found in
    one pass. Answers and markers are read once from the whole text; a step's end is followed
    by a blank line, so a match inside the prefix is the same match as in the whole text, and
    whether an answer is certain depends only on its own step."""
    found = extract_answers(thinking)
    probes = step_answers(thinking, found)
    sure = {probe.start: answer_certain(thinking, probe) for probe in probes}
    markers = [(start, _count_short(marker.lower())) for marker, start, _ in marker_spans(thinking)]
    answers, sbt, stable, streak, certain = [], [], [], [], []
    seen: dict[str, tuple[int, set[int]]] = {}  # value -> (first step, steps that reached it)
    a = p = m = marker_tokens = run = 0
    latest = None
    for k, end in enumerate(ends):
        while a < len(found) and found[a].start < end:
            first, where = seen.setdefault(found[a].value, (found[a].step, set()))
            where.add(found[a].step)
            latest = found[a].value
            a += 1
        while p < len(probes) and probes[p].start < end:
            run = run + 1 if p and probes[p - 1].value == probes[p].value else 1
            p += 1
        while m < len(markers) and markers[m][0] < end:
            marker_tokens += markers[m][1]
            m += 1
        kappa = marker_tokens / tokens[k] if tokens[k] else 0.0
        inefficiency = 1 - (seen[latest][0] + 1) / (k + 1) if latest is not None else 0.0
        answers.append(latest)
        sbt.append(SBT_BETA * kappa + (1 - SBT_BETA) * inefficiency)
        stable.append(len(seen[latest][1]) if latest is not None else 0)
        streak.append(run)
        certain.append(bool(p) and sure[probes[p - 1].start])
    return answers, sbt, stable, streak, certain


def stream(model: str, dataset: str, key: str, trace: str, gold: str) -> Run:
    """Stream one trace through the detectors, step by step."""
    thinking, answer_part = split_trace(trace)
    steps = split_steps(thinking)
    counter = token_counter()
    tokens, ends, previous, total = [], [], 0, 0
    for step in steps:
        total += counter.count(thinking[previous:step.end])
        previous = step.end
        tokens.append(total)
        ends.append(step.end)
    answers, sbt, stable, streak, certain = _answer_scores(thinking, ends, tokens)
    repetition_at = _first_firing(lambda i: repetition(thinking[:ends[i]]).fires, len(ends))
    mip_at = _first_firing(lambda i: missing_premise(thinking[:ends[i]]).fires, len(ends))
    found = extract_answers(answer_part)
    final = found[-1].value if found else (answers[-1] if answers else None)
    return Run(model, dataset, split_of(key), tokens, answers, sbt, stable, streak, certain, repetition_at, mip_at,
               final, gold)


def load(data: Path, limit: int | None = None) -> list[tuple[str, str, str, str, str]]:
    """(model, dataset, split key, trace, gold) for every trace under `data`."""
    root = data / "mip-overthinking" / "response"
    if not root.is_dir():
        raise FileNotFoundError(f"no traces at {root}: get them from github.com/MingLiiii/MiP-Overthinking "
                                "(folder response/) or pass --data")
    found = []
    for path in sorted(root.glob("*/*/*/response.json")):
        source, variant, model = path.parts[-4:-1]
        dataset = source if variant == "normal" else f"{source}-{variant}"
        records = json.loads(path.read_text())
        for index, record in enumerate(records[:limit] if limit else records):
            trace = next((record[k] for k in TRACE_KEYS if isinstance(record.get(k), str)), "")
            # One split key per question, the same across models and variants (MATH files share order).
            key = record.get("question", "") if source == "gsm8k" else f"{source}:{index}"
            found.append((model, dataset, key, trace, gold_answer(source, record.get("answer", ""))))
    return found
