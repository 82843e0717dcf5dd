"""rgbtask.torch: TensorCodec against the NumPy codecs on CPU; on CUDA (only where present) against
a naive per-pixel torch implementation and against a device-to-device copy of the same bytes.

CPU: ``decode_with_confidence`` of exact 8-bit codes, a batch of 16 x 1920x1080 images (a
procedural scene, upsampled, mirrored per frame), for ``depth/cubewalk``, ``normals/xyz``,
``mask/palette`` (ADE20K), ``mask/binary`` and ``mask/panoptic``: the NumPy codec on the
``(16, 1080, 1920, 3)`` uint8 array against ``TensorCodec`` on the same bytes as a CPU tensor
(``torch.from_numpy``, no copy) in ``NHWC``, and the same codes as a contiguous ``NCHW``
tensor (a model's planar output, which costs one transposing copy). Warm: each path's tables filled by an earlier call (the steady state of decoding many
frames). Median of ``--repeat`` runs, with the spread (min..max); ratio = torch / NumPy. Every
torch answer is checked equal to NumPy's.

CUDA (only where ``torch.cuda.is_available()``): encode and decode of ``depth/cubewalk``,
``normals/xyz`` and ``mask/palette`` on the device, against a naive per-pixel torch
implementation written here (nearest of all codes by brute force for depth and palette, the
normalisation formula for normals) and against ``copy_`` of the same number of bytes (the
memory-bandwidth limit).

Run: python benchmarks/bench_torch.py [--repeat 5] [--frames 16]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import machine, print_table

import rgbtask
from rgbtask.samples import make_scene
from rgbtask.torch import TensorCodec

CODECS = [
    ("depth/cubewalk", {}),
    ("normals/xyz", {}),
    ("mask/palette", {"palette": "ade20k"}),
    ("mask/binary", {}),
    ("mask/panoptic", {}),
]


def timings(fn, repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(times: list[float]) -> str:
    return f"{statistics.median(times) * 1e3:.0f} ms ({min(times) * 1e3:.0f}..{max(times) * 1e3:.0f})"


def values(name: str, frames: int) -> np.ndarray:
    scene = make_scene(height=270, width=480, seed=0)
    value = {
        "depth": scene.depth,
        "normals": scene.normals,
        "mask/palette": scene.semantic,
        "mask/binary": scene.instance > 0,
        "mask/panoptic": scene.semantic.astype(np.int64) * 1000 + scene.instance,
    }[name.split("/")[0] if name.split("/")[0] in ("depth", "normals") else name]
    value = np.repeat(np.repeat(value, 4, axis=0), 4, axis=1)  # 1080 x 1920
    batch = [value if i % 2 == 0 else value[:, ::-1] for i in range(frames)]
    return np.ascontiguousarray(np.stack(batch))


def same(dec, ref) -> bool:
    return all(
        np.array_equal(a.cpu().numpy(), np.asarray(b), equal_nan=True) for a, b in zip(dec, ref)
    )


def cpu_rows(repeat: int, frames: int) -> list[list[str]]:
    rows = []
    for name, params in CODECS:
        codec = rgbtask.get_codec(name, **params)
        codes = codec.encode(values(name, frames))
        ref = codec.decode_with_confidence(codes)
        t_np = timings(lambda: codec.decode_with_confidence(codes), repeat)
        tensor = torch.from_numpy(codes)
        nhwc = TensorCodec(codec, layout="NHWC")
        nchw = TensorCodec(codec, layout="NCHW")
        assert same(nhwc.decode_with_confidence(tensor), ref), name
        t_hwc = timings(lambda: nhwc.decode_with_confidence(tensor), repeat)
        planar = tensor.movedim(-1, -3).contiguous()  # a model's NCHW output: planar memory
        t_chw = timings(lambda: nchw.decode_with_confidence(planar), repeat)
        ratio = statistics.median(t_hwc) / statistics.median(t_np)
        ratio_chw = statistics.median(t_chw) / statistics.median(t_np)
        size = f"{frames} x 1080p"
        rows.append(
            [name, size, summary(t_np), summary(t_hwc), f"{ratio:.2f}x", summary(t_chw),
             f"{ratio_chw:.2f}x"]  # fmt: skip
        )
        del ref, codes, tensor, planar
    return rows


# ---------------------------------------------------------------- CUDA: naive peers


def naive_nearest(rgb01: torch.Tensor, colours01: torch.Tensor, chunk: int = 1 << 20):
    flat = rgb01.reshape(-1, 3)
    out = torch.empty(flat.shape[0], dtype=torch.int64, device=flat.device)
    for i in range(0, flat.shape[0], chunk):
        out[i : i + chunk] = torch.cdist(flat[i : i + chunk], colours01).argmin(1)
    return out.reshape(rgb01.shape[:-1])


def cuda_rows(repeat: int, frames: int) -> list[list[str]]:
    device = torch.device("cuda")

    def sync_timings(fn):
        def run():
            fn()
            torch.cuda.synchronize()

        return timings(run, repeat)

    rows = []
    for name, params in CODECS[:3]:
        codec = rgbtask.get_codec(name, **params)
        tc = TensorCodec(codec, layout="NCHW")
        value = torch.from_numpy(values(name, frames)).to(device)
        image = tc.encode(value, as_uint8=True)
        floats = image.to(torch.float32) / 255.0
        if name == "normals/xyz":
            hwc = floats.movedim(1, -1)
            naive_dec = lambda: torch.nn.functional.normalize(hwc * 2 - 1, dim=-1)  # noqa: E731
            naive_enc = lambda: ((value + 1) / 2 * 255 + 0.5).floor().to(torch.uint8)  # noqa: E731
        else:
            table = codec.colors if name.startswith("mask") else codec.curve_obj().codes
            colours = torch.from_numpy(np.asarray(table, dtype=np.float32) / 255.0).to(device)
            hwc = floats.movedim(1, -1)
            naive_dec = lambda: naive_nearest(hwc, colours)  # noqa: E731
            naive_enc = None
        scratch = torch.empty_like(image)
        t_copy = sync_timings(lambda: scratch.copy_(image))
        t_dec = sync_timings(lambda: tc.decode_with_confidence(image))
        t_naive = sync_timings(naive_dec)
        rows.append(["decode", name, summary(t_dec), summary(t_naive), summary(t_copy)])
        t_enc = sync_timings(lambda: tc.encode(value, as_uint8=True))
        t_naive_enc = sync_timings(naive_enc) if naive_enc is not None else None
        rows.append(
            ["encode", name, summary(t_enc), summary(t_naive_enc) if t_naive_enc else "-",
             summary(t_copy)]  # fmt: skip
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print_table(
        "CPU: decode_with_confidence of exact 8-bit codes (median (min..max))",
        cpu_rows(args.repeat, args.frames),
        ["codec", "size", "NumPy", "torch NHWC", "ratio", "torch NCHW", "ratio"],
    )
    if torch.cuda.is_available():
        print_table(
            f"CUDA ({torch.cuda.get_device_name()}): {args.frames} x 1080p",
            cuda_rows(args.repeat, args.frames),
            ["op", "codec", "TensorCodec", "naive torch", "device copy"],
        )
    else:
        print("\nCUDA: not present here (no CUDA rows).")


if __name__ == "__main__":
    main()
