"""Speed-up from the caller's threads: the kernels release the GIL, so a decode loop over a batch
runs in parallel from a plain ``ThreadPoolExecutor`` (a DataLoader's threads, a server's workers).

For each codec family, the same 16 images are decoded (a) in one thread, (b) from T threads with
the kernels' own row splitting turned off (``set_num_threads(1)``, so only the caller's threads
run in parallel), and (c) in one thread with the kernels' row splitting on. The peer is (a), in
the same run; the ideal speed-up is T (the machine's cores). A pure-Python loop holding the GIL
is timed the same way, to show what no GIL release looks like.

Then the knob itself, ``rgbtask.set_num_threads(n)``: one 3840x2160 image and one batch of
64 x 256x256, decoded and encoded with 1 and 2 kernel threads (median of 7 interleaved runs), and,
because a 2-core machine shared with other work cannot show a clean 2-thread wall-clock speed-up,
the speed-up the 1-thread run's CPU time projects for a quiet machine: ``(S + P) / (S + P / T)``,
where ``P`` is the thread CPU time spent inside the split kernels and ``S`` the rest (validation,
allocation, Python), measured by wrapping each core module's ``run_rows``. The projection ignores
memory bandwidth (shared by the cores) and the hand-over (~50 us per call), so it is an upper
bound; the wall-clock column says what this run got.

Run: python benchmarks/bench_threads.py   (--split: the set_num_threads table only)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
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


def split_cases():
    """(label, codec, function of the codec) at 4K and for a batch of 64 x 256x256."""
    big = make_scene(1080, 1920, seed=0)
    batch = [make_scene(256, 256, seed=i) for i in range(8)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        normals = rgbtask.get_codec("normals/xyz")
        cubewalk = rgbtask.get_codec("depth/cubewalk")
        palette = rgbtask.get_codec("mask/palette", palette="ade20k")
    for size, pick in (
        (
            "3840x2160",
            lambda name: np.tile(getattr(big, name), (2, 2) + (1,) * (getattr(big, name).ndim - 2)),
        ),
        ("64 x 256x256", lambda name: np.stack([getattr(s, name) for s in batch] * 8)),
    ):
        depth, norms, labels = pick("depth"), pick("normals"), pick("semantic")
        d_rgb, n_rgb, l_rgb = cubewalk.encode(depth), normals.encode(norms), palette.encode(labels)
        d_float = (d_rgb / np.float32(255)).astype(np.float32)
        yield f"normals/xyz encode, {size}", lambda v=norms: normals.encode(v)
        yield f"normals/xyz decode, {size}", lambda v=n_rgb: normals.decode_with_confidence(v)
        yield f"depth/cubewalk encode, {size}", lambda v=depth: cubewalk.encode(v)
        yield (
            f"depth/cubewalk decode 8-bit, {size}",
            lambda v=d_rgb: cubewalk.decode_with_confidence(v),
        )
        yield (
            f"depth/cubewalk decode float32, {size}",
            lambda v=d_float: cubewalk.decode_with_confidence(v),
        )
        yield f"mask/palette decode, {size}", lambda v=l_rgb: palette.decode_with_confidence(v)


def kernel_cpu_share(fn) -> tuple[float, float]:
    """(total, inside run_rows) thread CPU seconds of one call of ``fn`` in 1 thread."""
    import rgbtask.colorspace
    import rgbtask.core.depth
    import rgbtask.core.flow
    import rgbtask.core.keypoints
    import rgbtask.core.masks
    import rgbtask.core.normals

    modules = [
        m
        for m in (rgbtask.core.depth, rgbtask.core.masks, rgbtask.core.normals, rgbtask.core.flow)
        + (rgbtask.core.keypoints, rgbtask.colorspace)
        if hasattr(m, "run_rows")
    ]
    inside = [0.0]

    def timed(*args, **kwargs):
        t0 = time.thread_time()
        try:
            return _jit.run_rows(*args, **kwargs)
        finally:
            inside[0] += time.thread_time() - t0

    saved = [m.run_rows for m in modules]
    for m in modules:
        m.run_rows = timed
    try:
        fn()
        totals, insides = [], []
        for _ in range(5):
            inside[0] = 0.0
            t0 = time.thread_time()
            fn()
            totals.append(time.thread_time() - t0)
            insides.append(inside[0])
    finally:
        for m, original in zip(modules, saved):
            m.run_rows = original
    i = sorted(range(5), key=totals.__getitem__)[2]
    return totals[i], insides[i]


def split_table(threads: int = 2) -> None:
    rows = []
    for label, fn in split_cases():
        _jit.set_num_threads(1)
        total, inside = kernel_cpu_share(fn)
        walls = {1: [], threads: []}
        fn()
        for _ in range(7):
            for t in (1, threads):
                _jit.set_num_threads(t)
                t0 = time.perf_counter()
                fn()
                walls[t].append(time.perf_counter() - t0)
        one, many = statistics.median(walls[1]), statistics.median(walls[threads])
        serial = total - inside
        rows.append(
            [
                label,
                ms(one),
                ms(many),
                f"{one / many:.2f}x",
                f"{inside / total:.0%}",
                f"{total / (serial + inside / threads):.2f}x",
            ]
        )
    _jit.set_num_threads(None)
    print_table(
        f"rgbtask.set_num_threads(1) vs ({threads}): wall clock (median of 7 interleaved) and the "
        "speed-up projected from 1-thread CPU time",
        rows,
        [
            "operation",
            "1 thread",
            f"{threads} threads",
            "wall speed-up",
            "CPU in kernels",
            "projected",
        ],
    )


def main() -> None:
    if "--split" in sys.argv:
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}")
        split_table()
        return
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
    split_table()


if __name__ == "__main__":
    main()
