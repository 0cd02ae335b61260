"""PI-LLM as the authors built it (issue 11): the generator's semantics, the scorer on hand-worked
replies of the original extraction rules, and the reference policies through the real registry."""

from __future__ import annotations

import json
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
    first, second = generator.case(200, 0), generator.case(200, 1)
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
    # Each expectation below is what the authors' extract_pieces_response_to_dict and
    # compute_accuracy give for the same reply (checked against their code).
    case = case_module.Case(("bird", "water body", "fruit"), (("bird", "emu"), ("water body", "Lake Tana"),
                                                             ("fruit", "fig"), ("bird", "great tit")), seed=0)
    assert case.truth == {"bird": "great tit", "water body": "Lake Tana", "fruit": "fig"}
    verbal = "The current value of bird is great tit. The current value of water body is **Lake Tana**."
    assert case_module.accuracy(case, verbal) == pytest.approx(2 / 3)  # fruit missing; ** stripped
    assert case_module.parse_reply("The latest value of Fruit is FIG,") == {"Fruit": "FIG"}
    assert case_module.accuracy(case, "The latest value of Fruit is FIG,") == 0.0  # keys are matched as tracked
    assert case_module.accuracy(case, "The current value for fruit is FIG.") == pytest.approx(1 / 3)  # values: any case
    assert case_module.parse_reply("fruit: The current value is fig.") == {"fruit": "fig"}
    assert case_module.parse_reply("The current value of fruit = fig.") == {}
    assert case_module.parse_reply("The current value of fruit is fig right now.") == {}  # two words, then an end
    colon = "Current values:\nbird: great tit\nwater body: Lake Tana\nfruit: fig"
    assert case_module.parse_reply(colon) == {"Current values": "bird", "water body": "Lake Tana", "fruit": "fig"}
    assert case_module.accuracy(case, colon) == pytest.approx(2 / 3)  # the header line swallows "bird"
    assert case_module.parse_reply("bird: emu\nfruit: fig") == {}  # no "current value": no colon reading
    both = "The current value is as follows. bird: emu. The current value of bird is great tit."
    assert case_module.parse_reply(both)["bird"] == "great tit"  # the verbal reading wins


def test_an_error_reply_is_missing_not_wrong_and_a_word_holding_error_is_not_one():
    case = case_module.Case(("law", "bird"), (("law", "terrorism"), ("bird", "emu")), seed=0)
    assert case_module.accuracy(case, "The current value of law is terrorism. The current value of bird is emu.") == 1.0
    long = "I found no error in the stream. " * 25 + "The current value of law is terrorism."
    assert case_module.accuracy(case, long) == 0.5  # a long reply may say "error"
    for failed in ("An error occurred. The current value of bird is emu.", "Error: timeout", "HTTP error code 500",
                   "", None):
        assert math.isnan(case_module.accuracy(case, failed)), failed
    assert case_module.accuracy(case, "I cannot tell.") == 0.0  # answered, but nothing readable
    assert case_module.mean_accuracy([1.0, math.nan, 0.5]) == 0.75
    assert math.isnan(case_module.mean_accuracy([math.nan]))


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


def test_the_command_line_runs_records_and_refuses_what_it_cannot_do(tmp_path):
    import os
    import subprocess
    import sys

    results = tmp_path / "RESULTS.md"
    env = {**os.environ, "WORKBENCH_RESULTS": str(results)}
    script = str(ROOT / "bench" / "pi_llm.py")
    run = subprocess.run([sys.executable, script, "--updates", "1", "4", "--policy", "search", "--repeats", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "1 updates per key: 46 updates, 1 case(s)" in run.stderr
    lines = [line.split() for line in run.stdout.splitlines() if line.startswith("search")]
    assert [(line[4], line[-3]) for line in lines if len(line) > 6] == [("1", "100.0%"), ("4", "100.0%")]  # N, score
    recorded = results.read_text(encoding="utf-8")
    assert "<!-- section:pi-llm-policy-search-n1-4-r1-s0 -->" in recorded and "`./workbench bench-pi-llm --updates 1 4" in recorded
    as_json = subprocess.run([sys.executable, script, "--updates", "2", "--policy", "fold", "--keep", "3", "--repeats", "1", "--json"],
                             capture_output=True, text=True, env=env, timeout=300)
    rows = json.loads(as_json.stdout)
    assert [(row["policy"], row["updates"]) for row in rows] == [("fold (keep 3 of 10)", 2)]
    for flags, message in ((["--updates", "401"], "1 to 400"), (["--keep", "10"], "--keep"),
                           (["--api-base", "http://127.0.0.1:9/v1"], "--api-base needs --model"),
                           (["--seed", "-1"], "--seed 0 or more"), (["--data", str(tmp_path)], "no PI-LLM vocabulary")):
        bad = subprocess.run([sys.executable, script, *flags], capture_output=True, text=True, env=env, timeout=120)
        assert bad.returncode != 0 and message in bad.stderr, (flags, bad.stderr)
    failed = subprocess.run([sys.executable, script, "--updates", "2", "--repeats", "1", "--model", "openai/none",
                             "--api-base", "http://127.0.0.1:9/v1"], capture_output=True, text=True,
                            env={**env, "OPENAI_API_KEY": "sk-test"}, timeout=300)
    assert failed.returncode == 1 and "every model call failed" in failed.stderr
    assert "openai/none" not in results.read_text(encoding="utf-8")


def test_a_case_is_the_same_whichever_other_sizes_a_run_makes(vocabulary):
    alone = case_module.Generator(vocabulary, 5).case(16, 1)
    mixed = case_module.Generator(vocabulary, 5)
    mixed.case(4, 0), mixed.case(400, 0)
    assert mixed.case(16, 1) == alone and mixed.case(16, 0) != alone


def test_the_search_policy_finds_a_key_whose_only_update_opens_the_stream(vocabulary):
    case = case_module.Generator(vocabulary, 0).case(1)
    assert bench.search_policy(case)["score"] == 1.0
