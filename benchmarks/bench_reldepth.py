"""Relative depth (Marigold-style) against what a competent NumPy user writes, 1920x1080.

    .venv/bin/python benchmarks/bench_reldepth.py

Rows (median of repeats, with the min-max spread; ratio = peer median / rgbtask median):

* quantile encode: ``depth/gray`` with ``transform="quantile"`` vs the NumPy one-off of Marigold's
  normalisation (``np.quantile`` of the valid depth at 2 % / 98 %, clip, round, repeat into three
  channels); rgbtask also validates and gives invalid pixels the reserved code.
* gray decode: ``depth/gray`` decode of a 3-channel prediction vs ``rgb.mean(axis=-1) / 255``
  (Marigold's channel averaging); rgbtask also gives validity and confidence.
* align: ``rgbtask.metrics.align_scale_shift`` vs Marigold's ``align_depth_least_square``
  recipe (``np.linalg.lstsq`` on the masked pixels, ``[pred, 1]`` design matrix).
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, print_table, timings

import rgbtask
from rgbtask.metrics import align_scale_shift

H, W = 1080, 1920
REPEAT = 15


def cell(ts: list[float]) -> str:
    return f"{statistics.median(ts) * 1e3:.2f} ms ({min(ts) * 1e3:.2f}-{max(ts) * 1e3:.2f})"


def depth_map() -> np.ndarray:
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    d = 0.4 + 9.0 * ((x / W - 0.5) ** 2 + (1.0 - y / H) ** 2) + 0.1 * np.sin(x / 37.0)
    d = d.astype(np.float32)
    d[np.random.default_rng(0).random((H, W)) < 0.02] = np.nan
    return d


def peer_encode(d: np.ndarray) -> np.ndarray:
    valid = np.isfinite(d) & (d > 0)
    lo, hi = np.quantile(d[valid], [0.02, 0.98])
    v = np.clip((d - lo) / (hi - lo), 0.0, 1.0)
    g = np.floor(np.nan_to_num(v) * 255 + 0.5).astype(np.uint8)
    return np.repeat(g[..., None], 3, axis=-1)


def peer_align(pred: np.ndarray, target: np.ndarray, valid: np.ndarray):
    p, t = pred[valid].reshape(-1, 1), target[valid].reshape(-1, 1)
    a = np.concatenate([p, np.ones_like(p)], axis=-1)
    scale, shift = np.linalg.lstsq(a, t, rcond=None)[0]
    return pred * scale + shift, scale, shift


def main() -> None:
    d = depth_map()
    codec = rgbtask.get_codec("depth/gray", transform="quantile")
    rgb = codec.encode(d)
    ok = np.isfinite(d)
    assert np.array_equal(peer_encode(d)[ok], rgb[ok])  # the same codes where valid
    rng = np.random.default_rng(1)
    pred_rgb = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
    rel = codec.decode(pred_rgb).astype(np.float64)
    target = d.astype(np.float64)
    valid = np.isfinite(rel) & np.isfinite(target)
    _, s_a, t_a = align_scale_shift(rel, target, valid)
    _, s_b, t_b = peer_align(rel, target, valid)
    assert abs(s_a - float(s_b[0])) < 1e-6 * abs(s_a) and abs(t_a - float(t_b[0])) < 1e-6

    size = f"{W}x{H}"
    rows = []
    for label, ours, peer, name in (
        (
            "quantile encode (gray)",
            lambda: codec.encode(d),
            lambda: peer_encode(d),
            "np.quantile+clip",
        ),
        (
            "gray decode (uint8)",
            lambda: codec.decode(pred_rgb),
            lambda: pred_rgb.mean(axis=-1) / 255,
            "rgb.mean(-1)",
        ),
        (
            "align scale+shift",
            lambda: align_scale_shift(rel, target, valid),
            lambda: peer_align(rel, target, valid),
            "np.linalg.lstsq",
        ),
    ):
        t_ours, t_peer = timings(ours, REPEAT), timings(peer, REPEAT)
        ratio = statistics.median(t_peer) / statistics.median(t_ours)
        rows.append([label, size, cell(t_ours), f"{name}: {cell(t_peer)}", f"{ratio:.2f}"])
    print(machine())
    print_table(
        "Relative depth vs NumPy peers (median of 15, min-max)",
        rows,
        ["operation", "size", "rgbtask", "peer", "ratio (peer / rgbtask)"],
    )


if __name__ == "__main__":
    main()
