"""mask/palette and mask/panoptic at 1920x1080 against NumPy and SciPy, measured in the same run.

The image: a 1920x1080 label map of 151 ADE20K-150 classes (random Voronoi cells), encoded with
the ADE20K palette and passed through JPEG q90 (so it holds many colours that are not palette
colours, as a generated image does). Peers:

* NumPy brute force: for every pixel, squared RGB distance to each of the 151 colours, argmin
  (int32, in chunks of 2^16 pixels);
* SciPy: ``scipy.spatial.cKDTree(palette).query(pixels)`` (float64, all threads: ``workers=-1``);
* panoptic: the plain NumPy formula of panopticapi's ``rgb2id``.

rgbtask's decode is timed warm (its colour table already filled by an earlier call, the steady
state of decoding many frames) and cold (table emptied before every call), the cold case with the
table's default 4 KiB pages and with huge pages (``RGBTASK_HUGE_PAGES=1``); then a run of 20 noisy
frames (sigma 2) from an empty table, both ways, with the table's resident size after it. Every
rgbtask label is checked equal to the brute force.

Run: python benchmarks/bench_masks.py
"""

from __future__ import annotations

import gc
import os
import re
import time
from pathlib import Path

import numpy as np
from _common import best_time, machine, ms, print_table

import rgbtask
from rgbtask.core import masks as kernels
from rgbtask.fidelity.perturb import JPEG


def voronoi_labels(h: int, w: int, n_cells: int, n_classes: int, seed: int) -> np.ndarray:
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    sites = rng.random((n_cells, 2)) * [h, w]
    yy, xx = np.mgrid[0:h, 0:w]
    _, cell = cKDTree(sites).query(np.stack([yy.ravel(), xx.ravel()], -1), workers=-1)
    classes = rng.integers(0, n_classes, n_cells)
    return classes[cell].reshape(h, w).astype(np.uint8)


def _rss_mib() -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def numpy_brute_force(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, 3).astype(np.int32)
    pal = palette.astype(np.int32)
    out = np.empty(flat.shape[0], dtype=np.int64)
    step = 1 << 16
    for i in range(0, flat.shape[0], step):
        d = ((flat[i : i + step, None, :] - pal[None, :, :]) ** 2).sum(-1)
        out[i : i + step] = d.argmin(axis=1)
    return out.reshape(rgb.shape[:-1])


def main() -> None:
    h, w = 1080, 1920
    labels = voronoi_labels(h, w, 600, 151, seed=0)
    codec = rgbtask.get_codec("mask/palette", palette="ade20k", space="rgb", decoder="pixel")
    palette = codec.palette_colors
    rgb = JPEG(90, "4:4:4")(codec.encode(labels), np.random.default_rng(0))
    n_colours = np.unique(rgb.reshape(-1, 3), axis=0).shape[0]

    from scipy.spatial import cKDTree

    tree = cKDTree(palette.astype(np.float64))

    def kdtree():
        return tree.query(rgb.reshape(-1, 3).astype(np.float64), workers=-1)[1]

    def cold():
        rgbtask.clear_tables()
        return codec.decode(rgb)

    got = codec.decode(rgb)
    want = numpy_brute_force(rgb, palette)
    assert np.array_equal(got, want), "rgbtask differs from the brute force"
    t_numpy = best_time(lambda: numpy_brute_force(rgb, palette), repeat=2)
    t_tree = best_time(kdtree, repeat=3)
    t_warm = best_time(lambda: codec.decode(rgb), repeat=10)
    t_cold = best_time(cold, repeat=3)
    os.environ["RGBTASK_HUGE_PAGES"] = "1"
    t_cold_huge = best_time(cold, repeat=3)
    del os.environ["RGBTASK_HUGE_PAGES"]
    frames = [
        np.clip(codec.encode(labels) + rng.normal(0, 2, rgb.shape), 0, 255).astype(np.uint8)
        for rng in [np.random.default_rng(i) for i in range(20)]
    ]
    runs = {}
    for pages in ("4 KiB", "huge"):
        if pages == "huge":
            os.environ["RGBTASK_HUGE_PAGES"] = "1"
        rgbtask.clear_tables()
        gc.collect()
        before = _rss_mib()
        times = []
        for frame in frames:
            t0 = time.perf_counter()
            codec.decode(frame)
            times.append(time.perf_counter() - t0)
        runs[pages] = (times[0], sum(times[1:]) / (len(times) - 1), _rss_mib() - before)
        os.environ.pop("RGBTASK_HUGE_PAGES", None)
    rgbtask.clear_tables()
    t_conf = best_time(lambda: codec.decode_with_confidence(rgb), repeat=10)
    t_float = best_time(lambda: codec.decode(rgb / np.float32(255)), repeat=2)

    pan = rgbtask.get_codec("mask/panoptic")
    ids = np.random.default_rng(1).integers(0, 1 << 24, (h, w))
    prgb = pan.encode(ids)
    assert np.array_equal(pan.decode(prgb), kernels.rgb2id_reference(prgb))
    t_rgb2id_np = best_time(lambda: kernels.rgb2id_reference(prgb), repeat=10)
    t_rgb2id = best_time(lambda: pan.decode(prgb), repeat=10)
    t_id2rgb_np = best_time(lambda: kernels.id2rgb_reference(ids), repeat=5)
    t_id2rgb = best_time(lambda: pan.encode(ids), repeat=10)

    size = f"{w}x{h}"
    rows = [
        ["palette decode (warm table) vs NumPy argmin", size, ms(t_warm), ms(t_numpy), f"{t_numpy / t_warm:.0f}x"],
        ["palette decode (warm table) vs cKDTree", size, ms(t_warm), ms(t_tree), f"{t_tree / t_warm:.0f}x"],
        ["palette decode (cold table) vs NumPy argmin", size, ms(t_cold), ms(t_numpy), f"{t_numpy / t_cold:.1f}x"],
        ["palette decode (cold table) vs cKDTree", size, ms(t_cold), ms(t_tree), f"{t_tree / t_cold:.1f}x"],
        ["palette decode (cold table, huge pages) vs cKDTree", size, ms(t_cold_huge), ms(t_tree), f"{t_tree / t_cold_huge:.1f}x"],
        ["palette decode_with_confidence (warm)", size, ms(t_conf), ms(t_tree), f"{t_tree / t_conf:.0f}x"],
        ["palette decode float32 (no table)", size, ms(t_float), ms(t_tree), f"{t_tree / t_float:.1f}x"],
        ["panoptic rgb2id vs NumPy formula", size, ms(t_rgb2id), ms(t_rgb2id_np), f"{t_rgb2id_np / t_rgb2id:.1f}x"],
        ["panoptic id2rgb vs NumPy formula", size, ms(t_id2rgb), ms(t_id2rgb_np), f"{t_id2rgb_np / t_id2rgb:.1f}x"],
    ]  # fmt: skip
    print_table(
        f"mask codecs, ADE20K-150 palette, JPEG q90 image with {n_colours} distinct colours "
        f"({machine()})",
        rows,
        ["operation", "size", "rgbtask", "peer", "ratio"],
    )
    print("\nrgbtask labels == NumPy brute force for every pixel: yes")
    print_table(
        "20 noisy frames (sigma 2) in a row from an empty table: per frame, and the table's memory",
        [
            [pages, ms(first), ms(rest), f"{mib:.0f} MiB", ms(t_tree)]
            for pages, (first, rest, mib) in runs.items()
        ],
        ["table pages", "first frame", "mean of the other 19", "table resident", "cKDTree"],
    )


if __name__ == "__main__":
    main()
