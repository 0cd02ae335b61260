"""PI-LLM as the authors built it (issue 11): the generator's semantics, the scorer on hand-worked
replies of the original extraction rules, and the reference policies through the real registry."""

from __future__ import annotations

import math
import random

import pytest

from tests.conftest import ROOT, bench_module

DATA = ROOT.parent / "shared" / "data"


case_module = bench_module("pi_llm_case")
bench = bench_module("pi_llm")


@pytest.fixture(scope="module")
def vocabulary():
    return case_module.load_vocabulary(DATA)


def test_a_case_has_46_keys_each_updated_n_times_with_distinct_values_never_twice_in_a_row(vocabulary):
    generator = case_module.Generator(vocabulary, seed=7)
    for n in (2, 17, 400):
        case = generator.case(n)
        assert len(case.keys) == 46 == len(set(case.keys)) and set(case.keys) <= set(vocabulary)
        assert len(case.updates) == 46 * n and case.n_updates == n
        for key in case.keys:
            values = [value for k, value in case.updates if k == key]
            assert len(values) == n == len(set(values)) and set(values) <= set(vocabulary[key])
            assert case.truth[key] == values[-1]  # the last value is the answer
        assert all(a[0] != b[0] for a, b in zip(case.updates, case.updates[1:]))
        assert case.stream == "".join(f"{k}: {v}; " for k, v in case.updates)


def test_a_seed_makes_a_case_again_and_another_seed_another(vocabulary):
    one, again = case_module.Generator(vocabulary, 3).case(8), case_module.Generator(vocabulary, 3).case(8)
    assert one == again
    assert case_module.Generator(vocabulary, 4).case(8).updates != one.updates


def test_balanced_sampling_prefers_items_not_used_yet(vocabulary):
    generator = case_module.Generator(vocabulary, seed=1)
    first, second = generator.case(200), generator.case(200)
    reused = [sum(v in {x for k, x in first.updates if k == key} for k2, v in second.updates if k2 == key)
              for key in second.keys]
    assert sum(reused) / len(reused) < 90  # unweighted draws of 200 of 400 would share about 100 per key


def test_the_prompt_is_the_authors_verbatim(vocabulary):
    case = case_module.Generator(vocabulary, 0).case(2)
    keys = ", ".join(case.keys)
    assert case.prompt.startswith("As my secretary, I need you to carefully read a text stream where the values of "
                                  "multiple keys are being continuously updated.The 46 keys to track include ")
    assert f"The text stream starts on the next line.\n {case.stream}\n\nWhat are the current value of each key " \
           f"({keys}) you are tracking? End your response with: 'The current value of <key> is <value>.'" in case.prompt


def test_an_order_with_one_key_too_many_is_refused_and_a_tight_one_is_found():
    rng = random.Random(0)
    tight = case_module.interleave(rng, {"a": ["1", "2", "3"], "b": ["x", "y"]})
    assert [k for k, _ in tight] == ["a", "b", "a", "b", "a"]
    with pytest.raises(ValueError):
        case_module.interleave(rng, {"a": ["1", "2", "3"], "b": ["x"]})


def test_replies_are_read_with_the_original_rules():
    case = case_module.Case(("bird", "water body", "fruit"), (("bird", "emu"), ("water body", "Lake Tana"),
                                                             ("fruit", "fig"), ("bird", "great tit")), seed=0)
    assert case.truth == {"bird": "great tit", "water body": "Lake Tana", "fruit": "fig"}
    verbal = "The current value of bird is great tit. The current value of water body is **Lake Tana**."
    assert case_module.accuracy(case, verbal) == pytest.approx(2 / 3)  # fruit missing; ** stripped
    assert case_module.parse_reply("The latest value of Fruit is FIG,")["fruit"] == "fig"
    colon = "Current values:\nbird: great tit\nwater body: Lake Tana\nfruit: fig"
    assert case_module.accuracy(case, colon) == 1.0
    assert case_module.parse_reply("bird: emu\nfruit: fig") == {}  # no "current value": no colon reading
    both = "The current value is as follows. bird: emu. The current value of bird is great tit."
    assert case_module.parse_reply(both)["bird"] == "great tit"  # the verbal reading wins
    assert case_module.accuracy(case, "An error occurred. The current value of bird is great tit.") == 0.0
    assert case_module.accuracy(case, "") == 0.0 and case_module.accuracy(case, None) == 0.0


def test_auc_log15_weights_accuracy_by_log_base_15_of_the_updates():
    scores = {2: 1.0, 8: 0.5, 400: 0.0}
    w = {n: math.log(n, 1.5) for n in scores}
    assert case_module.auc_log15(scores) == pytest.approx((w[2] * 1.0 + w[8] * 0.5) / sum(w.values()))
    assert case_module.auc_log15({1: 0.4}) == pytest.approx(0.4)  # N below 2 counts as 2


def test_the_fold_policy_keeps_the_last_fragments_and_cuts_the_tokens(vocabulary):
    long_case = case_module.Generator(vocabulary, 0).case(64)
    folded = bench.fold_policy(long_case, keep=2)
    assert folded["score"] == 1.0 and folded["calls"] == 9
    assert folded["tokens_after"] < folded["tokens_before"] * 0.3
    short = bench.fold_policy(case_module.Generator(vocabulary, 0).case(4), keep=2)
    assert short["score"] < 0.8  # at short lengths folding hides latest values, as the paper saw


def test_the_search_policy_finds_every_latest_value_but_needs_three_turns_of_budget(vocabulary):
    case = case_module.Generator(vocabulary, 0).case(8)
    found = bench.search_policy(case)
    assert found["score"] == 1.0 and found["calls"] == 46 and found["turns_within_budget"] == 3


def test_a_model_is_scored_through_the_agent_loop_in_each_setting(vocabulary):
    from engine import scripted_model

    case = case_module.Generator(vocabulary, 0).case(2)
    answer = " ".join(f"The current value of {key} is {value}." for key, value in case.truth.items())
    scripted_model.reset("pi-llm")
    scripted_model.enqueue("pi-llm", answer)
    baseline = bench.model_run(case, "scripted/pi-llm", "baseline", None)
    assert baseline["score"] == 1.0 and baseline["calls"] == 0
    sent = scripted_model.requests("pi-llm")[-1]
    assert sent["tools"] is None and sent["messages"][-1]["content"] == case.prompt
    scripted_model.enqueue("pi-llm", {"tool_calls": [{"name": "search_context", "arguments": {"query": "; bird: "}}]},
                           "The current value of bird is nothing I can recall.")
    task = bench.model_run(case, "scripted/pi-llm", "task", None)
    first = scripted_model.requests("pi-llm")[-2]
    assert first["messages"][0] == {"role": "system", "content": bench.TASK_PROMPT}
    assert first["tool_choice"] == "required" and task["calls"] == 1 and task["score"] == 0.0
    scripted_model.reset("pi-llm")
