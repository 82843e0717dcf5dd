"""flow/wheel and flow/uv against the NumPy a competent user would write, measured in the same run.

* ``flow/wheel`` encode (default: normalised per image) vs a tuned NumPy implementation of the
  ``flow_vis`` colour wheel (Tom Runia, github.com/tomrunia/OpticalFlow_Visualization,
  ``flow_to_color``: 55-colour Middlebury wheel of Baker et al. 2007, the flow divided by its
  largest magnitude + 1e-5, hue from ``atan2(-v, -u)``, saturation from the magnitude, 0.75 beyond
  the scale, ``floor(255 * colour)``). Written here from that description, vectorised over the
  three channels with one gather from a float32 wheel; the table also says how far the two
  encodings are apart (code levels), which should be at most one.
* ``flow/uv`` encode and decode (8 and 16 bits) vs the NumPy formula of its module docstring
  (``clip(floor(u / step + 0.5) + 2^(b-1), 1, 2^b - 1)``, third channel valid) and a memory copy
  of the same bytes as the limit.

Times are the median of ``--repeat`` runs (after one warm-up) with the interquartile range.

Run (from the repository root): PYTHONPATH=$PWD python benchmarks/bench_flow.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as np
from _common import machine, print_table

import rgbtask
from rgbtask.core import _jit
from rgbtask.io import read_flow
from rgbtask.samples import make_scene

SINTEL = Path(__file__).resolve().parents[2] / "shared/data/flow/sintel/frame_0001.flo"


# --------------------------------------------------------------------------- the peers
def _wheel_table() -> np.ndarray:
    """The Middlebury wheel (55, 3) in 0..1, float32: RY 15, YG 6, GC 4, CB 11, BM 13, MR 6."""
    groups = [(15, 1, 0, +1), (6, 0, 1, -1), (4, 2, 1, +1), (11, 1, 2, -1), (13, 0, 2, +1)]
    groups.append((6, 2, 0, -1))  # (size, changing channel, held channel, rising/falling)
    rows = []
    for size, changing, held, sign in groups:
        ramp = np.floor(255 * np.arange(size) / size)
        block = np.zeros((size, 3))
        block[:, held] = 255
        block[:, changing] = ramp if sign > 0 else 255 - ramp
        rows.append(block)
    return (np.concatenate(rows) / 255).astype(np.float32)


WHEEL = _wheel_table()


def flow_vis_numpy(flow: np.ndarray) -> np.ndarray:
    """flow_vis's ``flow_to_color(flow)`` (RGB, per-image scale), tuned: float32, one gather."""
    u, v = flow[..., 0], flow[..., 1]
    rad = np.sqrt(u * u + v * v)
    scale = np.float32(1.0 / (rad.max() + 1e-5))
    rad *= scale
    fk = (np.arctan2(-v, -u) * np.float32(1 / np.pi) + 1) * np.float32((len(WHEEL) - 1) / 2)
    k0 = fk.astype(np.int32)  # fk >= 0: truncation is floor
    f = (fk - k0)[..., None]
    k1 = k0 + 1
    k1[k1 == len(WHEEL)] = 0
    col = WHEEL[k0] * (1 - f) + WHEEL[k1] * f
    inside = (rad <= 1)[..., None]
    col = np.where(inside, 1 - rad[..., None] * (1 - col), col * np.float32(0.75))
    return np.floor(255 * col).astype(np.uint8)


def uv_encode_numpy(flow: np.ndarray, max_flow: float, bits: int) -> np.ndarray:
    centre, top = 2 ** (bits - 1), 2**bits - 1
    step = max_flow / (centre - 1)
    dtype = np.uint8 if bits == 8 else np.uint16
    known = np.isfinite(flow).all(axis=-1)
    codes = np.clip(np.floor(np.nan_to_num(flow) / step + 0.5) + centre, 1, top)
    out = np.empty(flow.shape[:-1] + (3,), dtype)
    out[..., :2] = np.where(known[..., None], codes, 0)
    out[..., 2] = known * top
    return out


def uv_decode_numpy(rgb: np.ndarray, max_flow: float, bits: int) -> np.ndarray:
    centre, top = 2 ** (bits - 1), 2**bits - 1
    step = np.float32(max_flow / (centre - 1))
    known = rgb[..., 2] >= (top + 1) // 2
    flow = (np.clip(rgb[..., :2], 1, top).astype(np.float32) - centre) * step
    flow[~known] = np.nan
    return flow


# --------------------------------------------------------------------------- timing
def timed(fn, repeat: int) -> tuple[float, float, float]:
    """Median, 25th and 75th percentile wall time of ``repeat`` calls (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    q25, med, q75 = np.percentile(times, [25, 50, 75])
    return float(med), float(q25), float(q75)


def _ms(t: tuple[float, float, float]) -> str:
    return f"{t[0] * 1e3:.2f} ms ({t[1] * 1e3:.2f}-{t[2] * 1e3:.2f})"


def _inputs() -> list[tuple[str, np.ndarray]]:
    """A Sintel frame (when ../shared/data has one) and the scene's flow at 1920x1080 (NaN on the
    window set to 0: flow_vis has no unknown flow)."""
    out = []
    if SINTEL.is_file():
        out.append(("Sintel 1024x436", read_flow(SINTEL)))
    else:
        out.append(("scene 1024x436", np.nan_to_num(make_scene(436, 1024).flow)))
    out.append(("scene 1920x1080", np.nan_to_num(make_scene(1080, 1920).flow)))
    return out


def _row(op: str, label: str, threads: int, ours, peer, last: str) -> list[str]:
    return [op, label, str(threads), _ms(ours), _ms(peer), f"{peer[0] / ours[0]:.1f}x", last]


def wheel_rows(label: str, flow: np.ndarray, threads: int, repeat: int) -> list[list[str]]:
    wheel = rgbtask.get_codec("flow/wheel")
    ours = timed(partial(wheel.encode, flow), repeat)
    peer = timed(partial(flow_vis_numpy, flow), repeat)
    apart = np.abs(wheel.encode(flow).astype(int) - flow_vis_numpy(flow)).max()
    return [_row("wheel encode", label, threads, ours, peer, str(apart))]


def uv_rows(label: str, flow: np.ndarray, threads: int, bits: int, repeat: int) -> list[list[str]]:
    uv = rgbtask.get_codec("flow/uv", bits=bits)
    max_flow = float(uv.max_flow)
    rgb = uv.encode(flow)
    limit = np.empty(rgb.nbytes, np.uint8)
    copy = timed(partial(np.copyto, limit, np.empty_like(limit)), repeat)
    rows = []
    for op, ours_fn, peer_fn in (
        ("encode", partial(uv.encode, flow), partial(uv_encode_numpy, flow, max_flow, bits)),
        ("decode", partial(uv.decode, rgb), partial(uv_decode_numpy, rgb, max_flow, bits)),
    ):
        ours, peer = timed(ours_fn, repeat), timed(peer_fn, repeat)
        rows.append(_row(f"uv{bits} {op}", label, threads, ours, peer, f"{copy[0] / ours[0]:.2f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    wheel, uv = [], []
    for label, flow in _inputs():
        flow32 = np.ascontiguousarray(flow, dtype=np.float32)
        for threads in sorted({1, _jit.num_threads()}):
            _jit.set_num_threads(threads)
            wheel += wheel_rows(label, flow32, threads, args.repeat)
            for bits in (8, 16):
                uv += uv_rows(label, flow32, threads, bits, args.repeat)
    print(f"flow codecs, {machine()}, median (IQR) of {args.repeat} runs")
    print_table(
        "flow/wheel encode vs flow_vis's flow_to_color in tuned NumPy (same run)",
        wheel,
        ["op", "input", "threads", "rgbtask", "NumPy flow_vis", "speed-up", "max |code diff|"],
    )
    print_table(
        "flow/uv vs its NumPy formula and a memory copy of the image (same run)",
        uv,
        ["op", "input", "threads", "rgbtask", "NumPy", "speed-up", "memcpy time / ours"],
    )


if __name__ == "__main__":
    main()
