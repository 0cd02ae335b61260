"""bench/brakes.py's core on hand-made traces: the one-pass scores equal the detectors' on every
prefix, the table's numbers are the ones worked out by hand, tuning reads only well-posed traces
of the tune part, and the continuation ratios are the braked traces' own."""

from __future__ import annotations

import pytest

from engine.brakes import answer_stability, overthink_score, split_steps

from tests.conftest import bench_module

metrics = bench_module("brakes_metrics")
report = bench_module("brakes_report")
bench = bench_module("brakes")

# Settles on 12 in step 1, checks it calmly in step 2: SBT and answer stability fire there, keeping 12.
SETTLED = ("Twelve eggs, so the answer is 12.\n\nLet me check: 6 + 6, so \\boxed{12}.\n\n"
           "Hmm, let me verify once more with another method entirely.\n\nYes, it is 12 eggs in all.\n"
           "</think>\n\nThe answer is \\boxed{12}.")
# Changes its mind: 7 first, then 8 twice; braking at step 3 keeps 8.
CHANGED = ("think\nI think the answer is 7.\n\nBut wait, the boxes hold two more each.\n\n"
           "So the answer is 8.\n\nChecking: 4 + 4 = 8, so \\boxed{8}.\nanswer\nFinal answer: \\boxed{8}")
# Never states an answer until the end: nothing brakes.
PLAIN = "Add the two numbers.\n\nThree plus four.\n</think>\n\n\\boxed{7}"


@pytest.fixture(scope="module")
def runs():
    return [metrics.stream("m", "gsm8k", key, trace, gold)
            for key, trace, gold in (("a", SETTLED, "12"), ("b", CHANGED, "9"), ("c", PLAIN, "7"))]


def test_one_pass_scores_equal_the_detectors_on_every_prefix(runs):
    for run, trace in zip(runs, (SETTLED, CHANGED, PLAIN)):
        thinking, _ = metrics.split_trace(trace)
        for k, step in enumerate(split_steps(thinking)):
            prefix = thinking[: step.end]
            assert run.sbt[k] == pytest.approx(overthink_score(prefix).score, abs=1e-3)
            assert run.stable[k] == int(answer_stability(prefix, consecutive=False).score)
            assert run.streak[k] == int(answer_stability(prefix).score)
            for repeats in (1, 2, 3):
                for certain in (True, False):
                    for consecutive in (True, False):
                        verdict = answer_stability(prefix, repeats, consecutive=consecutive, certain=certain)
                        assert bench.stability_at(run, repeats, certain, consecutive) is not None or not verdict.fires
                        assert report._settled(run, k, repeats, certain, consecutive) == verdict.fires


def test_streamed_facts(runs):
    settled, changed, plain = runs
    assert (settled.final, changed.final, plain.final) == ("12", "8", "7")
    assert settled.answers == ["12", "12", "12", "12"]
    assert changed.answers == ["7", "7", "8", "8"]
    assert plain.answers == [None, None]
    assert [bench.combined_at(run) for run in runs] == [1, 3, None]
    assert settled.streak == [1, 2, 2, 2] and settled.certain == [True, True, True, True]
    assert changed.streak == [1, 1, 1, 2] and changed.stable == [1, 1, 1, 2]
    assert all(run.repetition_at is None and run.mip_at is None for run in runs)


# Says 30 with a question mark, then 30 again after "Hmm": stated twice, never without doubt.
DOUBTFUL = ("So the answer is 30?\n\nHmm, 5 times 6, so the answer is 30, but maybe not.\n\n"
            "Six boxes of five: \\boxed{30}.\n</think>\n\n\\boxed{30}")


def test_hesitation_holds_the_dynasor_rule_and_sbt_e_does_not_wait():
    run = metrics.stream("m", "gsm8k", "d", DOUBTFUL, "30")
    assert run.certain == [False, False, True] and run.streak == [1, 2, 3]
    assert bench.stability_at(run, 2) == 2  # the first calm statement, in the last step
    assert bench.stability_at(run, 2, certain=False) == 1
    assert bench.stability_at(run, 1) == 2


def test_measure_gives_the_numbers_worked_out_by_hand(runs):
    settled, changed, plain = runs
    row = bench.measure(runs, bench.combined_at)
    saved = settled.total - settled.tokens[1]  # the changed trace brakes at its last step: nothing saved
    assert row["traces"] == 3
    assert row["braked"] == pytest.approx(2 / 3)
    assert row["saved_mean"] == pytest.approx(saved / 3)
    assert row["saved_share"] == pytest.approx(saved / sum(run.total for run in runs))
    assert row["kept"] == 1.0 and row["kept_when_braked"] == 1.0
    assert row["accuracy_before"] == pytest.approx(2 / 3) and row["accuracy_after"] == pytest.approx(2 / 3)


def test_report_tunes_on_well_posed_tune_traces_and_reports_the_rest(runs, tmp_path, capsys):
    for run in runs:
        run.split = "report"
    runs[0].split = "tune"
    mip = metrics.stream("m", "math-MiP", "e", SETTLED, "12")
    mip.split = "tune"  # a missing-premise trace is never tuned on, whatever its part
    result = bench.report([*runs, mip])
    assert result["tune_traces"] == 1 and result["report_traces"] == 3
    assert {row["detector"] for row in result["rows"]} >= {"default", "hard_budget", "repetition", "missing_premise"}
    kinds = {(row["model"], row["dataset"]) for row in result["rows"]}
    assert {("all", "well-posed"), ("all", "missing-premise"), ("m", "math-MiP")} <= kinds
    assert result["goal"]["judged_on"].startswith("well-posed")
    well = next(row for row in result["rows"] if row["detector"] == "default" and row["dataset"] == "well-posed")
    assert well["traces"] == 2 and result["summary"]["default"]["missing-premise"]["traces"] == 1
    assert bench.main(["--data", str(tmp_path)]) == 2
    assert "no traces" in capsys.readouterr().err


def test_continuation_ratios_are_the_braked_traces_own(runs):
    settled, changed, plain = runs
    row = bench.measure(runs, bench.combined_at)
    settled_ratio = (settled.total - settled.tokens[1]) / settled.tokens[1]
    changed_ratio = 0.0  # braked at its last step: nothing after it
    assert row["continuation_median"] == pytest.approx((settled_ratio + changed_ratio) / 2)
    assert row["continuation_p90"] == pytest.approx(settled_ratio)
    assert bench.measure([plain], bench.combined_at)["continuation_median"] is None
    assert report._quantile([float(i) for i in range(1, 11)], 0.9) == 9.0


LOOPING = ("Start: the total is 30.\n\n" + "\n\n".join("I need to find the total of the numbers in this list now."
                                                      for _ in range(4)) + "\n\nSo the answer is 30.\n</think>\n\n30")


@pytest.mark.parametrize("trace", [SETTLED, CHANGED, PLAIN, LOOPING])
def test_the_bench_default_is_the_brake_a_new_session_streams_with(trace):
    """bench-brakes' "default" row and the live ReasoningWatch on DEFAULT_BRAKES brake at the same step."""
    from engine.brakes.watch import ReasoningWatch
    from engine.deltas import ReasoningDelta
    from engine.streaming import StopSignal
    from engine.tokens import token_counter

    run = metrics.stream("m", "gsm8k", "x", trace, "0")
    thinking, _ = metrics.split_trace(trace)
    watch = ReasoningWatch({}, token_counter(), StopSignal())
    for start in range(0, len(thinking), 9):
        watch.on_delta(ReasoningDelta(thinking[start : start + 9]))
    watch.on_delta(ReasoningDelta("\n\n"))  # the answer follows: the last step is closed too
    expected = report.shipped_at(run)
    assert (watch.fired.step if watch.fired else None) == expected
    if expected is not None:  # the bench sums steps' tokens, the watch counts the text: a token a step apart at most
        assert abs(watch.fired.tokens - run.tokens[expected]) <= expected + 1
