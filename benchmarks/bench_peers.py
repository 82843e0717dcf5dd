"""Every codec operation of issue 17 against the tuned peer a competent user writes, same run.

The peers (written here, each a few lines of NumPy/SciPy; cited where they follow a project):

* ``depth/gray`` decode: the channel sum ``r + g + b`` in uint16 (the gray level; Marigold's
  decode reads one channel, the sum is the noise-robust version);
* ``mask/binary`` decode: ``r + g + b >= 383`` (uint16 sum, the midpoint of black and white);
* ``mask/palette`` / ``mask/instance`` encode: ``np.take(colors, labels, axis=0)``;
* ``mask/palette`` decode (JPEG q90 / random colours, table warm): a 2^24-entry label table built
  once with ``scipy.spatial.cKDTree(palette).query`` over every 8-bit colour, then
  ``table[r << 16 | g << 8 | b]`` (building the table is not timed);
* ``mask/palette`` decode, new colours every call: ``cKDTree(palette).query(pixels)``, one worker,
  against rgbtask with its tables emptied before every call;
* ``depth/cubewalk`` decode of a JPEG'd 8-bit image: a 2^24-entry float32 depth table (filled once
  by decoding every 8-bit colour), then ``table[r << 16 | g << 8 | b]``;
* ``depth/cubewalk`` decode of float RGB (a model's output): the peer is rgbtask's own 8-bit path
  on the same image rounded to uint8 (the issue's reference point);
* ``normals/xyz`` encode / decode: ``np.einsum`` norms, then the (n + 1) / 2 * 255 mapping;
* ``keypoints/heatmap`` decode (grid layout, one instance): ids from the G/B code, one plane per
  keypoint, argmax and DARK's Taylor step (Zhang et al. 2020, as mmpose's
  ``codecs/utils/refinement.py:refine_keypoints_dark`` without its blur), vectorised over the batch
  through rgbtask's own NumPy reference ``argmax_dark_reference``;
* the memory limit: ``np.copyto`` of as many bytes as the operation outputs ("copy" column: copy
  time / rgbtask time, 1.0 = as fast as writing the output once).

Sizes: 1920x1080, 3840x2160 and a batch of 64 x 256x256 (keypoints: 64 x 256x192 only), one
thread (``rgbtask.set_num_threads(1)``; cKDTree with one worker). Each cell: the median of
``--repeat`` interleaved runs (3 for cells of more than
0.5 s, 1 for cells of more than 3 s) (peer, rgbtask, copy, in turn) with the min..max spread; ratio =
peer time / rgbtask time (above 1: rgbtask is faster). Every rgbtask output is checked against the
peer's before timing (labels equal; depth and normals within the codec's own step).

Run: python benchmarks/bench_peers.py   (--quick: 1080p only, 3 repeats; --sizes 1080p,4k,batch;
--ops TEXT: only the operations whose name holds TEXT)
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from _common import machine

import rgbtask
from rgbtask.core.keypoints import argmax_dark_reference
from rgbtask.fidelity.perturb import JPEG
from rgbtask.samples import make_scene

SIZES = {"1080p": (1, 1080, 1920), "4k": (1, 2160, 3840), "batch": (64, 256, 256)}


# ---------------------------------------------------------------- inputs
def scene_values(size: str) -> dict[str, np.ndarray]:
    """Depth, normals, labels and instance ids at ``size`` (4K: the 1080p scene tiled 2x2, the
    batch: 8 scenes of 256x256 repeated 8 times; a 4K scene takes 20 s to generate)."""
    if size == "batch":
        scenes = [make_scene(256, 256, seed=i) for i in range(8)]

        def stack(name):
            return np.stack([getattr(s, name) for s in scenes] * 8)

        depth, normals, sem, inst = (stack(n) for n in ("depth", "normals", "semantic", "instance"))
    else:
        s = make_scene(1080, 1920, seed=0)
        reps = 2 if size == "4k" else 1

        def tile(a):
            return np.tile(a, (reps, reps) + (1,) * (a.ndim - 2))

        depth, normals, sem, inst = (
            tile(getattr(s, n)) for n in ("depth", "normals", "semantic", "instance")
        )
    labels = ((sem.astype(np.int64) * 25 + inst % 7) % 151).astype(np.uint8)
    return {"depth": depth, "normals": normals, "labels": labels, "instance": inst}


def jpeg(rgb: np.ndarray) -> np.ndarray:
    flat = rgb.reshape(-1, *rgb.shape[-3:])
    out = np.stack([JPEG(90, "4:4:4")(im, np.random.default_rng(0)) for im in flat])
    return out.reshape(rgb.shape)


_ALL_COLOURS = None


def all_colours() -> np.ndarray:
    """Every 8-bit colour, in ``r << 16 | g << 8 | b`` order, as a (2^24, 3) uint8 array."""
    global _ALL_COLOURS
    if _ALL_COLOURS is None:
        key = np.arange(1 << 24, dtype=np.uint32)
        _ALL_COLOURS = np.stack([key >> 16, (key >> 8) & 255, key & 255], -1).astype(np.uint8)
    return _ALL_COLOURS


def colour_key(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return (r << 16) | (g << 8) | b


# ---------------------------------------------------------------- peers
def gray_sum(rgb):
    return rgb[..., 0].astype(np.uint16) + rgb[..., 1] + rgb[..., 2]


def binary_threshold(rgb):
    return (rgb[..., 0].astype(np.uint16) + rgb[..., 1] + rgb[..., 2]) >= 383


def normals_encode(n):
    """float32 throughout, in place where possible; invalid (NaN) normals are not special-cased
    (rgbtask maps them to (0, 0, 0)): the peer does less than rgbtask."""
    with np.errstate(invalid="ignore", divide="ignore"):
        u = n / np.sqrt(np.einsum("...i,...i->...", n, n))[..., None]
        u += np.float32(1)
        u *= np.float32(127.5)
        u += np.float32(0.5)
        return u.astype(np.uint8)


def normals_decode(rgb):
    v = rgb.astype(np.float32) * np.float32(2 / 255) - np.float32(1)
    return v / np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]


def keypoints_decode(rgb, k: int):
    """Painter layout: (G, B) code -> keypoint id, R -> heat; argmax + DARK, batch-vectorised."""
    import math

    n = math.isqrt(k) + 1
    sep = 256 // n
    heat = rgb[..., 0].astype(np.float64) / 255.0
    gi = np.floor((255.0 - rgb[..., 1]) / sep + 0.5)
    bi = np.floor((255.0 - rgb[..., 2]) / sep + 0.5)
    ids = np.where((gi < n) & (bi < n) & (heat >= 0.15), gi * n + bi, -1)
    planes = np.where(ids[:, None] == np.arange(k)[None, :, None, None], heat[:, None], 0.0)
    return argmax_dark_reference(planes)[0]


# ---------------------------------------------------------------- timing
def interleaved(fns: list, repeat: int) -> list[list[float]]:
    """Times of each of ``fns`` over ``repeat`` rounds, the functions taking turns (after one warm
    call each): drift on a shared machine hits them alike."""
    for fn in fns:
        fn()
    out = [[] for _ in fns]
    for _ in range(repeat):
        for times, fn in zip(out, fns):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return out


def cell(times: list[float]) -> str:
    return f"{statistics.median(times) * 1e3:.2f} ({min(times) * 1e3:.2f}..{max(times) * 1e3:.2f})"


def copy_of(nbytes: int):
    src = np.ones(nbytes, dtype=np.uint8)
    dst = np.empty_like(src)
    return lambda: np.copyto(dst, src)


def nbytes(result) -> int:
    return int(
        sum(np.asarray(a).nbytes for a in (result if isinstance(result, tuple) else (result,)))
    )


# ---------------------------------------------------------------- the operations
def operations(size: str, tables: dict, only: str = ""):
    """(op, peer, rgbtask, check) for ``size``; ``check(ours, theirs)`` asserts they agree.
    ``only``: skip building the inputs of operations whose names do not hold it."""
    v = scene_values(size)
    gray = rgbtask.get_codec("depth/gray", transform="log", near=0.4, far=90.0)
    binary = rgbtask.get_codec("mask/binary")
    # the per-pixel decoder: what the peers compute (the default context decoder does more, its
    # own row below)
    palette = rgbtask.get_codec("mask/palette", palette="ade20k", decoder="pixel")
    context = rgbtask.get_codec("mask/palette", palette="ade20k")
    instance = rgbtask.get_codec("mask/instance")
    cubewalk = rgbtask.get_codec("depth/cubewalk")
    normals = rgbtask.get_codec("normals/xyz")
    colors = palette.palette_colors

    g_rgb = gray.encode(v["depth"])
    yield "`depth/gray` decode", lambda: gray_sum(g_rgb), lambda: gray.decode(g_rgb), None

    b_rgb = binary.encode(v["labels"] > 20)
    yield (
        "`mask/binary` decode",
        lambda: binary_threshold(b_rgb),
        lambda: binary.decode(b_rgb),
        lambda o, t: np.array_equal(o.astype(bool), t),
    )

    lab = v["labels"]
    yield (
        "`mask/palette` encode",
        lambda: np.take(colors, lab, axis=0),
        lambda: palette.encode(lab),
        np.array_equal,
    )
    inst = v["instance"]
    icolors = instance.encode(np.arange(int(inst.max()) + 1)[None])[0]
    yield (
        "`mask/instance` encode",
        lambda: np.take(icolors, inst, axis=0),
        lambda: instance.encode(inst),
        np.array_equal,
    )

    if only and only not in "`mask/palette` decode, JPEG q90, random colours, new colours":
        pass
    elif "palette" not in tables:
        from scipy.spatial import cKDTree

        tree = cKDTree(colors.astype(np.float64))
        tables["tree"] = tree
        tables["palette"] = tree.query(all_colours().astype(np.float32), workers=-1)[1].astype(
            np.uint8
        )
    table, tree = tables.get("palette"), tables.get("tree")
    p_jpeg = jpeg(palette.encode(lab))
    yield (
        "`mask/palette` decode, JPEG q90",
        lambda: table[colour_key(p_jpeg)],
        lambda: palette.decode(p_jpeg),
        None,  # ties between equidistant colours may break differently: labels not compared
    )
    yield (
        '`mask/palette` decode, JPEG q90, default `decoder="context"`',
        lambda: table[colour_key(p_jpeg)],
        lambda: context.decode(p_jpeg),
        None,
    )
    rnd = np.random.default_rng(1).integers(0, 256, p_jpeg.shape, dtype=np.uint8)
    yield (
        "`mask/palette` decode, random colours, table warm",
        lambda: table[colour_key(rnd)],
        lambda: palette.decode(rnd),
        None,
    )

    def cold():
        rgbtask.clear_tables()
        return palette.decode(rnd)

    yield (
        "`mask/palette` decode, new colours every call",
        lambda: tree.query(rnd.reshape(-1, 3).astype(np.float32), workers=1)[1],
        cold,
        None,
    )

    if only and "cubewalk" not in only:
        pass
    elif "cubewalk" not in tables:
        tables["cubewalk"] = cubewalk.decode(all_colours()[None]).reshape(-1).astype(np.float32)
    dtable = tables.get("cubewalk")
    c_jpeg = jpeg(cubewalk.encode(v["depth"]))
    yield (
        "`depth/cubewalk` decode, JPEG'd 8-bit",
        lambda: dtable[colour_key(c_jpeg)],
        lambda: cubewalk.decode(c_jpeg),
        lambda o, t: np.array_equal(o, t, equal_nan=True),
    )
    c_float = (c_jpeg / np.float32(255)).astype(np.float32)
    yield (
        "`depth/cubewalk` decode, float RGB (peer: own 8-bit path)",
        lambda: cubewalk.decode(c_jpeg),
        lambda: cubewalk.decode(c_float),
        None,
    )

    n = v["normals"]
    yield "`normals/xyz` encode", lambda: normals_encode(n), lambda: normals.encode(n), None
    n_rgb = normals.encode(n)
    yield "`normals/xyz` decode", lambda: normals_decode(n_rgb), lambda: normals.decode(n_rgb), None

    if size == "batch":
        k = 17
        try:  # the grid code (named "painter" until Painter's own images took that name)
            kp_codec = rgbtask.get_codec(
                "keypoints/heatmap",
                size=(256, 192),
                num_keypoints=k,
                max_instances=1,
                layout="grid",
                refine="dark",  # the peer's refinement (the grid's default is gaussian_fit)
            )
        except rgbtask.ConfigError:
            kp_codec = rgbtask.get_codec(
                "keypoints/heatmap", size=(256, 192), num_keypoints=k, max_instances=1
            )
        rng = np.random.default_rng(0)
        kp = np.array([96, 128]) + rng.uniform(-2.5, 2.5, (64, 1, k, 2)) * 32
        kp_rgb = kp_codec.encode(kp)
        yield (
            "`keypoints/heatmap` decode, 64 x 256x192, 1 instance",
            lambda: keypoints_decode(kp_rgb, k),
            lambda: kp_codec.decode(kp_rgb),
            # the same method on the same heatmaps up to the peer's 0.15 heat floor, which zeroes
            # the tails DARK's blur reads (kernel 11 at sigma 2), where blobs of two ids touch:
            # measured 0.011 px mean, 0.09 px max apart (both 0.8-0.9 px from the truth there)
            lambda o, t: np.allclose(
                o[:, 0][np.isfinite(o[:, 0, :, 0])], t[np.isfinite(o[:, 0, :, 0])], atol=0.1
            ),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1080p only, 3 repeats")
    parser.add_argument("--sizes", default="1080p,4k,batch", help="comma-separated: 1080p,4k,batch")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds per cell (7)")
    parser.add_argument("--ops", default="", help="only operations whose name contains this text")
    args = parser.parse_args()
    sizes = ["1080p"] if args.quick else args.sizes.split(",")
    repeat = 3 if args.quick else args.repeat
    for s in sizes:
        if s not in SIZES:
            parser.error(f"expected sizes among {', '.join(SIZES)}, got {s!r}")
    rgbtask.set_num_threads(1)
    warnings.simplefilter("ignore", UserWarning)
    tables: dict = {}
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 1 thread; {machine()}")
    print("Run: python benchmarks/bench_peers.py " + (" ".join(__import__("sys").argv[1:])))
    print("\n| op | size | peer ms | rgbtask ms | ratio | copy |")
    print("|---|---|---|---|---|---|")
    for size in sizes:
        b, h, w = SIZES[size]
        label = f"{w}x{h}" if b == 1 else f"{b} x {w}x{h}"
        for op, peer, ours, check in operations(size, tables, args.ops):
            if args.ops not in op:
                continue
            result = ours()  # compiles, fills tables
            if check is not None:
                assert check(result, peer()), f"{op} at {label}: rgbtask and the peer disagree"
            t0 = time.perf_counter()
            ours()
            once = time.perf_counter() - t0
            rounds = repeat if once < 0.5 else min(repeat, 3 if once < 3 else 1)  # long cells
            t_peer, t_ours, t_copy = interleaved([peer, ours, copy_of(nbytes(result))], rounds)
            ratio = statistics.median(t_peer) / statistics.median(t_ours)
            frac = statistics.median(t_copy) / statistics.median(t_ours)
            shown = label if "keypoints" not in op else "64 x 256x192"
            print(
                f"| {op} | {shown} | {cell(t_peer)} | {cell(t_ours)} | {ratio:.2f} | {frac:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
