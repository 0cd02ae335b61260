"""NeedleBench multi-needle reasoning through the workbench: a chained search with no model, or any model.

    ./workbench bench-needlebench                          # the reference policy at Sculptor's grid
    ./workbench bench-needlebench --length 1000 16000 --needles 2 5 --repeats 3 --json
    ./workbench bench-needlebench --model openai/gpt-4.1 --setting task --length 1000 2000

The case, the prompt and the scorer are OpenCompass's (bench/needlebench_case.py). The reference
policy plays the strategy of Sculptor's NeedleBench prompt through the real tool registry, as a
model's tool calls (each result lands in the context as a tool message, so its tokens count):
`search_context` for the last person; each hit's line that names them as the younger of a pair
gives the next elder (a hit whose line the snippet cuts is widened with `get_search_detail`); on
to the elder, until a search finds no one older: that search is the check the prompt asks for. It
answers in `\\boxed{}` and is scored like a model. Reported per length and needle count: the share
of chains recovered whole, the score, the calls (against Sculptor's budget of 20 per turn) and the
tokens the tool results added. With `--model`, the prompt goes to that model in the `baseline`,
`unified` or `task` setting and its reply is scored.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import statistics
import sys
from contextlib import redirect_stdout
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from needlebench_case import (DEPTH, RELATIONSHIP_TERMS, SCULPTOR_LENGTHS, SCULPTOR_NEEDLES, TEMPLATES,  # noqa: E402
                              Case, Generator, extract_answer, load_haystack, load_names, score)
from sculptor_settings import (TOOL_BUDGET, add_run_arguments, answered, check_model_arguments, model_calls,  # noqa: E402
                               new_session, run_setting, settings_note, stop_if_all_failed)

from engine.prompts import NEEDLEBENCH_PROMPT as TASK_PROMPT  # noqa: E402  (only its key part is published; used as published)
SNIPPET_CHARS = 100  # the policy's search snippets: enough for most needle lines, few tokens
DETAIL_CHARS = 200  # get_search_detail for a line the snippet cut


def _relation_pattern(template: str) -> re.Pattern:
    terms = "|".join(re.escape(t) for t in sorted(RELATIONSHIP_TERMS, key=len, reverse=True))
    pattern, seen = "", set()
    for piece in re.split(r"(\{A\}|\{B\}|\{relationship\})", template):
        if piece in ("{A}", "{B}"):
            group = piece[1]
            pattern += f"(?P={group})" if group in seen else f"(?P<{group}>.+?)"
            seen.add(group)
        elif piece == "{relationship}":
            pattern += f"(?:{terms})"
        else:
            pattern += re.escape(piece)
    return re.compile(pattern)


RELATIONS = tuple(_relation_pattern(template) for template in TEMPLATES)


def relation(line: str) -> tuple[str, str] | None:
    """(elder, younger) when the line is one of the needle templates, else None."""
    for pattern in RELATIONS:
        found = pattern.fullmatch(line.strip())
        if found:
            return found["A"], found["B"]
    return None


def _model_call(session, name: str, arguments: dict) -> dict:
    return model_calls(session, [(name, arguments)])[0]


def _elder_in(lines: list[str], person: str) -> str | None:
    for line in lines:
        pair = relation(line)
        if pair and pair[1].casefold() == person.casefold():
            return pair[0]
    return None


def elder_of(session, person: str) -> tuple[str | None, int]:
    """The elder a search for `person` shows, and the tool calls it took."""
    found = _model_call(session, "search_context", {"query": person, "max_results": 10, "context_size": SNIPPET_CHARS})
    if "error" in found:
        raise RuntimeError(f"search_context: {found['error']}")
    calls = 1
    for hit in found["results"]:
        lines = hit["snippet"].split("\n")
        cut = {0} if hit["snippet"].startswith("…") else set()
        cut |= {len(lines) - 1} if hit["snippet"].endswith("…") else set()
        whole = [line for i, line in enumerate(lines) if i not in cut]
        elder = _elder_in(whole, person)
        if elder:
            return elder, calls
        named = [lines[i] for i in cut if person.casefold() in lines[i].casefold()]
        if any(f"'{person}'".casefold() in line.casefold() for line in named):
            continue  # the question quotes the last person; it holds no relation
        if named:
            detail = _model_call(session, "get_search_detail", {"search_id": hit["search_id"],
                                                                "extended_context": DETAIL_CHARS})
            calls += 1
            if "error" in detail:
                raise RuntimeError(f"get_search_detail: {detail['error']}")
            elder = _elder_in(detail["text"].split("\n"), person)
            if elder:
                return elder, calls
    return None, calls


def chained_search(case: Case) -> dict:
    """The reference policy on one case; a tool's error ends the case as an error row (the grid goes on)."""
    session = new_session(f"NeedleBench {case.length:,} tokens, {len(case.needles)} needles", case.prompt)
    before = session.stats()["rendered_tokens"]
    chain, calls, error = [case.last_person], 0, None
    try:
        while True:
            elder, made = elder_of(session, chain[-1])
            calls += made
            if elder is None or elder in chain:  # no one older (or a loop, which a chain cannot have)
                break
            chain.append(elder)
    except RuntimeError as exc:
        error = str(exc)
    reply = (f"So the oldest relative '{case.last_person}' can trace back to in the provided text is "
             f"\\boxed{{{chain[-1]}}}.")
    return {"length": case.length, "needles": len(case.needles), "counter": case.counter,
            "recovered": error is None and tuple(chain) == tuple(reversed(case.people)),
            "score": 0.0 if error else score(case, reply), "calls": calls, "error": error,
            "tokens_before": before, "tokens_added": session.stats()["rendered_tokens"] - before}


def model_run(case: Case, model: str, setting: str, api_base: str | None, max_tokens: int = 1024) -> dict:
    ran = run_setting(f"NeedleBench {case.length:,} tokens", case.prompt, TASK_PROMPT, model, setting, api_base,
                      max_tokens)
    return {"length": case.length, "needles": len(case.needles), "counter": case.counter, "recovered": None,
            "score": score(case, ran["reply"]), "calls": ran["calls"], "error": ran["error"],
            "tokens_before": ran["tokens_before"], "tokens_added": ran["tokens_after"] - ran["tokens_before"],
            "seconds": ran["seconds"], "answer": case.answer, "extracted": extract_answer(ran["reply"]),
            "reply": ran["reply"]}


def table(rows: list[dict], source: str, title: str) -> str:
    """Per length and needle count, then per needle count (Sculptor's Table 1 columns); failed
    cases are counted apart and left out of the scores."""
    out = io.StringIO()
    with redirect_stdout(out):
        print(title)
        print(source)
        print(f"{'length':>8} {'needles':>7} {'cases':>5} {'recovered':>9} {'score':>6} {'calls':>9} "
              f"{'tokens in':>10} {'added':>7}")
        for length in dict.fromkeys(r["length"] for r in rows):
            for needles in dict.fromkeys(r["needles"] for r in rows):
                group = [r for r in rows if r["length"] == length and r["needles"] == needles]
                good = answered(group)
                if not good:
                    print(f"{length:>8,} {needles:>7} {len(group):>5}  all failed")
                    continue
                mean = (lambda key: statistics.mean(r[key] for r in good))
                recovered = "-" if good[0]["recovered"] is None else f"{mean('recovered'):.0%}"
                calls = f"{mean('calls'):.1f}/{max(r['calls'] for r in good)}"
                failed = f"  ({len(group) - len(good)} failed)" if len(good) < len(group) else ""
                print(f"{length:>8,} {needles:>7} {len(group):>5} {recovered:>9} {mean('score'):>6.0%} {calls:>9} "
                      f"{mean('tokens_before'):>10,.0f} {mean('tokens_added'):>7,.0f}{failed}")
        good = answered(rows)
        by_needles = {n: statistics.mean(r["score"] for r in good if r["needles"] == n)
                      for n in dict.fromkeys(r["needles"] for r in good)}
        print("score by needles: " + ", ".join(f"{n}N {s:.0%}" for n, s in by_needles.items())
              + f"; average {statistics.mean(by_needles.values()):.1%}")
        over = sum(r["calls"] > TOOL_BUDGET for r in good)
        print(f"calls are mean/max per case; {over} of {len(good)} cases needed more than Sculptor's {TOOL_BUDGET}; "
              "tokens are the session's (o200k_base; the lengths are cl100k_base, as the original's)")
        errors = dict.fromkeys(r["error"] for r in rows if r.get("error"))
        for error in errors:
            print(f"failed: {error}")
    return out.getvalue()


def main() -> None:
    from engine.tokens import TokenCounter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--length", type=int, nargs="+", default=list(SCULPTOR_LENGTHS), help="target tokens")
    parser.add_argument("--needles", type=int, nargs="+", default=list(SCULPTOR_NEEDLES), help="relations per chain")
    parser.add_argument("--repeats", type=int, default=10, help="cases per length and needle count (Sculptor: 10)")
    parser.add_argument("--seed", type=int, default=0, help="the first repeat's number (the original's counter), 0 or more")
    parser.add_argument("--depth", type=int, default=DEPTH, help="the first needle's depth in percent (0-100)")
    parser.add_argument("--policy", choices=["chain"], default="chain", help="the reference policy (the default)")
    add_run_arguments(parser, ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    check_model_arguments(parser, args)
    args.length, args.needles = list(dict.fromkeys(args.length)), list(dict.fromkeys(args.needles))
    if args.repeats < 1 or any(n < 1 for n in args.needles) or any(n < 1 for n in args.length):
        parser.error("--repeats, --needles and --length must be positive")
    if not 0 <= args.depth <= 100 or args.seed < 0:
        parser.error("--depth must be 0 to 100 and --seed 0 or more")
    lines, haystack = load_haystack(args.data)
    names, names_source = load_names(args.data)
    if max(args.needles) + 1 > len(names):
        parser.error(f"--needles: at most {len(names) - 1} with {len(names):,} names")
    generator = Generator(lines, names, TokenCounter("cl100k_base"))
    rows = []
    total = len(args.length) * len(args.needles) * args.repeats
    for length in args.length:
        for needles in args.needles:
            print(f"[{len(rows)}/{total}] {length:,} tokens, {needles} needles, {args.repeats} cases ...",
                  file=sys.stderr, flush=True)
            for counter in range(args.seed, args.seed + args.repeats):
                case = generator.case(length, needles, counter, args.depth)
                rows.append(model_run(case, args.model, args.setting, args.api_base, args.max_tokens) if args.model
                            else chained_search(case))
                row = rows[-1]
                if args.model or row["error"]:  # a model's case takes seconds to minutes: say how each went
                    print(f"  repeat {counter}: " + (f"error: {row['error']}" if row["error"] else
                          f"score {row['score']:.0%}, answered {row['extracted']!r}")
                          + f", {row['calls']} calls" + (f", {row['seconds']} s" if args.model else ""),
                          file=sys.stderr, flush=True)
    stop_if_all_failed(rows)
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    who = f"{args.model} · {args.setting}" if args.model else "reference policy: chained search"
    text = table(rows, f"haystack: {haystack}\nnames: {names_source}",
                 f"NeedleBench multi-needle reasoning, depth {args.depth}%, {who}")
    print(text, end="")
    if not args.no_record:
        from results import record, slug

        default = (args.length == list(SCULPTOR_LENGTHS) and args.needles == list(SCULPTOR_NEEDLES)
                   and args.repeats == 10 and args.seed == 0 and args.depth == DEPTH)
        sizes = "" if default else (f"{'-'.join(map(str, args.length))}-n{'-'.join(map(str, args.needles))}"
                                    f"-r{args.repeats}-s{args.seed}-d{args.depth}")
        notes = settings_note(args.model, args.setting, args.max_tokens) if args.model else ""
        record(slug("needlebench", args.model or "policy", args.setting if args.model else "chain", sizes),
               f"NeedleBench: {who}" + (f" ({sizes})" if sizes else ""), text, notes)


if __name__ == "__main__":
    main()
