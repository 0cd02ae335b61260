"""The training-free overthinking detectors: each one a small pure function over the reasoning so far.

Every detector takes the reasoning text as it stands (read it with `read_reasoning`, whichever
channel it came on) and returns a `Verdict`: its name, a score, whether it fires, and the
evidence, as step indices with character spans into that text. Nothing here stops a stream
or records an event; the loop calls these after each step and decides. §1.8 of algorithms.md
gives the order a combined brake checks them in: hard budget, answer stability, the SBT
score, DEER confidence, missing premise; repetition guards against a model that loops.

Answer stability is Dynasor-CoT's exit adapted to work without a model: each step that states
an answer is a probe, and the brake waits until the last probes agree and the latest is said
without hesitation (`answer_stability`); SBT-E's plain count is a keyword away.

Where a rule is ours rather than a paper's, the comment says so. Thresholds are module
constants so the bench can tune them and the settings can name them.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import defaultdict
from functools import lru_cache
from typing import Protocol

from engine.brakes.steps import Answer, extract_answers, split_steps, step_at
from engine.brakes.verdict import Evidence, Verdict


class Counter(Protocol):
    def count(self, text: str | None) -> int: ...


def _at(reasoning: str, step: int, start: int, end: int, note: str) -> Evidence:
    """Evidence for one span of the reasoning text: its step, offsets and text."""
    return Evidence(note=note, positions=(step,), text=reasoning[start:end], spans=((start, end),))


# s1 (arXiv 2501.19393, README "vLLM with budget forcing"): MAX_TOKENS_THINKING = 32000.
S1_MAX_THINKING_TOKENS = 32_000
# DEER (arXiv 2504.15895, vllm-deer.py): think budget = 0.6 x 16000 max tokens for R1-distill models.
DEER_THINK_BUDGET = int(0.6 * 16_000)
DEFAULT_THINKING_BUDGET = DEER_THINK_BUDGET
# SBT-E (arXiv 2505.14604, build_sbt-e.py): cut after the second solution reaching the answer.
SBT_E_MIN_REPEATS = 2
# SBT (build_sbt-e.py / build_sbt-d.py): score = beta*kappa + (1-beta)*(1-eta), beta = 0.1, tau = 0.2.
SBT_BETA = 0.1
SBT_THRESHOLD = 0.2
# SBT prompts/keyword.txt: the 25 overthinking markers (algorithms.md §1.1), matched here on
# word boundaries, unlike SBT's str.count, so "button" is no "but" and "checkout" no "check".
SBT_MARKERS = (
    "Another", "Backtrack", "But", "Check", "Going back", "Hmm", "Hmmm", "However", "Hold on",
    "Instead of", "Just to be thorough", "Just to make sure", "Let me check",
    "Let me just double-check", "Let me try another", "Let me verify", "Maybe I can consider",
    "Maybe I should consider", "Might", "Not sure", "Perhaps", "Recheck", "Retry", "Trace back",
    "Wait",
)
# DEER vllm-deer.py `--rep`: the optional repetition exit at rep >= 3. What DEER repeats over is
# not in our notes; we count a sentence of at least REPEAT_MIN_WORDS words (ours).
DEER_REPEAT_LIMIT = 3
REPEAT_MIN_WORDS = 6
# Gemini CLI loopDetectionService (field-notes.md, "Doom loops"): a 50-character chunk seen 10
# times within 5,000 characters is chanting; code fences, tables and lists reset the count.
CHANT_CHUNK = 50
CHANT_REPEATS = 10
CHANT_WINDOW = 5_000
# MiP-Overthinking (arXiv 2504.06514; algorithms.md §1.2 mitigation): an insufficiency cue in
# at least 2 paragraphs means the question lacks a premise; ask or abstain.
MIP_MIN_STEPS = 2


def _marker_regex(marker: str) -> str:
    return r"\s+".join(re.escape(word) for word in marker.lower().split())


# The 25 markers as one alternation, longest first, whole words (no word character on either
# side), in a lookahead so overlapping markers are all found; case-insensitive.
_MARKERS = re.compile(
    r"(?=(?<!\w)(" + "|".join(_marker_regex(m) for m in sorted(SBT_MARKERS, key=len, reverse=True)) + r")(?!\w))",
    re.IGNORECASE,
)
_MARKER_NAMES = {marker.lower(): marker for marker in SBT_MARKERS}
# Dynasor-CoT (hao-ai-lab/Dynasor, dynasor/cot.py `uncertain_words`): a probe answer holding one
# of these is uncertain. Dynasor tests substrings; we match whole words ("no" is not "know").
DYNASOR_UNCERTAIN_WORDS = ("wait", "hold", "but", "okay", "no", "hmm")
_UNCERTAIN = re.compile(r"(?<!\w)(?:wait|hold|but|okay|no|hmm+)(?!\w)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?!\d)|\n")
_BLANK = re.compile(r"\n[ \t]*\n")  # a step's end, as engine.brakes.steps splits them


def _default_counter(counter: Counter | None) -> Counter:
    if counter is not None:
        return counter
    from engine.tokens import token_counter

    return token_counter()


def hard_budget(reasoning: str, budget: int = DEFAULT_THINKING_BUDGET, counter: Counter | None = None) -> Verdict:
    """s1's cap: fires once the thinking has used `budget` tokens; the evidence is the step
    where it crossed the budget, spanning to the end of the text. Score = tokens / budget."""
    counter = _default_counter(counter)
    tokens = counter.count(reasoning)
    fires = tokens >= budget
    evidence: tuple[Evidence, ...] = ()
    if fires:
        steps = split_steps(reasoning)
        low, high = 0, len(steps) - 1  # first step whose end brings the count to the budget
        while low < high:
            middle = (low + high) // 2
            if counter.count(reasoning[: steps[middle].end]) >= budget:
                high = middle
            else:
                low = middle + 1
        if steps:
            evidence = (_at(reasoning, low, steps[low].start, steps[low].end, f"{tokens} tokens, budget {budget}; crossed in this step"),)
    return Verdict("hard_budget", tokens / budget if budget > 0 else float("inf"), fires, evidence)


def step_answers(reasoning: str, answers: tuple[Answer, ...] | None = None) -> list[Answer]:
    """The last answer of each step that states one, in order: our stand-in for Dynasor's probe
    answers (Dynasor asks the model for one every 64 tokens; without a model, each step that
    states an answer is one probe, and its last answer is what it settled on)."""
    answers = extract_answers(reasoning) if answers is None else answers
    per_step: dict[int, Answer] = {}
    for answer in answers:
        per_step[answer.step] = answer
    return [per_step[step] for step in sorted(per_step)]


def answer_certain(reasoning: str, answer: Answer) -> bool:
    """Whether an answer is stated without hesitation: not hedged (no question mark after it, no
    "maybe" before it in its sentence) and no Dynasor uncertain word ("wait", "hold", "but",
    "okay", "no", "hmm") from the start of its sentence to the end of its step, so "so 29.
    Hmm, or 30?" and "but the answer is 5" are not settled."""
    if answer.hedged:
        return False
    blank = _BLANK.search(reasoning, answer.end)
    step_end = blank.start() if blank else len(reasoning)
    sentence = max((m.end() for m in _SENTENCE_END.finditer(reasoning, max(0, answer.start - 300), answer.start)),
                   default=max(0, answer.start - 300))
    return not _UNCERTAIN.search(reasoning, sentence, step_end)


def answer_stability(reasoning: str, min_repeats: int = SBT_E_MIN_REPEATS, *, consecutive: bool = True,
                     certain: bool = True) -> Verdict:
    """The model has settled: the same answer stated in `min_repeats` steps, the latest without doubt.

    Dynasor-CoT's exit (hao-ai-lab/Dynasor `dynasor/cot.py`): the last N probe answers agree
    and carry no uncertain word. Here each step that states an answer is a probe
    (`step_answers`), so by default the last `min_repeats` of them must agree, and with
    `certain` the latest must pass `answer_certain` (Dynasor asks it of all N; the latest alone
    kept 99.3% of answers on bench-brakes' tune part and saved more). Distinct steps, because
    "the answer is 5, so \\boxed{5}" in one step is one solution, not two (SBT-E counts
    solutions). With `consecutive=False` it is SBT-E's count instead: the latest answer
    reached in `min_repeats` distinct steps, whatever came between.
    Score = the steps agreeing (the run of equal probes ending at the latest; or, with
    `consecutive=False`, the steps that reached the latest answer).
    """
    probes = step_answers(reasoning)
    if not probes:
        return Verdict.quiet("answer_stability", "no answer yet")
    latest = probes[-1]
    if consecutive:
        run = list(itertools.takewhile(lambda probe: probe.value == latest.value, reversed(probes)))[::-1]
    else:
        answers = extract_answers(reasoning)
        run = [next(a for a in answers if a.step == step and a.value == latest.value)
               for step in sorted({a.step for a in answers if a.value == latest.value})]
    evidence = [_at(reasoning, probe.step, probe.start, probe.end, f"answer {latest.value}") for probe in run]
    sure = not certain or answer_certain(reasoning, latest)
    if not sure:
        evidence.append(_at(reasoning, latest.step, latest.start, latest.end, "said with hesitation"))
    return Verdict("answer_stability", float(len(run)), len(run) >= min_repeats and sure, tuple(evidence))


def marker_spans(reasoning: str) -> list[tuple[str, int, int]]:
    """`(marker, start, end)` of every SBT marker in the text, case-insensitive, whole words.

    One compiled alternation of the 25 markers (`_MARKERS`), longest first, inside a lookahead
    so that matches may overlap: "Let me check" is found, and the "Check" inside it too, as
    separate searches per marker found them (at one place at most one marker can match as a
    whole word, so the first alternative that does is the one). Sorted by start.
    """
    return list(_markers(reasoning))


_grown = threading.local()  # per thread: the last text scanned and its markers
_RESCAN = 100  # characters before the end of the last text that are scanned again (> any marker's reach)


@lru_cache(maxsize=8)  # the live brake asks several detectors about one text
def _markers(reasoning: str) -> tuple[tuple[str, int, int], ...]:
    """The markers, scanning only what is new when `reasoning` extends the last text scanned in
    this thread (the live brake's growing reasoning). A match depends only on the characters
    around it, so the matches that start before the last text's final blank line (kept well
    inside it, `_RESCAN` characters from its end) are the same in the longer text."""
    base, known = getattr(_grown, "last", ("", ()))
    resume = base.rfind("\n\n", 0, max(0, len(base) - _RESCAN)) if base and reasoning.startswith(base) else -1
    found = [marker for marker in known if marker[1] < resume] if resume > 0 else []
    for match in _MARKERS.finditer(reasoning, max(resume, 0)):
        text = match.group(1)
        found.append((_MARKER_NAMES[" ".join(text.lower().split())], match.start(), match.start() + len(text)))
    _grown.last = (reasoning, tuple(found))
    return tuple(found)


def marker_ratio(reasoning: str, counter: Counter | None = None) -> float:
    """SBT's kappa_t: marker occurrences weighted by their token length, over the text's tokens."""
    counter = _default_counter(counter)
    total = counter.count(reasoning)
    if not total:
        return 0.0
    return sum(counter.count(marker.lower()) for marker, _, _ in marker_spans(reasoning)) / total


def overthink_score(reasoning: str, threshold: float = SBT_THRESHOLD, counter: Counter | None = None) -> Verdict:
    """SBT's overthink score, 0.1 x kappa_t + 0.9 x (1 - FS/TS), firing at `threshold`.

    With no reference answer at inference, FS is the first step (counted from 1) that reached
    the latest answer (algorithms.md §1.1, engine adaptation); TS is the steps so far. With no
    answer yet the efficiency term is 0: a model that has not solved cannot overthink its
    solution, however much it re-checks. The evidence is that first step and every marker.
    """
    steps = split_steps(reasoning)
    kappa = marker_ratio(reasoning, counter)
    answers = extract_answers(reasoning)
    inefficiency, evidence = 0.0, []
    if answers and steps:
        latest = answers[-1].value
        first = next(answer for answer in answers if answer.value == latest)
        inefficiency = 1 - (first.step + 1) / len(steps)
        evidence.append(_at(reasoning, first.step, first.start, first.end, f"answer {latest} first reached"))
    evidence.extend(_at(reasoning, step_at(steps, start), start, end, f"marker {marker!r}")
                    for marker, start, end in marker_spans(reasoning))
    score = SBT_BETA * kappa + (1 - SBT_BETA) * inefficiency
    return Verdict("overthink_score", score, score >= threshold, tuple(evidence))


_FENCE = re.compile(r"^\s*(```|~~~)")
_STRUCTURED_LINE = re.compile(r"^\s*(?:\||[-*+]\s|\d+[.)]\s|#)")


def prose_segments(reasoning: str) -> list[tuple[int, int]]:
    """Spans of the text outside code fences, tables, list items and display maths.

    Repetition there is structure, not a loop (Gemini CLI resets its chant count on fences,
    tables and lists; display maths is our addition, as repetitive as a table); each span is
    checked on its own, so a count never runs across one.
    """
    segments: list[tuple[int, int]] = []
    start, position, in_fence, in_math = 0, 0, False, False
    for line in reasoning.splitlines(keepends=True):
        stripped, structured = line.strip(), True
        if in_fence or _FENCE.match(line):
            in_fence = not in_fence if _FENCE.match(line) else in_fence
        elif in_math:
            in_math = not ("\\]" in stripped or stripped.endswith("$$"))
        elif stripped.startswith("\\["):
            in_math = "\\]" not in stripped
        elif stripped.startswith("$$"):
            in_math = not (len(stripped) > 2 and stripped.endswith("$$"))
        else:
            structured = bool(_STRUCTURED_LINE.match(line))
        if structured:
            if position > start:
                segments.append((start, position))
            start = position + len(line)
        position += len(line)
    if position > start:
        segments.append((start, position))
    return segments


_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")
_MAX_LOOP_PERIOD = 5  # ours: a loop of up to five sentences said over and over


def _sentences(reasoning: str, segments: list[tuple[int, int]]) -> list[tuple[str, int, int] | None]:
    """Normalized sentences with their spans; None where a code block or table breaks the run."""
    found: list[tuple[str, int, int] | None] = []
    for seg_start, seg_end in segments:
        for match in _SENTENCE.finditer(reasoning, seg_start, seg_end):
            words = re.findall(r"\w+", match.group().lower())
            if words:
                found.append((" ".join(words), match.start(), match.end()))
        found.append(None)
    return found


def _sentence_loop(reasoning: str, segments: list[tuple[int, int]], limit: int) -> tuple[int, list[tuple[int, int]]]:
    """The longest run of a unit of 1 to 5 sentences said again and again back to back: how
    many times, and the spans of its sentences. Quoting the question three times across a
    trace is no loop; saying the same thing three times in a row is."""
    sentences = _sentences(reasoning, segments)
    best: tuple[int, list[tuple[int, int]]] = (0, [])
    for period in range(1, _MAX_LOOP_PERIOD + 1):
        run_start, matched = 0, 0
        for i in range(len(sentences) - period + 1):
            a, b = sentences[i], sentences[i + period] if i + period < len(sentences) else None
            if a is not None and b is not None and a[0] == b[0]:
                if matched == 0:
                    run_start = i
                matched += 1
                unit = sentences[run_start : run_start + period]
                words = sum(len(s[0].split()) for s in unit if s is not None)
                times = 1 + matched // period
                if words >= REPEAT_MIN_WORDS and times > best[0]:
                    best = (times, [(s[1], s[2]) for s in sentences[run_start : i + period + 1] if s is not None])
            else:
                matched = 0
    return best


def _chants(reasoning: str, segments: list[tuple[int, int]]) -> list[tuple[int, int]] | None:
    """Start and end of each occurrence of the first chunk seen CHANT_REPEATS times in a window."""
    for seg_start, seg_end in segments:
        positions: dict[str, list[int]] = defaultdict(list)
        for start in range(seg_start, seg_end - CHANT_CHUNK + 1):
            chunk = reasoning[start : start + CHANT_CHUNK]
            if not chunk.strip():
                continue
            recent = [p for p in positions[chunk] if p > start - CHANT_WINDOW]
            if recent and recent[-1] + CHANT_CHUNK > start:
                continue  # an overlapping sighting is the same occurrence seen again
            recent.append(start)
            positions[chunk] = recent
            if len(recent) >= CHANT_REPEATS:
                return [(p, p + CHANT_CHUNK) for p in recent]
    return None


def repetition(reasoning: str, limit: int = DEER_REPEAT_LIMIT) -> Verdict:
    """A model in a loop: a sentence (or a run of up to five) said `limit` times back to back
    (DEER's repetition exit), or a 50-character chunk chanted 10 times in 5,000 characters
    (Gemini CLI). Neither counts inside code fences, tables, lists or display maths.
    Score = the larger of the two counts over its own limit, so it fires at 1.0."""
    steps = split_steps(reasoning)
    segments = prose_segments(reasoning)
    times, loop = _sentence_loop(reasoning, segments, limit)
    chant = _chants(reasoning, segments)
    score = max(times / limit, (len(chant) / CHANT_REPEATS) if chant else 0.0)
    evidence: list[Evidence] = []
    if chant:
        evidence.extend(_at(reasoning, step_at(steps, s), s, e, "chunk chanted") for s, e in chant)
    if times >= limit:
        evidence.extend(_at(reasoning, step_at(steps, s), s, e, f"sentence loop, {times} times") for s, e in loop)
    return Verdict("repetition", score, score >= 1.0, tuple(evidence))


# Cues that the question depends on something it does not say (algorithms.md §1.2: "not
# specified / missing / unless / depends on / assume"), narrowed by us so ordinary maths talk
# ("assume x > 0", "the missing side") does not count: each cue speaks of the question itself.
_MIP_CUE = re.compile(
    r"\b(?:(?:isn't|aren't|wasn't|weren't)\s+(?:specified|given|provided|stated|mentioned)"
    r"|unspecified|not\s+(?:specified|given|provided|stated|mentioned)"
    r"|(?:is|are|seems?\s+to\s+be)\s+missing|missing\s+(?:information|premise|data|detail|piece|condition|value)s?"
    r"|(?:doesn't|does\s+not|didn't|did\s+not)\s+(?:say|specify|mention|tell|give|state|provide)"
    r"|(?:not\s+enough|insufficient|incomplete)\s+(?:information|data|details)"
    r"|(?:question|problem)\s+is\s+(?:incomplete|ambiguous|unclear|missing)"
    r"|(?:it|answer|this)\s+(?:depends|would\s+depend)\s+on"
    r"|(?:have|need|has)\s+to\s+assume|must\s+assume|unless\s+(?:there's|there\s+is|we\s+assume|the\s+problem))",
    re.IGNORECASE,
)


def missing_premise(reasoning: str, min_steps: int = MIP_MIN_STEPS) -> Verdict:
    """MiP: insufficiency cues in `min_steps` or more steps; the model should ask or abstain.
    Score = the number of steps with a cue; the evidence is the first cue of each."""
    steps = split_steps(reasoning)
    evidence = []
    for step in steps:
        match = _MIP_CUE.search(reasoning, step.start, step.end)
        if match:
            evidence.append(_at(reasoning, step.index, match.start(), match.end(), f"cue {match.group()!r}"))
    return Verdict("missing_premise", float(len(evidence)), len(evidence) >= min_steps, tuple(evidence))


def check_reasoning(reasoning: str, budget: int = DEFAULT_THINKING_BUDGET, counter: Counter | None = None) -> tuple[Verdict, ...]:
    """Every detector's verdict, in the order §1.8 checks them (DEER confidence needs log
    probabilities and lives elsewhere)."""
    return (hard_budget(reasoning, budget, counter), answer_stability(reasoning),
            overthink_score(reasoning, counter=counter), repetition(reasoning), missing_premise(reasoning))


__all__ = [
    "Counter",
    "DYNASOR_UNCERTAIN_WORDS", "hard_budget", "answer_stability", "answer_certain", "step_answers", "marker_spans", "marker_ratio", "overthink_score",
    "prose_segments", "repetition", "missing_premise", "check_reasoning",
]
