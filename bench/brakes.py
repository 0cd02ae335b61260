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
DEER's 9,600 tokens), answer stability (SBT-E, 2 steps), the SBT score (0.2), repetition, missing
premise, and "default" = (SBT score >= 0.2 and the same answer in 2 steps) or the hard budget or
repetition. Thresholds are tuned on a seeded 30% of the questions (hash of the question; the same
question is in the same part for every model) and every table row is on the other 70%.
Goal (issue 9): at least 40% of thinking tokens saved with at least 98% of answers kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from brakes_metrics import Run, correct, load, stream  # noqa: E402
from engine.brakes.reasoning import DEFAULT_THINKING_BUDGET, SBT_E_MIN_REPEATS, SBT_THRESHOLD  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "reasoning-traces"
GOAL_SAVED, GOAL_KEPT = 0.40, 0.98
SBT_GRID = tuple(round(0.1 * i, 1) for i in range(1, 10))
REPEATS_GRID = (2, 3)
BUDGET_GRID = (DEFAULT_THINKING_BUDGET, 16_000, 32_000)  # DEER 0.6 x 16k, DEER max, s1
Policy = Callable[[Run], "int | None"]


def _first(run: Run, test: Callable[[int], bool]) -> int | None:
    return next((k for k in range(len(run.tokens)) if test(k)), None)


def budget_at(run: Run, budget: int = DEFAULT_THINKING_BUDGET) -> int | None:
    return _first(run, lambda k: run.tokens[k] >= budget)


def stability_at(run: Run, repeats: int = SBT_E_MIN_REPEATS) -> int | None:
    return _first(run, lambda k: run.stable[k] >= repeats)


def sbt_at(run: Run, threshold: float = SBT_THRESHOLD) -> int | None:
    return _first(run, lambda k: run.sbt[k] >= threshold)


def combined_at(run: Run, threshold: float = SBT_THRESHOLD, repeats: int = SBT_E_MIN_REPEATS,
                budget: int = DEFAULT_THINKING_BUDGET) -> int | None:
    """§1.8: (SBT score >= threshold and the same answer in `repeats` steps), or the hard budget, or repetition."""
    found = [k for k in (_first(run, lambda k: run.sbt[k] >= threshold and run.stable[k] >= repeats),
                         budget_at(run, budget), run.repetition_at) if k is not None]
    return min(found) if found else None


def policies(tuned: dict) -> dict[str, Policy]:
    t, r, b = tuned["default"]["threshold"], tuned["default"]["repeats"], tuned["default"]["budget"]
    return {
        "hard_budget": budget_at,
        "answer_stability": stability_at,
        "overthink_score": sbt_at,
        f"overthink_score@{tuned['overthink_score']['threshold']}":
            lambda run: sbt_at(run, tuned["overthink_score"]["threshold"]),
        "repetition": lambda run: run.repetition_at,
        "missing_premise": lambda run: run.mip_at,
        "default": combined_at,
        f"default@{t},{r}x,{b // 1000}k": lambda run: combined_at(run, t, r, b),
    }


def measure(runs: list[Run], policy: Policy) -> dict:
    """Share braked, tokens saved, answers kept and accuracy before and after, for one policy."""
    n = len(runs)
    braked = saved = kept = kept_braked = before = after = total = 0
    for run in runs:
        k = policy(run)
        total += run.total
        good = correct(run.final, run.gold)
        before += good
        if k is None:
            kept += 1
            after += good
            continue
        braked += 1
        saved += run.total - run.tokens[k]
        same = run.answers[k] == run.final
        kept += same
        kept_braked += same
        after += correct(run.answers[k], run.gold)
    share = lambda x, of: x / of if of else 0.0  # noqa: E731
    return {"traces": n, "braked": share(braked, n), "saved_mean": share(saved, n),
            "saved_share": share(saved, total), "kept": share(kept, n), "kept_when_braked": share(kept_braked, braked),
            "accuracy_before": share(before, n), "accuracy_after": share(after, n), "thinking_tokens": total}


def _best(runs: list[Run], candidates: list[tuple[dict, Policy]]) -> dict:
    """The candidate saving the most tokens with >= 98% of answers kept (else the one keeping most)."""
    scored = [(params, measure(runs, policy)) for params, policy in candidates]
    meeting = [item for item in scored if item[1]["kept"] >= GOAL_KEPT]
    params, result = (max(meeting, key=lambda item: item[1]["saved_share"]) if meeting
                      else max(scored, key=lambda item: (item[1]["kept"], item[1]["saved_share"])))
    return {**params, "tune_saved_share": result["saved_share"], "tune_kept": result["kept"],
            "meets_kept_goal": bool(meeting)}


def tune(runs: list[Run]) -> dict:
    """SBT threshold (alone); SBT threshold, SBT-E repeat count and hard budget (in the combination)."""
    alone = [({"threshold": t}, lambda run, t=t: sbt_at(run, t)) for t in SBT_GRID]
    combo = [({"threshold": t, "repeats": r, "budget": b}, lambda run, t=t, r=r, b=b: combined_at(run, t, r, b))
             for t in SBT_GRID for r in REPEATS_GRID for b in BUDGET_GRID]
    return {"overthink_score": _best(runs, alone), "default": _best(runs, combo)}


def report(runs: list[Run]) -> dict:
    tuning = [run for run in runs if run.split == "tune"]
    reported = [run for run in runs if run.split == "report"]
    tuned = tune(tuning)
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in reported:
        groups[(run.model, run.dataset)].append(run)
        groups[("all", run.dataset)].append(run)
        groups[("all", "all")].append(run)
    rows = [{"detector": name, "model": model, "dataset": dataset, **measure(group, policy)}
            for name, policy in policies(tuned).items() for (model, dataset), group in sorted(groups.items())]
    mip = []
    for model in sorted({run.model for run in reported}) + ["all"]:
        def fires(dataset: str) -> tuple[float, int]:
            group = groups.get((model, dataset), [])
            return (sum(run.mip_at is not None for run in group) / len(group) if group else 0.0), len(group)
        (on_mip, n_mip), (on_math, n_math), (on_gsm, n_gsm) = fires("math-MiP"), fires("math"), fires("gsm8k")
        mip.append({"model": model, "fires_math_MiP": on_mip, "fires_math": on_math, "fires_gsm8k": on_gsm,
                    "n_math_MiP": n_mip, "n_math": n_math, "n_gsm8k": n_gsm})
    goal = next(row for row in rows if row["detector"].startswith("default@") and row["model"] == "all"
                and row["dataset"] == "all")
    return {"traces": len(runs), "tune_traces": len(tuning), "report_traces": len(reported), "tuned": tuned,
            "goal": {"saved_share": goal["saved_share"], "kept": goal["kept"],
                     "met": goal["saved_share"] >= GOAL_SAVED and goal["kept"] >= GOAL_KEPT},
            "rows": rows, "missing_premise": mip}


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


def _pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def print_table(result: dict) -> None:
    tuned = result["tuned"]
    print(f"{result['traces']} traces: thresholds tuned on {result['tune_traces']}, reported on {result['report_traces']}")
    print(f"tuned: SBT alone >= {tuned['overthink_score']['threshold']}; default combination SBT >= "
          f"{tuned['default']['threshold']} with the answer in {tuned['default']['repeats']} steps, "
          f"budget {tuned['default']['budget']} "
          f"(on the tune part: saved {_pct(tuned['default']['tune_saved_share'])}, kept {_pct(tuned['default']['tune_kept'])})")
    header = (f"{'detector':<24} {'model':<11} {'dataset':<9} {'n':>5} {'braked':>7} {'saved/trace':>11} "
              f"{'saved':>7} {'kept':>7} {'kept|brk':>8} {'acc before':>10} {'acc after':>9}")
    current = None
    for row in result["rows"]:
        if row["detector"] != current:
            current = row["detector"]
            print(f"\n{header}")
        print(f"{row['detector']:<24} {row['model']:<11} {row['dataset']:<9} {row['traces']:>5} {_pct(row['braked']):>7} "
              f"{row['saved_mean']:>11.0f} {_pct(row['saved_share']):>7} {_pct(row['kept']):>7} "
              f"{_pct(row['kept_when_braked']):>8} {_pct(row['accuracy_before']):>10} {_pct(row['accuracy_after']):>9}")
    print(f"\n{'missing premise fires on':<26} {'math-MiP':>9} {'math':>9} {'gsm8k':>9}")
    for row in result["missing_premise"]:
        print(f"{row['model']:<26} {_pct(row['fires_math_MiP']):>9} {_pct(row['fires_math']):>9} {_pct(row['fires_gsm8k']):>9}")
    goal = result["goal"]
    print(f"\ngoal (>= {GOAL_SAVED:.0%} of thinking tokens saved, >= {GOAL_KEPT:.0%} of answers kept), tuned default "
          f"on the report part: saved {_pct(goal['saved_share'])}, kept {_pct(goal['kept'])}: "
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
