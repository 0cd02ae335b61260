"""Brakes benchmark: the overthinking detectors on real reasoning traces, streamed as a model sends them.

    ./workbench bench-brakes                       # every trace under ../shared/data/reasoning-traces
    ./workbench bench-brakes --limit 20            # the first 20 traces of each file, a quick run
    ./workbench bench-brakes --json                # the same results as JSON
    ./workbench bench-brakes --data PATH           # traces elsewhere (the folder holding mip-overthinking/)

The traces are the MiP-Overthinking authors' (README of the data folder): four reasoning models
(DeepSeek-R1, QwQ-32B, R1-Distill-Qwen-32B "DSQ", s1.1-32B) on GSM8K and MATH, well-posed and,
for MATH, with a premise removed ("math-MiP"). Each trace's thinking is streamed step by step
(blank-line steps, as SBT tags them) and the detectors of engine.brakes run on the text so far
after each step (bench/brakes_metrics.py says how). A brake at step k stops the thinking there:
the tokens after it are saved, and the answer "kept" if the answer extractable from the
reasoning so far equals the trace's own final answer (an unbraked trace keeps its answer).
Accuracy is a rough grader against ground truth (normalized answer, or equal as numbers), before
and after the brake; after a brake the model would still write a short answer, which we cannot
replay, so the answer it had reached is taken as that answer (none reached counts as wrong).

Detectors and the default combination (../shared/reference/algorithms.md §1.8): hard budget (s1,
DEER's 9,600 tokens), answer stability (Dynasor-CoT's exit: the last 2 answer-stating steps agree
and the latest is said without hesitation; "@2x,sbt-e" is SBT-E's count of steps instead), the
SBT score (0.2), repetition, missing premise; "sources" = (SBT score >= 0.2 and the answer
settled in 2 steps: the `settled` detector) or the hard budget or repetition, at the sources'
thresholds; and "default" = that combination as a new session brakes with it, read from
engine.brakes.settings.DEFAULT_BRAKES (its thresholds were tuned here once, and are checked
against the tuned line each run).

Tuning and reporting (bench/brakes_report.py): thresholds are tuned on the well-posed traces
(GSM8K, MATH) of a seeded 30% of the questions (hash of the question; one question is in one
part for every model and variant); on a missing-premise question the right behaviour is to
abstain, so "kept" there means little and does not steer tuning. Every row is on the traces
tuning did not read: well-posed ones of the other 70%, and every missing-premise trace, each data
set apart, and summed as "well-posed" and "missing-premise". The goal (issue 9: at least 40% of
thinking tokens saved with at least 98% of answers kept) is judged on the well-posed report
traces. The continuation table gives, per detector, the median and p90 of (thinking tokens the
trace still had after the brake point) / (thinking tokens before it), which is what
engine/brakes/savings.py multiplies the tokens so far by to estimate a brake's saving.
"""

from __future__ import annotations

import argparse
import json
import sys
from multiprocessing import Pool
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from brakes_metrics import Run, load, stream  # noqa: E402
from brakes_report import (  # noqa: E402,F401  (re-exported: tests and callers use brakes.*)
    GOAL_KEPT, GOAL_SAVED, budget_at, combined_at, measure, policies, report, sbt_at, stability_at, tune,
)

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "reasoning-traces"


def _stream(item: tuple) -> Run:
    return stream(*item)


def run_all(data: Path, limit: int | None, jobs: int) -> list[Run]:
    items = load(data, limit)
    if jobs <= 1:
        return [_stream(item) for item in items]
    with Pool(jobs) as pool:  # longest first, so one long MiP trace does not finish last
        order = sorted(range(len(items)), key=lambda i: -len(items[i][3]))
        streamed = pool.map(_stream, [items[i] for i in order], chunksize=4)
    runs: list[Run | None] = [None] * len(items)
    for i, run in zip(order, streamed):
        runs[i] = run
    return runs  # type: ignore[return-value]


def _pct(x: float | None) -> str:
    return "    -" if x is None else f"{100 * x:5.1f}%"


def _ratio(x: float | None) -> str:
    return "    -" if x is None else f"{x:5.2f}"


def _print_rows(result: dict) -> None:
    header = (f"{'detector':<30} {'model':<11} {'dataset':<15} {'n':>5} {'braked':>7} {'saved/trace':>11} "
              f"{'saved':>7} {'kept':>7} {'kept|brk':>8} {'acc before':>10} {'acc after':>9}")
    current = None
    for row in result["rows"]:
        if row["detector"] != current:
            current = row["detector"]
            print(f"\n{header}")
        print(f"{row['detector']:<30} {row['model']:<11} {row['dataset']:<15} {row['traces']:>5} {_pct(row['braked']):>7} "
              f"{row['saved_mean']:>11.0f} {_pct(row['saved_share']):>7} {_pct(row['kept']):>7} "
              f"{_pct(row['kept_when_braked']):>8} {_pct(row['accuracy_before']):>10} {_pct(row['accuracy_after']):>9}")


def print_table(result: dict) -> None:
    tuned = result["tuned"]
    s, d = tuned["answer_stability"], tuned["default"]
    print(f"{result['traces']} traces: thresholds tuned on {result['tune_traces']} well-posed ones, "
          f"reported on the other {result['report_traces']}")
    settled = lambda p: (f"{p['repeats']} step{'s' if p['repeats'] > 1 else ''}"  # noqa: E731
                         f"{', the latest certain' if p['certain'] else ', hesitation allowed'}")
    print(f"tuned: SBT alone >= {tuned['overthink_score']['threshold']}; answer stability: the answer in {settled(s)}"
          f"{'' if s['consecutive'] else ' (SBT-E count)'}; default combination SBT >= {d['threshold']} with the "
          f"answer in {settled(d)}, budget {d['budget']} (on the tune part: saved {_pct(d['tune_saved_share'])}, "
          f"kept {_pct(d['tune_kept'])})")
    _print_rows(result)
    print(f"\n{'missing premise fires on':<26} {'math-MiP':>9} {'math':>9} {'gsm8k':>9}")
    for row in result["missing_premise"]:
        print(f"{row['model']:<26} {_pct(row['fires_math_MiP']):>9} {_pct(row['fires_math']):>9} {_pct(row['fires_gsm8k']):>9}")
    print("\ncontinuation after a brake: thinking tokens after the brake point / before it, braked report traces")
    print(f"{'detector':<30} {'braked':>6} {'median':>7} {'p90':>7}   {'well-posed':>17}   {'missing-premise':>17}")
    for name, kinds in result["continuation"].items():
        both, well, mip = kinds["all"], kinds["well-posed"], kinds["missing-premise"]
        print(f"{name:<30} {both['braked']:>6} {_ratio(both['median']):>7} {_ratio(both['p90']):>7}   "
              f"{_ratio(well['median']):>8} {_ratio(well['p90']):>8}   {_ratio(mip['median']):>8} {_ratio(mip['p90']):>8}")
    print()
    for name, kinds in result["summary"].items():
        well, mip = kinds["well-posed"], kinds["missing-premise"]
        print(f"{name:<30} well-posed: saved {_pct(well['saved_share'])}, kept {_pct(well['kept'])} ({well['traces']} traces); "
              f"missing-premise: saved {_pct(mip['saved_share'])}, kept {_pct(mip['kept'])} ({mip['traces']} traces)")
    goal = result["goal"]
    print(f"goal (>= {GOAL_SAVED:.0%} of thinking tokens saved, >= {GOAL_KEPT:.0%} of answers kept), shipped default "
          f"on the {goal['judged_on']}: saved {_pct(goal['saved_share'])}, kept {_pct(goal['kept'])}: "
          f"{'met' if goal['met'] else 'not met'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding mip-overthinking/")
    parser.add_argument("--limit", type=int, default=None, help="at most N traces per file")
    parser.add_argument("--jobs", type=int, default=2, help="processes streaming traces (default 2)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    try:
        runs = run_all(args.data, args.limit, args.jobs)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    result = report(runs)
    print(json.dumps(result, indent=2)) if args.json else print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
