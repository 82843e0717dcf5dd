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

``--peers`` (issue 17): every mask operation against the peer a competent user writes, one thread
(``rgbtask.core._jit.set_num_threads(1)``), at 1920x1080, 3840x2160 and a batch of 64 x 256x256
(``--sizes``), as medians of interleaved runs (ours, the peer, ``np.copyto`` of the output bytes, in
turn) with min..max. The peers, written here:

* ``mask/binary`` decode: ``r + g + b >= 383`` in uint16, in place (:func:`peer_binary`);
* ``mask/palette`` / ``mask/instance`` encode: ``np.take(colors, labels, axis=0)``;
* ``mask/palette`` decode: a 2^24-entry uint8 table built once with ``cKDTree`` over every 8-bit
  colour, looked up as ``table[(R << 16) | (G << 8) | B]`` (:func:`kdtree_table`,
  :func:`peer_table_lookup`), on the JPEG q90 image and on uniformly random colours (both tables
  warm); for colours never seen (rgbtask's tables emptied before each call), ``cKDTree(palette)``
  built and queried every call (``workers=1``);
* ``mask/panoptic``: panopticapi's ``rgb2id`` / ``id2rgb`` formulas as in-place int32 NumPy
  (:func:`peer_rgb2id`, :func:`peer_id2rgb`).

Run: python benchmarks/bench_masks.py --peers [--sizes 1080p,4K,64x256^2] [--repeat 7]
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


# ---------------------------------------------------------------- issue 17: tuned NumPy peers

SIZES = {"1080p": (1, 1080, 1920), "4K": (1, 2160, 3840), "64x256^2": (64, 256, 256)}


def interleaved(fns: dict, repeat: int) -> dict[str, np.ndarray]:
    """Wall times (s) of each callable, the callables run in turn ``repeat`` times (after one
    warm-up call each), so that both sides of a ratio see the same machine load."""
    for fn in fns.values():
        fn()
    out = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[k].append(time.perf_counter() - t0)
    return {k: np.asarray(v) for k, v in out.items()}


def _spread(t: np.ndarray) -> str:
    return f"{np.median(t) * 1e3:.2f} ({t.min() * 1e3:.2f}..{t.max() * 1e3:.2f})"


_PEER_TABLES: dict = {}


def kdtree_table(palette: np.ndarray) -> np.ndarray:
    """The peer's 2^24 uint8 table, built once with cKDTree over every 8-bit colour."""
    from scipy.spatial import cKDTree

    key = palette.tobytes()
    if key not in _PEER_TABLES:
        tree = cKDTree(palette.astype(np.float64))
        table = np.zeros(1 << 24, dtype=np.uint8)
        step = 1 << 21
        for lo in range(0, 1 << 24, step):
            k = np.arange(lo, lo + step, dtype=np.int32)
            c = np.stack([k >> 16, (k >> 8) & 255, k & 255], -1).astype(np.float64)
            table[lo : lo + step] = tree.query(c, workers=-1)[1]
        _PEER_TABLES[key] = table
    return _PEER_TABLES[key]


def peer_table_lookup(table: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """``table[(R << 16) | (G << 8) | B]`` with in-place int32 steps (the tuned peer)."""
    key = rgb[..., 0].astype(np.int32)
    key <<= 8
    key |= rgb[..., 1]
    key <<= 8
    key |= rgb[..., 2]
    return np.take(table, key)


def peer_binary(rgb: np.ndarray) -> np.ndarray:
    """``r + g + b >= 383`` in uint16, in place."""
    s = rgb[..., 0].astype(np.uint16)
    s += rgb[..., 1]
    s += rgb[..., 2]
    return s >= 383


def peer_rgb2id(rgb: np.ndarray) -> np.ndarray:
    """panopticapi's ``r + 256 g + 65536 b``, as in-place int32 shifts."""
    ids = rgb[..., 2].astype(np.int32)
    ids <<= 8
    ids |= rgb[..., 1]
    ids <<= 8
    ids |= rgb[..., 0]
    return ids


def peer_id2rgb(ids: np.ndarray) -> np.ndarray:
    """panopticapi's ``id2rgb`` as three casting stores into one output."""
    out = np.empty((*ids.shape, 3), dtype=np.uint8)
    np.copyto(out[..., 0], ids, casting="unsafe")
    np.copyto(out[..., 1], ids >> 8, casting="unsafe")
    np.copyto(out[..., 2], ids >> 16, casting="unsafe")
    return out


def _size_rows(
    name: str, repeat: int, palette_codec, instance, binary, pan, palette, table
) -> list[list[str]]:
    from scipy.spatial import cKDTree

    rows = []
    b, h, w = SIZES[name]
    shape = (b, h, w) if b > 1 else (h, w)
    rng = np.random.default_rng(0)
    labels = np.stack([voronoi_labels(h, w, 600, 151, seed=i) for i in range(min(b, 4))])
    labels = np.concatenate([labels] * (b // labels.shape[0])).reshape(shape)
    inst = (labels % (instance.max_instances + 1)).astype(np.uint8)
    enc = palette_codec.encode(labels)
    jpeg = JPEG(90, "4:4:4")
    flat = enc.reshape(-1, h, w, 3)
    jpg = np.stack([jpeg(flat[i], np.random.default_rng(i)) for i in range(flat.shape[0])])
    jpg = jpg.reshape(enc.shape)
    noise = rng.integers(0, 256, enc.shape, dtype=np.uint8)
    fresh = [rng.integers(0, 256, enc.shape, dtype=np.uint8) for _ in range(2)]
    mask = (labels % 2).astype(np.uint8)
    bin_rgb = binary.encode(mask)
    ids = rng.integers(0, 1 << 24, shape).astype(np.int32)
    pan_rgb = pan.encode(ids)
    out_bytes = np.empty(enc.nbytes, np.uint8)
    src_bytes = np.empty_like(out_bytes)
    calls = [0]

    def new_colours():
        calls[0] += 1
        rgbtask.clear_tables()
        return palette_codec.decode(fresh[calls[0] % 2])

    def kdtree_new():
        calls[0] += 1
        pix = fresh[calls[0] % 2].reshape(-1, 3).astype(np.float64)
        return cKDTree(palette.astype(np.float64)).query(pix, workers=1)[1]

    ops = [
        ("mask/binary decode", lambda: binary.decode(bin_rgb), lambda: peer_binary(bin_rgb), mask.nbytes),
        ("mask/palette encode", lambda: palette_codec.encode(labels), lambda: np.take(palette, labels, axis=0), enc.nbytes),
        ("mask/instance encode", lambda: instance.encode(inst), lambda: np.take(instance.palette_colors, inst, axis=0), enc.nbytes),
        ("mask/palette decode, JPEG q90 (warm)", lambda: palette_codec.decode(jpg), lambda: peer_table_lookup(table, jpg), None),
        ("mask/palette decode, random colours (warm)", lambda: palette_codec.decode(noise), lambda: peer_table_lookup(table, noise), None),
        ("mask/palette decode, new colours every call", new_colours, kdtree_new, None),
        ("mask/panoptic encode", lambda: pan.encode(ids), lambda: peer_id2rgb(ids), pan_rgb.nbytes),
        ("mask/panoptic decode", lambda: pan.decode(pan_rgb), lambda: peer_rgb2id(pan_rgb), ids.nbytes),
    ]  # fmt: skip
    for op, ours, peer, nbytes in ops:
        fns = {"ours": ours, "peer": peer}
        if nbytes:
            dst, src = out_bytes[:nbytes], src_bytes[:nbytes]
            fns["copy"] = lambda dst=dst, src=src: np.copyto(dst, src)
        t = interleaved(fns, 3 if "new colours" in op else repeat)  # seconds per call
        med = {k: float(np.median(v)) for k, v in t.items()}
        rows.append(
            [
                op,
                name,
                _spread(t["ours"]),
                _spread(t["peer"]),
                f"{med['peer'] / med['ours']:.2f}",
                f"{med['copy'] / med['ours']:.2f}" if nbytes else "-",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    return rows


def peers(sizes: list[str], repeat: int) -> None:
    """The issue-17 table: each op against the peer a competent user writes, one thread."""
    from rgbtask.core import _jit

    _jit.set_num_threads(1)
    palette_codec = rgbtask.get_codec("mask/palette", palette="ade20k", space="rgb")
    palette = palette_codec.palette_colors
    instance = rgbtask.get_codec("mask/instance")
    binary = rgbtask.get_codec("mask/binary")
    pan = rgbtask.get_codec("mask/panoptic")
    table = kdtree_table(palette)
    rows = []
    for name in sizes:
        rows += _size_rows(name, repeat, palette_codec, instance, binary, pan, palette, table)
    print_table(
        f"issue 17: one thread, ms median (min..max) of interleaved runs ({machine()})",
        rows,
        ["op", "size", "rgbtask", "tuned peer", "peer / rgbtask", "copyto / rgbtask"],
    )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", action="store_true", help="the issue-17 table of tuned peers")
    parser.add_argument("--sizes", default="1080p,4K,64x256^2", help="of " + ", ".join(SIZES))
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    if args.peers:
        peers(args.sizes.split(","), args.repeat)
    else:
        main()
