"""Helpers for bench/brakes.py: the brake policies, measuring one over a set of traces, tuning
thresholds on the well-posed tune part, and the report.

Tuning reads only well-posed traces (GSM8K and MATH) of the tune part: on a missing-premise
question the right behaviour is to abstain, so "the answer kept" means little there and must
not steer the thresholds. The report is on every trace tuning did not read: the well-posed
traces of the report part and all missing-premise traces (none of them is ever tuned on; the
same question stays in one part across models). Well-posed and missing-premise results are
kept apart in every summary, and the goal is judged on the well-posed ones.
"""

from __future__ import annotations

from collections import defaultdict
from statistics import median
from typing import Callable

from brakes_metrics import Run, correct
from engine.brakes.reasoning import DEFAULT_THINKING_BUDGET, SBT_E_MIN_REPEATS, SBT_THRESHOLD
from engine.brakes.settings import DEFAULT_BRAKES

GOAL_SAVED, GOAL_KEPT = 0.40, 0.98
WELL_POSED = ("gsm8k", "math")
MISSING_PREMISE = "math-MiP"
SBT_GRID = tuple(round(0.1 * i, 1) for i in range(1, 10))
REPEATS_GRID = (1, 2, 3)
CERTAIN_GRID = (True, False)
BUDGET_GRID = (DEFAULT_THINKING_BUDGET, 16_000, 32_000)  # DEER 0.6 x 16k, DEER max, s1
Policy = Callable[[Run], "int | None"]


def _first(run: Run, test: Callable[[int], bool]) -> int | None:
    return next((k for k in range(len(run.tokens)) if test(k)), None)


def budget_at(run: Run, budget: int = DEFAULT_THINKING_BUDGET) -> int | None:
    return _first(run, lambda k: run.tokens[k] >= budget)


def _settled(run: Run, k: int, repeats: int, certain: bool, consecutive: bool) -> bool:
    """`answer_stability(text[:end_k], repeats, consecutive=..., certain=...)` fires, from the run's per-step facts."""
    count = run.streak[k] if consecutive else run.stable[k]
    return count >= repeats and (run.certain[k] or not certain) and run.answers[k] is not None


def stability_at(run: Run, repeats: int = SBT_E_MIN_REPEATS, certain: bool = True, consecutive: bool = True) -> int | None:
    return _first(run, lambda k: _settled(run, k, repeats, certain, consecutive))


def sbt_at(run: Run, threshold: float = SBT_THRESHOLD) -> int | None:
    return _first(run, lambda k: run.sbt[k] >= threshold)


def combined_at(run: Run, threshold: float = SBT_THRESHOLD, repeats: int = SBT_E_MIN_REPEATS,
                budget: int = DEFAULT_THINKING_BUDGET, certain: bool = True) -> int | None:
    """§1.8: (SBT score >= threshold and the answer settled in `repeats` steps: the `settled`
    detector), or the hard budget, or repetition; the defaults are the sources' thresholds."""
    found = [k for k in (_first(run, lambda k: run.sbt[k] >= threshold and _settled(run, k, repeats, certain, True)),
                         budget_at(run, budget), run.repetition_at) if k is not None]
    return min(found) if found else None


def _stability_name(params: dict) -> str:
    return f"answer_stability@{params['repeats']}x{',certain' if params['certain'] else ''}" \
           f"{'' if params['consecutive'] else ',sbt-e'}"


def _default_name(params: dict) -> str:
    return (f"default@{params['threshold']},{params['repeats']}x{',certain' if params['certain'] else ''},"
            f"{params['budget'] // 1000}k")


def policies(tuned: dict) -> dict[str, Policy]:
    """Every detector at its source's threshold, the tuned ones, and the default combination both ways."""
    s, d = tuned["answer_stability"], tuned["default"]
    return {
        "hard_budget": budget_at,
        "answer_stability": stability_at,
        "answer_stability@2x,sbt-e": lambda run: stability_at(run, 2, False, False),
        _stability_name(s): lambda run: stability_at(run, s["repeats"], s["certain"], s["consecutive"]),
        "overthink_score": sbt_at,
        f"overthink_score@{tuned['overthink_score']['threshold']}":
            lambda run: sbt_at(run, tuned["overthink_score"]["threshold"]),
        "repetition": lambda run: run.repetition_at,
        "missing_premise": lambda run: run.mip_at,
        "sources": combined_at,
        "default": shipped_at,
        _default_name(d): lambda run: combined_at(run, d["threshold"], d["repeats"], d["budget"], d["certain"]),
    }


def shipped_at(run: Run) -> int | None:
    """The combination a new session brakes with: engine.brakes.settings.DEFAULT_BRAKES, read here
    so the bench measures exactly what ships (its hard budget, `settled`, repetition)."""
    brakes = DEFAULT_BRAKES
    assert {"hard_budget", "settled", "repetition"} <= set(brakes["detectors"]), "the bench measures this combination"
    return combined_at(run, brakes["overthink_threshold"], brakes["answer_repeats"], brakes["thinking_budget"],
                       brakes["answer_certain"])


def _share(x: float, of: float) -> float:
    return x / of if of else 0.0


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile by the nearest-rank rule (p90 of ten values is the ninth); None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, -(-int(q * 100) * len(ordered) // 100) - 1))]


def measure(runs: list[Run], policy: Policy) -> dict:
    """Share braked, tokens saved, answers kept, accuracy before and after, and the continuation
    ratio (thinking tokens after the brake point / before it) of the braked traces."""
    n = len(runs)
    braked = saved = kept = kept_braked = before = after = total = 0
    ratios: list[float] = []
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
        ratios.append(_share(run.total - run.tokens[k], run.tokens[k]))
        same = run.answers[k] == run.final
        kept += same
        kept_braked += same
        after += correct(run.answers[k], run.gold)
    return {"traces": n, "braked": _share(braked, n), "saved_mean": _share(saved, n),
            "saved_share": _share(saved, total), "kept": _share(kept, n), "kept_when_braked": _share(kept_braked, braked),
            "accuracy_before": _share(before, n), "accuracy_after": _share(after, n), "thinking_tokens": total,
            "continuation_median": median(ratios) if ratios else None, "continuation_p90": _quantile(ratios, 0.9)}


def _best(runs: list[Run], candidates: list[tuple[dict, Policy]]) -> dict:
    """The candidate saving the most tokens with >= 98% of answers kept (else the one keeping most)."""
    scored = [(params, measure(runs, policy)) for params, policy in candidates]
    meeting = [item for item in scored if item[1]["kept"] >= GOAL_KEPT]
    params, result = (max(meeting, key=lambda item: item[1]["saved_share"]) if meeting
                      else max(scored, key=lambda item: (item[1]["kept"], item[1]["saved_share"])))
    return {**params, "tune_saved_share": result["saved_share"], "tune_kept": result["kept"],
            "meets_kept_goal": bool(meeting)}


def tune(runs: list[Run]) -> dict:
    """Thresholds on `runs` (the well-posed tune part): the SBT threshold alone; answer
    stability's repeats, certainty and SBT-E-or-Dynasor count; and, in the combination, the
    SBT threshold, repeats, certainty and hard budget."""
    alone = [({"threshold": t}, lambda run, t=t: sbt_at(run, t)) for t in SBT_GRID]
    stable = [({"repeats": r, "certain": c, "consecutive": q}, lambda run, r=r, c=c, q=q: stability_at(run, r, c, q))
              for r in REPEATS_GRID for c in CERTAIN_GRID for q in (True, False)]
    combo = [({"threshold": t, "repeats": r, "budget": b, "certain": c},
              lambda run, t=t, r=r, b=b, c=c: combined_at(run, t, r, b, c))
             for t in SBT_GRID for r in REPEATS_GRID for b in BUDGET_GRID for c in CERTAIN_GRID]
    return {"overthink_score": _best(runs, alone), "answer_stability": _best(runs, stable), "default": _best(runs, combo)}


def _groups(reported: list[Run]) -> dict[tuple[str, str], list[Run]]:
    groups: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in reported:
        kind = "well-posed" if run.dataset in WELL_POSED else "missing-premise"
        for key in ((run.model, run.dataset), ("all", run.dataset), ("all", kind)):
            groups[key].append(run)
    return dict(sorted(groups.items()))


def _mip_rates(groups: dict, models: list[str]) -> list[dict]:
    rows = []
    for model in models + ["all"]:
        row = {"model": model}
        for dataset in (MISSING_PREMISE, "math", "gsm8k"):
            group = groups.get((model, dataset), [])
            row[f"fires_{dataset.replace('-', '_')}"] = _share(sum(run.mip_at is not None for run in group), len(group))
            row[f"n_{dataset.replace('-', '_')}"] = len(group)
        rows.append(row)
    return rows


def _continuation(row: dict | None) -> dict:
    """How long braked traces went on: the traces braked, and the median and p90 of (thinking
    tokens after the brake point) / (thinking tokens before it); None where none braked."""
    row = row or {}
    return {"braked": round(row.get("braked", 0.0) * row.get("traces", 0)),
            "median": row.get("continuation_median"), "p90": row.get("continuation_p90")}


def report(runs: list[Run]) -> dict:
    """Tune on the well-posed tune part, report on the rest (module docstring)."""
    tuning = [run for run in runs if run.split == "tune" and run.dataset in WELL_POSED]
    reported = [run for run in runs if not (run.split == "tune" and run.dataset in WELL_POSED)]
    tuned = tune(tuning)
    groups = _groups(reported)
    named = policies(tuned)
    rows = [{"detector": name, "model": model, "dataset": dataset, **measure(group, policy)}
            for name, policy in named.items() for (model, dataset), group in groups.items()]
    pick = lambda name, dataset: next((row for row in rows if row["detector"] == name and row["model"] == "all"  # noqa: E731
                                       and row["dataset"] == dataset), None)
    summary = {name: {kind: {key: (pick(name, kind) or {}).get(key) for key in ("traces", "saved_share", "kept")}
                      for kind in ("well-posed", "missing-premise")}
               for name in ("sources", "default", _default_name(tuned["default"]))}
    goal_row = pick("default", "well-posed") or {"saved_share": 0.0, "kept": 0.0}
    continuation = {name: {kind: _continuation(pick(name, kind)) for kind in ("well-posed", "missing-premise")}
                    for name in named}
    for name, policy in named.items():
        continuation[name]["all"] = _continuation(measure(reported, policy))
    return {"traces": len(runs), "tune_traces": len(tuning), "report_traces": len(reported), "tuned": tuned,
            "summary": summary,
            "goal": {"judged_on": "well-posed traces of the report part (gsm8k, math)",
                     "saved_share": goal_row["saved_share"], "kept": goal_row["kept"],
                     "met": goal_row["saved_share"] >= GOAL_SAVED and goal_row["kept"] >= GOAL_KEPT},
            "continuation": continuation, "rows": rows,
            "missing_premise": _mip_rates(groups, sorted({run.model for run in reported}))}
