"""Throughput against image size, per codec, for docs/performance.md.

For each codec: encode and decode (of its exact 8-bit codes) of square images from 32x32 to
2048x2048, in megapixels per second, with 1 and 2 kernel threads. Time linear in the pixel count
is a flat line; the grey line is the 1-thread throughput of the largest image carried to every
size, so that a fixed per-call cost shows as the gap on the left and a cache or page-fault effect
as a bend on the right. Each point: the best of 7 timings, each long enough (>= 20 ms, calls
repeated) to dwarf the timer (the best, not the median: on a machine shared with other work the
best run is the one least disturbed, and medians there wander by 5x).

Run: python docs/make_performance_figures.py   (about 2 minutes; writes docs/figures/performance_*.png)
"""

from __future__ import annotations

import sys
import time
import warnings
from functools import cache, partial
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rgbtask
from rgbtask.samples import make_scene

OUT = Path(__file__).resolve().parent / "figures"
SIDES = (32, 64, 128, 256, 512, 1024, 2048)
FAMILIES = {
    "depth": [
        ("depth/cubewalk", {}, "depth"),
        ("depth/gray", {"transform": "log", "near": 0.4, "far": 90.0}, "depth"),
        ("depth/hue", {"near": 0.4, "far": 90.0}, "depth"),
    ],
    "masks": [
        ("mask/palette", {"palette": "ade20k"}, "labels"),
        ("mask/binary", {}, "binary"),
        ("mask/panoptic", {}, "instance"),
        ("mask/instance", {}, "instance"),
    ],
    "normals": [("normals/xyz", {}, "normals")],
}


@cache
def scene():
    return make_scene(1080, 1920, seed=0)


def values(side: int) -> dict[str, np.ndarray]:
    """Crops (and for 2048, a 2x2 tiling) of one 1080p scene."""
    s = scene()
    out = {}
    for name, a in [
        ("depth", s.depth),
        ("normals", s.normals),
        ("labels", (s.semantic.astype(np.int64) * 25 % 151).astype(np.uint8)),
        ("binary", (s.instance > 0).astype(np.uint8)),
        ("instance", s.instance),
    ]:
        a = np.tile(a, (2, 2) + (1,) * (a.ndim - 2)) if side > 1080 else a
        out[name] = np.ascontiguousarray(a[:side, :side])
    return out


def throughput(fn, pixels: int) -> float:
    """Megapixels per second: best of 7 timings of enough calls to last >= 20 ms."""
    fn()
    t0 = time.perf_counter()
    fn()
    number = max(1, int(0.02 / max(time.perf_counter() - t0, 1e-7)))
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return pixels / min(times) / 1e6


def measure(codecs) -> dict:
    results = {}
    inputs = {side: values(side) for side in SIDES}
    for name, params, kind in codecs:
        codec = rgbtask.get_codec(name, **params)
        for threads in (1, 2):
            rgbtask.set_num_threads(threads)
            for op in ("encode", "decode"):
                line = []
                for side in SIDES:
                    value = inputs[side][kind]
                    rgb = codec.encode(value)
                    if op == "encode":
                        fn = partial(codec.encode, value)
                    else:
                        fn = partial(codec.decode, rgb)
                    line.append(throughput(fn, side * side))
                results[name, op, threads] = line
                print(name, op, threads, [f"{x:.0f}" for x in line], flush=True)
    rgbtask.set_num_threads(None)
    return results


def figure(family: str, codecs, results) -> None:
    fig, axes = plt.subplots(
        1, len(codecs), figsize=(max(6.5, 4.2 * len(codecs)), 3.6), squeeze=False
    )
    pixels = np.array(SIDES) ** 2 / 1e6
    for ax, (name, _, _) in zip(axes[0], codecs):
        for op, colour in (("encode", "tab:blue"), ("decode", "tab:orange")):
            one = results[name, op, 1]
            ax.plot(pixels, one, "o-", color=colour, label=f"{op}, 1 thread")
            ax.plot(
                pixels,
                results[name, op, 2],
                "s--",
                color=colour,
                alpha=0.7,
                label=f"{op}, 2 threads",
            )
            ax.axhline(one[-1], color=colour, lw=0.8, alpha=0.35)
        ax.set_xscale("log")
        ax.set_xlabel("megapixels per image")
        ax.set_title(name, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("megapixels / s")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.suptitle(
        "throughput vs image size (flat: time linear in pixels; grey: 1 thread at 4 MP)",
        fontsize=10,
    )
    fig.tight_layout()
    OUT.mkdir(exist_ok=True)
    fig.savefig(OUT / f"performance_{family}.png", dpi=110)
    plt.close(fig)


def main() -> None:
    warnings.simplefilter("ignore", UserWarning)
    families = sys.argv[1:] or list(FAMILIES)
    for family in families:
        codecs = FAMILIES[family]
        figure(family, codecs, measure(codecs))


if __name__ == "__main__":
    main()
