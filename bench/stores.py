"""The two event stores side by side: append, open and search times at 1M tokens (issue 13).

    ./workbench bench-stores                        # 1M tokens, DuckDB and a throwaway PostgreSQL
    ./workbench bench-stores --tokens 100000 --repeat 10 --no-record   # a quick look
    ./workbench bench-stores --pg postgresql://me@db.example/bench      # an existing server

For each store (a DuckDB file in a temporary folder; a PostgreSQL database on a throwaway cluster
this script starts with tests/pg_cluster.py, or the database `--pg` names, where it adds its
sessions and leaves them) the session is bench/scale.py's: its essays, its `bodies` and its
`build`, one API call at a time up to 1M tokens (every message fragmented into 20, every
fragment folded and half restored), each store in a process of its own (caches by text start
cold for both; peak RSS is its own). Then, `--repeat` times each (p50, and p95 from 20 samples;
the max, labelled so, below that):

- append: one unit of work as a click makes it, from the open session: `add_message` (a short
  note), `fold_fragment` and `restore_fragment` (each its own call, as two clicks are);
- open: `open_session` on a new SessionStore with no snapshot (`snapshots=False`: the log is
  loaded and folded), and on a new default SessionStore (from its snapshot; the first open,
  which folds the log and writes the snapshot, is its own row). No snapshot below 5,000 events;
- search: `search_context` for the words bench/scale.py searches (the first call, which builds
  the index, is its own row);
- once: `import_file` of the session's JSONL export and `create_session(records=...)` of its
  records (the whole session each), and `list_sessions` (`--repeat` times);
- following: a writer in another process commits `add_message` to a small session; the time
  from its call returning until this process's `change_token()` moves, polled every 0.2 ms
  (PostgreSQL: LISTEN/NOTIFY heard by the listening thread; DuckDB: a stat of the file). A
  negative time means the token moved before the writer's call had returned. The app polls the
  token twice a second, which adds up to 500 ms to what a person sees.

No target is set by the issue. Results go to bench/RESULTS.md (section "stores") unless
`--no-record`; a password in `--pg` never reaches the table, the output or RESULTS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import scale  # noqa: E402
from timing import cell, summary, timed  # noqa: E402

from engine.tokens import token_counter  # noqa: E402
from sessions import SessionStore  # noqa: E402
from sessions.store import DB_ENV  # noqa: E402
from sessions.stores.pg_target import is_postgres_target, redact_url  # noqa: E402

STORES = ("DuckDB", "PostgreSQL")
ROWS = ("import_file (whole session, once)", "create_session with records (once)", "append: add_message",
        "append: fold_fragment", "append: restore_fragment", "open_session, cold (no snapshot)",
        "open_session, first (fold + write snapshot)", "open_session (snapshot)",
        "search_context, first (builds the index)", "search_context", "list_sessions",
        "writer: add_message (in the other process)", "another process's commit -> change_token moves")
POLL_S = 0.0002
HEARD_WITHIN_S = 10.0
PAUSE_S = 0.05  # between two commits of the writer: a token that moves twice settles first


def size_label(tokens: int) -> str:
    """The bench/scale.py size whose way of building this session is taken (one call at a time up to 1M)."""
    return next((name for name, size in scale.SIZES.items() if size >= tokens), "10M")


def tokens_argument(text: str) -> int:
    value = text.strip().replace(",", "").replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(value[-1:].lower(), 1)
    try:
        number = int(float(value[:-1] if factor > 1 else value) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--tokens {text!r}: give a number of tokens, such as 1000000 or 100k")
    if number < 1_000:
        raise argparse.ArgumentTypeError(f"--tokens {text!r}: give at least 1000 (one essay is about 2,000)")
    return number


def measure(target: str, texts: list[str], size: int, repeat: int, folder: Path, name: str) -> dict:
    """Every row of the table for one store; see the module's docstring."""
    say = lambda what: print(f"{name}: {what} ...", file=sys.stderr, flush=True)  # noqa: E731
    store = SessionStore(target, snapshots=False)
    tokens = sum(map(token_counter().count, texts))
    label = size_label(size)  # the size asked for: bodies() may land a little above it
    one_at_a_time = scale.SIZES[label] <= scale.ONE_CALL_AT_A_TIME
    say(f"building the {tokens:,}-token session " + ("one call at a time" if one_at_a_time else "as an import"))
    (session, _), build_s = timed(scale.build, store, texts, label)
    state = session.state()
    result: dict = {"build_s": build_s, "built_one_call_at_a_time": one_at_a_time, "events": session.last_seq,
                    "messages": len(state.messages), "fragments": len(list(state.fragments())),
                    "tokens": sum(token_counter().count(m.text) for m in state.messages)}
    say("appending, searching, listing")
    visible = [f.id for m in state.messages for f in m.fragments if f.status != "folded"]
    picked = [visible[(index * max(len(visible) // repeat, 1)) % len(visible)] for index in range(repeat)]
    times: dict[str, list[float]] = {row: [] for row in ROWS}
    for index in range(repeat):
        times["append: add_message"].append(timed(session.add_message, "user", f"A note, number {index}.")[1])
    for fragment in picked:
        for tool in ("fold_fragment", "restore_fragment"):
            answer, seconds = timed(session.call_tool, tool, {"fragment_id": fragment})
            assert "error" not in answer, answer
            times[f"append: {tool}"].append(seconds)
    queries = [scale.QUERIES[index % len(scale.QUERIES)] for index in range(repeat + 1)]
    for index, query in enumerate(queries):
        answer, seconds = timed(session.call_tool, "search_context", {"query": query})
        assert "error" not in answer, answer
        times["search_context, first (builds the index)" if index == 0 else "search_context"].append(seconds)
    records, title = session.records(), session.info()["title"]
    exported = session.export(folder / f"{name}.jsonl")
    session_id, ping = session.id, store.create_session("bench stores: the change-token writer's session").id
    del session, state
    times["import_file (whole session, once)"].append(timed(store.import_file, exported)[1])
    times["create_session with records (once)"].append(timed(store.create_session, title, records=records)[1])
    del records
    times["list_sessions"] = [timed(store.list_sessions)[1] for _ in range(repeat)]
    store.close()
    say("opening cold and from a snapshot")
    times["open_session, cold (no snapshot)"] = opens(target, session_id, repeat, snapshots=False)
    first = SessionStore(target)
    first.snapshots.discard(session_id)
    times["open_session, first (fold + write snapshot)"].append(timed(first.open_session, session_id)[1])
    written = first.snapshots.path(session_id)
    first.close()
    if written is not None and written.exists():
        times["open_session (snapshot)"] = opens(target, session_id, repeat, snapshots=True)
    else:  # a log too short for a snapshot: the first open wrote none
        del times["open_session, first (fold + write snapshot)"], times["open_session (snapshot)"]
    say("timing another process's commits to this process's change token")
    writes, times["another process's commit -> change_token moves"] = heard(target, ping, repeat)
    times["writer: add_message (in the other process)"] = writes
    result["rows"] = {row: summary(seconds) for row, seconds in times.items()}
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def warm_up(folder: Path) -> None:
    """Load what the first export, import and search load (format modules, the search index's), so
    the first store measured does not pay for it alone."""
    store = SessionStore(":memory:", snapshots=False)
    session = store.create_session("warming up")
    session.add_message("user", "Essay 0: warming up\nA few words.\nEnd of essay 0.")
    session.call_tool("search_context", {"query": "words"})
    store.import_file(session.export(folder / "warm-up.jsonl"))
    store.close()


def opens(target: str, session_id: str, repeat: int, snapshots: bool) -> list[float]:
    """`open_session` on a new SessionStore each time, as a new process would."""
    seconds = []
    for _ in range(repeat):
        gc.collect()
        store = SessionStore(target, snapshots=snapshots)
        try:
            opened, took = timed(store.open_session, session_id)
            if snapshots and store.snapshots.last_refusal is not None:
                raise SystemExit(f"the snapshot was not used: {store.snapshots.last_refusal}")
            seconds.append(took)
            del opened
        finally:
            store.close()
    return seconds


def heard(target: str, session_id: str, commits: int) -> tuple[list[float], list[float]]:
    """From a writer process's commit returning to this process's change token moving, `commits` times;
    and how long each of the writer's calls took, in its own process."""
    watcher = SessionStore(target, snapshots=False, linger=0)  # DuckDB: a stat, it never opens the file
    writer = subprocess.Popen([sys.executable, __file__, "--writer", session_id], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env={**os.environ, DB_ENV: target})
    try:
        watcher.change_token()  # PostgreSQL: starts the listening thread and waits for LISTEN
        if writer.stdout.readline().strip() != "ready":
            raise SystemExit(f"the writer process did not start (exit status {writer.wait(30)})")
        writes, latencies = [], []
        for _ in range(commits):
            time.sleep(PAUSE_S)
            before = watcher.change_token()
            writer.stdin.write("commit\n")
            writer.stdin.flush()
            deadline = time.monotonic() + HEARD_WITHIN_S
            while watcher.change_token() == before:
                if time.monotonic() > deadline:
                    raise SystemExit(f"the change token did not move within {HEARD_WITHIN_S:.0f} s of a commit "
                                     f"by another process ({shown(target)})")
                time.sleep(POLL_S)
            moved = time.monotonic()
            started, returned = map(float, writer.stdout.readline().split())
            writes.append(returned - started)
            latencies.append(moved - returned)
        return writes, latencies
    finally:
        if writer.poll() is None:
            writer.stdin.close()
            writer.wait(30)
        watcher.close()


def writer_process(session_id: str) -> None:
    """The other process: commits `add_message` for each line it reads; prints when the call began and
    returned (`time.monotonic`, one clock for every process on the machine)."""
    store = SessionStore(snapshots=False)  # $WORKBENCH_DB, so a password never reaches a command line
    session = store.open_session(session_id)
    session.add_message("user", "warming up: the first commit opens the connection")
    print("ready", flush=True)
    for count, line in enumerate(sys.stdin, 1):
        if line.strip() != "commit":
            break
        started = time.monotonic()
        session.add_message("user", f"commit {count} from another process")
        print(repr(started), repr(time.monotonic()), flush=True)
    store.close()


def in_own_process(name: str, target: str, folder: Path, args: argparse.Namespace) -> dict:
    """`measure` in a child process, so neither store finds the other's caches warm (token counts and
    search terms are cached by text) and each peak RSS is its own. The target travels in $WORKBENCH_DB,
    never on a command line."""
    child = [sys.executable, __file__, "--one", name, "--tokens", str(args.tokens), "--repeat", str(args.repeat)]
    child += (["--data", str(args.data)] if args.data else []) + (["--synthetic"] if args.synthetic else [])
    env = {**os.environ, DB_ENV: target, "XDG_CACHE_HOME": str(folder / "cache")}  # snapshots: here, not ~/.cache
    done = subprocess.run(child, stdout=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"measuring {name} ({shown(target)}) failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def shown(target: str) -> str:
    return redact_url(target) if is_postgres_target(target) else target


def table(results: dict) -> str:
    width, column = 48, 34
    lines = [f"{'':<{width}}" + "".join(f"{name:>{column}}" for name in results)]
    for key in ("tokens", "messages", "fragments", "events"):
        lines.append(f"{key:<{width}}" + "".join(f"{results[name][key]:>{column},}" for name in results))
    built = {True: "one call at a time", False: "as an import, then 20 essays"}
    lines.append(f"{'built':<{width}}" + "".join(
        f"{built[results[name]['built_one_call_at_a_time']]:>{column}}" for name in results))
    lines.append(f"{'build s':<{width}}" + "".join(f"{results[name]['build_s']:>{column}.0f}" for name in results))
    lines.append(f"{'peak RSS MB (its own process)':<{width}}" + "".join(
        f"{results[name]['peak_rss_mb']:>{column},.0f}" for name in results))
    lines.append("operation (ms: p50 / p95, or max below 20 samples)")
    for row in ROWS:  # "-": not made (no snapshot below 5,000 events)
        lines.append(f"{row:<{width}}" + "".join(
            f"{cell(results[name]['rows'][row]) if row in results[name]['rows'] else '-':>{column}}"
            for name in results))
    return "\n".join(lines)


def _hidden_password_argv(argv: list[str]) -> list[str]:
    """sys.argv as RESULTS.md's command line may show it: `--pg` without its password."""
    out, after_pg = [], False
    for arg in argv:
        if after_pg or arg.startswith("--pg="):
            arg = redact_url(arg) if after_pg else "--pg=" + redact_url(arg[5:])
        after_pg = arg == "--pg"
        out.append(arg)
    return out


NOTES = """DuckDB: a file in a temporary folder. PostgreSQL: {where}.
Each store is measured in a process of its own, on bench/scale.py's session (`build`); each row
ran {repeat} times unless it says n=1. The change-token row is the store's mechanism alone (polled
every 0.2 ms, from the writer's call returning; below zero, the token moved before that call had
returned); the app polls twice a second. The machine's load average was {load:.1f} on {cores}
cores when it began."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=tokens_argument, default=1_000_000,
                        help="the session's size (default 1,000,000; 100000 or 100k for a quick run)")
    parser.add_argument("--repeat", type=int, default=20, help="times each operation runs (default 20)")
    parser.add_argument("--pg", metavar="URL", help="a PostgreSQL database to use instead of a throwaway server "
                        "(the password from the URL, PG* variables or .pgpass); the sessions made stay in it")
    parser.add_argument("--data", type=Path, help="folder of .txt essays (as bench/scale.py)")
    parser.add_argument("--synthetic", action="store_true", help="generated prose instead of essays")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/RESULTS.md")
    parser.add_argument("--one", choices=STORES, help=argparse.SUPPRESS)  # a child process: one store
    parser.add_argument("--writer", help=argparse.SUPPRESS)  # the other process of the change-token rows
    args = parser.parse_args()
    if args.writer:
        writer_process(args.writer)
        return
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if args.pg is not None and not is_postgres_target(args.pg):
        parser.error("--pg: give a postgresql:// URL (postgresql://USER@HOST:PORT/DATABASE)")
    if args.one:  # a child process: measure the store $WORKBENCH_DB names, print JSON
        texts = scale.bodies(scale.essays(args.data, args.synthetic), args.tokens)
        with tempfile.TemporaryDirectory(prefix="workbench-bench-stores-") as folder:
            warm_up(Path(folder))
            print(json.dumps(measure(os.environ[DB_ENV], texts, args.tokens, args.repeat, Path(folder), args.one)))
        return
    scale.essays(args.data, args.synthetic)  # no essays: say so before anything is measured
    if not args.pg:
        from tests.pg_cluster import PostgresCluster, find_server_bin

        try:
            find_server_bin()
        except RuntimeError as exc:
            parser.error(f"{exc}; or give --pg URL, a PostgreSQL database to use")
    load = os.getloadavg()[0]
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="workbench-bench-stores-") as folder:
        folder = Path(folder)
        results["DuckDB"] = in_own_process("DuckDB", str(folder / "stores.duckdb"), folder, args)
        if args.pg:
            results["PostgreSQL"] = in_own_process("PostgreSQL", args.pg, folder, args)
        else:
            print("PostgreSQL: starting a throwaway server ...", file=sys.stderr, flush=True)
            with PostgresCluster.start(folder / "pg", durable=True) as cluster:  # commits as a real server's
                url = cluster.create_database("bench_stores")
                results["PostgreSQL"] = in_own_process("PostgreSQL", url, folder, args)
    text = table(results)
    print(json.dumps(results, indent=2) if args.json else "\n" + text)
    if not args.no_record:
        from results import record

        sys.argv = _hidden_password_argv(sys.argv)
        where = (shown(args.pg) if args.pg else
                 "a throwaway server on this machine (tests/pg_cluster.py, with fsync and synchronous_commit on, "
                 "as DuckDB's file commits)")
        record("stores", "Stores: DuckDB and PostgreSQL side by side", text,
               notes=NOTES.format(where=where, repeat=args.repeat, load=load, cores=os.cpu_count()))


if __name__ == "__main__":
    main()
