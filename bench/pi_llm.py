"""PI-LLM through the workbench: what the tools achieve with no model, and any model's score.

    ./workbench bench-pi-llm                                   # both reference policies, Sculptor's sizes
    ./workbench bench-pi-llm --policy fold --updates 4 64 400 --seed 3 --json
    ./workbench bench-pi-llm --model openai/gpt-4.1 --setting task --updates 4 8 16

The case, the prompt and the scorer are the authors' (bench/pi_llm_case.py). Reference policies
play Sculptor's two strategies through the real tool registry as a model's tool calls (each result
a tool message at the end of the context, so "tokens after" counts what the results add):
- `fold`: fragment the stream into ten and fold all but the last `--keep` (2 or 3), as the
  paper's PI-LLM prompt asks; reported: tokens in context before and after, and the share of keys
  whose latest value is still visible;
- `search`: one exact `search_context` per key ("; key: ", most recent first); reported: the share
  of keys whose latest value is the first hit, the calls made against Sculptor's budget of 20 per
  turn, and the turns it would take to stay within it.
With `--model`, the prompt goes to that model through the agent loop in one of three settings:
`baseline` (no tools), `unified` (Sculptor's six tools and its unified system prompt) or `task`
(the tools and the PI-LLM prompt), and the reply is scored.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import statistics
import sys
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pi_llm_case import (SCULPTOR_SWEEP, UPDATES_SWEEP, Case, Generator, accuracy, auc_log15, load_vocabulary,  # noqa: E402
                         mean_accuracy)
from sculptor_settings import (TOOL_BUDGET, add_run_arguments, answered, check_model_arguments, model_calls,  # noqa: E402
                               new_session, run_setting, settings_note, stop_if_all_failed)

from engine.prompts import PI_LLM_PROMPT as TASK_PROMPT  # noqa: E402  (only its key part is published; used as published)


def _session(case: Case):
    return new_session(f"PI-LLM {case.n_updates} updates per key", case.prompt)


def _latest_offsets(case: Case, content: str) -> dict[str, int]:
    """Where in the user message each key's latest update starts."""
    at = content.index(case.stream)
    offsets: dict[str, int] = {}
    for key, value in case.updates:
        offsets[key] = at
        at += len(f"{key}: {value}; ")
    return offsets


def fold_policy(case: Case, keep: int = 2, pieces: int = 10) -> dict:
    session = _session(case)
    before = session.stats()["rendered_tokens"]
    first, last = case.updates[0], case.updates[-1]
    made = model_calls(session, [("fragment_context", {"start_marker": f"{first[0]}: {first[1]};",
                                                       "end_marker": f"{last[0]}: {last[1]};", "num_fragments": pieces})])[0]
    if "error" in made:
        raise RuntimeError(made["error"])
    fragments = [piece["fragment_id"] for piece in made["fragments"]]
    folded = model_calls(session, [("fold_fragment", {"fragment_id": f}) for f in fragments[:-keep]])
    if any("error" in result for result in folded):
        raise RuntimeError(next(result["error"] for result in folded if "error" in result))
    state = session.state()
    message = next(m for m in state.messages if m.role == "user")
    visible = [(f.start, f.end) for f in message.fragments if f.status == "visible"]
    latest = _latest_offsets(case, message.content)
    kept = sum(any(start <= latest[key] < end for start, end in visible) for key in case.keys)
    return {"policy": f"fold (keep {keep} of {len(fragments)})", "updates": case.n_updates,
            "tokens_before": before, "tokens_after": session.stats()["rendered_tokens"],
            "score": kept / len(case.keys), "calls": 1 + len(fragments) - keep}


def search_policy(case: Case) -> dict:
    """One search per key, made as a model makes them: Sculptor's budget of 20 calls to an assistant
    message, the results landing in the context as tool messages."""
    session = _session(case)
    before = session.stats()["rendered_tokens"]
    # an update starts after "; " or, the stream's first, after "\n ": "body: " alone also finds "water body: "
    queries = [rf"(?:; |\n ){re.escape(key)}: " for key in case.keys]
    found = []
    for at in range(0, len(queries), TOOL_BUDGET):
        found += model_calls(session, [("search_context", {"query": query, "mode": "regex", "max_results": 1,
                                                           "context_size": 80})
                                       for query in queries[at: at + TOOL_BUDGET]])
    right = 0
    for key, result in zip(case.keys, found):
        hit = (result.get("results") or [{}])[0].get("snippet", "")
        # the hit is the latest update of the key, so the last place the key is named in its snippet
        marker = f"{key}: "
        at = max(hit.rfind("; " + marker), hit.rfind("\n " + marker))
        value = hit[hit.index(marker, at) + len(marker):].split(";")[0].strip() if at >= 0 else None
        right += value == case.truth[key]
    return {"policy": "search (one per key)", "updates": case.n_updates, "tokens_before": before,
            "tokens_after": session.stats()["rendered_tokens"], "score": right / len(case.keys),
            "calls": len(queries), "turns_within_budget": math.ceil(len(queries) / TOOL_BUDGET)}


def model_run(case: Case, model: str, setting: str, api_base: str | None, max_tokens: int = 1024) -> dict:
    ran = run_setting(f"PI-LLM {case.n_updates} updates per key", case.prompt, TASK_PROMPT, model, setting, api_base,
                      max_tokens)
    score = accuracy(case, ran["reply"])
    return {"policy": f"{model} · {setting}", "updates": case.n_updates, "tokens_before": ran["tokens_before"],
            "tokens_after": ran["tokens_after"], "score": None if math.isnan(score) else score, "calls": ran["calls"],
            "seconds": ran["seconds"], "error": ran["error"], "reply": ran["reply"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, nargs="+", default=[*SCULPTOR_SWEEP, 400],
                        help="updates per key (default: Sculptor's columns and the original's 400)")
    parser.add_argument("--sweep", choices=["sculptor", "original"],
                        help="a whole sweep instead of --updates: Sculptor's 4-256, or the authors' 16 sizes 2-400")
    parser.add_argument("--repeats", type=int, default=5, help="cases per size (default 5, the original's minimum "
                                                               "number of sessions)")
    parser.add_argument("--seed", type=int, default=0, help="0 or more; the same seed makes the same cases")
    parser.add_argument("--policy", choices=["fold", "search", "both"], default="both")
    parser.add_argument("--keep", type=int, nargs="+", default=[2, 3],
                        help="fragments the fold policy leaves visible (the paper: two or three)")
    add_run_arguments(parser, ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    check_model_arguments(parser, args)
    if args.sweep:
        args.updates = list(SCULPTOR_SWEEP if args.sweep == "sculptor" else UPDATES_SWEEP)
    args.updates = list(dict.fromkeys(args.updates))
    if any(not 1 <= keep <= 9 for keep in args.keep):
        parser.error("--keep: each must be 1 to 9 of the ten fragments")
    if any(not 1 <= n <= 400 for n in args.updates):
        parser.error("--updates: each must be 1 to 400 (the vocabulary has 400 items per key)")
    if args.repeats < 1 or args.seed < 0:
        parser.error("--repeats must be 1 or more and --seed 0 or more")
    generator = Generator(load_vocabulary(args.data), args.seed)
    rows = []
    for n in args.updates:
        print(f"{n} updates per key: {46 * n:,} updates, {args.repeats} case(s) ...", file=sys.stderr, flush=True)
        for repeat in range(args.repeats):
            case = generator.case(n, repeat)
            if args.model:
                rows.append(model_run(case, args.model, args.setting, args.api_base, args.max_tokens))
                row = rows[-1]
                print(f"  repeat {repeat}: " + (f"error: {row['error']}" if row["error"] else
                      f"score {row['score']:.1%}" if row["score"] is not None else "missing (an error reply)")
                      + f", {row['calls']} calls, {row['seconds']} s", file=sys.stderr, flush=True)
                continue
            if args.policy in ("fold", "both"):
                rows += [fold_policy(case, keep) for keep in args.keep]
            if args.policy in ("search", "both"):
                rows.append(search_policy(case))
    stop_if_all_failed(rows)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    what = "answered right" if args.model else "still visible (fold) / the first hit (search)"
    text = table(rows, f"PI-LLM, 46 keys, seed {args.seed}, {args.repeats} case(s) per size; score = share of keys "
                       f"whose latest value is {what}", policies=not args.model)
    print(text, end="")
    if not args.no_record:
        from results import record, slug

        who = f"{args.model} · {args.setting}" if args.model else f"reference policies ({args.policy})"
        default = args.updates == [*SCULPTOR_SWEEP, 400] and args.repeats == 5 and args.seed == 0
        sizes = "" if default else f"n{'-'.join(map(str, args.updates))}-r{args.repeats}-s{args.seed}"
        notes = settings_note(args.model, args.setting, args.max_tokens) if args.model else ""
        record(slug("pi-llm", args.model or "policy", args.setting if args.model else args.policy, sizes),
               f"PI-LLM: {who}" + (f", {sizes}" if sizes else ""), text, notes)


def table(rows: list[dict], title: str, policies: bool = True) -> str:
    """One line per policy (or model) and size: the means over the cases answered."""
    out = io.StringIO()
    with redirect_stdout(out):
        print(title)
        width = max([28] + [len(row['policy']) for row in rows])
        print(f"{'policy':<{width}} {'N':>5} {'cases':>5} {'tokens before':>14} {'after':>9} {'score':>7} "
              f"{'calls':>6} {'turns':>6}")
        scores: dict[str, dict[int, float]] = {}
        for policy in dict.fromkeys(row["policy"] for row in rows):
            for n in dict.fromkeys(row["updates"] for row in rows):
                group = [row for row in rows if row["policy"] == policy and row["updates"] == n]
                if not group:
                    continue
                good = answered(group)
                failed = len(group) - len(good)
                score = mean_accuracy([row["score"] if row["score"] is not None else math.nan for row in good])
                scores.setdefault(policy, {})[n] = score
                mean = (lambda key: f"{statistics.mean(row[key] for row in good):,.0f}" if good else "-")
                print(f"{policy:<{width}} {n:>5} {len(group):>5} {mean('tokens_before'):>14} {mean('tokens_after'):>9} "
                      f"{'-' if math.isnan(score) else f'{score:.1%}':>7} {mean('calls'):>6} "
                      f"{max(row.get('turns_within_budget', 1) for row in group):>6}"
                      + (f"  ({failed} failed)" if failed else ""))
        for policy, by_n in scores.items():
            known = {n: score for n, score in by_n.items() if not math.isnan(score)}
            print(f"{policy}: auc_log1.5 " + (f"{auc_log15(known):.1%}" if known else "-"))
        if policies:
            print(f"calls are per case; turns: how many turns of Sculptor's {TOOL_BUDGET} calls they take")
        else:
            print("tokens are the session's (o200k_base); a case whose reply was missing or whose call failed is left out")
    return out.getvalue()


if __name__ == "__main__":
    main()
