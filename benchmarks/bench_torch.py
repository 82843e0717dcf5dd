"""rgbtask.torch: TensorCodec against the NumPy codecs on CPU; on CUDA (only where present) against
a naive per-pixel torch implementation and against a device-to-device copy of the same bytes.

CPU: ``decode_with_confidence`` of exact 8-bit codes, a batch of 16 x 1920x1080 images (a
procedural scene, upsampled, mirrored per frame), for ``depth/cubewalk``, ``normals/xyz``,
``mask/palette`` (ADE20K), ``mask/binary`` and ``mask/panoptic``: the NumPy codec on the
``(16, 1080, 1920, 3)`` uint8 array against ``TensorCodec`` on the same bytes as a CPU tensor
(``torch.from_numpy``, no copy) in ``NHWC``; and the same codes as a contiguous ``NCHW``
array / tensor (a model's planar output), NumPy given ``np.moveaxis(planar, -3, -1)`` (both
pay one transposing copy). Warm: each path's tables filled by an earlier call (the steady state of decoding many
frames). Median of ``--repeat`` rounds (the four calls interleaved in each round), with the
spread (min..max); ratio = torch / NumPy. Every
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
from _common import machine, print_table, timings

import rgbtask
from rgbtask import torch as rt
from rgbtask.samples import make_scene
from rgbtask.torch import TensorCodec

CODECS = [
    ("depth/cubewalk", {}),
    ("normals/xyz", {}),
    ("mask/palette", {"palette": "ade20k", "decoder": "pixel"}),  # the device path
    ("mask/binary", {}),
    ("mask/panoptic", {}),
]


def summary(times: list[float]) -> str:
    return (
        f"{statistics.median(times) * 1e3:.0f} ms ({min(times) * 1e3:.0f}..{max(times) * 1e3:.0f})"
    )


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


def interleaved(fns: list, repeat: int) -> list[list[float]]:
    """Times of each of ``fns`` over ``repeat`` rounds, one call of each per round (a shared
    machine's load then falls on all of them alike)."""
    for fn in fns:
        fn()
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for times, fn in zip(out, fns):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return out


def cpu_row(name: str, params: dict, repeat: int, frames: int) -> list[str]:
    codec = rgbtask.get_codec(name, **params)
    codes = codec.encode(values(name, frames))
    ref = codec.decode_with_confidence(codes)
    tensor = torch.from_numpy(codes)
    planar = tensor.movedim(-1, -3).contiguous()  # a model's NCHW output: planar memory
    planar_np = planar.numpy()
    nhwc = TensorCodec(codec, layout="NHWC")
    nchw = TensorCodec(codec, layout="NCHW")
    assert same(nhwc.decode_with_confidence(tensor), ref), name
    assert same(nchw.decode_with_confidence(planar), ref), name
    t_np, t_hwc, t_np_chw, t_chw = interleaved(
        [
            lambda: codec.decode_with_confidence(codes),
            lambda: nhwc.decode_with_confidence(tensor),
            lambda: codec.decode_with_confidence(np.moveaxis(planar_np, -3, -1)),
            lambda: nchw.decode_with_confidence(planar),
        ],
        repeat,
    )
    ratio = statistics.median(t_hwc) / statistics.median(t_np)
    ratio_chw = statistics.median(t_chw) / statistics.median(t_np_chw)
    size = f"{frames} x 1080p"
    return [name, size, summary(t_np), summary(t_hwc), f"{ratio:.2f}x"] + [
        summary(t_np_chw),
        summary(t_chw),
        f"{ratio_chw:.2f}x",
    ]


# ---------------------------------------------------------------- CUDA: naive peers


def naive_nearest(rgb01: torch.Tensor, colours01: torch.Tensor, chunk: int = 1 << 20):
    flat = rgb01.reshape(-1, 3)
    out = torch.empty(flat.shape[0], dtype=torch.int64, device=flat.device)
    for i in range(0, flat.shape[0], chunk):
        out[i : i + chunk] = torch.cdist(flat[i : i + chunk], colours01).argmin(1)
    return out.reshape(rgb01.shape[:-1])


def cuda_pair(name: str, params: dict, repeat: int, frames: int, device) -> list[list[str]]:
    def sync_timings(fn):
        def run():
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()

        return timings(run, repeat)

    codec = rgbtask.get_codec(name, **params)
    tc = TensorCodec(codec, layout="NCHW")
    value = torch.from_numpy(values(name, frames)).to(device)
    image = tc.encode(value, as_uint8=True)
    hwc = (image.to(torch.float32) / 255.0).movedim(1, -1)
    if name == "normals/xyz":

        def naive_dec():
            return torch.nn.functional.normalize(hwc * 2 - 1, dim=-1)

        def naive_enc():
            return ((value + 1) / 2 * 255 + 0.5).floor().to(torch.uint8)

    else:
        table = codec.palette_colors if name.startswith("mask") else codec.curve_obj().codes
        colours = torch.from_numpy(np.asarray(table, dtype=np.float32) / 255.0).to(device)

        def naive_dec():
            return naive_nearest(hwc, colours)

        def naive_enc():
            return torch.from_numpy(np.asarray(table)).to(device)[
                value.long().clamp(0, len(table) - 1)
            ]

    scratch = torch.empty_like(image)
    t_copy = summary(sync_timings(lambda: scratch.copy_(image)))
    t_dec = summary(sync_timings(lambda: tc.decode_with_confidence(image)))
    t_enc = summary(sync_timings(lambda: tc.encode(value, as_uint8=True)))
    naive_enc_time = summary(sync_timings(naive_enc)) if name != "depth/cubewalk" else "-"
    return [
        ["decode", name, t_dec, summary(sync_timings(naive_dec)), t_copy],
        ["encode", name, t_enc, naive_enc_time, t_copy],
    ]


DEVICE_HEADERS = ["op", "codec", "TensorCodec", "naive torch", "device copy"]


def main() -> None:
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument(
        "--device-check",
        action="store_true",
        help="run the CUDA table's code on the CPU (torch paths), to check this script",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print_table(
        "CPU: decode_with_confidence of exact 8-bit codes (median (min..max))",
        [cpu_row(name, params, args.repeat, args.frames) for name, params in CODECS],
        [
            "codec",
            "size",
            "NumPy NHWC",
            "torch NHWC",
            "ratio",
            "NumPy NCHW",
            "torch NCHW",
            "ratio",
        ],
    )
    if args.device_check:
        rt.CPU_BACKEND = "torch"
        rows = [r for n, p in CODECS[:3] for r in cuda_pair(n, p, args.repeat, args.frames, cpu)]
        print_table("device table on CPU (script check)", rows, DEVICE_HEADERS)
    elif torch.cuda.is_available():
        print_table(
            f"CUDA ({torch.cuda.get_device_name()}): {args.frames} x 1080p",
            [r for n, p in CODECS[:3] for r in cuda_pair(n, p, args.repeat, args.frames, gpu)],
            DEVICE_HEADERS,
        )
    else:
        print("\nCUDA: not present here (no CUDA rows).")


if __name__ == "__main__":
    main()
