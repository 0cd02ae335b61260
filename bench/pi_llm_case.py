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
- the reply parsed as the original does: "the current value of <key> is <value>" and its kin
  (keys and values of up to two words, the value ending at `.,;:` or a line end), a `key: value`
  fallback only when the reply speaks of a "current value", the verbal reading winning, `*` and
  `\\` stripped, an empty reply or one saying "error" counted as missing; a key is right when its
  value equals the truth after stripping and lower-casing;
- accuracy per N, and OpenCompass's `auc_log1.5`: the mean accuracy weighted by log₁.₅(max(N, 2)).
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
        raise SystemExit(f"no PI-LLM vocabulary at {path}; give --data, the folder that holds pi-llm/{VOCABULARY_FILE}")
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
    """Cases of 46 keys; the item counts carry over between the cases it makes (balanced sampling)."""

    def __init__(self, vocabulary: dict[str, list[str]], seed: int = 0) -> None:
        self.vocabulary = vocabulary
        self.seed = seed
        self._uses: dict[tuple[str, str], int] = {}
        self._made = 0

    def case(self, n_updates: int, n_keys: int = 46) -> Case:
        if not 1 <= n_updates <= min(len(items) for items in self.vocabulary.values()):
            raise ValueError(f"updates per key must be 1 to 400, not {n_updates}")
        rng = random.Random(f"{self.seed}:{self._made}:{n_updates}")
        self._made += 1
        keys = rng.sample(list(self.vocabulary), n_keys)  # without replacement
        values = {key: self._draw(rng, key, n_updates) for key in keys}
        return Case(tuple(keys), tuple(interleave(rng, values)), self.seed)

    def _draw(self, rng: random.Random, key: str, count: int) -> list[str]:
        """`count` distinct items of the category, each weighted 1 / (uses + 1)."""
        pool = list(self.vocabulary[key])
        chosen: list[str] = []
        for _ in range(count):
            weights = [1 / (self._uses.get((key, item), 0) + 1) for item in pool]
            item = rng.choices(pool, weights)[0]
            pool.remove(item)
            chosen.append(item)
            self._uses[(key, item)] = self._uses.get((key, item), 0) + 1
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

_WORD = r"[^\s.,;:]+"
_TWO = rf"{_WORD}(?:[ \t]+{_WORD})?"
_VERBAL = re.compile(
    rf"the\s+(?:(?:current|last|latest|final|most\s+recent|updated|present)\s+)?value\s+of\s+(?:the\s+)?"
    rf"(?:key\s+)?['\"]?({_TWO})['\"]?\s+(?:is|was|=)\s+['\"]?({_TWO})", re.IGNORECASE)
_COLON = re.compile(rf"(?:^|[\s;,(])({_TWO})\s*:\s*({_TWO})", re.IGNORECASE)
_SPEAKS_OF_CURRENT = re.compile(r"current\s+value|latest\s+value|last\s+value|final\s+value", re.IGNORECASE)


def parse_reply(reply: str | None) -> dict[str, str]:
    """{key (lower case): value} as the original reads a reply; {} for an empty or failed one."""
    if not reply or not reply.strip() or "error" in reply.lower():
        return {}
    text = reply.replace("*", "").replace("\\", "")
    found: dict[str, str] = {}
    if _SPEAKS_OF_CURRENT.search(text):
        for line in text.splitlines():
            for key, value in _COLON.findall(line):
                found[_tidy(key)] = _tidy(value)
    for key, value in _VERBAL.findall(text):  # the verbal reading wins
        found[_tidy(key)] = _tidy(value)
    return found


def _tidy(text: str) -> str:
    return " ".join(text.strip().strip("'\"").split()).lower()


def accuracy(case: Case, reply: str | None) -> float:
    """Correct keys over tracked keys: the value equal to the truth, stripped and lower-cased."""
    answers = parse_reply(reply)
    right = sum(answers.get(key.lower()) == _tidy(value) for key, value in case.truth.items())
    return right / len(case.keys)


def auc_log15(by_updates: dict[int, float]) -> float:
    """OpenCompass's primary metric: accuracy weighted by log base 1.5 of max(N, 2)."""
    weights = {n: math.log(max(n, 2), 1.5) for n in by_updates}
    return sum(by_updates[n] * weights[n] for n in by_updates) / sum(weights.values())
