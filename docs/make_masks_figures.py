"""Figures and tables of docs/masks.md: palette swatches, robustness of each palette, instance
decoding of generated-style images. Needs the real data in ../shared/data.

Run: python docs/make_masks_figures.py      (writes docs/figures/masks_*.png, prints the tables)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from scipy import ndimage

from rgbtask.codecs.masks import MaskInstance, MaskPalette, MaskPanoptic
from rgbtask.fidelity.perturb import JPEG, Noise
from rgbtask.metrics import instance_matching, mask_metrics
from rgbtask.palettes import distinct_palette, min_pairwise_distance, named_palette

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
FIG = ROOT / "docs" / "figures"
PERTURBATIONS = {
    "JPEG q90 4:4:4": JPEG(90, "4:4:4"),
    "JPEG q75 4:4:4": JPEG(75, "4:4:4"),
    "JPEG q90 4:2:0": JPEG(90, "4:2:0"),
    "noise 4/255": Noise(4.0),
}
PALETTES = {
    "ade20k": 151,
    "voc": 21,
    "cityscapes": 19,
    "coco": 133,
}


def swatches() -> None:
    rows = [(f"{name} ({k})", named_palette(name)[:k]) for name, k in PALETTES.items()]
    rows.append(("distinct 151 (CIELAB)", np.asarray(distinct_palette(151, "lab"))))
    fig, axes = plt.subplots(len(rows), 1, figsize=(9, 0.55 * len(rows) * 2.2))
    for ax, (title, colors) in zip(axes, rows):
        per_row = 38
        n_rows = -(-len(colors) // per_row)
        grid = np.full((n_rows * per_row, 3), 255, np.uint8)
        grid[: len(colors)] = colors
        ax.imshow(grid.reshape(n_rows, per_row, 3), interpolation="nearest", aspect="auto")
        margin = min_pairwise_distance(colors, "lab")
        ax.set_title(f"{title}: min pairwise Delta E = {margin:.1f}", fontsize=9, loc="left")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(FIG / "masks_palettes.png", dpi=80)
    plt.close(fig)


def ade_labels() -> list[np.ndarray]:
    paths = sorted((DATA / "semantic/ade20k/annotations").glob("*.png"))
    paths.append(DATA / "semantic/ade20k/full_format/ADE_train_00000970_challenge.png")
    return [np.asarray(Image.open(p)) for p in paths]


def robustness() -> list[tuple[str, str, int, str, float, float]]:
    labels = ade_labels()
    results = []
    for name, k in PALETTES.items():
        for source in (name, "distinct"):
            for min_region in (0, 16):
                codec = (
                    MaskPalette(  # the per-pixel decoder and min_region (context: its own table)
                        palette=source,
                        num_classes=k,
                        space="rgb",
                        min_region=min_region,
                        decoder="pixel",
                    )
                )
                for pname, pert in PERTURBATIONS.items():
                    pred, ref = [], []
                    for i, lab in enumerate(labels):
                        lab = (lab.astype(np.int64) % k).astype(np.uint8)  # the regions, K labels
                        rgb = pert(codec.encode(lab), np.random.default_rng(i))
                        pred.append(codec.decode(rgb).ravel())
                        ref.append(lab.ravel())
                    m = mask_metrics(
                        np.concatenate(pred), np.concatenate(ref), num_classes=k, ignore=None
                    )
                    label = name if source == name else f"distinct {k}"
                    results.append((label, pname, min_region, name, m["pixel_acc"], m["miou"]))
    return results


def robustness_plot(results) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    perts = list(PERTURBATIONS)
    for ax, min_region in zip(axes, (0, 16)):
        rows = [r for r in results if r[2] == min_region]
        labels = list(dict.fromkeys(r[0] for r in rows))
        width = 0.8 / len(perts)
        for j, p in enumerate(perts):
            vals = [next(r[5] for r in rows if r[0] == lab and r[1] == p) for lab in labels]
            ax.bar(np.arange(len(labels)) + j * width, vals, width, label=p)
        ax.set_xticks(np.arange(len(labels)) + 0.4 - width / 2)
        ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"mIoU, min_region={min_region}", fontsize=10)
        ax.set_ylim(0, 100)
    axes[0].set_ylabel("mIoU (%)")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(FIG / "masks_robustness.png", dpi=80)
    plt.close(fig)


def instances() -> list[tuple[str, int, int, int, float]]:
    root = DATA / "panoptic/coco/panoptic_examples"
    codec = MaskInstance(min_size=32)
    out = []
    panels = []
    for k, path in enumerate(sorted(root.glob("*.png"))):
        ids = MaskPanoptic().decode(np.asarray(Image.open(path).convert("RGB")))
        _, dense = np.unique(ids, return_inverse=True)
        dense = dense.reshape(ids.shape)
        rng = np.random.default_rng(k)
        colors = rng.integers(30, 256, (dense.max() + 1, 3)).astype(np.uint8)
        colors[0] = 0
        rgb = Noise(2.0)(JPEG(90)(colors[dense], rng), rng)
        res = codec.decode_instances(rgb)
        m = instance_matching(res.ids, dense)
        parts = 0  # connected parts of the reference segments with >= min_size pixels
        for seg in range(1, int(dense.max()) + 1):
            comps, _ = ndimage.label(dense == seg, structure=np.ones((3, 3), bool))
            parts += int(np.sum(np.bincount(comps.ravel())[1:] >= codec.min_size))
        out.append(
            (
                path.name,
                m["target_instances"],
                parts,
                m["pred_instances"],
                m["matched"],
                m["mean_iou"],
            )
        )
        panels.append((rgb, res))
    fig, axes = plt.subplots(len(panels), 2, figsize=(8, 3 * len(panels)))
    for (rgb, res), row in zip(panels, axes):
        row[0].imshow(rgb)
        row[0].set_title("generated-style input (JPEG q90 + noise 2/255)", fontsize=8)
        shown = np.concatenate([[[0, 0, 0]], res.colors])[res.ids]
        row[1].imshow(shown)
        row[1].set_title(f"decoded: {res.ids.max()} instances (mean colours)", fontsize=8)
        for ax in row:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(FIG / "masks_instances.png", dpi=60)
    plt.close(fig)
    return out


def main() -> None:
    FIG.mkdir(parents=True, exist_ok=True)
    swatches()
    results = robustness()
    robustness_plot(results)
    print("| palette | perturbation | min_region | pixel acc (%) | mIoU (%) |")
    print("|---|---|---|---|---|")
    for label, pname, min_region, _, acc, miou in results:
        print(f"| {label} | {pname} | {min_region} | {acc:.2f} | {miou:.2f} |")
    print()
    print(
        "| image | segments | their connected parts >= min_size | decoded instances "
        "| segments matched (IoU > 0.5) | mean IoU of matches (%) |"
    )
    print("|---|---|---|---|---|---|")
    for row in instances():
        print(f"| {row[0]} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {row[5]:.1f} |")


if __name__ == "__main__":
    main()
