"""What the live brake costs: real reasoning traces streamed delta by delta through a ReasoningWatch.

    ./workbench bench-brakes-live               # a sample of traces of every length
    ./workbench bench-brakes-live --per-bucket 5 --delta 8

The agent loop hears every delta a model sends through `engine.brakes.watch.ReasoningWatch`,
which runs the session's detectors each time a reasoning step closes. This bench feeds the
MiP-Overthinking traces (the data of bench/brakes.py) in pieces of `--delta` characters, as a
stream arrives, with every reasoning detector on in mode "observe" (so nothing stops early and
each trace is read to its end: the worst case), and prints, per trace length, the time the
watch spent per trace, per check (each delta that may close a step: mean and worst), per 1,000
thinking tokens, and as a share of the time a model takes to write those tokens at 50 tokens a
second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]

from brakes_metrics import load, split_trace  # noqa: E402
from engine.brakes.settings import REASONING_DETECTORS  # noqa: E402
from engine.brakes.watch import ReasoningWatch  # noqa: E402
from engine.deltas import ReasoningDelta  # noqa: E402
from engine.tokens import token_counter  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "reasoning-traces"
BUCKETS = ((0, 2_000), (2_000, 8_000), (8_000, 16_000), (16_000, 10**9))
MODEL_TOKENS_PER_SECOND = 50  # a brisk hosted reasoning model (ours, for scale)


class _TimedWatch(ReasoningWatch):
    """A watch that also times each check (the work done when a step closes)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.check_seconds: list[float] = []

    def _check(self, force: bool = False) -> None:
        started = time.perf_counter()
        super()._check(force)
        self.check_seconds.append(time.perf_counter() - started)


def measure(thinking: str, delta: int) -> dict:
    counter = token_counter()
    settings = {"brakes": {"mode": "observe", "detectors": [d for d in REASONING_DETECTORS if d != "confidence"]}}
    watch = _TimedWatch(settings, counter)
    started = time.perf_counter()
    for start in range(0, len(thinking), delta):
        watch.on_delta(ReasoningDelta(thinking[start : start + delta]))
    seconds = time.perf_counter() - started
    tokens = counter.count(thinking)
    checks = [s for s in watch.check_seconds if s > 0]
    return {"tokens": tokens, "seconds": seconds, "checks": len(checks),
            "check_mean": sum(checks) / len(checks) if checks else 0.0, "check_max": max(checks, default=0.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the folder holding mip-overthinking/")
    parser.add_argument("--per-bucket", type=int, default=4, help="traces per length bucket (the longest of each)")
    parser.add_argument("--delta", type=int, default=16, help="characters per streamed delta")
    args = parser.parse_args(argv)
    counter = token_counter()
    items = [(split_trace(trace)[0]) for _, _, _, trace, _ in load(args.data)]
    sized = sorted(((counter.count(thinking), thinking) for thinking in items if thinking), key=lambda pair: pair[0])
    print(f"{'thinking tokens':<16} {'traces':>6} {'checks':>6} {'ms/trace':>9} {'ms/check':>8} {'worst':>10} "
          f"{'ms/1k tok':>9} {'of gen. time':>12}")
    for low, high in BUCKETS:
        chosen = [thinking for tokens, thinking in sized if low <= tokens < high][-args.per_bucket:]
        if not chosen:
            continue
        results = [measure(thinking, args.delta) for thinking in chosen]
        tokens = sum(r["tokens"] for r in results)
        seconds = sum(r["seconds"] for r in results)
        checks = sum(r["checks"] for r in results)
        step_ms = 1000 * sum(r["check_mean"] * r["checks"] for r in results) / max(1, checks)
        worst_ms = 1000 * max(r["check_max"] for r in results)
        share = seconds / (tokens / MODEL_TOKENS_PER_SECOND)
        label = f"{low:,}-{high:,}" if high < 10**9 else f"{low:,}+"
        print(f"{label:<16} {len(results):>6} {checks / len(results):>6.0f} {1000 * seconds / len(results):>9.1f} "
              f"{step_ms:>8.2f} {worst_ms:>10.1f} {1000 * seconds / (tokens / 1000):>9.2f} {100 * share:>11.2f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
