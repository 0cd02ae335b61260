"""PI-LLM (Wang & Sun 2025, arXiv 2506.08184) as its authors built it: the case, the prompt, the score.

Faithful to the original `zhuangziGiantfish/Unable-to-Forget` (core/pi_flow_upgrade.py, test1's
config), not to the OpenCompass fork that differs in what an update count means
(../shared/reference/sculptor-and-benchmarks.md §3):
- 46 keys, the categories of the authors' vocabulary (`dict_category_double-word_46-400_v1-1.json`),
  each updated N times with N distinct values drawn without replacement; balanced sampling across
  the cases one generator makes (an item's weight is 1 / (uses + 1));
- the updates shuffled so that no key appears twice in a row (`pseudo_randomize(pairs,
  max_key_repeat=0)`), each rendered `key: value; `;
- the ground truth is each key's last value;
- the prompt verbatim, with the missing space after "updated." kept;
- the reply parsed with the original's rules (`extract_pieces_response_to_dict`): its three
  verbal patterns ("the current value of <key> is <value>", "<key>: the latest value is ...",
  "the value for <key> is ..."; keys and values of one or two words, ending at `.,;:` or a line
  end), a `key: value` reading only when the reply speaks of a current (latest, final, ...) value,
  the verbal reading winning, `*` and backslashes stripped; keys must be named as tracked, values
  are compared stripped and in any case; an empty reply, or one reporting an error, is missing
  (NaN, left out of the mean), not wrong;
- accuracy per N (the mean over the repeats answered), and OpenCompass's `auc_log1.5`: the mean accuracy weighted by log₁.₅(max(N, 2)).
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

VOCABULARY_FILE = "dict_category_double-word_46-400_v1-1.json"
UPDATES_SWEEP = (2, 3, 4, 6, 8, 12, 17, 24, 34, 48, 68, 97, 139, 197, 281, 400)  # test1_updates.yaml
SCULPTOR_SWEEP = (4, 8, 16, 32, 64, 128, 256)  # the columns of Sculptor's Table 1

PROMPT = (
    "As my secretary, I need you to carefully read a text stream where the values of multiple keys are being "
    "continuously updated.The {count} keys to track include {keys}. I will ask you to identify the value of each "
    "key later.\n\nThe text stream starts on the next line.\n {stream}\n\nWhat are the current value of each key "
    "({keys}) you are tracking? End your response with: 'The current value of <key> is <value>.'"
)


def load_vocabulary(data: Path) -> dict[str, list[str]]:
    """The authors' 46 categories of 400 items each, from `data/pi-llm/`."""
    path = data / "pi-llm" / VOCABULARY_FILE
    if not path.is_file():
        raise SystemExit(f"no PI-LLM vocabulary at {path}; give --data, the folder that holds pi-llm/{VOCABULARY_FILE} "
                         "(from the authors' repository zhuangziGiantfish/Unable-to-Forget, testing_data/)")
    vocabulary = json.loads(path.read_text(encoding="utf-8"))
    if len(vocabulary) != 46 or any(len(set(items)) != len(items) for items in vocabulary.values()):
        raise SystemExit(f"{path} is not the authors' vocabulary: 46 categories of distinct items")
    return vocabulary


@dataclass(frozen=True)
class Case:
    keys: tuple[str, ...]
    updates: tuple[tuple[str, str], ...]  # (key, value) in stream order
    seed: int

    @property
    def n_updates(self) -> int:
        return len(self.updates) // len(self.keys)

    @property
    def truth(self) -> dict[str, str]:
        """Each key's last value."""
        return {key: value for key, value in self.updates}

    @property
    def stream(self) -> str:
        return "".join(f"{key}: {value}; " for key, value in self.updates)

    @property
    def prompt(self) -> str:
        keys = ", ".join(self.keys)
        return PROMPT.format(count=len(self.keys), keys=keys, stream=self.stream)


class Generator:
    """Cases of 46 keys. The repeats of one N share their item counts (balanced sampling, as the
    original's sessions of one run do), so case (N, repeat) depends only on the seed, N and the
    repeats before it: `case(64, 3)` is the same whichever other sizes a run asks for."""

    def __init__(self, vocabulary: dict[str, list[str]], seed: int = 0) -> None:
        self.vocabulary = vocabulary
        self.seed = seed
        self._uses: dict[int, dict[tuple[str, str], int]] = {}
        self._made: dict[int, list[Case]] = {}

    def case(self, n_updates: int, repeat: int = 0, n_keys: int = 46) -> Case:
        if not 1 <= n_updates <= min(len(items) for items in self.vocabulary.values()):
            raise ValueError(f"updates per key must be 1 to 400, not {n_updates}")
        if repeat < 0:
            raise ValueError(f"repeat must be 0 or more, not {repeat}")
        made = self._made.setdefault(n_updates, [])
        while len(made) <= repeat:
            rng = random.Random(f"{self.seed}:{n_updates}:{len(made)}")
            keys = rng.sample(list(self.vocabulary), n_keys)  # without replacement
            values = {key: self._draw(rng, n_updates, key) for key in keys}
            made.append(Case(tuple(keys), tuple(interleave(rng, values)), self.seed))
        return made[repeat]

    def _draw(self, rng: random.Random, n_updates: int, key: str) -> list[str]:
        """`n_updates` distinct items of the category, each weighted 1 / (uses + 1)."""
        uses = self._uses.setdefault(n_updates, {})
        pool = list(self.vocabulary[key])
        chosen: list[str] = []
        for _ in range(n_updates):
            weights = [1 / (uses.get((key, item), 0) + 1) for item in pool]
            item = rng.choices(pool, weights)[0]
            pool.remove(item)
            chosen.append(item)
            uses[(key, item)] = uses.get((key, item), 0) + 1
        return chosen


def interleave(rng: random.Random, values: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Every key's values in their order, the keys shuffled so that no key comes twice in a row
    (a key whose updates outnumber all the others' but one goes first, so none is left stranded)."""
    left = {key: list(items) for key, items in values.items() if items}
    order: list[tuple[str, str]] = []
    last = None
    while left:
        total = sum(len(items) for items in left.values())
        urgent = [k for k, items in left.items() if k != last and len(items) > total - len(items)]
        choices = urgent or [k for k in left if k != last]
        if not choices:
            raise ValueError("no order keeps one key from coming twice in a row")
        key = rng.choices(choices, [len(left[k]) for k in choices])[0]
        order.append((key, left[key].pop(0)))
        if not left[key]:
            del left[key]
        last = key
    return order


# ---- scoring ------------------------------------------------------------------------------------
# The rules of the original's `extract_pieces_response_to_dict` and `compute_accuracy`
# (core/pi_flow_upgrade.py), restated: the three verbal patterns and the colon pattern are the
# published ones, so a reply reads here exactly as it reads there.

_NAME = r"[\"'\[\<]?\w+(?:\s+\w+)?[\"'\]\>]?"  # a key or value of one or two words, maybe quoted or bracketed
_END = r"(?=\n|[,.;:]|$)"
_PROBES = r"(?:most recent|final|last|latest|current|up-to-date|asked|queried|specified)"
_VERBAL = tuple(re.compile(pattern, re.IGNORECASE | re.DOTALL) for pattern in (
    # "electronics: The last seen value is Smart speaker."
    rf"({_NAME})(?:\s*[:-]\s*)(?:the)?\s*(?:most recent|final|last seen|last|latest|current|up-to-date|asked|"
    rf"queried|specified)\s+(?:value|word|term)(?:s)?\s+(?:is|was)(?:\s*:\s*)?\s+({_NAME}){_END}",
    # "The value for 'dog' is 'poodle'." ("the" required)
    rf"(?:the)\s*(?:value|word|term)?(?:s)?(?:\s+\w+){{0,1}}\s+(?:with|for|of|to)?\s+(?:the )?(?:category|key)?\s*"
    rf"({_NAME})\s+(?:is|was)(?:\s*:\s*)?\s+({_NAME}){_END}",
    # "The most recent value paired with the category 'dog' is 'poodle'." ("the" optional)
    rf"(?:the)?\s*{_PROBES}\s+(?:value|word|term)?(?:s)?(?:\s+\w+){{0,1}}\s+(?:with|for|of|to)?\s+(?:the )?"
    rf"(?:category|key)?\s*({_NAME})\s+(?:is|was)(?:\s*:\s*)?\s+({_NAME}){_END}",
))
_QUOTES = r"['\"\[\]\<\>]*"
_COLON = re.compile(rf"(?:[-,.;:\n]|\n|^)\s*{_QUOTES}(\w+(?:[ \t]+\w+)?){_QUOTES}\s*:\s*{_QUOTES}"
                    rf"(\w+(?:[ \t]+\w+)?)(?={_QUOTES}\s*(?:\n|[,.;:]|$))")
_SPEAKS_OF_A_VALUE = re.compile(r"(?:most recent|final|last|latest|current|up-to-date|asked|queried)\s+(?:value|word|term)",
                                re.IGNORECASE)
_MARKS = re.compile(r"[*'\"\[\]{}()<>]")


def parse_reply(reply: str | None) -> dict[str, str] | None:
    """{key: value} as the original reads a reply, keys as written; None for a reply that is
    empty or reports an error (the original leaves those out of the mean, as missing)."""
    if not reply:
        return None
    if "error code" in reply.lower() or reply.startswith(("error", "Error")):
        return None
    if re.search(r"\berror\b", reply, re.IGNORECASE) and len(reply) < 680:  # "about 160 tokens": no answer
        return None
    text = re.sub(r"\\(?!n)", "", reply).replace("*", "")
    found = {}
    if _SPEAKS_OF_A_VALUE.search(text):
        for key, value in _COLON.findall(text):
            key, value = _MARKS.sub("", key).strip(), _MARKS.sub("", value).strip()
            if key and value:
                found[key] = value
    for pattern in _VERBAL:  # the verbal reading wins
        for key, value in pattern.findall(text):
            key, value = _cut(_MARKS.sub("", key).strip()), _cut(_MARKS.sub("", value).strip())
            if key and value:
                found[key] = value
    found.pop("key", None)
    return found


def _cut(text: str) -> str:
    """Up to the first `,.;:` or line end (`remove_post_ending_texts`)."""
    return re.split(r"[,.;:\n]", text, maxsplit=1)[0]


def accuracy(case: Case, reply: str | None) -> float:
    """Keys whose value equals the truth (stripped, any case) over tracked keys; NaN for a reply
    the original counts as missing. Keys must be named exactly as tracked."""
    answers = parse_reply(reply)
    if answers is None:
        return math.nan
    if not answers:
        return 0.0
    right = sum(str(answers[key]).strip().lower() == value.strip().lower()
                for key, value in case.truth.items() if key in answers)
    return right / len(case.keys)


def mean_accuracy(scores: list[float]) -> float:
    """The mean over the cases that were answered (NaN when none was)."""
    answered = [score for score in scores if not math.isnan(score)]
    return sum(answered) / len(answered) if answered else math.nan


def auc_log15(by_updates: dict[int, float]) -> float:
    """OpenCompass's primary metric: accuracy weighted by log base 1.5 of max(N, 2)."""
    weights = {n: math.log(max(n, 2), 1.5) for n in by_updates}
    return sum(by_updates[n] * weights[n] for n in by_updates) / sum(weights.values())
