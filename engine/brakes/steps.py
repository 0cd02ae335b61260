"""Reasoning as the brakes see it: one text, cut into steps, with the answers it reaches.

Reasoning arrives two ways: as a separate reasoning text (reasoning deltas, litellm's
`reasoning_content`) and as `<think>...</think>` inside the content (local servers without a
reasoning parser). `read_reasoning` joins both into one text, so every detector reads the
same thing whichever way the model sent it. Steps are the parts between blank lines, as SBT
tags them (algorithms.md §1.1, `add_step_tags` splits on "\\n\\n"); each keeps its character
span in the reasoning text, so a verdict can point at the exact place.

Answers are what SBT-E and DEER look for when they ask "has the model settled?": `\\boxed{}`
(DEER's trial-answer inducer ends in `\\boxed`, §1.4), "the answer is ..." (SBT engine
adaptation, §1.1) and "Final Answer: ..." (s1's cap text, §1.6). An answer belongs to the step
its span starts in. `normalize_answer` makes `\\boxed{90^\\circ}` and "90 degrees." compare
equal, and "16/27" in the reasoning equal to `\\frac{16}{27}` in the final answer, because the
detectors compare answers, not their typography (on bench-brakes' traces most answers the
reasoning "lost" before were typography). An answer said with a question mark or a hedge word
is marked `hedged`, so a brake can wait for one said without doubt.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

from engine.think_tags import split_think_tags

_BLANK_LINE = re.compile(r"\n[ \t]*\n\s*")


@dataclass(frozen=True)
class Step:
    """One blank-line-separated part of the reasoning: its index and span in the text."""

    index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Reasoning:
    """What a reply holds: the reasoning (both channels joined) and the answer after it."""

    text: str
    answer: str


@dataclass(frozen=True)
class Answer:
    """An answer found in the text: its normalized value, where it is, and how it was said."""

    value: str
    raw: str
    start: int
    end: int
    step: int
    pattern: str
    hedged: bool = False  # said with a question mark or a hedge word: the model doubts it


def read_reasoning(content: str | None = None, reasoning: str | None = None) -> Reasoning:
    """Join a separate reasoning text and any `<think>` reasoning inside `content`.

    The separate channel comes first (a server that parses reasoning sends it before the
    answer); reasoning found in tags follows it after a blank line, so it is a step of its own.
    Each part is stripped, so evidence spans are offsets into `Reasoning.text` however the
    reasoning arrived.
    """
    answer, tagged = split_think_tags(content or "")
    # Line ends as "\n", as the live brake reads them, so steps and offsets agree with its events.
    parts = [part.replace("\r\n", "\n").replace("\r", "\n").strip() for part in (reasoning or "", tagged) if part.strip()]
    return Reasoning(text="\n\n".join(parts), answer=answer)


@lru_cache(maxsize=8)
def split_steps(text: str) -> tuple[Step, ...]:
    """The steps of a reasoning text, split at blank lines; empty parts are dropped (the last
    few texts' steps are remembered: several detectors split the same text)."""
    steps: list[Step] = []
    start = 0
    for match in [*_BLANK_LINE.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece.rstrip())
            steps.append(Step(len(steps), start + lead, start + trail, piece.strip()))
        if match:
            start = match.end()
    return tuple(steps)


def step_at(steps: tuple[Step, ...], position: int) -> int:
    """Index of the step holding `position` (or the last one starting before it); 0 if none."""
    found = bisect_right(steps, position, key=lambda step: step.start) - 1
    return steps[found].index if found >= 0 else 0


# "answer is X" and "Final Answer: X": X runs to the end of the sentence or clause. A period
# followed by a digit stays inside (3.5), so do commas inside numbers (1,000); a question mark,
# ", which ..." or "wait" ends it ("the answer is 29? Hmm" is 29, said with doubt).
_SAID = re.compile(
    r"(?P<lead>\b(?:the\s+)?(?:final\s+)?answer\s+(?:is|would\s+be|should\s+be|must\s+be|=)\s*:?"
    r"|\bfinal\s+answer\s*[:\-]\s*|\banswer\s*:\s*)"
    r"(?P<value>[^\n]*?)"
    r"(?=\.(?!\d)|[;?]|,\s|\n|$|\s+(?:because|since|but|and|so|which|wait|hmm|right|then|as|if|or\s+(?:so|maybe|not))\b)",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_ANSWERISH = re.compile(r"\d|\\|^[A-Za-z]$|^\(?[A-Ea-e]\)$|^(?:yes|no|true|false)$", re.IGNORECASE)
_MAX_SAID_LENGTH = 40  # "the answer is probably not what I first thought" is no answer
# Ours: an answer given as one of two ("either 450 or 900") is no answer; one said with a
# question mark, or in a sentence that hedges it, is an answer the model doubts (`hedged`).
_ALTERNATIVES = re.compile(r"\b(?:or|either)\b", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:maybe|perhaps|probably|might|not\s+sure|unless|approximately|about|around|roughly|if)\b",
                    re.IGNORECASE)
_SENTENCE_START = re.compile(r"[.!?\n](?!\d)")
# A sentence is no answer ("Answer: Jasmine has 13"; the box says 13): a said answer with a word
# of three letters or more left after its LaTeX commands is skipped, yes/no/true/false apart.
_LATEX = re.compile(r"\\[A-Za-z]+|^(?:yes|no|true|false)$", re.IGNORECASE)
_WORDY = re.compile(r"[A-Za-z]{3,}")


def _boxed(text: str) -> list[tuple[int, int, str]]:
    """`(start, end, inner)` of every `\\boxed{...}`, braces balanced; an unclosed one is skipped."""
    found = []
    for match in _BOXED.finditer(text):
        depth, position = 1, match.end()
        while position < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[position], 0)
            position += 1
        if depth == 0:
            found.append((match.start(), position, text[match.end() : position - 1]))
    return found


def _hedged(text: str, start: int, end: int) -> bool:
    """Whether the answer at `start:end` is said with doubt: a question mark right after it, or
    a hedge word earlier in its sentence ("maybe the answer is 5")."""
    if text[end : end + 2].lstrip(" *$}").startswith("?"):
        return True
    sentence = max((m.end() for m in _SENTENCE_START.finditer(text, max(0, start - 300), start)), default=max(0, start - 300))
    return bool(_HEDGE.search(text, sentence, end))


def extract_answers(text: str) -> tuple[Answer, ...]:
    """Every answer the text states, in order; a "the answer is \\boxed{5}" counts once.

    The last few texts' answers are remembered: the live brake asks several detectors about one text."""
    return _answers(text)


@lru_cache(maxsize=8)
def _answers(text: str) -> tuple[Answer, ...]:
    steps = split_steps(text)
    found: list[Answer] = []
    boxes = _boxed(text)
    for start, end, inner in boxes:
        value = normalize_answer(inner)
        if value:
            found.append(Answer(value, text[start:end], start, end, step_at(steps, start), "boxed",
                                _hedged(text, start, end)))
    for match in _SAID.finditer(text):
        start, end = match.start("value"), match.end("value")
        if any(b_start < end + 2 and b_end > start for b_start, b_end, _ in boxes):
            continue
        raw = match.group("value").strip().strip("*$ ").rstrip(",")
        if _ALTERNATIVES.search(raw):
            continue
        value = normalize_answer(raw)
        if value and len(raw) <= _MAX_SAID_LENGTH and _ANSWERISH.search(value) and not _WORDY.search(_LATEX.sub("", value)):
            found.append(Answer(value, text[match.start() : end], match.start(), end,
                                step_at(steps, match.start()), "said", _hedged(text, match.start(), end)))
    return tuple(sorted(found, key=lambda answer: answer.start))


def final_answer(text: str) -> str | None:
    """The last answer the text states, normalized; None if it states none."""
    answers = extract_answers(text)
    return answers[-1].value if answers else None


_UNITS = re.compile(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}")
_TRAILING_WORDS = re.compile(r"(?<=[\dπ}])\s+[A-Za-z][A-Za-z/ ]*$")
_APPROXIMATE = re.compile(r"^(?:about|approximately|around|roughly|exactly|just|only)\s+", re.IGNORECASE)
# Atoms a plain-text fraction or root may hold: "16/27", "20000/π", "sqrt(5)", "6√2".
_ATOM = r"(?:\d+(?:\.\d+)?|\\pi|\d*\\sqrt\{\d+\}|[a-z])"


def normalize_answer(value: str) -> str:
    """A comparable form of an answer: no spacing, dollars, degrees, units or thousands commas.

    `\\dfrac` reads as `\\frac`, `\\left(` as `(`; a number followed by words ("540 meters")
    keeps the number; a plain number loses trailing zeros after its point ("2.50" is "2.5").
    Reasoning writes answers as plain text that the final answer writes in LaTeX, so "16/27"
    reads as `\\frac{16}{27}`, "√5" and "sqrt(5)" as `\\sqrt{5}`, "π" as `\\pi`; and a worked
    answer keeps its result ("2*5!*5! = 28,800" is 28800, "a_1 = 504" is 504).
    """
    value = value.strip().strip("$").strip()
    value = _APPROXIMATE.sub("", value)
    value = _UNITS.sub("", value)
    value = _TRAILING_WORDS.sub("", value)
    for old, new in (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\left", ""), ("\\right", ""),
                     ("^\\circ", ""), ("^{\\circ}", ""), ("\\circ", ""), ("°", ""), ("\\%", ""),
                     ("%", ""), ("\\!", ""), ("\\,", ""), ("\\ ", ""), ("$", ""), ("π", "\\pi"),
                     ("\\cdot", "*"), ("\\times", "*"), ("×", "*")):
        value = value.replace(old, new)
    value = re.sub(r"\s+", "", value).rstrip(".")
    if "=" in value and not re.search(r"[<>]|\\[lg]e|,(?!\d{3})", value):
        value = value.rsplit("=", 1)[1] or value
    value = re.sub(r"(?:√|\\sqrt|sqrt)\(?\{?(\d+)\}?\)?", r"\\sqrt{\1}", value)
    if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?", value):
        value = value.replace(",", "")
    if re.fullmatch(r"-?\d+\.\d+", value):
        value = value.rstrip("0").rstrip(".")
    fraction = re.fullmatch(rf"(-?)\(?({_ATOM})\)?/\(?({_ATOM})\)?", value)
    if fraction:
        value = f"{fraction.group(1)}\\frac{{{fraction.group(2)}}}{{{fraction.group(3)}}}"
    return value
