"""mask/instance with colors="random" against the NumPy a competent user writes, same run.

Input: the COCO panoptic sample 000000439180.png (360 x 640, 32 segments) when
../shared/data/panoptic is present, else the built-in scene at 360 x 640. Peers:

* encode: SAM-style random colours, ``lut = rng.integers(0, 256, (n + 1, 3)); lut[0] = 0;
  lut[ids]`` (as SAM's notebooks' ``show_anns`` give each mask ``np.random.random(3)``; no check that
  two colours differ or that one is not black);
* decode (lossless image only, the peer cannot do more): exact colour lookup,
  ``np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)``.

rgbtask encode draws distinct colours with rejection; its decode clusters colours (it also decodes a
JPEG, which the peer cannot). Times: median of 7 runs with min and max, ratio = rgbtask / peer.

Run: PYTHONPATH=. python benchmarks/bench_instances.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import machine

import rgbtask

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "panoptic" / "coco"


def load_ids() -> tuple[str, np.ndarray]:
    path = DATA / "panoptic_examples" / "000000439180.png"
    if path.is_file():
        from PIL import Image

        rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
        seg = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        u, inv = np.unique(seg, return_inverse=True)
        return path.name, (inv.reshape(seg.shape) + (u[0] != 0)).astype(np.int32)
    from rgbtask.samples import make_scene

    return "built-in scene", make_scene(360, 640, seed=0).instance.astype(np.int32)


def times(fn, repeat: int = 7) -> np.ndarray:
    fn()  # warm
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return np.asarray(out) * 1e3


def fmt(t: np.ndarray) -> str:
    return f"{np.median(t):.2f} ms [{t.min():.2f}, {t.max():.2f}]"


def main() -> None:
    name, ids = load_ids()
    codec = rgbtask.get_codec("mask/instance", colors="random", seed=0)
    rgb = codec.encode(ids)
    rng = np.random.default_rng(0)
    n = int(ids.max())

    def peer_encode():
        lut = rng.integers(0, 256, (n + 1, 3)).astype(np.uint8)
        lut[0] = 0
        return lut[ids]

    def peer_decode():
        _, inv = np.unique(rgb.reshape(-1, 3), axis=0, return_inverse=True)
        return inv.reshape(ids.shape)

    rows = [
        ("encode", times(lambda: codec.encode(ids)), times(peer_encode)),
        ("decode (lossless)", times(lambda: codec.decode(rgb)), times(peer_decode)),
    ]
    print(f"{machine()}; {name} {ids.shape}, {n} instances")
    print("| step | rgbtask (median [min, max]) | peer | ratio rgbtask / peer |")
    print("|---|---|---|---|")
    for step, ours, peer in rows:
        print(f"| {step} | {fmt(ours)} | {fmt(peer)} | {np.median(ours) / np.median(peer):.2f} |")


if __name__ == "__main__":
    main()
