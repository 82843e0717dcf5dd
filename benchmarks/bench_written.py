"""Images written by other tools (issue 14): accuracy of our decoders on files the tools write
themselves, default decode vs the matching ``quantization`` / ``max_distance``, beside the peer's
own decode, all in one run; then decode speed of each (median of repeated interleaved runs).

Writers: hilbertmap's examples (``(depth_to_rgb(d) * 255).astype(np.uint8)``, the continuous cube
walk truncated; decoded by ``hilbertmap.rgb_to_depth(png / 255)``), matplotlib's
``cmap(x, bytes=True)`` (what ``imsave`` writes), ``cv2.applyColorMap((255 * x).astype(np.uint8))``,
and normals written as ``((n + 1) * 0.5 * 255).astype(np.uint8)`` (DSINE's demo, most repositories).

Run: python benchmarks/bench_written.py
"""

from __future__ import annotations

import numpy as np
from _common import machine, ms, print_table, timings

import rgbtask
from rgbtask.core.depth import forward_reference

H, W = 512, 512


def _walk(f: np.ndarray) -> np.ndarray:
    """hilbertmap's walk (massimilianoviola/hilbertmap @2e77a24 src/hilbertmap/cubewalk.py)."""
    try:
        import hilbertmap

        return hilbertmap.cubewalk.walk(f)
    except ImportError:
        v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1],
                      [1, 1, 1]], dtype=np.float64)  # fmt: skip
        s = np.clip(f, 0.0, 1.0) * 7
        k = np.minimum(np.floor(s).astype(np.int64), 6)
        return v[k] + (s - k)[..., None] * (v[k + 1] - v[k])


def depth_rows(depth: np.ndarray) -> list[list[str]]:
    rows = []
    default = rgbtask.get_codec("depth/cubewalk")
    floor = rgbtask.get_codec("depth/cubewalk", quantization="floor")
    png = (_walk(forward_reference(depth, default.transform_obj.params)) * 255).astype(np.uint8)
    bound = floor.roundtrip_bound(depth)
    decoders = [("rgbtask default (round)", default.decode), ("rgbtask floor", floor.decode)]
    try:
        import hilbertmap

        decoders.append(("hilbertmap.rgb_to_depth", lambda x: hilbertmap.rgb_to_depth(x / 255.0)))
    except ImportError:
        pass
    for name, fn in decoders:
        dec = fn(png).astype(np.float64)
        rel = (dec - depth) / depth
        over = np.mean(np.abs(dec - depth) > bound * (1 + 1e-6))
        rows.append([name, f"{np.mean(np.abs(rel)):.3e}", f"{np.max(np.abs(rel)):.3e}",
                     f"{np.mean(rel):+.2e}", f"{100 * over:.1f} %"])  # fmt: skip
    return rows


def real_depth() -> np.ndarray | None:
    """The valid pixels of the NYU and KITTI demo frames in ../shared/data (None when absent)."""
    from pathlib import Path

    from rgbtask import io as rio

    root = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "depth"
    values = []
    for name, scale in (("nyu_demo", 1000.0), ("kitti_demo", 256.0)):
        for frame in sorted((root / name / "depth").glob("*.png")):
            d = rio.read_depth(frame, depth_scale=scale)
            values.append(d[np.isfinite(d) & (d > 0)])
    return np.concatenate(values)[None, :] if values else None


def normals_rows(rng) -> list[list[str]]:
    n = rng.normal(size=(H, W, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    png = ((n + 1.0) * 0.5 * 255).astype(np.uint8)
    rows = []
    for q in ("round", "floor"):
        codec = rgbtask.get_codec("normals/xyz", quantization=q)
        dec = codec.decode(png)
        err = codec.roundtrip_error(n, dec)
        bias = np.max(np.abs(np.mean(dec - n, axis=(0, 1))))
        rows.append([f"rgbtask quantization={q!r}", f"{err.mean():.3f}", f"{err.max():.3f}",
                     f"{codec.max_error_deg:.3f}", f"{bias:.1e}"])  # fmt: skip
    return rows


def colormap_rows(rng) -> list[list[str]]:
    import matplotlib

    f = rng.random((H, W))
    writers = {"matplotlib": lambda x: matplotlib.colormaps["turbo"](x, bytes=True)[..., :3]}
    try:
        import cv2

        writers["opencv"] = lambda x: cv2.applyColorMap(
            (x * 255).astype(np.uint8), cv2.COLORMAP_TURBO
        )[..., ::-1]
    except ImportError:
        pass
    rows = []
    default = rgbtask.get_codec("depth/colormap", transform="normalized")
    for source, write in writers.items():
        png = write(f)
        levels = 256 if source == "matplotlib" else 255
        differ = np.mean(np.any(default.encode(f) != png, axis=-1))
        tool = rgbtask.get_codec("depth/colormap", transform="normalized", quantization=source)
        for name, codec in (("default", default), (f"quantization={source!r}", tool)):
            err = (codec.decode(png) - f) * levels  # in bins of the writer
            rows.append([f"{source} turbo", name, f"{100 * differ:.1f} %",
                         f"{np.mean(np.abs(err)):.3f}", f"{np.max(np.abs(err)):.3f}",
                         f"{np.mean(err):+.4f}"])  # fmt: skip
    return rows


def cube_rows() -> list[list[str]]:
    v = np.arange(256, dtype=np.uint8)
    rows = []
    for limit in ("auto", None):
        codec = rgbtask.get_codec("depth/cubewalk", max_distance=limit)
        rejected = 0
        for r0 in range(0, 256, 32):
            r = np.arange(r0, r0 + 32, dtype=np.uint8)
            cube = np.stack(np.meshgrid(r, v, v, indexing="ij"), -1).reshape(1, -1, 3)
            rejected += int(np.sum(~codec.decode_with_confidence(cube).valid))
        rows.append([f"max_distance={limit!r}", f"{100 * rejected / 2**24:.1f} %"])
    rows.append(["hilbertmap", "0.0 %"])
    return rows


def speed_rows(rng) -> list[list[str]]:
    depth = rng.uniform(0.3, 60.0, (1080, 1920))
    codecs = {
        "cubewalk default": rgbtask.get_codec("depth/cubewalk"),
        "cubewalk quantization='floor'": rgbtask.get_codec("depth/cubewalk", quantization="floor"),
        "cubewalk max_distance=None": rgbtask.get_codec("depth/cubewalk", max_distance=None),
        "colormap default": rgbtask.get_codec("depth/colormap", near=0.3, far=60.0),
        "colormap quantization='matplotlib'": rgbtask.get_codec(
            "depth/colormap", near=0.3, far=60.0, quantization="matplotlib"
        ),
    }
    images = {k: c.encode(depth) for k, c in codecs.items()}
    times = {k: [] for k in codecs}
    for _ in range(5):  # interleaved
        for k, c in codecs.items():
            times[k] += timings(lambda c=c, k=k: c.decode(images[k]), repeat=3)
    base = np.median(times["cubewalk default"])
    rows = []
    for k, t in times.items():
        rows.append([k, ms(np.median(t)), f"{ms(min(t))}..{ms(max(t))}",
                     f"{np.median(t) / base:.2f}x"])  # fmt: skip
    return rows


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"machine: {machine()}; {H}x{W} random values per case")
    headers = ["decoder", "mean |rel|", "max |rel|", "mean rel (bias)", "over the bound"]
    print_table(
        "depth/cubewalk, PNG written as hilbertmap's examples do (truncated), depth U(0.3, 60) m",
        depth_rows(rng.uniform(0.3, 60.0, (H, W))),
        headers,
    )
    real = real_depth()
    if real is not None:
        print_table(
            f"the same on the NYU and KITTI demo frames ({real.size} valid pixels)",
            depth_rows(real),
            headers,
        )
    print_table(
        "normals/xyz, PNG written as ((n + 1) * 0.5 * 255).astype(np.uint8), random unit normals",
        normals_rows(rng),
        ["decoder", "mean deg", "max deg", "bound deg", "max |bias| per axis"],
    )
    print_table(
        "depth/colormap turbo, written by the tool (errors in bins of its table)",
        colormap_rows(rng),
        [
            "writer",
            "rgbtask decode",
            "codes differing from ours",
            "mean |err|",
            "max |err|",
            "mean err (bias)",
        ],
    )
    print_table("depth/cubewalk, all 2^24 colours", cube_rows(), ["decoder", "rejected"])
    print_table(
        "decode speed, 1920x1080 of each codec's own encoding (median of 15, interleaved)",
        speed_rows(rng),
        ["codec", "median", "min..max", "vs default"],
    )


if __name__ == "__main__":
    main()
