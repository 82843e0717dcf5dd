"""normals/xyz at 1920x1080 against plain NumPy and a memory copy, measured in the same run.

Run: python benchmarks/bench_normals.py

``--peers`` (issue 17): ``encode`` and ``decode`` against tuned NumPy (the norm by ``einsum``,
every step in place; :func:`tuned_encode`, :func:`tuned_decode`), one thread, 1080p, 4K and
64 x 256x256, medians of interleaved runs with min..max, and ``np.copyto`` of the output bytes.

Run: python benchmarks/bench_normals.py --peers [--sizes 1080p,4K,64x256^2] [--repeat 7]
"""

from __future__ import annotations

import time

import numpy as np
from _common import best_time, machine, ms, peak_memory_mib, print_table

import rgbtask
from rgbtask.core import _jit


def numpy_encode(n: np.ndarray) -> np.ndarray:
    """The plain NumPy encoding people hand-roll: normalise, (n + 1) / 2 * 255, round."""
    n = n / np.linalg.norm(n, axis=-1, keepdims=True)
    return np.floor((n + 1.0) * 127.5 + 0.5).astype(np.uint8)


def numpy_decode(rgb: np.ndarray) -> np.ndarray:
    v = rgb.astype(np.float32) / 255.0 * 2.0 - 1.0
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def main() -> None:
    h, w = 1080, 1920
    rng = np.random.default_rng(0)
    n = rng.normal(size=(h, w, 3)).astype(np.float32)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    codec = rgbtask.get_codec("normals/xyz")
    rgb = codec.encode(n)

    src = np.empty(n.nbytes + rgb.nbytes, np.uint8)
    dst = np.empty_like(src)
    t_copy = best_time(lambda: np.copyto(dst, src))
    rows = []
    for threads in (1, _jit.num_threads()):
        _jit.set_num_threads(threads)
        t_enc = best_time(lambda: codec.encode(n))
        t_dec = best_time(lambda: codec.decode_with_confidence(rgb))
        t_np_enc = best_time(lambda: numpy_encode(n))
        t_np_dec = best_time(lambda: numpy_decode(rgb))
        mpx = h * w / 1e6
        rows.append(
            [
                "encode",
                f"{threads}",
                ms(t_enc),
                f"{mpx / t_enc:.0f}",
                ms(t_np_enc),
                f"{t_np_enc / t_enc:.1f}x",
                f"{t_copy / t_enc:.2f}",
            ]
        )
        rows.append(
            [
                "decode+conf",
                f"{threads}",
                ms(t_dec),
                f"{mpx / t_dec:.0f}",
                ms(t_np_dec),
                f"{t_np_dec / t_dec:.1f}x",
                "-",
            ]
        )
    print(f"normals/xyz, {w}x{h} float32 unit normals, {machine()}")
    print_table(
        "normals/xyz vs plain NumPy (same run)",
        rows,
        ["op", "threads", "rgbtask", "Mpx/s", "NumPy", "speed-up", "memcpy time / ours"],
    )
    peak_dec = peak_memory_mib(lambda: codec.decode_with_confidence(rgb))
    peak_np = peak_memory_mib(lambda: numpy_decode(rgb))
    print(
        f"\npeak memory of one decode: rgbtask {peak_dec:.0f} MiB "
        f"(output {(n.nbytes + 5 * h * w) / 2**20:.0f} MiB), NumPy {peak_np:.0f} MiB"
    )


# ---------------------------------------------------------------- issue 17: tuned NumPy peers

SIZES = {"1080p": (1, 1080, 1920), "4K": (1, 2160, 3840), "64x256^2": (64, 256, 256)}


def tuned_encode(n: np.ndarray) -> np.ndarray:
    """The tuned peer: the norm by einsum, every step in place into one float32 buffer, one cast."""
    norm = np.sqrt(np.einsum("...i,...i->...", n, n))
    v = n / norm[..., None]
    v += 1.0
    v *= 127.5
    v += 0.5
    np.floor(v, out=v)
    return v.astype(np.uint8)


def tuned_decode(rgb: np.ndarray) -> np.ndarray:
    """The tuned peer: ``rgb * (2 / 255) - 1`` in float32, the norm by einsum, divided in place."""
    v = rgb.astype(np.float32)
    v *= np.float32(2.0 / 255.0)
    v -= np.float32(1.0)
    v /= np.sqrt(np.einsum("...i,...i->...", v, v))[..., None]
    return v


def interleaved(fns: dict, repeat: int) -> dict[str, np.ndarray]:
    """Wall times (s) of each callable, run in turn ``repeat`` times after one warm-up call each."""
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


def _size_rows(codec, name: str, repeat: int) -> list[list[str]]:
    b, h, w = SIZES[name]
    shape = (b, h, w, 3) if b > 1 else (h, w, 3)
    n = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    rgb = codec.encode(n)
    dst, src = np.empty(rgb.nbytes, np.uint8), np.empty(rgb.nbytes, np.uint8)
    dst4, src4 = np.empty(n.nbytes, np.uint8), np.empty(n.nbytes, np.uint8)
    ops = [
        ("encode", lambda: codec.encode(n), lambda: tuned_encode(n), (dst, src)),
        ("decode", lambda: codec.decode(rgb), lambda: tuned_decode(rgb), (dst4, src4)),
    ]  # fmt: skip
    rows = []
    for op, ours, peer, (d, s) in ops:
        t = interleaved(
            {"ours": ours, "peer": peer, "copy": lambda d=d, s=s: np.copyto(d, s)}, repeat
        )
        med = {k: float(np.median(v)) for k, v in t.items()}
        rows.append(
            [
                f"normals/xyz {op}",
                name,
                _spread(t["ours"]),
                _spread(t["peer"]),
                f"{med['peer'] / med['ours']:.2f}",
                f"{med['copy'] / med['ours']:.2f}",
            ]
        )
        print(" | ".join(rows[-1]), flush=True)
    return rows


def peers(sizes: list[str], repeat: int) -> None:
    """The issue-17 rows for normals/xyz: one thread, against the tuned NumPy above."""
    _jit.set_num_threads(1)
    codec = rgbtask.get_codec("normals/xyz")
    rows = []
    for name in sizes:
        rows += _size_rows(codec, name, repeat)
    print_table(
        f"issue 17: one thread, ms median (min..max) of interleaved runs ({machine()})",
        rows,
        ["op", "size", "rgbtask", "tuned peer", "peer / rgbtask", "copyto (output) / rgbtask"],
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
