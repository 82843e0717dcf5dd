"""Figures and the robustness table of docs/depth.md.

    .venv/bin/python docs/make_depth_figures.py

Writes docs/figures/depth_{strips,cube,step,robustness}.png and prints the Markdown tables. The
robustness table needs the real frames in ../shared/data/depth (NYU, KITTI); it is skipped without.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import cv2
import matplotlib.pyplot as plt
import numpy as np

import rgbtask
from rgbtask.fidelity.perturb import parse_perturbation

ROOT = Path(__file__).resolve().parent.parent
FIG = ROOT / "docs" / "figures"
DATA = ROOT.parent / "shared" / "data" / "depth"
POINTS = [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]]

CURVES = {
    "cubewalk": {"name": "depth/cubewalk"},
    "hue": {"name": "depth/hue", "transform": "power"},
    "hue nowrap": {"name": "depth/hue", "variant": "nowrap", "transform": "power"},
    "gray": {"name": "depth/gray", "transform": "power"},
    "colormap turbo": {"name": "depth/colormap", "cmap": "turbo", "transform": "power"},
    "curve (4 points)": {"name": "depth/curve", "curve": POINTS, "transform": "power"},
}
PERTURBATIONS = {
    "none (PNG)": "none",
    "JPEG q95 4:4:4": "jpeg:q=95,sub=444",
    "JPEG q90 4:4:4": "jpeg:q=90,sub=444",
    "JPEG q90 4:2:0": "jpeg:q=90,sub=420",
    "noise sigma 2/255": "noise:sigma=2",
}


def strips() -> None:
    fig, axes = plt.subplots(len(CURVES), 1, figsize=(7, 0.55 * len(CURVES) + 0.3))
    for ax, (label, cfg) in zip(axes, CURVES.items()):
        codes = rgbtask.get_codec(cfg).curve_obj().codes
        idx = np.linspace(0, len(codes) - 1, 700).round().astype(int)
        ax.imshow(codes[idx][None].repeat(30, axis=0), aspect="auto")
        ax.set_yticks([])
        ax.set_xticks([])
        ax.set_ylabel(f"{label}\n{len(codes)}", rotation=0, ha="right", va="center", fontsize=8)
    axes[-1].set_xlabel("f: near (left) -> far (right)")
    fig.tight_layout()
    fig.savefig(FIG / "depth_strips.png", dpi=90)
    plt.close(fig)


def cube() -> None:
    fig = plt.figure(figsize=(9, 6))
    for i, (label, cfg) in enumerate(CURVES.items()):
        curve = rgbtask.get_codec(cfg).curve_obj()
        c = curve.codes / 255.0
        ax = fig.add_subplot(2, 3, i + 1, projection="3d")
        ax.scatter(c[:, 0], c[:, 1], c[:, 2], c=c, s=4, depthshade=False)
        r = np.asarray(curve.reserved) / 255.0
        ax.scatter(*r, c=[r], s=60, marker="X", edgecolors="k")
        for x in (0, 1):
            for y in (0, 1):
                ax.plot([x, x], [y, y], [0, 1], color="0.85", lw=0.5)
                ax.plot([x, x], [0, 1], [y, y], color="0.85", lw=0.5)
                ax.plot([0, 1], [x, x], [y, y], color="0.85", lw=0.5)
        ax.set_xlabel("R", labelpad=-12)
        ax.set_ylabel("G", labelpad=-12)
        ax.set_zlabel("B", labelpad=-12)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_zticks([])
        ax.set_title(f"{label} ({curve.levels} levels)", fontsize=9)
    fig.suptitle("Curves in the RGB cube (X: the reserved invalid code)", fontsize=10)
    fig.tight_layout()
    fig.savefig(FIG / "depth_cube.png", dpi=80)
    plt.close(fig)


def step() -> None:
    d = np.geomspace(0.3, 100.0, 400)
    cases = {
        "cubewalk, power (default)": {"name": "depth/cubewalk"},
        "hue, linear 0.3-100 m": {"name": "depth/hue", "near": 0.3, "far": 100.0},
        "hue, log 0.3-100 m": {"name": "depth/hue", "transform": "log", "near": 0.3, "far": 100.0},
        "hue, inverse 0.3-100 m": {
            "name": "depth/hue",
            "transform": "inverse",
            "near": 0.3,
            "far": 100.0,
        },
        "gray, linear 0.3-100 m": {"name": "depth/gray", "near": 0.3, "far": 100.0},
        "turbo, log 0.3-100 m": {
            "name": "depth/colormap",
            "transform": "log",
            "near": 0.3,
            "far": 100.0,
        },
    }
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, cfg in cases.items():
        ax.loglog(d, rgbtask.get_codec(cfg).step_at(d), label=label)
    ax.axvline(2.0, color="0.6", lw=0.6)
    ax.axvline(40.0, color="0.6", lw=0.6)
    ax.set_xlabel("depth (m)")
    ax.set_ylabel("quantization step (m)")
    ax.set_title("What 8 bits per channel lose: step_at(depth)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(FIG / "depth_step.png", dpi=90)
    plt.close(fig)
    print("\n| codec | step at 2 m | step at 40 m |\n|---|---|---|")
    for label, cfg in cases.items():
        c = rgbtask.get_codec(cfg)
        print(f"| {label} | {c.step_at(2.0) * 1e3:.2f} mm | {c.step_at(40.0) * 1e3:.1f} mm |")


def frames():
    for dataset, scale in (("nyu_demo", 1000.0), ("kitti_demo", 256.0)):
        for path in sorted((DATA / dataset / "depth").glob("*.png")):
            raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            d = raw.astype(np.float64) / scale
            d[raw == 0] = np.nan
            yield d


def robustness() -> None:
    if not DATA.is_dir():
        print(f"\n(no real data at {DATA}: robustness table skipped)")
        return
    depth = list(frames())
    rng = np.random.default_rng(0)
    results = {}
    for label, cfg in CURVES.items():
        codec = rgbtask.get_codec(cfg)
        encoded = [codec.encode(d) for d in depth]
        for pname, ptext in PERTURBATIONS.items():
            pert = parse_perturbation(ptext)
            sq, n, off1, off10 = 0.0, 0, 0, 0
            for d, rgb in zip(depth, encoded):
                dec = codec.decode(pert(rgb, rng)).astype(np.float64)
                ok = np.isfinite(d)
                ref, got = d[ok], dec[ok]
                with np.errstate(invalid="ignore"):
                    rel = np.abs(got - ref) / ref
                rel = np.where(np.isfinite(rel), rel, np.inf)
                fin = np.isfinite(got)
                sq += float(np.sum((got[fin] - ref[fin]) ** 2))
                n += int(ref.size)
                off1 += int(np.sum(rel > 0.01))
                off10 += int(np.sum(rel > 0.10))
            results[(label, pname)] = (np.sqrt(sq / n), 100 * off1 / n, 100 * off10 / n)
    print("\n| curve | perturbation | RMSE (m) | % off > 1% | % off > 10% |\n|---|---|---|---|---|")
    for (label, pname), (rmse, o1, o10) in results.items():
        print(f"| {label} | {pname} | {rmse:.3f} | {o1:.2f} | {o10:.2f} |")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=False)
    names = list(PERTURBATIONS)[1:]
    width = 0.8 / len(CURVES)
    for k, (ax, col, title) in enumerate(
        zip(axes, (1, 2), ("% of pixels off by > 1%", "% of pixels off by > 10%"))
    ):
        for i, label in enumerate(CURVES):
            vals = [results[(label, p)][col] for p in names]
            ax.bar(np.arange(len(names)) + i * width, vals, width, label=label)
        ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2)
        ax.set_xticklabels(names, fontsize=7)
        ax.set_title(title, fontsize=9)
        if k == 0:
            ax.legend(fontsize=7)
    fig.suptitle("Robustness on NYU + KITTI frames (power transform for every curve)", fontsize=10)
    fig.tight_layout()
    fig.savefig(FIG / "depth_robustness.png", dpi=80)
    plt.close(fig)


def main() -> None:
    FIG.mkdir(parents=True, exist_ok=True)
    strips()
    cube()
    step()
    robustness()


if __name__ == "__main__":
    main()
