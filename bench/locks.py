"""Lock benchmark: an app re-rendering a page while the CLI writes to the same DuckDB file.

    .venv/bin/python bench/locks.py                 # the table
    .venv/bin/python bench/locks.py --cli-calls 40  # more samples
    .venv/bin/python bench/locks.py --json          # the same results as JSON

The "app" is this process doing what one Streamlit rerun does: list the sessions, open
one, render it and count its stats, with the app's default linger, then a short pause
(`--pause`, a busy page). The CLI is real `python -m sessions --db FILE add ...` calls, one
after another, timed from spawn to exit (Python's start-up included; the alone row shows
that part). The writer is another Python process appending with `add_message` in a loop,
timed call by call, so the cost of taking turns shows without start-up time. Each
contended row is measured while the other side runs; the alone rows give the baseline,
and "during app on other file" runs the same app on a second file: the CPU it takes
from the CLI without any lock shared, so that the difference to "during app" is the cost
of taking turns. Times are wall-clock on this machine, in milliseconds: p50, p95, max.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from sessions import SessionStore  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import summary  # noqa: E402

WRITER = """
import sys, time
from sessions import SessionStore
store = SessionStore(sys.argv[1])
session = store.open_session(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for n in range(int(sys.argv[3])):
    started = time.perf_counter()
    session.add_message("user", f"writer message {n}")
    print(time.perf_counter() - started, flush=True)
    time.sleep(float(sys.argv[4]))
store.close()
"""


def seed(db: Path, sessions: int, messages: int) -> str:
    store = SessionStore(db, linger=0)
    first = None
    for s in range(sessions):
        session = store.create_session(f"bench session {s}")
        first = first or session.id
        for m in range(messages):
            session.add_message("user" if m % 2 == 0 else "assistant", f"Message {m} of session {s}. " * 20)
    store.close()
    return first


def rerun(store: SessionStore, session_id: str) -> float:
    started = time.perf_counter()
    store.list_sessions()
    session = store.open_session(session_id)
    session.render()
    session.stats()
    return time.perf_counter() - started


def app_loop(store: SessionStore, session_id: str, pause: float, until) -> list[float]:
    times = []
    while not until(len(times)):
        times.append(rerun(store, session_id))
        time.sleep(pause)
    return times


def cli_calls(db: Path, session_id: str, count: int, pause: float) -> list[float]:
    times = []
    for n in range(count):
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "sessions", "--db", str(db), "add", session_id, "user",
                                 f"cli message {n}"], cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            sys.exit(f"the CLI failed: {result.stderr.strip()}")
        time.sleep(pause)
    return times


def in_background(function, *args) -> tuple[threading.Thread, list]:
    box: list = []
    thread = threading.Thread(target=lambda: box.append(function(*args)), daemon=True)
    thread.start()
    return thread, box


def start_writer(db: Path, session_id: str, count: int, pause: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(db), session_id, str(count), str(pause)], cwd=ROOT,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if process.stdout.readline().strip() != "ready":
        sys.exit(f"the writer did not start: {process.stderr.read().strip()}")
    return process


def writer_times(process: subprocess.Popen) -> list[float]:
    process.stdin.write("go\n")
    process.stdin.flush()
    times = [float(line) for line in process.stdout]
    if process.wait() != 0:
        sys.exit(f"the writer failed: {process.stderr.read().strip()}")
    return times


def measure(folder: Path, args) -> dict:
    db = folder / "locks.duckdb"
    session_id = seed(db, args.sessions, args.messages)
    results = {}

    app = SessionStore(db)  # the app's defaults: linger and lock timeout
    results["app rerun, alone"] = summary(app_loop(app, session_id, args.pause, lambda n: n >= args.reruns))
    app.close()
    results["CLI add, alone"] = summary(cli_calls(db, session_id, args.cli_calls, args.cli_pause))

    thread, box = in_background(cli_calls, db, session_id, args.cli_calls, args.cli_pause)
    reruns = app_loop(app, session_id, args.pause, lambda n: not thread.is_alive())
    thread.join()
    results["app rerun, during CLI"] = summary(reruns)
    results["CLI add, during app"] = summary(box[0])
    app.close()

    # the control: the same app on another file loads the CPU just as much, but shares no lock
    other_db = folder / "other.duckdb"
    other = SessionStore(other_db)
    other_id = seed(other_db, args.sessions, args.messages)
    thread, box = in_background(cli_calls, db, session_id, args.cli_calls, args.cli_pause)
    app_loop(other, other_id, args.pause, lambda n: not thread.is_alive())
    thread.join()
    results["CLI add, during app on other file"] = summary(box[0])
    other.close()

    writer = start_writer(db, session_id, args.writes, args.write_pause)
    thread, box = in_background(writer_times, writer)
    reruns = app_loop(app, session_id, args.pause, lambda n: not thread.is_alive())
    thread.join()
    results["app rerun, during writer"] = summary(reruns)
    results["writer add_message, during app"] = summary(box[0])
    app.close()

    writer = start_writer(db, session_id, args.writes, args.write_pause)
    results["writer add_message, alone"] = summary(writer_times(writer))
    return results


def print_table(results: dict) -> None:
    width = 34
    print(f"\n{'(ms)':<{width}}{'n':>6}{'p50':>10}{'p95':>10}{'max':>10}")
    for label, numbers in results.items():
        p95 = f"{numbers['p95_ms']:>10.1f}" if "p95_ms" in numbers else f"{'(n<20)':>10}"
        print(f"{label:<{width}}{numbers['n']:>6}{numbers['p50_ms']:>10.1f}{p95}{numbers['max_ms']:>10.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=10, help="sessions in the file (default 10)")
    parser.add_argument("--messages", type=int, default=40, help="messages in each (default 40)")
    parser.add_argument("--reruns", type=int, default=60, help="app reruns timed alone (default 60)")
    parser.add_argument("--pause", type=float, default=0.02, help="seconds between two app reruns (default 0.02)")
    parser.add_argument("--cli-calls", type=int, default=24, help="CLI calls timed per row (default 24)")
    parser.add_argument("--cli-pause", type=float, default=0.1, help="seconds between two CLI calls (default 0.1)")
    parser.add_argument("--writes", type=int, default=100, help="add_message calls of the writer (default 100)")
    parser.add_argument("--write-pause", type=float, default=0.02, help="seconds between two writes (default 0.02)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="workbench-locks-") as folder:
        print("timing the app and the CLI on one file ...", file=sys.stderr, flush=True)
        results = measure(Path(folder), args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print_table(results)


if __name__ == "__main__":
    main()
