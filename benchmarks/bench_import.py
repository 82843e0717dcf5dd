"""Import time and first-call latency, each in a fresh interpreter.

* ``import rgbtask`` against ``import numpy`` (the floor: rgbtask imports nothing else);
* the first normals/xyz encode + decode with an empty Numba cache (compile) and with a warm
  cache (load), against ``import numba`` itself.

Run: python benchmarks/bench_import.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile

from _common import print_table

FIRST_CALL = (
    "import time, numpy as np; t0 = time.perf_counter(); import rgbtask; "
    "c = rgbtask.get_codec('normals/xyz'); n = np.zeros((4, 4, 3)); n[..., 2] = 1; "
    "c.decode_with_confidence(c.encode(n)); print(time.perf_counter() - t0)"
)


def run(code: str, env: dict | None = None) -> float:
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return float(out.stdout.strip().splitlines()[-1])


def timed_import(module: str) -> float:
    return run(
        f"import time; t0 = time.perf_counter(); import {module}; print(time.perf_counter() - t0)"
    )


def main() -> None:
    runs = 7
    numpy_t = statistics.median(timed_import("numpy") for _ in range(runs))
    numba_t = statistics.median(timed_import("numba") for _ in range(runs))
    ours = statistics.median(timed_import("rgbtask") for _ in range(runs))
    with tempfile.TemporaryDirectory() as cache:
        cold = run(FIRST_CALL, {"NUMBA_CACHE_DIR": cache})
        warm = statistics.median(run(FIRST_CALL, {"NUMBA_CACHE_DIR": cache}) for _ in range(5))
    rows = [
        [
            "import rgbtask",
            f"{ours * 1e3:.0f} ms",
            "import numpy",
            f"{numpy_t * 1e3:.0f} ms",
            f"{ours / numpy_t:.2f}",
        ],
        [
            "import + first normals encode/decode, cold Numba cache",
            f"{cold * 1e3:.0f} ms",
            "import numba",
            f"{numba_t * 1e3:.0f} ms",
            f"{cold / numba_t:.2f}",
        ],
        [
            "import + first normals encode/decode, warm Numba cache",
            f"{warm * 1e3:.0f} ms",
            "import numba",
            f"{numba_t * 1e3:.0f} ms",
            f"{warm / numba_t:.2f}",
        ],
    ]
    print_table(
        f"start-up latency (median of {runs} fresh interpreters)",
        rows,
        ["what", "rgbtask", "peer", "peer time", "ratio"],
    )


if __name__ == "__main__":
    main()
