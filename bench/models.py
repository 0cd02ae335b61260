"""LLM benchmark: the embedded model and the agent loop's own overhead.

    ./workbench bench-llm            # a table (this file is bench/models.py)
    ./workbench bench-llm --json

- Embedded SmolLM2-135M: load time, generation speed, and one agent turn with tools on a
  ~2k-token context (a forced search_context call, then the answer).
- Loop overhead per tool call, without the model: a scripted model (replies queued in
  advance, called through litellm like any backend) asks for 20 tool calls in one turn; the
  time is split into the model calls (litellm plus the scripted reply) and everything else
  (rendering, the registry, the DuckDB transaction per step).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from engine import llm, local_model, scripted_model  # noqa: E402
from sessions import SessionStore  # noqa: E402
from sessions.agent import run_turn  # noqa: E402


def context(run: int = 0) -> str:
    """About 2k tokens of log; each run different, so llama.cpp cannot reuse a cached prefix."""
    return " ".join(
        f"Entry {n}: the shipment for order {1000 + n + 1000 * run} left warehouse {n % 7} on day {n % 28 + 1}."
        for n in range(95)
    )


def embedded(store: SessionStore) -> dict:
    started = time.perf_counter()
    local_model.load()
    load = time.perf_counter() - started
    backend = llm.Backend(max_tokens=200)
    rates = []
    for prompt in ("Write a short paragraph about rivers.", "Describe a busy market in a few sentences.",
                   "Explain what a compiler does."):
        arrivals: list[float] = []  # when each piece of text arrived: generation is timed from the first
        result = llm.complete(backend, [{"role": "user", "content": prompt}],
                              observer=lambda delta: arrivals.append(time.perf_counter()))
        if len(arrivals) > 1 and result.usage["completion_tokens"] > 1:
            rates.append((result.usage["completion_tokens"] - 1) / (arrivals[-1] - arrivals[0]))
    turns = []
    for run in range(3):
        session = store.create_session("bench turn")
        session.add_message("user", "Shipping log:\n" + context(run))
        started = time.perf_counter()
        result = run_turn(session, "Which warehouse did order 1042 leave from? Use search_context.",
                                  tool_choice="search_context")
        turns.append(time.perf_counter() - started)
        assert result.get("error") is None, result
    context_tokens = session.stats()["total_tokens"]
    prompt = "Shipping log:\n" + context(99)
    started = time.perf_counter()
    read = llm.complete(llm.Backend(max_tokens=1), [{"role": "user", "content": prompt}])
    prefill = read.usage["prompt_tokens"] / (time.perf_counter() - started)
    return {"load_s": load, "tokens_per_s": statistics.median(rates), "prefill_tokens_per_s": prefill,
            "turn_with_tools_s": statistics.median(turns), "turn_context_tokens": context_tokens}


def loop_overhead(store: SessionStore, calls: int = 20) -> dict:
    call = {"name": "search_context", "arguments": {"query": "warehouse 3", "max_results": 3}}
    model_seconds = []
    original = llm.complete

    def timed_complete(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            model_seconds.append(time.perf_counter() - started)

    totals, per_call = [], []
    import sessions.agent as turns

    turns.complete = timed_complete
    try:
        for _ in range(5):
            scripted_model.reset("bench")
            scripted_model.enqueue("bench", *[{"tool_calls": [call]}] * calls, "Done.")
            session = store.create_session("bench loop")
            session.add_message("user", "Shipping log:\n" + context())
            session.configure(model="scripted/bench")
            model_seconds.clear()
            started = time.perf_counter()
            result = run_turn(session, "Search a lot.", max_tool_calls=calls)
            total = time.perf_counter() - started
            assert len(result["tool_calls"]) == calls, result
            totals.append(total)
            per_call.append((total - sum(model_seconds)) / calls)
    finally:
        turns.complete = original
    return {"tool_calls": calls, "turn_s": statistics.median(totals),
            "overhead_per_tool_call_ms": statistics.median(per_call) * 1000,
            "model_call_ms": statistics.median(model_seconds) * 1000 if model_seconds else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="workbench-bench-llm-") as folder:
        store = SessionStore(Path(folder) / "llm.duckdb")
        results = {"embedded": embedded(store), "loop": loop_overhead(store)}
        store.close()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    e, loop = results["embedded"], results["loop"]
    print("\nEmbedded model (SmolLM2-135M-Instruct Q4_1, llama.cpp, 2 threads)")
    print(f"  load time                               {e['load_s']:8.2f} s")
    print(f"  generation (after the first token)      {e['tokens_per_s']:8.0f} tokens/s")
    print(f"  reading the prompt (prefill)            {e['prefill_tokens_per_s']:8.0f} tokens/s")
    print(f"  a turn with a forced tool call, ~{e['turn_context_tokens']:,}-token context {e['turn_with_tools_s']:6.2f} s")
    print(f"\nAgent loop, {loop['tool_calls']} tool calls in one turn (scripted model)")
    print(f"  whole turn                              {loop['turn_s'] * 1000:8.0f} ms")
    print(f"  one model call through litellm          {loop['model_call_ms']:8.1f} ms")
    print(f"  loop overhead per tool call, no model   {loop['overhead_per_tool_call_ms']:8.1f} ms")


if __name__ == "__main__":
    main()
