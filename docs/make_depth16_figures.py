"""The 16-bit depth figure and table of docs/depth.md ("16-bit depth").

    .venv/bin/python docs/make_depth16_figures.py

Writes docs/figures/depth_step16.png (quantization step of 8- and 16-bit codecs against depth,
and the measured round-trip error of a dense 16-bit sweep against its bound) and prints the
Markdown table of steps.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rgbtask

ROOT = Path(__file__).resolve().parent.parent
FIG = ROOT / "docs" / "figures"

CASES = {
    "cubewalk, power (default)": {"name": "depth/cubewalk"},
    "hue, log 0.3-100 m": {"name": "depth/hue", "transform": "log", "near": 0.3, "far": 100.0},
    "gray, linear 0.3-100 m": {"name": "depth/gray", "near": 0.3, "far": 100.0},
    "turbo, log 0.3-100 m": {
        "name": "depth/colormap",
        "transform": "log",
        "near": 0.3,
        "far": 100.0,
    },
}


def main() -> None:
    d = np.geomspace(0.3, 100.0, 400)
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    rows = []
    for (label, cfg), col in zip(CASES.items(), colours):
        c8 = rgbtask.get_codec(cfg)
        c16 = rgbtask.get_codec({**cfg, "bits": 16})
        ax.loglog(d, c8.step_at(d), color=col, ls="--", lw=1.0)
        ax.loglog(d, c16.step_at(d), color=col, label=f"{label} ({c16.levels:,} levels)")
        s8, s16 = c8.step_at(np.array([2.0, 40.0])), c16.step_at(np.array([2.0, 40.0]))
        rows.append((label, c8.levels, c16.levels, s8, s16))
    ax.set_xlabel("depth (m)")
    ax.set_ylabel("quantization step (m)")
    ax.set_title("step_at(depth): 8 bits dashed, 16 bits solid")
    ax.legend(fontsize=7)

    codec = rgbtask.get_codec("depth/cubewalk", bits=16)
    sweep = np.geomspace(0.3, 60.0, 200_000)[None]
    err = np.abs(codec.decode(codec.encode(sweep)).astype(np.float64) - sweep)[0]
    bound = codec.roundtrip_bound(sweep)[0]
    bx.loglog(sweep[0], np.maximum(err, 1e-9), ",", color="0.5", label="|decode(encode(d)) - d|")
    bx.loglog(sweep[0], bound, color="C3", label="derived bound (half a step + float32)")
    bx.set_xlabel("depth (m)")
    bx.set_ylabel("error (m)")
    bx.set_title("depth/cubewalk bits=16: 200,000 depths, error vs bound")
    bx.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(FIG / "depth_step16.png", dpi=80)
    plt.close(fig)

    print("| codec | levels 8 / 16 bit | step at 2 m, 8 / 16 bit | step at 40 m, 8 / 16 bit |")
    print("|---|---|---|---|")
    for label, n8, n16, s8, s16 in rows:
        print(
            f"| {label} | {n8:,} / {n16:,} | {s8[0] * 1e3:.2f} / {s16[0] * 1e3:.4f} mm "
            f"| {s8[1] * 1e3:.1f} / {s16[1] * 1e3:.3f} mm |"
        )
    print(f"\ncubewalk bits=16 sweep: max error / bound = {np.max(err / bound):.4f}")


if __name__ == "__main__":
    main()
