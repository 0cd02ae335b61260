"""NeedleBench multi-needle reasoning (arXiv 2407.11963) as OpenCompass builds it: case, prompt, score.

Faithful to `open-compass/opencompass` opencompass/datasets/needlebench_v2/multi.py and atc.py
(0.5.4), English, the question at the end (../shared/reference/sculptor-and-benchmarks.md §4):
- a kinship chain over `needles + 1` people: for each pair a random template of the seven and a
  random term of the ten (`relationship_templates_en`, `relationship_terms_en`), the elder first;
  the sentences shuffled and each wrapped in newlines; the answer is the chain's first person and
  the question asks for the eldest relative of its last;
- the haystack: the essays shuffled (the original shuffles one list again for every repeat, with
  `random.seed(counter)`, so repeat 3's order depends on repeats 0-2), tokens of tiktoken's
  `gpt-4` encoding (cl100k_base) taken line by line up to `length - 3000 - the needles' tokens`
  (at 1k and 2k that is nothing: the document is the needles alone, as in the original);
- needle 0 at 40% of the haystack's tokens, each next one 10% further, the original's arithmetic
  kept (it counts the previous needle's length twice);
- the prompt verbatim (three worked examples and the `\\boxed{}` instruction);
- the score: the last `\\boxed{...}` (braces balanced), one pair of inner braces dropped, LaTeX,
  backslashes, quotes and extra spaces cleaned (`clean_atc_answer`), then exact equality.

Two substitutes, said wherever results are printed: the names (`names.json` is only on Hugging
Face; `needlebench_names.py` makes 2,500 from first names and surnames, or give the original with
`--data DIR` holding `needlebench/names.json`), and the haystack lines (the original's
`PaulGrahamEssays.jsonl`, one essay a line, when `needlebench/` holds it; otherwise the 50 essay
files of `paul-graham-essays/`, one a line, sorted by name).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from needlebench_names import substitute_names

LENGTH_BUFFER = 3000  # English (200 for Chinese)
DEPTH = 40  # Sculptor's fixed depth (App. C.3)
DIFF = 10  # percent between needles
SCULPTOR_LENGTHS = (1_000, 2_000, 16_000, 64_000, 128_000)
SCULPTOR_NEEDLES = (2, 3, 4, 5)

RELATIONSHIP_TERMS = ("father", "mother", "dad", "mom", "grandfather", "grandmother", "maternal grandmother",
                      "maternal grandfather", "paternal grandfather", "paternal grandmother")
TEMPLATES = (
    "{A} is {B}'s {relationship}.",
    "{B}'s {relationship} is {A}.",
    "{A}, as {B}'s {relationship}, has a significant impact on {B}'s upbringing.",
    "{A} is not only {B}'s {relationship} but also {B}'s role model.",
    "During {B}'s upbringing, {A} was not only {B}'s {relationship}, but also {B}'s guardian.",
    "For {B}, {A} is not just a {relationship}, but also a friend.",
    "For {B}, {A} is more than just a {relationship}; {A} is a lifelong mentor of {B}.",
)
QUESTION = ("Given the context described above, who is the eldest relative that '{last_person}' can trace back to "
            "in the context?")
PROMPT = """This is a test of long-text capability. You need to first read the long document below, and then answer the final question based on the information in the document.
The content of the long document is as follows

<Document>
{context}
</Document>

Based on the information in the document, now please answer: {question}

For example:
Example 1: If James Hill's father is Jasmine Lane, and no further information about familial relationships is provided in the text, then the oldest relative James Hill can trace back to in the provided text is \\boxed{{Jasmine Lane}}.
Example 2: If Andrew Williams's grandmother is Dan Newton, and Dan Newton's father is James Hill, and no further information about familial relationships is provided in the text, then the oldest relative Andrew Williams can trace back to in the provided text is \\boxed{{James Hill}}.
Example 3: If Jeff White's father is Kevin Le, Dan Newton's grandmother is Jeff White, and Jeff White's father is Kevin Le, and Shelley Mills is Dan Newton's great-granddaughter, and no further information about familial relationships is provided in the text, then the oldest relative Shelley Mills can trace back to in the provided text is \\boxed{{Kevin Le}}.

Notes:
1. You do not need to worry about the gender consistency of names in this test. For example, a name that is typically considered feminine can still be the father of another person. Our primary focus is on who is older.
2. Ignore surname inheritance issues. For instance, Andrew Williams could still be the biological father of Christopher Baker. We only care about who is older and do not need to consider whether a child should inherit the father's or mother's surname.
3. At the end of your response, remember to put your final answer within \\boxed{{}}. For example: "So the oldest relative '{last_person}' can trace back to in the provided text is \\boxed{{(your answer here)}}."

"""


@dataclass(frozen=True)
class Case:
    length: int
    people: tuple[str, ...]  # eldest first: people[i] is people[i + 1]'s relative
    needles: tuple[str, ...]  # the relation sentences, shuffled, each "\n" + sentence + "\n"
    context: str  # the haystack with the needles in it
    starts: tuple[int, ...]  # the token each needle starts at in the context (cl100k_base)
    haystack_tokens: int  # the essay tokens around them
    counter: int
    tokens: tuple[int, ...] = field(default=(), repr=False, compare=False)  # the context's tokens, needles in

    @property
    def answer(self) -> str:
        return self.people[0]

    @property
    def last_person(self) -> str:
        return self.people[-1]

    @property
    def question(self) -> str:
        return QUESTION.format(last_person=self.last_person)

    @property
    def prompt(self) -> str:
        return PROMPT.format(context=self.context, question=self.question, last_person=self.last_person)


def chain(rng: random.Random, names: list[str], needles: int) -> tuple[tuple[str, ...], list[str]]:
    """The original's `get_random_needles`: people eldest first, and the shuffled sentences."""
    people = rng.sample(names, needles + 1)
    sentences = []
    for elder, younger in zip(people, people[1:]):
        template = rng.choice(TEMPLATES)
        sentences.append(template.format(A=elder, B=younger, relationship=rng.choice(RELATIONSHIP_TERMS)))
    rng.shuffle(sentences)
    return tuple(people), sentences


def insertion_points(total: int, needle_lengths: list[int], depth: int = DEPTH, diff: int = DIFF) -> list[int]:
    """Token offsets of the needles in the haystack as the original computes them (then shifts them
    again by each needle inserted before)."""
    points: list[int] = []
    for i, _ in enumerate(needle_lengths):
        if i == 0:
            point = int(total * (depth / 100))
        else:
            point = int(points[i - 1] + needle_lengths[i - 1] + total * (diff / 100))
        points.append(min(point, total + sum(needle_lengths[:i])))
    return points


def insert_needles(tokens: list[int], needles: list[list[int]], depth: int = DEPTH) -> tuple[list[int], list[int]]:
    """The haystack's tokens with the needles in, and where each needle starts."""
    points = insertion_points(len(tokens), [len(n) for n in needles], depth)
    for i, needle in enumerate(needles):
        tokens = tokens[: points[i]] + needle + tokens[points[i]:]
        for j in range(i + 1, len(points)):
            points[j] += len(needle)
    return tokens, points


class Generator:
    """Cases of one haystack and one list of names; `counter` is the original's repeat number."""

    def __init__(self, lines: list[str], names: list[str], encoding) -> None:
        if not lines or not names:
            raise ValueError("a NeedleBench generator needs haystack lines and names")
        self.lines = list(lines)
        self.names = list(names)
        self.encoding = encoding  # tiktoken's cl100k_base, the original's `gpt-4`

    def haystack_order(self, counter: int) -> list[str]:
        """The lines as the original has them at repeat `counter`: shuffled once per repeat so far."""
        lines = list(self.lines)
        for repeat in range(counter + 1):
            random.Random(repeat).shuffle(lines)
        return lines

    def case(self, length: int, needles: int, counter: int = 0, depth: int = DEPTH) -> Case:
        if needles < 1 or needles + 1 > len(self.names):
            raise ValueError(f"needles must be 1 to {len(self.names) - 1}, not {needles}")
        if length < 1:
            raise ValueError(f"length must be a positive number of tokens, not {length}")
        people, sentences = chain(random.Random(counter), self.names, needles)
        wrapped = [f"\n{sentence}\n" for sentence in sentences]
        needle_tokens = [self.encoding.encode(needle) for needle in wrapped]
        target = max(length - LENGTH_BUFFER - sum(len(t) for t in needle_tokens), 0)
        tokens: list[int] = []
        for line in self.haystack_order(counter):
            tokens.extend(self.encoding.encode(line))
            if len(tokens) >= target:
                break
        joined, points = insert_needles(tokens[:target], needle_tokens, depth)
        return Case(length, people, tuple(wrapped), self.encoding.decode(joined), tuple(points), min(len(tokens), target),
                    counter, tuple(joined))


_BOXED = "\\boxed"


def last_boxed(text: str) -> str | None:
    """The last `\\boxed{...}` (or `\\fbox{...}`) with its braces balanced, as OpenCompass finds it."""
    at = text.rfind(_BOXED)
    if at < 0:
        at = text.rfind("\\fbox")
        if at < 0:
            return None
    depth = 0
    for i in range(at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[at: i + 1]
    return None


def clean_answer(text: str) -> str:
    """OpenCompass's `clean_atc_answer`."""
    if not text or text == "None":
        return "None"
    text = re.sub(r"\\text\{([^}]+)\}", r"\1", text)
    text = re.sub(r"\\boxed\{([^}]+)\}", r"\1", text)
    text = re.sub(r"\\[\[\]]", "", text)
    text = text.replace("\\\\", "").replace("\\", "")
    text = re.sub(r"\s+", " ", text).strip()
    text = text.replace('"', "").replace("'", "")
    return text.replace("~", " ")


def extract_answer(reply: str | None) -> str:
    """`needlebench_atc_postprocess_v2`: the boxed answer, cleaned, or "None"."""
    boxed = last_boxed(reply or "")
    if boxed is None or not (boxed.startswith(_BOXED + "{") and boxed.endswith("}")):
        return "None"  # a \\fbox{} is found but not unwrapped, as in the original
    answer = boxed[len(_BOXED) + 1: -1]
    inner = re.match(r"^\{(.*)\}$", answer)
    if inner:
        answer = inner.group(1)
    return clean_answer(answer) if answer else "None"


def score(case: Case, reply: str | None) -> float:
    """1.0 when the reply's boxed answer is the eldest person exactly, else 0.0."""
    return float(extract_answer(reply).strip() == case.answer.strip())


def load_haystack(data: Path) -> tuple[list[str], str]:
    """The haystack lines, and which source they came from."""
    jsonl = data / "needlebench" / "PaulGrahamEssays.jsonl"
    if jsonl.is_file():
        lines = [json.loads(line)["text"] for line in jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
        return lines, f"{jsonl} (the original's haystack)"
    folder = data / "paul-graham-essays"
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        raise SystemExit(f"no haystack in {data}: give --data, the folder that holds paul-graham-essays/*.txt "
                         "(gkamradt/LLMTest_NeedleInAHaystack) or needlebench/PaulGrahamEssays.jsonl "
                         "(the Hugging Face dataset opencompass/NeedleBench)")
    return [path.read_text(encoding="utf-8") for path in files], f"{folder} ({len(files)} essays, one a line, by name)"


def load_names(data: Path) -> tuple[list[str], str]:
    """The English names, and which source they came from."""
    path = data / "needlebench" / "names.json"
    if path.is_file():
        names = json.loads(path.read_text(encoding="utf-8"))["English"].split(",")  # as the original: no strip
        return names, f"{path} (the original's names)"
    return substitute_names(), "needlebench_names.py (2,500 made-up names: names.json is only on Hugging Face)"
