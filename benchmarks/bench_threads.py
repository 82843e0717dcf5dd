"""Speed-up from the caller's threads: the kernels release the GIL, so a decode loop over a batch
runs in parallel from a plain ``ThreadPoolExecutor`` (a DataLoader's threads, a server's workers).

For each codec family, the same 16 images are decoded (a) in one thread, (b) from T threads with
the kernels' own row splitting turned off (``set_num_threads(1)``, so only the caller's threads
run in parallel), and (c) in one thread with the kernels' row splitting on. The peer is (a), in
the same run; the ideal speed-up is T (the machine's cores). A pure-Python loop holding the GIL
is timed the same way, to show what no GIL release looks like.

Run: python benchmarks/bench_threads.py
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from _common import best_time, machine, ms, print_table

import rgbtask
from rgbtask.core import _jit
from rgbtask.samples import make_scene, spread_keypoints

H, W, N = 1080, 1920, 8


def codecs(scene):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield rgbtask.get_codec("normals/xyz"), scene.normals, "uint8"
        yield rgbtask.get_codec("depth/cubewalk"), scene.depth, "uint8"
        yield rgbtask.get_codec("depth/cubewalk"), scene.depth, "float32"
        yield rgbtask.get_codec("depth/colormap", near=0.5, far=20.0), scene.depth, "uint8"
        yield rgbtask.get_codec("mask/palette", palette="ade20k"), scene.semantic, "uint8"
        yield rgbtask.get_codec("mask/panoptic"), scene.instance, "uint8"
        kp = rgbtask.get_codec("keypoints/heatmap", size=(H, W), num_keypoints=17)
        yield kp, spread_keypoints(np.random.default_rng(0), 1, 17, (H, W))[0], "uint8"


def python_loop(rgb: np.ndarray) -> int:
    """A GIL-bound peer: pure-Python work over the image's first rows."""
    total = 0
    for v in rgb[:8].reshape(-1).tolist():
        total += v
    return total


def main() -> None:
    threads = os.cpu_count() or 1
    scene = make_scene(H, W, seed=0)
    rows = []
    default_threads = _jit.num_threads()
    pool = ThreadPoolExecutor(threads)  # the caller's threads, started once
    for codec, value, kind in codecs(scene):
        rgb = codec.encode(value)
        if kind == "float32":
            rgb = (rgb / np.float32(255)).astype(np.float32)
        batch = [rgb.copy() for _ in range(N)]
        codec.decode_with_confidence(rgb)  # compile, fill the tables

        def serial(items=batch, decode=codec.decode_with_confidence):
            for item in items:
                decode(item)

        def threaded(items=batch, decode=codec.decode_with_confidence):
            list(pool.map(decode, items))

        _jit.set_num_threads(1)
        t_serial = best_time(serial, repeat=3)
        t_threads = best_time(threaded, repeat=3)
        _jit.set_num_threads(default_threads)
        t_split = best_time(serial, repeat=3)
        rows.append(
            [
                f"{codec.name} {kind}",
                ms(t_serial / N),
                ms(t_threads / N),
                f"{t_serial / t_threads:.2f}x",
                ms(t_split / N),
                f"{t_serial / t_split:.2f}x",
            ]
        )
    batch = [np.zeros((H, W, 3), np.uint8) for _ in range(N)]
    t_py = best_time(lambda: [python_loop(b) for b in batch], repeat=3)
    t_py_threads = best_time(lambda: list(pool.map(python_loop, batch)), repeat=3)
    pool.shutdown()
    rows.append(
        [
            "pure-Python loop (holds the GIL)",
            ms(t_py / N),
            ms(t_py_threads / N),
            f"{t_py / t_py_threads:.2f}x",
            "-",
            "-",
        ]
    )
    print(f"decode_with_confidence of {N} images {W}x{H}, {threads} threads, {machine()}")
    print("Run: python benchmarks/bench_threads.py")
    print_table(
        f"per image: 1 thread vs {threads} caller threads (kernel splitting off) vs kernel split",
        rows,
        [
            "codec, input",
            "1 thread",
            f"{threads} threads",
            "speed-up",
            "1 thread, kernel split",
            "speed-up",
        ],
    )


if __name__ == "__main__":
    main()
