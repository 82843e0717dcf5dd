"""The relative-depth figure of docs/depth.md (Marigold-style: quantile -> gray -> align).

    .venv/bin/python docs/make_reldepth_figures.py

Writes docs/figures/depth_relative.png and prints the numbers quoted in the text. Uses the first
NYU frame in ../shared/data/depth (millimetre PNG) when it is there, a procedural scene otherwise.
The "prediction" is the encoded ground truth put through what a diffusion model's output looks
like to a decoder: an unknown affine map per image and independent noise per channel.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rgbtask
from rgbtask import io as rio
from rgbtask.metrics import align_scale_shift, depth_metrics

ROOT = Path(__file__).resolve().parent.parent
FIG = ROOT / "docs" / "figures"
DATA = ROOT.parent / "shared" / "data" / "depth" / "nyu_demo" / "depth"


def ground_truth() -> tuple[np.ndarray, str]:
    paths = sorted(DATA.glob("*.png")) if DATA.is_dir() else []
    if paths:
        return rio.read_depth(paths[0], depth_scale=1000.0), f"NYU {paths[0].name}"
    from rgbtask.samples import make_scene

    return make_scene(240, 320, seed=3).depth.astype(np.float64), "procedural scene"


def main() -> None:
    depth, source = ground_truth()
    codec = rgbtask.get_codec("depth/gray", transform="quantile")  # Marigold's 2 % / 98 %
    gt_rgb = codec.encode(depth)
    d_lo, d_hi = codec.quantile_params(depth)
    rng = np.random.default_rng(0)
    pred = 0.85 * gt_rgb.astype(np.float64) + 12.0 + rng.normal(0.0, 4.0, gt_rgb.shape)
    pred_rgb = np.clip(pred.round(), 0, 255).astype(np.uint8)
    rel, conf, valid = codec.decode_with_confidence(pred_rgb)
    rel = np.where(np.isnan(depth), np.nan, rel)  # evaluate where ground truth exists
    aligned, scale, shift = align_scale_shift(rel, depth)
    m_gt = depth_metrics(codec.in_metres(depth, codec.decode(gt_rgb)), depth)
    m_al = depth_metrics(rel, depth, align="scale_shift")
    m_ds = depth_metrics(rel, depth, align="scale_shift", space="disparity")
    print(f"source: {source}; quantiles {d_lo:.3f} m, {d_hi:.3f} m")
    print(f"ground truth round trip (quantile_params): AbsRel {m_gt['abs_rel']:.4f}")
    print(
        f"prediction aligned in depth: scale {scale:.3f} m, shift {shift:.3f} m, "
        f"AbsRel {m_al['abs_rel']:.4f}, delta1 {m_al['delta1']:.2f} %"
    )
    print(f"prediction aligned in disparity: AbsRel {m_ds['abs_rel']:.4f}")
    print(f"mean confidence of the prediction: {np.mean(conf[valid]):.3f}")

    fig, ax = plt.subplots(1, 4, figsize=(15, 3.4))
    vmax = float(np.nanmax(depth))
    for a in ax:
        a.axis("off")
    im = ax[0].imshow(depth, cmap="turbo", vmin=0, vmax=vmax)
    ax[0].set_title(f"ground truth (m)\n{source}")
    fig.colorbar(im, ax=ax[0], fraction=0.046)
    ax[1].imshow(gt_rgb)
    ax[1].set_title(f"transform='quantile' on depth/gray\n[{d_lo:.2f}, {d_hi:.2f}] m -> [0, 255]")
    ax[2].imshow(pred_rgb)
    ax[2].set_title("a model's output: affine + noise\nper channel (decoded by the mean)")
    err = np.abs(aligned - depth)
    im = ax[3].imshow(err, cmap="magma", vmin=0, vmax=0.1 * vmax)
    ax[3].set_title(f"|aligned - truth| (m), AbsRel {m_al['abs_rel']:.3f}")
    fig.colorbar(im, ax=ax[3], fraction=0.046)
    fig.tight_layout()
    FIG.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIG / "depth_relative.png", dpi=80)
    print(f"wrote {FIG / 'depth_relative.png'}")


if __name__ == "__main__":
    main()
