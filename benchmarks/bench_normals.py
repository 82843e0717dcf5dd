"""normals/xyz at 1920x1080 against plain NumPy and a memory copy, measured in the same run.

Run: python benchmarks/bench_normals.py
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main()
