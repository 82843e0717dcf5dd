"""A/B: the same codec paths timed in two checkouts of rgbtask, interleaved, in one run.

A refactor that must not change speed (issue 12: "benchmarks stay within noise") is measured
against the commit before it, not against a figure from another day::

    git worktree add --detach /tmp/base <commit>
    python benchmarks/bench_ab.py /tmp/base .            # rounds of base, this tree, base, ...

Each round runs every path in a fresh subprocess per tree (``PYTHONPATH`` = the tree), so both
trees see the same machine load; the table gives each path's median over the rounds, the spread
(min..max of the per-round medians) and the ratio this/base. On a shared 2-core machine a ratio
inside 0.85..1.15 is noise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from _common import print_table

# One child process: time each path (median of repeats, ms) and print a JSON dict.
CHILD = r"""
import json, time
import numpy as np
import rgbtask
from rgbtask.samples import make_scene

def med(fn, n=11):
    fn(); fn()
    ts = []
    for _ in range(n):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return 1e3 * float(np.median(ts))

s = make_scene(1080, 1920, seed=0)
out = {}
c = rgbtask.get_codec("normals/xyz"); rgb = c.encode(s.normals)
out["normals/xyz encode"] = med(lambda: c.encode(s.normals))
out["normals/xyz decode+conf"] = med(lambda: c.decode_with_confidence(rgb))
c = rgbtask.get_codec("depth/cubewalk"); rgb = c.encode(s.depth)
out["depth/cubewalk encode"] = med(lambda: c.encode(s.depth))
out["depth/cubewalk decode 8-bit"] = med(lambda: c.decode_with_confidence(rgb))
c = rgbtask.get_codec("depth/colormap", cmap="turbo", near=0.5, far=10.0)
rgb = c.encode(np.clip(s.depth, 0.5, 10.0))
out["depth/colormap decode 8-bit"] = med(lambda: c.decode(rgb))
c = rgbtask.get_codec("mask/palette", palette="ade20k"); rgb = c.encode(s.semantic)
out["mask/palette encode"] = med(lambda: c.encode(s.semantic))
out["mask/palette decode, table warm"] = med(lambda: c.decode_with_confidence(rgb))
rng = np.random.default_rng(0)
kp = rng.uniform([10, 10], [182, 246], (64, 3, 17, 2))
for layout in ("painter", "palette"):
    c = rgbtask.get_codec("keypoints/heatmap", size=(256, 192), num_keypoints=17, layout=layout)
    rgb = c.encode(kp)
    out[f"keypoints {layout} encode 64x"] = med(lambda: c.encode(kp))
    out[f"keypoints {layout} decode 64x"] = med(lambda: c.decode(rgb), n=5)
print(json.dumps(out))
"""


def run(tree: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=tree, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.exit(f"the timing child failed in {tree}:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("base", type=Path, help="checkout A (the reference)")
    p.add_argument("this", type=Path, help="checkout B (the change)")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    rounds: dict[str, list[list[float]]] = {}
    for _ in range(a.rounds):
        for i, tree in enumerate((a.base, a.this)):
            for k, v in run(tree.resolve()).items():
                rounds.setdefault(k, [[], []])[i].append(v)
    rows = []
    for k, (base, this) in rounds.items():
        mb, mt = float(np.median(base)), float(np.median(this))
        rows.append(
            [
                k,
                f"{mb:.2f} ({min(base):.2f}..{max(base):.2f})",
                f"{mt:.2f} ({min(this):.2f}..{max(this):.2f})",
                f"{mt / mb:.2f}",
            ]
        )
    print_table(
        f"A/B, ms, median over {a.rounds} rounds (spread)",
        rows,
        ["path", f"A {a.base}", f"B {a.this}", "B/A"],
    )


if __name__ == "__main__":
    main()
