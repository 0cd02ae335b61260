"""Timing helpers shared by the benchmarks: one summary, honest about its sample size.

A 95th percentile needs enough samples to mean anything: with fewer than
`MIN_SAMPLES_FOR_P95` the summary gives the maximum instead and says so (`tail_label`),
rather than printing a maximum under the name p95.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

MIN_SAMPLES_FOR_P95 = 20


def timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = function(*args, **kwargs)
    return value, time.perf_counter() - started


def summary(seconds: list[float]) -> dict[str, Any]:
    """n, p50, and p95 (or the max when n is too small for a p95), in milliseconds."""
    ordered = sorted(seconds)
    result: dict[str, Any] = {"n": len(ordered), "p50_ms": statistics.median(ordered) * 1000,
                              "max_ms": ordered[-1] * 1000, "total_s": sum(ordered)}
    if len(ordered) >= MIN_SAMPLES_FOR_P95:
        result["p95_ms"] = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000
    return result


def tail(numbers: dict[str, Any]) -> float:
    """The p95 where there is one, else the max."""
    return numbers.get("p95_ms", numbers["max_ms"])


def tail_label(numbers: dict[str, Any]) -> str:
    return "p95" if "p95_ms" in numbers else "max"


def cell(numbers: dict[str, Any], digits: int = 2) -> str:
    """"p50 / p95" or "p50 / max" with n, for a table cell."""
    return f"{numbers['p50_ms']:.{digits}f} / {tail(numbers):.{digits}f} {tail_label(numbers)} (n={numbers['n']})"
