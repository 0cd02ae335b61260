"""The reasoning detectors of issue 9 on hand-written cases, fire and hold, with the traps
the issue names, and the answer extractor on a few real traces."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.brakes import (
    SBT_MARKERS,
    answer_stability,
    check_reasoning,
    extract_answers,
    final_answer,
    hard_budget,
    missing_premise,
    overthink_score,
    read_reasoning,
    repetition,
    split_steps,
)
from engine.brakes.reasoning import CHANT_CHUNK, CHANT_REPEATS, answer_certain, marker_spans, step_answers
from engine.brakes.steps import normalize_answer
from engine.tokens import token_counter

TRACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "reasoning-traces" / "mip-overthinking" / "response"


class WordCounter:
    """One token per word: budgets in tests read as word counts."""

    def count(self, text):
        return len((text or "").split())


SETTLED = (
    "James runs 3 sprints 3 times a week, 60 meters each.\n\n"
    "That is 9 sprints, so 9 * 60 = 540. The answer is 540.\n\n"
    "Wait, let me check again. 3 * 60 = 180 per session, 180 * 3 = 540.\n\n"
    "Hmm, but maybe I misread. No: 540, so \\boxed{540}.\n\n"
    "However, perhaps check once more: 540 meters."
)
RECHECK_FIRST = (
    "James runs 3 sprints 3 times a week, 60 meters each.\n\n"
    "Wait, is it 3 sprints per session? Let me check the question. Hmm, yes, but per session.\n\n"
    "Let me verify: 9 sprints, 9 * 60 = 540.\n\n"
    "So the answer is \\boxed{540}."
)


def test_steps_split_at_blank_lines_and_keep_their_spans():
    text = "one\n\n  two\nstill two\n\n\n\nthree  "
    steps = split_steps(text)
    assert [s.text for s in steps] == ["one", "two\nstill two", "three"]
    assert all(text[s.start : s.end] == s.text for s in steps)
    assert [s.index for s in steps] == [0, 1, 2]


@pytest.mark.parametrize(
    "text, value",
    [
        ("so \\boxed{540}.", "540"),
        ("\\boxed{\\dfrac{1}{2}}", "\\frac{1}{2}"),
        ("The answer is 540 meters.", "540"),
        ("Final answer: 3.5", "3.5"),
        ("Final Answer: $1,000$", "1000"),
        ("the answer is \\boxed{90^\\circ}", "90"),
        ("**Final Answer**\n\\boxed{x^{2}+1}", "x^{2}+1"),
        ("I think the answer is (B).", "(B)"),
    ],
)
def test_answers_are_extracted_as_algorithms_md_gives_them(text, value):
    assert final_answer(text) == value


def test_talk_about_the_answer_is_no_answer_and_a_box_counts_once():
    assert extract_answers("The answer is probably not what I first thought.") == ()
    assert extract_answers("I am not sure what the final answer is going to be") == ()
    assert len(extract_answers("So the answer is \\boxed{5}.")) == 1
    assert extract_answers("\\boxed{unclosed") == ()


def test_hard_budget_fires_past_the_budget_and_names_the_step_that_crossed_it():
    text = "one two three\n\nfour five six\n\nseven eight nine"
    quiet = hard_budget(text, budget=20, counter=WordCounter())
    assert not quiet.fires and quiet.score == pytest.approx(9 / 20) and quiet.evidence == ()
    verdict = hard_budget(text, budget=5, counter=WordCounter())
    assert verdict.fires and verdict.score == pytest.approx(9 / 5)
    (evidence,) = verdict.evidence
    assert evidence.positions == (1,) and evidence.text == "four five six"
    assert text[slice(*evidence.spans[0])] == "four five six"


def test_hard_budget_counts_real_tokens_by_default():
    text = "Let me think about this carefully. " * 20
    assert hard_budget(text, budget=10).fires
    assert hard_budget(text, budget=10, counter=token_counter()).score == hard_budget(text, budget=10).score
    assert not hard_budget(text, budget=10_000).fires


CALM = (
    "James runs 3 sprints 3 times a week, 60 meters each.\n\n"
    "That is 9 sprints, so 9 * 60 = 540. The answer is 540.\n\n"
    "Let me verify: 3 * 60 = 180 per session, 180 * 3 = 540, so \\boxed{540}."
)


def test_answer_stability_fires_when_two_steps_in_a_row_settle_on_the_answer_calmly():
    verdict = answer_stability(CALM)
    assert verdict.fires and verdict.score == 2
    assert [e.positions for e in verdict.evidence] == [(1,), (2,)]
    assert [CALM[slice(*e.spans[0])] for e in verdict.evidence] == ["The answer is 540", "\\boxed{540}"]
    assert answer_stability(CALM, 3).fires is False
    assert answer_stability("So \\boxed{7}.", 1).fires  # one calm statement is enough at min_repeats=1


def test_answer_stability_holds_when_the_latest_answer_is_said_with_hesitation():
    # SETTLED's second 540 follows "No:" (one of Dynasor's uncertain words): not settled yet,
    # though SBT-E's count (any two steps) and the rule without the certainty test fire.
    verdict = answer_stability(SETTLED)
    assert not verdict.fires and verdict.score == 2 and verdict.evidence[-1].note == "said with hesitation"
    assert answer_stability(SETTLED, certain=False).fires
    assert answer_stability(SETTLED, consecutive=False, certain=False).fires
    for doubt in ("The answer is 540.\n\nSo the answer is 540? Let me see.",
                  "The answer is 540.\n\nWait, so the answer is 540.",
                  "The answer is 540.\n\nMaybe the answer is 540.",
                  "The answer is 540.\n\nSo the answer is 540. Hmm, unless the week has two sessions."):
        assert not answer_stability(doubt).fires, doubt


def test_answer_stability_holds_for_one_answer_a_changed_mind_and_no_answer():
    assert not answer_stability(RECHECK_FIRST).fires
    assert not answer_stability("The answer is 4.\n\nNo wait, the answer is 5.").fires
    assert not answer_stability("So the answer is 5, that is \\boxed{5}.").fires  # one step, one solution
    assert not answer_stability("Let me think.").fires
    back_and_forth = "The answer is 4.\n\nThe answer is 5.\n\nThe answer is 4."
    assert not answer_stability(back_and_forth).fires  # Dynasor: the last two must agree
    assert answer_stability(back_and_forth, consecutive=False, certain=False).fires  # SBT-E: 4 reached twice


def test_step_answers_keep_each_steps_last_answer_and_certainty_reads_its_step_only():
    text = "So 4, the answer is 4.\n\nNo, the answer is 5, so \\boxed{6}.\n\nThe answer is 6."
    assert [a.value for a in step_answers(text)] == ["4", "6", "6"]
    last = step_answers(text)[-1]
    assert answer_certain(text, last)  # the "No" two steps back is not its sentence
    assert not answer_certain(text, step_answers(text)[1])


def test_markers_match_whole_words_only():
    assert len(SBT_MARKERS) == 25
    assert marker_spans("The button and the checkout page, anotherness, distribute, Hmmmm, awaited") == []
    found = [m for m, _, _ in marker_spans("But wait: check. HOLD ON, let me  check. Hmmm")]
    assert found == ["But", "Wait", "Check", "Hold on", "Let me check", "Check", "Hmmm"]


def _markers_one_search_each(text):
    """marker_spans as it was: one whole-word search per marker, every match of each."""
    lowered = text.lower()
    found = []
    for marker in SBT_MARKERS:
        words = r"\s+".join(re.escape(word) for word in marker.lower().split())
        found += [(marker, m.start(), m.end()) for m in re.finditer(rf"(?<!\w){words}(?!\w)", lowered)]
    return sorted(found, key=lambda item: item[1])


@pytest.mark.parametrize("text", [
    "The button leads to checkout. Let me check the checkout button. Hmmm, hmm, HMMM.",
    "Let me just double-check: recheck, check-in, Let me try another way. Maybe I should consider another.",
    "Wait, hold on... Going back, perhaps it Might work; not sure. Just to make sure, let me verify.",
    "butter, But, however, However; instead of, Instead  of, trace back, backtrack, Backtrack!",
    SETTLED,
])
def test_one_alternation_finds_what_one_search_per_marker_found(text):
    assert marker_spans(text) == _markers_one_search_each(text)


@pytest.mark.parametrize(
    "text, value, hedged",
    [
        ("So the answer is 29? Hmm.", "29", True),
        ("Maybe the answer is 12.", "12", True),
        ("So the answer is 16/27.", "\\frac{16}{27}", False),
        ("The answer is √5.", "\\sqrt{5}", False),
        ("The answer should be 6√2 units.", "6\\sqrt{2}", False),
        ("The answer is a_1 = 504.", "504", False),
        ("The answer is 2*5!*5! = 28,800.", "28800", False),
        ("The answer is 400/11, which is approximately 36.36.", "\\frac{400}{11}", False),
        ("the answer is 20000/π square meters", "\\frac{20000}{\\pi}", False),
        ("**Answer:** 12 pieces are left", "12", False),
    ],
)
def test_answers_said_in_reasoning_read_as_their_final_form(text, value, hedged):
    (answer,) = extract_answers(text)
    assert (answer.value, answer.hedged) == (value, hedged)


def test_alternatives_and_sentences_are_no_answers():
    assert extract_answers("So the answer is either 450 or 900.") == ()
    assert extract_answers("**Answer:** Jasmine has 13 left") == ()
    assert [a.value for a in extract_answers("**Answer:** Jasmine has \\boxed{13} left")] == ["13"]


def test_overthink_score_fires_when_the_answer_settled_early():
    verdict = overthink_score(SETTLED)
    # first answer in step 2 of 5: 0.9 x (1 - 2/5) = 0.54, plus 0.1 x the marker ratio
    assert verdict.fires and 0.54 < verdict.score < 0.54 + 0.1
    assert verdict.evidence[0].note == "answer 540 first reached" and verdict.evidence[0].positions == (1,)
    assert {e.note for e in verdict.evidence[1:]} >= {"marker 'Wait'", "marker 'Hmm'", "marker 'But'"}


def test_overthink_score_holds_for_a_recheck_before_the_first_answer():
    verdict = overthink_score(RECHECK_FIRST)
    assert not verdict.fires and verdict.score < 0.05  # the answer is in the last step: only the markers count
    assert not overthink_score("Wait, hmm, but let me check. " * 10).fires  # markers, no answer yet


def test_overthink_score_ignores_button_and_checkout():
    text = ("The button leads to checkout.\n\nThe answer is 3.\n\nThe button at checkout costs 3, "
            "a distribution of buttons.")
    assert overthink_score(text).score == pytest.approx(0.9 * (1 - 2 / 3))
    assert all(not e.note.startswith("marker") for e in overthink_score(text).evidence)


def test_overthink_threshold_is_a_parameter():
    assert overthink_score(SETTLED, threshold=0.9).fires is False


LOOP = "So we need to find the value of x here. " * 4
CHANT = "abcdefghij" * 5 + " "


def test_repetition_fires_on_a_sentence_loop_and_on_chanting():
    verdict = repetition("Let me start.\n\n" + LOOP)
    assert verdict.fires and verdict.score >= 1
    assert {e.note for e in verdict.evidence} == {"sentence loop, 4 times"}
    chanting = repetition("Thinking now. " + CHANT * CHANT_REPEATS)
    assert chanting.fires and any(e.note == "chunk chanted" for e in chanting.evidence)
    assert len(chanting.evidence[0].text) == CHANT_CHUNK


def test_repetition_holds_for_a_quoted_question_spread_out_and_inside_code_tables_lists():
    quoted = "\n\n".join(f"The problem says each sprint is sixty meters long. Step {i} is done." for i in range(4))
    assert not repetition(quoted).fires
    code = "Here is the loop:\n\n```python\n" + "print('hello world, this line repeats')\n" * 12 + "```\n\nDone."
    assert not repetition(code).fires
    table = "| a | b | c | d | e | f |\n" * 12
    assert not repetition("A table:\n" + table).fires
    listed = "- check the value of x against the list\n" * 12
    assert not repetition(listed).fires
    maths = "\\[\n" + "3 \\times 60 = 180 \\text{ meters per session} \\\\\n" * 12 + "\\]\nSo 540."
    assert not repetition(maths).fires


MIP = (
    "We need Mary's age now.\n\n"
    "The problem doesn't say how old she was in 2000, so we cannot subtract.\n\n"
    "Maybe I missed it. No, the starting age is not given anywhere.\n\n"
    "Unless there's more context, the question is incomplete."
)


def test_missing_premise_fires_on_cues_in_two_or_more_steps():
    verdict = missing_premise(MIP)
    assert verdict.fires and verdict.score == 3
    assert [e.positions for e in verdict.evidence] == [(1,), (2,), (3,)]
    assert MIP[slice(*verdict.evidence[0].spans[0])] == "doesn't say"


def test_missing_premise_holds_for_one_cue_and_ordinary_maths_talk():
    assert not missing_premise("The problem doesn't say the unit, but meters is clear.\n\nSo 540.").fires
    ordinary = ("Assume x > 0. The missing side is 5, and the area depends on it.\n\n"
                "The lengths are given, the angle is given.\n\nSo the answer is 12.")
    assert missing_premise(ordinary).score == 0


@pytest.mark.parametrize("text", [SETTLED, RECHECK_FIRST, MIP, "Let me start.\n\n" + LOOP])
def test_think_tags_in_content_and_a_reasoning_text_give_the_same_verdicts(text):
    tagged = read_reasoning(content=f"<think>\n{text}\n</think>\n\nIt is 540.")
    opened_in_prompt = read_reasoning(content=f"{text}\n</think>\n\nIt is 540.")
    separate = read_reasoning(content="It is 540.", reasoning=text)
    assert tagged == opened_in_prompt == separate
    assert tagged.answer == "It is 540."
    counter = WordCounter()
    assert check_reasoning(tagged.text, counter=counter) == check_reasoning(text, counter=counter)


def test_reasoning_in_both_channels_is_read_as_one_text():
    both = read_reasoning(content="<think>Second part.</think>Answer.", reasoning="First part.")
    assert both.text == "First part.\n\nSecond part." and both.answer == "Answer."
    assert read_reasoning(content="Plain answer.") == read_reasoning(content="Plain answer.", reasoning="")


def _real_traces():
    # (file, record index): the first records of four models' files, GSM8K and MATH
    return [("gsm8k/normal/QwQ", 0), ("gsm8k/normal/deepseekR1", 0), ("gsm8k/normal/s1.1", 1),
            ("math/normal/DSQ", 0), ("math/normal/deepseekR1", 1)]


@pytest.mark.parametrize("name, index", _real_traces())
def test_the_extractor_finds_each_real_traces_final_answer(name, index):
    assert TRACES.is_dir(), f"the real traces are missing: expected {TRACES} (the project's ../shared/data)"
    record = json.loads((TRACES / name / "response.json").read_text(encoding="utf-8"))[index]
    trace = next(value for key, value in record.items() if key.startswith("deepseek-reasoner") or key == "model_answer")
    if "</think>" in trace:  # deepseekR1, QwQ, DSQ
        thinking, answer = trace.split("</think>", 1)
    else:  # s1.1: "think\n<reasoning>\nanswer\n<final answer>"
        thinking, answer = trace.rsplit("\nanswer\n", 1)
    gold = record["answer"].split("####")[-1].strip() if name.startswith("gsm8k") else record["answer"]
    assert final_answer(answer) == normalize_answer(gold)
