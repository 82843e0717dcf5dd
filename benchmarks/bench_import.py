"""Import time and first-call latency, each in a fresh interpreter.

* ``import rgbtask`` against ``import numpy`` (the floor: rgbtask imports nothing else);
* the first normals/xyz encode + decode with an empty Numba cache (compile) and with a warm
  cache (load), against ``import numba`` itself.

* per codec family, the first ``get_codec`` + encode + decode (clean, then JPEG'd: the inexact
  paths) in a fresh interpreter, cold (empty Numba cache, which also holds the generated
  palettes) and warm, without and with ``rgbtask.warmup(name)`` first; the cold column also gives
  the process's CPU time for import + first encode/decode (on a machine shared with other work
  the wall clock waits for a core, the CPU time does not: compare CPU time with the 1.5 s goal
  there, wall time on a quiet machine).

* ``--compiles``: where a family's cold first call goes, in a fresh interpreter with an empty
  cache: the process's CPU time by phase (NumPy, Numba and its target set-up, rgbtask and the
  codec module, encode, decode) and each jitted function it compiled, with the CPU time of its
  own compile (callees' apart; Numba's overload implementations such as ``np.empty`` included).

* ``--paired OTHER_TREE [PAIRS]``: the "first call" CPU time of every family with this source
  tree and with another checkout of rgbtask (``git worktree add /tmp/main main``), taken in turn
  (the order alternating) in fresh interpreters with empty caches: medians and the median ratio
  of the pairs, which survives a loaded machine better than two separate tables.

Run: python benchmarks/bench_import.py   (``--families`` for the per-family table only;
``--compiles [NAME]`` for the compile list of one family, default all of :data:`FAMILIES`)
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


#: One representative configuration per family (the palette row is the issue's ~1 s case).
FAMILIES = [
    ("depth/cubewalk", {}),
    ("mask/palette", {}),
    ("mask/palette", {"palette": "distinct", "num_classes": 151}),
    ("normals/xyz", {}),
    ("keypoints/heatmap", {"size": [64, 48], "num_keypoints": 8}),
]

FAMILY_FIRST_CALL = """
import io, sys, time, json
c0 = time.process_time()
t0 = time.perf_counter()
import numpy as np, rgbtask
name, params, warm = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
ti, ci = time.perf_counter(), time.process_time()
if warm:
    rgbtask.warmup(name)
t1, c1 = time.perf_counter(), time.process_time()
from rgbtask.samples import make_scene
from PIL import Image
cls = rgbtask.get_codec_class(name)
value = next(iter(cls.examples(make_scene(48, 64, seed=0))))[1][0]
t2, c2 = time.perf_counter(), time.process_time()
codec = rgbtask.get_codec(name, **params)
rgb = codec.encode(value)
codec.decode_with_confidence(rgb)
buf = io.BytesIO(); Image.fromarray(rgb.reshape(-1, *rgb.shape[-2:])).save(buf, "JPEG", quality=90)
jpegd = np.asarray(Image.open(buf)).reshape(rgb.shape)
t3, c3 = time.perf_counter(), time.process_time()
codec.decode_with_confidence(jpegd)
t4, c4 = time.perf_counter(), time.process_time()
print(t1 - ti, (ti - t0) + (t3 - t2), t4 - t3, (ci - c0) + (c3 - c2))
"""


def family_rows() -> list[list[str]]:
    """Per family: import + first encode/decode, then the first JPEG'd decode, cold and warm."""
    rows = []
    for name, params in FAMILIES:
        label = name + ("" if not params else " " + ",".join(f"{k}={v}" for k, v in params.items()))
        if name == "keypoints/heatmap":
            label = name
        args = [name, __import__("json").dumps(params)]
        for warmup in ("0", "1"):
            with tempfile.TemporaryDirectory() as cache:
                env = {"NUMBA_CACHE_DIR": cache}
                cold = _run3(FAMILY_FIRST_CALL, [*args, warmup], env)
                warm = min(
                    (_run3(FAMILY_FIRST_CALL, [*args, warmup], env) for _ in range(3)),
                    key=lambda r: r[1],
                )
            if warmup == "1":
                what = f"after warmup(name) ({cold[0]:.1f} s cold / {warm[0]:.1f} s warm)"
            else:
                what = "first call"
            rows.append(
                [
                    label,
                    what,
                    f"{cold[1]:.2f} s, CPU {cold[3]:.2f} s (+{cold[2]:.2f} s)",
                    f"{warm[1]:.2f} s (+{warm[2]:.2f} s)",
                ]
            )
    return rows


def _run3(code: str, args: list[str], env: dict) -> tuple[float, float, float, float]:
    """(warmup s, import + first encode/decode s, first JPEG'd decode s, CPU s of the second)."""
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    a, b, c, d = (float(x) for x in out.stdout.strip().splitlines()[-1].split())
    return a, b, c, d


COMPILES = """
import json, sys, time
P = time.process_time
c0 = P()
import numpy as np
c1 = P()
import numba.core.event as ev
from numba.core.registry import cpu_target
cpu_target.target_context.refresh()  # Numba's own first-compile set-up (imports scipy.linalg)
c2 = P()
records, stack = [], []

class Compiles(ev.Listener):
    def on_start(self, event):
        stack.append([event.data["dispatcher"], event.data["args"], time.thread_time(), 0.0])

    def on_end(self, event):
        d, args, start, inner = stack.pop()
        spent = time.thread_time() - start
        if stack:
            stack[-1][3] += spent
        name = d.py_func.__module__.split(".")[-1] + "." + d.py_func.__qualname__
        records.append((spent - inner, name.replace(".<locals>", ""), ", ".join(map(str, args))))

ev.register("numba:compile", Compiles())
import rgbtask
from rgbtask.samples import make_scene
name, params = sys.argv[1], json.loads(sys.argv[2])
cls = rgbtask.get_codec_class(name)
c3 = P()
value = next(iter(cls.examples(make_scene(48, 64, seed=0))))[1][0]
c4 = P()
codec = rgbtask.get_codec(name, **params)
rgb = codec.encode(value)
c5 = P()
codec.decode_with_confidence(rgb)
c6 = P()
print(json.dumps({"phases": [c1 - c0, c2 - c1, c3 - c2, c5 - c4, c6 - c5], "compiles": records}))
"""


def print_compiles(which: str | None) -> None:
    """The ``--compiles`` tables (module docstring)."""
    import json

    for name, params in FAMILIES:
        label = name + ("" if not params else " " + json.dumps(params))
        if which and which not in (name, label):
            continue
        with tempfile.TemporaryDirectory() as cache:
            out = subprocess.run(
                [sys.executable, "-c", COMPILES, name, json.dumps(params)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, "NUMBA_CACHE_DIR": cache},
            )
        got = json.loads(out.stdout.strip().splitlines()[-1])
        phases = got["phases"]
        compiles = sorted(got["compiles"], key=lambda r: -r[0])
        rows = [[f"{own:.3f} s", fn, args[:90]] for own, fn, args in compiles]
        print_table(
            f"{label}: CPU numpy {phases[0]:.2f} s, numba + set-up {phases[1]:.2f} s, rgbtask + "
            f"codec module {phases[2]:.2f} s, encode {phases[3]:.2f} s, decode {phases[4]:.2f} s; "
            f"{len(compiles)} compiles, {sum(r[0] for r in compiles):.2f} s CPU",
            rows,
            ["own compile CPU", "function", "signature"],
        )


def print_paired(other: str, pairs: int) -> None:
    """The ``--paired`` table (module docstring)."""
    import json

    trees = {
        "this tree": os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "other": other,
    }
    rows = []
    for name, params in FAMILIES:
        cpu: dict[str, list[float]] = {k: [] for k in trees}
        for i in range(pairs):
            for key in list(trees)[:: 1 if i % 2 == 0 else -1]:
                with tempfile.TemporaryDirectory() as cache:
                    env = {"NUMBA_CACHE_DIR": cache, "PYTHONPATH": trees[key]}
                    cpu[key].append(
                        _run3(FAMILY_FIRST_CALL, [name, json.dumps(params), "0"], env)[3]
                    )
        ratios = [a / b for a, b in zip(cpu["this tree"], cpu["other"])]
        rows.append(
            [
                name
                + ("" if not params else " " + ",".join(f"{k}={v}" for k, v in params.items())),
                f"{statistics.median(cpu['other']):.2f} s",
                f"{statistics.median(cpu['this tree']):.2f} s",
                f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]",
            ]
        )
    print_table(
        f"first call CPU, cold cache, {pairs} pairs in turn: this tree against {other}",
        rows,
        ["codec", "other CPU", "this tree CPU", "this / other per pair, median [range]"],
    )


def main() -> None:
    if "--paired" in sys.argv:
        rest = sys.argv[sys.argv.index("--paired") + 1 :]
        print_paired(rest[0], int(rest[1]) if len(rest) > 1 else 4)
        return
    if "--compiles" in sys.argv:
        rest = sys.argv[sys.argv.index("--compiles") + 1 :]
        print_compiles(rest[0] if rest else None)
        return
    if "--families" in sys.argv:
        print_families()
        return
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

    print_families()


def print_families() -> None:
    print_table(
        "first call per codec family, fresh interpreter: import + get_codec + encode + decode "
        "(+ the first JPEG'd decode after it); after warmup(name): the same, warmup's own time apart",
        family_rows(),
        ["codec", "when", "cold Numba cache", "warm cache (best of 3)"],
    )


if __name__ == "__main__":
    main()
