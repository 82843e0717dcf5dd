"""Peak memory of ``decode_with_confidence``: one 4K image and a batch of 64 at 512x512.

Run: python benchmarks/bench_memory.py            (about 5 minutes on 2 cores)
     python benchmarks/bench_memory.py --quick    (1080p and 16 x 512x512, for a smoke test)

Every figure is a ratio against a named peer measured in the same run: the irreducible bytes
"in+out", the input array plus the three output arrays (value, confidence, valid), i.e. what a
memory copy of them would need. Three measures per configuration:

* tracemalloc: the peak of a warm call (tables already filled), as traced by ``tracemalloc``
  (it sees NumPy's buffers and the arrays Numba kernels allocate, not page commitment);
* RSS cold / warm: the increase of the process's resident-set high-water mark (``VmHWM``, reset
  through ``/proc/self/clear_refs``) over its resident size just before the call, in a fresh
  subprocess per configuration whose kernels are already compiled (a 16x16 warm-up, then every
  lookup table is dropped): "cold" is the first decode that meets the image's colours, "warm"
  the same call again;
* table: resident memory the lookup tables keep after the cold call (outputs freed).

The subprocesses run with ``MALLOC_MMAP_THRESHOLD_=131072`` (glibc's default threshold, but
fixed), so freed arrays leave the process and the figures do not depend on what came before.

A second table shows what the two 2^24-entry lookup tables really commit (resident memory, filled
entries, touched 4 KiB pages) for a typical image, the same with noise (as a JPEG'd or generated
image has) and a random-colour image. The tables opt out of transparent huge pages
(``rgbtask.core._tables.lazy_zeros``), so resident memory follows the touched pages.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
from _common import machine, print_table

MiB = 2**20

#: One configuration per built-in codec: the first of its ``examples``, or what the issue names.
CONFIGS: dict[str, dict] = {
    "normals/xyz": {"bits": 8},
    "depth/cubewalk": {},
    "depth/colormap": {"cmap": "turbo", "near": 0.5, "far": 20.0},
    "depth/hue": {"near": 0.5, "far": 20.0},
    "depth/gray": {"near": 0.5, "far": 20.0},
    "depth/curve": {
        "curve": [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]],
        "near": 0.5,
        "far": 20.0,
    },
    "mask/palette": {"palette": "ade20k"},
    "mask/panoptic": {},
    "mask/instance": {},
    "mask/binary": {},
    "keypoints/heatmap": {"num_keypoints": 17, "max_instances": 1},
}
FLOAT_TOO = ("normals/xyz", "depth/")  # codecs also measured on float32 RGB input


def _status() -> dict[str, float]:
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"{k}:\s+(\d+)", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux >= 4.0: VmHWM := VmRSS


def _task_value(name: str, scene, n_img: int | None, rng: np.random.Generator):
    """The task value of ``scene`` for codec ``name`` (keypoints: 17 spread keypoints)."""
    from rgbtask.samples import spread_keypoints

    if name.startswith("keypoints/"):
        kp = spread_keypoints(rng, n_img or 1, 17, scene.shape)
        return kp if n_img else kp[0]
    if name.startswith("depth/"):
        value = scene.depth
    elif name == "normals/xyz":
        value = scene.normals
    elif name == "mask/panoptic":
        value = scene.semantic.astype(np.int64) * 1000 + scene.instance
    elif name == "mask/instance":
        value = scene.instance
    elif name == "mask/binary":
        value = (scene.instance > 0).astype(np.uint8)
    else:
        value = scene.semantic
    return value


def _codec_config(name: str, shape: tuple[int, int]) -> dict:
    cfg = {"name": name, **CONFIGS[name]}
    if name.startswith("keypoints/"):
        cfg["size"] = list(shape)
    return cfg


def make_inputs(folder: Path, quick: bool) -> list[dict]:
    """Encode every configuration's input once and save it; return the child specs."""
    import rgbtask
    from rgbtask.samples import make_scene

    big = (1080, 1920) if quick else (2160, 3840)
    n_batch = 16 if quick else 64
    rng = np.random.default_rng(0)
    scenes = {"4K": make_scene(*big, seed=0), "batch": make_scene(512, 512, seed=0)}
    specs = []
    for name in CONFIGS:
        for where, scene in scenes.items():
            codec = rgbtask.get_codec(_codec_config(name, scene.shape))
            batch = where == "batch"
            value = _task_value(name, scene, n_batch if batch else None, rng)
            rgb = codec.encode(value)
            if batch and not name.startswith("keypoints/"):
                rgb = np.ascontiguousarray(np.broadcast_to(rgb, (n_batch, *rgb.shape)))
            path = folder / f"{name.replace('/', '_')}-{where}.npy"
            np.save(path, rgb)
            label = f"{big[1]}x{big[0]}" if not batch else f"{n_batch} x 512x512"
            dtypes = ["uint8"] + (["float32"] if name.startswith(FLOAT_TOO) else [])
            for dtype in dtypes:
                specs.append(
                    {
                        "codec": codec.get_config(),
                        "input": str(path),
                        "dtype": dtype,
                        "label": f"{label} {dtype}",
                    }
                )
    # lookup-table probes: typical image, + noise, random colours
    scene = scenes["4K"]
    for name in ("depth/cubewalk", "mask/palette"):
        codec = rgbtask.get_codec(_codec_config(name, scene.shape))
        rgb = codec.encode(_task_value(name, scene, None, rng))
        noisy = np.clip(rgb + rng.normal(0.0, 2.0, rgb.shape), 0, 255).astype(np.uint8)
        rand = rng.integers(0, 256, rgb.shape, dtype=np.uint8)
        for kind, image in (("typical", rgb), ("noise sigma=2", noisy), ("random", rand)):
            path = folder / f"probe-{name.replace('/', '_')}-{kind.split()[0]}.npy"
            np.save(path, image)
            specs.append(
                {
                    "codec": codec.get_config(),
                    "input": str(path),
                    "dtype": "uint8",
                    "label": kind,
                    "probe": True,
                }
            )
    return specs


def _clear_tables() -> None:
    import rgbtask

    rgbtask.clear_tables()
    gc.collect()


def _tables_of(codec) -> list[np.ndarray]:
    from rgbtask import curves
    from rgbtask.codecs import masks

    if codec.task == "depth":
        return [curves._LUTS[codec.curve_obj().key][0]] if curves._LUTS else []
    return list(masks._tables.values())


def child(spec: dict) -> dict:
    """Measure one configuration in this (fresh) process."""
    import rgbtask

    rgb = np.load(spec["input"])
    if spec["dtype"] == "float32":
        rgb = rgb.astype(np.float32)
        rgb /= np.float32(255.0)
    codec = rgbtask.get_codec(spec["codec"])
    # compile (or load) the kernels on a 16x16 crop, then drop every table: a cold start
    one = rgb.reshape((-1, *rgb.shape[-3:]))[0]
    if codec.task == "keypoints":
        small = rgbtask.get_codec({**spec["codec"], "size": [16, 16]})
        small.decode_with_confidence(np.zeros((16, 16, 3), rgb.dtype))
    else:
        codec.decode_with_confidence(np.ascontiguousarray(one[:16, :16]))
    _clear_tables()

    def rss_call() -> tuple[int, int, list[int]]:
        gc.collect()
        _reset_peak()
        before = _status()["VmRSS"]
        out = codec.decode_with_confidence(rgb)
        peak = _status()["VmHWM"] - before
        sizes = [a.nbytes for a in out]
        del out
        gc.collect()
        return peak, _status()["VmRSS"] - before, sizes

    cold, kept, sizes = rss_call()
    result = {"in": rgb.nbytes, "out": sum(sizes), "rss_cold": cold, "table_rss": kept}
    tables = _tables_of(codec) if rgb.dtype == np.uint8 else []
    if spec.get("probe"):
        lut = tables[0]
        page = 4096 // lut.itemsize
        result["filled"] = int(np.count_nonzero(lut))
        result["pages"] = int(np.count_nonzero(lut.reshape(-1, page).any(axis=1)))
        result["table_bytes"] = lut.nbytes
        result["colours"] = int(np.unique(rgb.reshape(-1, 3), axis=0).shape[0])
        return result
    result["rss_warm"] = rss_call()[0]
    tracemalloc.start()
    codec.decode_with_confidence(rgb)
    result["traced_warm"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result


def run_child(spec: dict, folder: Path) -> dict:
    path = folder / "spec.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        raise RuntimeError(f"child failed for {spec['label']}: {out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def mib(n: float) -> str:
    return f"{n / MiB:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1080p and a batch of 16")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(Path(args.child).read_text()))))
        return

    import warnings

    warnings.simplefilter("ignore")  # ADE20K's known colour collision
    from rgbtask.core import _jit

    print(f"Command: python benchmarks/bench_memory.py{' --quick' if args.quick else ''}")
    print(f"{machine()}, {_jit.num_threads()} kernel threads, page size 4 KiB")
    thp = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp.exists():
        print(f"transparent huge pages: {thp.read_text().strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        specs = make_inputs(folder, args.quick)
        rows, probes = [], []
        for spec in specs:
            r = run_child(spec, folder)
            if spec.get("probe"):
                probes.append((spec, r))
                continue
            io = r["in"] + r["out"]
            rows.append(
                [
                    spec["codec"]["name"],
                    spec["label"],
                    mib(io),
                    f"{mib(r['traced_warm'])} ({r['traced_warm'] / io:.2f}x)",
                    f"{mib(r['rss_cold'])} ({r['rss_cold'] / io:.2f}x)",
                    f"{mib(r['rss_warm'])} ({r['rss_warm'] / io:.2f}x)",
                    mib(r["table_rss"]),
                ]
            )
    print_table(
        "decode_with_confidence peak memory, MiB (ratio: of in+out, same run)",
        rows,
        [
            "codec",
            "input",
            "in+out",
            "tracemalloc warm",
            "RSS cold",
            "RSS warm",
            "tables kept",
        ],
    )
    prows = []
    for spec, r in probes:
        prows.append(
            [
                spec["codec"]["name"],
                spec["label"],
                f"{r['colours']}",
                f"{r['filled']}",
                f"{r['pages'] * 4096 / MiB:.1f}",
                f"{mib(r['table_rss'])} ({r['table_rss'] / r['table_bytes']:.0%})",
                f"{mib(r['in'] + r['out'])}",
            ]
        )
    print_table(
        "2^24-entry lookup tables after one decode of the large image: resident vs address space",
        prows,
        [
            "codec",
            "image",
            "colours",
            "entries filled",
            "touched 4 KiB pages, MiB",
            "resident MiB (of table)",
            "in+out MiB",
        ],
    )
    print(
        "\ndepth/* LUT: 2^24 uint32 = 64 MiB of address space per curve, the 8 most recently used"
        " kept;\nmask/palette, mask/instance table: 2^24 uint64 = 128 MiB per (palette, space,"
        " reject, ignore), the 4 most recently used kept."
    )


if __name__ == "__main__":
    main()
