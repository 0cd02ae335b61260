"""DEER's confidence exit: stop thinking when a trial answer comes out confident enough.

DEER (arXiv 2504.15895, repo BugSmith/DEER `vllm-deer.py`; ../shared/reference/algorithms.md
§1.4): at a transition point ("Wait") the loop forks a trial answer (prompt + thinking so far +
`DEER_ANSWER_INDUCER`, at most 20 tokens, `logprobs=1`) and this module scores it: the sampled
tokens' probabilities from the 2nd generated token on, averaged by a policy, and the brake fires
when that confidence is strictly above 0.95. §1.8 puts it fourth in the combined brake.

Only some backends return log-probabilities; without them the verdict does not fire and says
"no log-probabilities", so callers can run it everywhere.

Accepted shapes of `logprobs`: None; a sequence of numbers (one log-probability per token); a
sequence of OpenAI-style token entries (`{"token": "4", "logprob": -0.01, ...}` or objects with
those attributes); or an OpenAI `choice.logprobs` (a mapping or object with `content`).
Entries that carry no finite number are passed over; nothing here raises on odd input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from engine.brakes.fields import field_of
from engine.brakes.verdict import Evidence, Verdict

CONFIDENCE = "confidence"
# DEER `--threshold`: exit when confidence is strictly greater than 0.95 (algorithms.md §1.4).
DEER_THRESHOLD = 0.95
# DEER `--policy`: "avg1" arithmetic mean (the bash script's default), "avg2" geometric mean
# (used for Qwen3), "min" the least probable token (algorithms.md §1.4).
DEER_POLICIES = ("avg1", "avg2", "min")
DEER_POLICY = "avg1"
# Probabilities are taken "from the 2nd generated token on" (algorithms.md §1.4): skip one.
DEER_SKIP_TOKENS = 1
# The trial answer, for the loop that will fork it (algorithms.md §1.4): the inducer appended
# after the thinking so far, its token cap (`prob_check_max_tokens`), and its stop strings.
DEER_ANSWER_INDUCER = "\n**Final Answer**\n\\boxed"
DEER_TRIAL_MAX_TOKENS = 20
DEER_TRIAL_STOPS = (" }", "}\n", "}\n\n", "}.", "}.\n", "}\\", "}}", ")}", ")}.", ")}\n")


def _number(value: object) -> float | None:
    """A finite-or-minus-infinity log-probability, capped at 0; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    if math.isnan(value) or value == math.inf:
        return None
    return min(value, 0.0)


def token_logprobs(logprobs: object) -> list[tuple[int, float, str]]:
    """(token index, log-probability, token text) for each usable entry, in order."""
    content = field_of(logprobs, "content")
    if content is not None and not isinstance(logprobs, (str, bytes, Sequence)):
        logprobs = content
    if not logprobs or isinstance(logprobs, (str, bytes, Mapping)):
        return []
    if not isinstance(logprobs, Sequence):
        try:
            logprobs = list(logprobs)  # a generator, say
        except TypeError:
            return []
    tokens = []
    for index, entry in enumerate(logprobs):
        if isinstance(entry, (int, float)):
            value, text = _number(entry), ""
        else:
            value, text = _number(field_of(entry, "logprob")), field_of(entry, "token")
        if value is not None:
            tokens.append((index, value, text if isinstance(text, str) else ""))
    return tokens


def _confidence(logprobs: list[float], policy: str) -> float:
    if policy == "avg1":
        return sum(math.exp(value) for value in logprobs) / len(logprobs)
    if policy == "avg2":
        return math.exp(sum(logprobs) / len(logprobs))
    return math.exp(min(logprobs))


def deer_confidence(
    logprobs: object,
    threshold: float = DEER_THRESHOLD,
    policy: str = DEER_POLICY,
    text: str = "",
) -> Verdict:
    """DEER's verdict on one trial answer from its tokens' log-probabilities.

    Args:
        logprobs: The trial answer's log-probabilities (see the module docstring for shapes);
            None or empty when the backend returned none.
        threshold: Fires when the confidence is strictly above it (DEER: 0.95).
        policy: "avg1" (mean probability), "avg2" (geometric mean) or "min".
        text: The trial answer's text, for the evidence; joined from the tokens when omitted.

    Score: the confidence, a probability in [0, 1]. Evidence: the token indices used (the
    first generated token is skipped, as DEER does) and the trial answer.
    """
    if policy not in DEER_POLICIES:
        raise ValueError(f"policy must be one of {', '.join(DEER_POLICIES)}, got {policy!r}")
    tokens = token_logprobs(logprobs)
    if not tokens:
        return Verdict.quiet(CONFIDENCE, "no log-probabilities")
    answer = text or "".join(token for _, _, token in tokens)
    used = [(index, value) for index, value, _ in tokens if index >= DEER_SKIP_TOKENS]
    if not used:
        return Verdict(
            detector=CONFIDENCE,
            score=0.0,
            fires=False,
            evidence=(Evidence(note="too few tokens: DEER skips the first", text=answer),),
        )
    confidence = _confidence([value for _, value in used], policy)
    note = (
        f"trial-answer confidence {confidence:.3f} ({policy} over {len(used)} tokens; "
        f"brake above {threshold})"
    )
    return Verdict(
        detector=CONFIDENCE,
        score=confidence,
        fires=confidence > threshold,
        evidence=(Evidence(note=note, positions=tuple(i for i, _ in used), text=answer),),
    )
