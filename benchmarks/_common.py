"""Timing and table helpers shared by the benchmark scripts (not part of the package)."""

from __future__ import annotations

import platform
import time
import tracemalloc

import numpy as np


def best_time(fn, repeat: int = 5, number: int = 1) -> float:
    """Best wall time of ``number`` calls, over ``repeat`` runs (after one warm-up call)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def timings(fn, repeat: int = 15) -> list[float]:
    """Wall times of ``repeat`` calls (after one warm-up call: compilation, table entries), for
    medians with their spread."""
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def peak_memory_mib(fn) -> float:
    """Peak memory NumPy allocates during one call, in MiB (tracemalloc sees NumPy buffers)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def print_table(title: str, rows: list[list[str]], headers: list[str]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"
