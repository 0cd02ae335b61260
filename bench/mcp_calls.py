"""MCP benchmark: what a client waits for, over stdio and over HTTP, at 100k, 1M and 10M tokens.

    ./workbench bench-mcp                          # 100k and 1M tokens, 20 calls of each kind
    ./workbench bench-mcp --sizes 100k,1M,10M --calls 40
    ./workbench bench-mcp --sizes 100k --no-record --json

The sessions are bench/scale.py's (`build`), made once and kept as bench/ui.py keeps them
(`--cache`), and copied for each run. For each transport the official MCP client starts
`python -m sessions mcp` on the copy, over stdio (the server as its child process, as a
desktop client runs it) or over streamable HTTP on a free 127.0.0.1 port (one server, one
client connection), and times, from the client's side:

- start: from spawning the server to the first `tools/list` answered (HTTP: from spawning to
  the server's "at URL" line, then connecting and listing);
- open: the first call on the session, which opens it in the server (the snapshot of a long
  session, or its whole log);
- fold + restore: `fold_fragment` then `restore_fragment` on a fragment, `--calls` times;
- search: `search_context` for a word of the essays;
- read context: the `context` resource (every message as a model is sent it), and `stats`.

Each call is a unit of work in the DuckDB file, as a click or a CLI call is. No target is set
by the issue; the numbers say what an agent pays per call. Results go to bench/RESULTS.md
unless `--no-record`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
from results import record  # noqa: E402
from timing import cell, summary  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_ui", Path(__file__).with_name("ui.py"))
bench_ui = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_ui)

SIZES = bench_ui.SIZES
ROWS = ("start", "open (first call)", "fold + restore", "search_context", "read context", "read stats")


def _server_command(db: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sessions", "mcp", "--db", str(db), *extra]


async def _session_calls(client, session_id: str, calls: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {row: [] for row in ROWS[1:]}
    where = {"session_id": session_id}
    started = time.perf_counter()
    state = await client.read_resource(f"workbench://sessions/{session_id}/context")
    times["open (first call)"].append(time.perf_counter() - started)
    fragments = re.findall(r"\[folded fragment (f[0-9a-f]+):", state.contents[0].text)[:calls]
    if not fragments:
        raise SystemExit("the benchmark session has no folded fragment to restore and fold")
    for fragment in fragments:
        started = time.perf_counter()
        for name in ("restore_fragment", "fold_fragment"):
            result = await client.call_tool(name, {**where, "fragment_id": fragment})
            if result.is_error:
                raise SystemExit(f"{name} failed: {result.content[0].text}")
        times["fold + restore"].append(time.perf_counter() - started)
    for query in bench_ui.scale.QUERIES[:calls] * (1 + calls // len(bench_ui.scale.QUERIES)):
        started = time.perf_counter()
        result = await client.call_tool("search_context", {**where, "query": query})
        times["search_context"].append(time.perf_counter() - started)
        if result.is_error:
            raise SystemExit(f"search_context failed: {result.content[0].text}")
        if len(times["search_context"]) == calls:
            break
    for kind, row in (("context", "read context"), ("stats", "read stats")):
        for _ in range(calls):
            started = time.perf_counter()
            await client.read_resource(f"workbench://sessions/{session_id}/{kind}")
            times[row].append(time.perf_counter() - started)
    return times


def over_stdio(db: Path, session_id: str, calls: int) -> dict[str, list[float]]:
    import anyio
    from mcp import Client, StdioServerParameters

    command = _server_command(db)
    server = StdioServerParameters(command=command[0], args=command[1:], env={"PYTHONPATH": str(ROOT)})

    async def run() -> dict[str, list[float]]:
        started = time.perf_counter()
        async with Client(server, read_timeout_seconds=600) as client:
            await client.list_tools()
            start = time.perf_counter() - started
            return {"start": [start], **await _session_calls(client, session_id, calls)}

    return anyio.run(run)


def over_http(db: Path, session_id: str, calls: int) -> dict[str, list[float]]:
    import anyio
    from mcp import Client

    started = time.perf_counter()
    process = subprocess.Popen(_server_command(db, "--http", "0"), cwd=ROOT, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = process.stderr.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/mcp", line)
        if not found:
            raise SystemExit(f"the HTTP server did not start: {line!r}")

        async def run() -> dict[str, list[float]]:
            async with Client(found.group(), read_timeout_seconds=600) as client:
                await client.list_tools()
                start = time.perf_counter() - started
                return {"start": [start], **await _session_calls(client, session_id, calls)}

        return anyio.run(run)
    finally:
        process.terminate()
        process.wait(30)


def measure(tokens: int, corpus, cache: Path, calls: int, rebuild: bool) -> dict:
    from sessions import SessionStore

    source = bench_ui.built(cache, tokens, corpus, rebuild)
    row: dict = {"tokens": tokens}
    for transport, run in (("stdio", over_stdio), ("http", over_http)):
        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "mcp.duckdb"
            shutil.copy(source, db)
            store = SessionStore(db, linger=0)
            [listed] = store.list_sessions()
            row["rendered_tokens"] = store.open_session(listed["id"]).stats()["rendered_tokens"]
            store.close()
            print(f"{bench_ui.label(tokens)} over {transport} ...", file=sys.stderr, flush=True)
            row[transport] = {name: summary(seconds) for name, seconds in run(db, listed["id"], calls).items()}
    return row


def table(results: list[dict]) -> str:
    lines = [f"{'size':<8} {'what (ms, p50 / p95)':<20} {'stdio':>30} {'http':>30}"]
    for row in results:
        for index, name in enumerate(ROWS):
            size = bench_ui.label(row["tokens"]) if index == 0 else ""
            lines.append(f"{size:<8} {name:<20} {cell(row['stdio'][name], 1):>30} {cell(row['http'][name], 1):>30}")
    return "\n".join(lines)


NOTES = """The official MCP client (`mcp` 2.3.0) against `python -m sessions mcp` on a copy of a
bench/scale.py session, {calls} calls of each kind; times from the client's side. "start" and "open"
happen once per server (n=1). The machine's load average was {load:.1f} on {cores} cores when it began."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100k,1M", help=f"comma-separated: {', '.join(SIZES)}")
    parser.add_argument("--calls", type=int, default=20, help="calls of each kind per size (default 20)")
    parser.add_argument("--cache", type=Path, default=bench_ui.DEFAULT_CACHE, help="built sessions, as bench/ui.py")
    parser.add_argument("--rebuild", action="store_true", help="build the sessions again")
    parser.add_argument("--data", type=Path, help="folder of .txt essays (as bench/scale.py)")
    parser.add_argument("--synthetic", action="store_true", help="generated prose instead of essays")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--no-record", action="store_true", help="do not write bench/RESULTS.md")
    args = parser.parse_args()
    names = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in names if s not in SIZES]
    if unknown:
        parser.error(f"unknown size {unknown[0]!r}; use {', '.join(SIZES)}")
    if args.calls < 1:
        parser.error("--calls must be 1 or more")
    corpus = bench_ui.scale.essays(args.data, args.synthetic)
    load = os.getloadavg()[0]
    results = [measure(SIZES[name], corpus, args.cache, args.calls, args.rebuild) for name in names]
    text = table(results)
    print(json.dumps(results, indent=2) if args.json else "\n" + text)
    if not args.no_record:
        record("mcp", "MCP: a client's calls over stdio and HTTP", text,
               notes=NOTES.format(calls=args.calls, load=load, cores=os.cpu_count()))


if __name__ == "__main__":
    main()
