"""Depth codecs against their peers, 1920x1080, ratios from one run.

    .venv/bin/python benchmarks/bench_depth.py            # the table
    .venv/bin/python benchmarks/bench_depth.py --verify   # all 2^24 colours against hilbertmap
    .venv/bin/python benchmarks/bench_depth.py --bits16   # 16-bit codecs against their 8-bit selves
    RGBTASK_NUM_THREADS=1 .venv/bin/python benchmarks/bench_depth.py --peers  # tuned peers (issue 17)
    RGBTASK_NUM_THREADS=1 .venv/bin/python benchmarks/bench_depth.py --peers 1920x1080  # one size

Peers: ``hilbertmap`` 0.1.3 (Vision Banana's reference implementation of the cube walk) for
``depth/cubewalk``; a scipy ``cKDTree`` nearest-colour inversion of the same matplotlib colormap
for ``depth/colormap``; ``np.copyto`` of the input + output bytes for encode throughput.
``--bits16``: each curve's ``bits=16`` codec against the same codec at ``bits=8`` (the peer a user
would otherwise keep), encode of float32 metres and decode of its own codes (uint16 / uint8, the
8-bit table warm), median of interleaved rounds with the spread (min..max).

``--peers`` (issue 17): against the peer a competent user writes, at 1920x1080, 3840x2160 and a
batch of 64 x 256x256, medians of interleaved rounds with min..max, ratio = peer / rgbtask:

* float RGB (a model's output: the codes / 255 plus N(0, 1/255) noise, clipped) of every curve:
  rgbtask against the brute-force projection it replaced (``kernels.decode_float`` without the
  projection grid: every segment measured) and against its own 8-bit path; MPix/s;
* ``depth/gray`` uint8: NumPy ``r + g + b`` in uint16 and a lookup of the 766 channel sums'
  depths (the peer's table built once, outside the timing);
* ``depth/cubewalk`` uint8 after JPEG q90 (Pillow): a 2^24-entry float32 table built once,
  ``table[r << 16 | g << 8 | b]``;
* ``depth/cubewalk`` encode: NumPy transform + ``np.take`` of a level -> RGB table (reserved code
  appended), and ``np.take`` alone on precomputed levels (the transform excluded);
* ``bits=16`` decode of its own codes against ``bits=8``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_time, machine, ms, print_table

import rgbtask
from rgbtask import curves
from rgbtask.core._jit import num_threads

H, W = 1080, 1920


def depth_map(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """A smooth synthetic depth map (1920x1080 by default): floor, walls and objects, 0.4-90 m,
    2% holes."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    d = 0.4 + 90.0 * ((x / w - 0.5) ** 2 + (1.0 - y / h) ** 4)
    d += 0.8 * np.sin(x * (W / w) / 37.0) * np.cos(y * (H / h) / 23.0 + seed) + 0.8
    d = d.astype(np.float32)
    rng = np.random.default_rng(seed)
    d[rng.random((h, w)) < 0.02] = 0.0
    return d


def main() -> None:
    import hilbertmap
    from scipy.spatial import cKDTree

    d = depth_map()
    rows = []
    cw = rgbtask.get_codec("depth/cubewalk")
    rgb = cw.encode(d)
    size = f"{W}x{H}"

    t_ours = best_time(lambda: cw.encode(d), repeat=20)
    t_peer = best_time(lambda: hilbertmap.depth_to_rgb(d.astype(np.float64)), repeat=2)
    rows.append(["cubewalk encode", size, ms(t_ours), ms(t_peer), f"{t_peer / t_ours:.0f}x"])

    t0 = time.perf_counter()
    cw.decode(rgb)  # the first decode fills the table entries of the colours it meets
    t_first = time.perf_counter() - t0
    t_ours = best_time(lambda: cw.decode(rgb), repeat=20)
    with np.errstate(divide="ignore"):
        t_peer = best_time(lambda: hilbertmap.rgb_to_depth(rgb / 255), repeat=2)
    rows.append(
        ["cubewalk decode (uint8)", size, ms(t_ours), ms(t_peer), f"{t_peer / t_ours:.0f}x"]
    )
    rgbf = rgb.astype(np.float32) / 255
    t_ours_f = best_time(lambda: cw.decode(rgbf), repeat=2)
    with np.errstate(divide="ignore"):
        t_peer = best_time(lambda: hilbertmap.rgb_to_depth(rgbf), repeat=2)
    rows.append(
        ["cubewalk decode (float32)", size, ms(t_ours_f), ms(t_peer), f"{t_peer / t_ours_f:.0f}x"]
    )

    turbo = rgbtask.get_codec("depth/colormap", cmap="turbo", near=0.4, far=90.0)
    trgb = turbo.encode(d)
    turbo.decode(trgb)
    t_ours = best_time(lambda: turbo.decode(trgb), repeat=20)
    tree = cKDTree(turbo.curve_obj().codes.astype(np.float64))

    def kdtree_decode():
        _, idx = tree.query(trgb.reshape(-1, 3).astype(np.float64), workers=-1)
        return 0.4 + idx / 255.0 * (90.0 - 0.4)

    t_peer = best_time(kdtree_decode, repeat=2)
    rows.append(["colormap(turbo) decode", size, ms(t_ours), ms(t_peer), f"{t_peer / t_ours:.0f}x"])

    buf_in = np.empty(d.nbytes + rgb.nbytes, np.uint8)
    buf_out = np.empty_like(buf_in)
    codecs = [
        ("cubewalk (power)", cw),
        ("hue (linear)", rgbtask.get_codec("depth/hue", near=0.4, far=90.0)),
        ("gray (log)", rgbtask.get_codec("depth/gray", transform="log", near=0.4, far=90.0)),
        ("colormap turbo (linear)", turbo),
    ]
    # Interleaved rounds, best of each: on a shared machine the load changes during the run, and
    # a ratio of two best times taken minutes apart would measure the neighbours.
    fns = [lambda: np.copyto(buf_out, buf_in)] + [lambda c=c: c.encode(d) for _, c in codecs]
    best = [float("inf")] * len(fns)
    for fn in fns:
        fn()
    for _ in range(40):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    t_copy = best[0]
    for (name, _), t in zip(codecs, best[1:]):
        rows.append(
            [f"encode {name} vs copyto", size, ms(t), ms(t_copy), f"{t_copy / t:.2f} (>= 0.5)"]
        )

    print(f"machine: {machine()}, kernel threads: {num_threads()}")
    print_table(
        "depth codecs",
        rows,
        ["operation", "size", "rgbtask", "peer", "ratio (peer / rgbtask)"],
    )
    t0 = time.perf_counter()
    curves.fill_lut(curves.cubewalk())
    t_fill = time.perf_counter() - t0
    print(
        f"\ncubewalk 8-bit table: first decode of this image {ms(t_first)} (fills the entries it "
        f"meets); all 2^24 colours {t_fill:.2f} s, 64 MiB, once per process"
    )


def verify_all_colours() -> None:
    """``--verify``: decode all 2^24 colours and compare with hilbertmap, chunk by chunk."""
    import hilbertmap

    codec = rgbtask.get_codec("depth/cubewalk")
    allc = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([allc >> 16, (allc >> 8) & 255, allc & 255], -1).astype(np.uint8)
    dec = codec.decode_with_confidence(rgb.reshape(4096, 4096, 3))
    value, valid = dec.value.reshape(-1), dec.valid.reshape(-1)
    bad = 0
    for lo in range(0, 1 << 24, 1 << 20):
        sl = slice(lo, lo + (1 << 20))
        with np.errstate(divide="ignore"):
            want = hilbertmap.rgb_to_depth(rgb[sl] / 255).astype(np.float32)
        bad += int(np.sum(want[valid[sl]] != value[sl][valid[sl]]))
    print(
        f"all 2^24 colours: {int(valid.sum())} valid, {bad} differ from "
        "hilbertmap.rgb_to_depth(rgb / 255)"
    )


def bits16(rounds: int = 7) -> None:
    """``--bits16``: 16-bit vs 8-bit encode and decode, median of interleaved rounds."""
    d = depth_map()
    size = f"{W}x{H}"
    configs = [
        ("cubewalk (power)", {"name": "depth/cubewalk"}),
        ("hue (linear)", {"name": "depth/hue", "near": 0.4, "far": 90.0}),
        ("gray (log)", {"name": "depth/gray", "transform": "log", "near": 0.4, "far": 90.0}),
        ("colormap turbo (linear)", {"name": "depth/colormap", "near": 0.4, "far": 90.0}),
    ]
    rows = []
    for label, cfg in configs:
        c8 = rgbtask.get_codec(cfg)
        c16 = rgbtask.get_codec({**cfg, "bits": 16})
        rgb8, rgb16 = c8.encode(d), c16.encode(d)
        c8.decode(rgb8)  # fills the 8-bit table entries of this image's colours
        c16.decode(rgb16)  # compiles
        fns = {
            "enc8": lambda c=c8: c.encode(d),
            "enc16": lambda c=c16: c.encode(d),
            "dec8": lambda c=c8, x=rgb8: c.decode(x),
            "dec16": lambda c=c16, x=rgb16: c.decode(x),
        }
        times = {k: [] for k in fns}
        for _ in range(rounds):
            for k, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        for op in ("enc", "dec"):
            t8, t16 = np.asarray(times[op + "8"]), np.asarray(times[op + "16"])
            rows.append(
                [
                    f"{label} {'encode' if op == 'enc' else 'decode'}",
                    size,
                    f"{ms(np.median(t16))} ({ms(t16.min())}..{ms(t16.max())})",
                    f"{ms(np.median(t8))} ({ms(t8.min())}..{ms(t8.max())})",
                    f"{np.median(t16) / np.median(t8):.2f}",
                ]
            )
    print(f"machine: {machine()}, kernel threads: {num_threads()}, rounds: {rounds}")
    print_table(
        "depth codecs, bits=16 vs bits=8 (median (min..max))",
        rows,
        ["operation", "size", "bits=16", "bits=8", "ratio (16 / 8)"],
    )


PEER_SIZES = {
    "1920x1080": lambda: depth_map(),
    "3840x2160": lambda: depth_map(2160, 3840),
    "64x256x256": lambda: np.stack([depth_map(256, 256, seed) for seed in range(64)]),
}


def _race(fns: dict, rounds: int) -> dict:
    """Interleaved rounds (one warm-up call each first): every function's times."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t0)
    return {k: np.asarray(v) for k, v in times.items()}


def _spread(t: np.ndarray) -> str:
    return f"{ms(np.median(t))} ({ms(t.min())}..{ms(t.max())})"


def _ratio(peer: np.ndarray, ours: np.ndarray) -> str:
    """Median ratio peer / rgbtask, with the range of the per-round ratios."""
    r = peer / ours
    return f"{np.median(peer) / np.median(ours):.2f} ({r.min():.2f}..{r.max():.2f})"


def jpeg_q90(rgb: np.ndarray) -> np.ndarray:
    """Each image of ``rgb`` (..., H, W, 3) through a Pillow JPEG at quality 90."""
    import io

    from PIL import Image

    flat = rgb.reshape(-1, *rgb.shape[-3:])
    out = np.empty_like(flat)
    for i, img in enumerate(flat):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=90)
        out[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out.reshape(rgb.shape)


def numpy_power_encode(d: np.ndarray, table: np.ndarray, lam: float, c: float) -> np.ndarray:
    """The NumPy cube-walk encode a user writes: Barron's power transform, the level, np.take
    of a level -> RGB table whose last row is the reserved code (invalid depth)."""
    n = table.shape[0] - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 1.0 - (1.0 - d / (lam * c)) ** (lam + 1.0)
        lev = np.floor(np.clip(f, 0.0, 1.0) * (n - 1) + 0.5).astype(np.intp)
        lev[~((d > 0) & (d < np.inf))] = n
    return np.take(table, lev, axis=0)


def peers(rounds: int = 5) -> None:
    """``--peers``: the table of issue 17's depth rows (module docstring)."""
    from rgbtask.core import depth as kernels

    float_cfgs = [
        ("cubewalk (power)", {"name": "depth/cubewalk"}),
        ("hue (linear)", {"name": "depth/hue", "near": 0.4, "far": 90.0}),
        ("gray (log)", {"name": "depth/gray", "transform": "log", "near": 0.4, "far": 90.0}),
        ("colormap turbo (linear)", {"name": "depth/colormap", "near": 0.4, "far": 90.0}),
        (
            "curve 4 points (inverse)",
            {"name": "depth/curve", "curve": [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]]}
            | {"transform": "inverse", "near": 0.4, "far": 90.0},
        ),
    ]
    cw = rgbtask.get_codec("depth/cubewalk")
    gray = rgbtask.get_codec("depth/gray", transform="log", near=0.4, far=90.0)
    # the peers' tables, built once: the gray channel sums' depths, the cube walk's 2^24 colours
    sums = np.arange(766)
    gray_rgb = np.stack([sums // 3 + (sums % 3 > 0), sums // 3 + (sums % 3 > 1), sums // 3], -1)
    gray_table = gray.decode(gray_rgb.astype(np.uint8)[None])[0]  # depth of each channel sum
    allc = np.arange(1 << 24, dtype=np.uint32)
    rgb_all = np.stack([allc >> 16, (allc >> 8) & 255, allc & 255], -1).astype(np.uint8)
    cw_table = cw.decode(rgb_all.reshape(4096, 4096, 3)).reshape(-1)
    del rgb_all, allc
    codes = cw.curve_obj().codes
    take_table = np.concatenate([codes, np.asarray([cw.curve_obj().reserved], np.uint8)])
    rows, rows16, mpix = [], [], []
    sizes = [a for a in sys.argv[1:] if a in PEER_SIZES] or list(PEER_SIZES)
    for size in sizes:
        d = PEER_SIZES[size]()
        npx = d.size
        rng = np.random.default_rng(1)
        for label, cfg in float_cfgs:
            codec = rgbtask.get_codec(cfg)
            curve, tr = codec.curve_obj(), codec.transform_obj
            rgb8 = codec.encode(d)
            noise = rng.normal(0.0, 1.0 / 255.0, rgb8.shape).astype(np.float32)
            rgbf = np.clip(rgb8 / np.float32(255.0) + noise, 0.0, 1.0).astype(np.float32)
            flat = rgbf.reshape(-1, 3)
            codec.decode(rgb8)  # the 8-bit table's entries for these colours
            fns = {
                "ours": lambda c=codec, x=rgbf: c.decode_with_confidence(x),
                "u8": lambda c=codec, x=rgb8: c.decode_with_confidence(x),
            }
            if size == sizes[0]:  # the brute force at the first size only (minutes at 4K)
                fns["brute"] = lambda cu=curve, tr=tr, x=flat: kernels.decode_float(
                    x, 1.0, cu, tr.params, *tr.decoded_range
                )
            t = _race(fns, rounds)
            brute = t.get("brute")
            mpix.append(
                [
                    f"{label} float decode",
                    size,
                    f"{npx / np.median(t['ours']) / 1e6:.1f}",
                    "-" if brute is None else f"{npx / np.median(brute) / 1e6:.1f}",
                    "-" if brute is None else _ratio(brute, t["ours"]),
                    f"{npx / np.median(t['u8']) / 1e6:.0f}",
                    f"{np.median(t['ours']) / np.median(t['u8']):.1f}x",
                ]
            )
        # depth/gray uint8 against NumPy r + g + b
        grgb = gray.encode(d)

        def gray_peer(x=grgb):
            s = x[..., 0].astype(np.uint16) + x[..., 1] + x[..., 2]
            return gray_table[s]

        t = _race({"ours": lambda x=grgb: gray.decode(x), "peer": gray_peer}, rounds)
        rows.append(
            [
                "gray (log) decode uint8",
                size,
                _spread(t["ours"]),
                "NumPy r+g+b (uint16) + table",
                _spread(t["peer"]),
                _ratio(t["peer"], t["ours"]),
            ]
        )
        # depth/cubewalk uint8 after JPEG q90 against the 2^24 table
        jrgb = jpeg_q90(cw.encode(d))
        cw.decode(jrgb)

        def table_peer(x=jrgb):
            idx = (
                (x[..., 0].astype(np.uint32) << 16) | (x[..., 1].astype(np.uint32) << 8) | x[..., 2]
            )
            return cw_table[idx]

        t = _race({"ours": lambda x=jrgb: cw.decode(x), "peer": table_peer}, rounds)
        rows.append(
            [
                "cubewalk decode JPEG q90",
                size,
                _spread(t["ours"]),
                "2^24 float32 table",
                _spread(t["peer"]),
                _ratio(t["peer"], t["ours"]),
            ]
        )
        # depth/cubewalk encode against NumPy + np.take
        d64 = d.astype(np.float64)
        lev = np.floor(np.clip(1.0 - (1.0 - d64 / (-10.0)) ** -2.0, 0, 1) * 1785 + 0.5).astype(
            np.intp
        )
        t = _race(
            {
                "ours": lambda d=d: cw.encode(d),
                "numpy": lambda d=d: numpy_power_encode(d, take_table, -3.0, 10.0 / 3.0),
                "take": lambda lev=lev: np.take(take_table, lev, axis=0),
            },
            rounds,
        )
        rows.append(
            [
                "cubewalk encode",
                size,
                _spread(t["ours"]),
                "NumPy transform + np.take",
                _spread(t["numpy"]),
                _ratio(t["numpy"], t["ours"]),
            ]
        )
        rows.append(
            [
                "cubewalk encode",
                size,
                _spread(t["ours"]),
                "np.take only (levels given)",
                _spread(t["take"]),
                _ratio(t["take"], t["ours"]),
            ]
        )
        # bits=16 against bits=8, decode of their own codes
        for label, cfg in float_cfgs[:4]:
            c8 = rgbtask.get_codec(cfg)
            c16 = rgbtask.get_codec({**cfg, "bits": 16})
            r8, r16 = c8.encode(d), c16.encode(d)
            t = _race(
                {"16": lambda c=c16, x=r16: c.decode(x), "8": lambda c=c8, x=r8: c.decode(x)},
                rounds,
            )
            rows16.append(
                [
                    f"{label} decode",
                    size,
                    _spread(t["16"]),
                    _spread(t["8"]),
                    f"{np.median(t['16']) / np.median(t['8']):.1f}",
                ]
            )
    print(f"machine: {machine()}, kernel threads: {num_threads()}, rounds: {rounds}")
    print_table(
        "float RGB decode (codes / 255 + N(0, 1/255)), MPix/s (median)",
        mpix,
        [
            "operation",
            "size",
            "rgbtask",
            "brute force",
            "speed-up (min..max)",
            "8-bit path",
            "float / 8-bit time",
        ],
    )
    print_table(
        "against the tuned peers, median (min..max)",
        rows,
        ["operation", "size", "rgbtask", "peer", "peer time", "ratio peer / rgbtask (min..max)"],
    )
    print_table(
        "bits=16 against bits=8, decode of own codes, median (min..max)",
        rows16,
        ["operation", "size", "bits=16", "bits=8", "16 / 8"],
    )


if __name__ == "__main__":
    if "--peers" in sys.argv:
        peers()
    elif "--bits16" in sys.argv:
        bits16()
    elif "--verify" in sys.argv:
        verify_all_colours()
    else:
        main()
