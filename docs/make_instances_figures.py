"""Figure and table of docs/masks.md, "Random instance colours" and "Painter's palettes":
``mask/instance`` with ``colors="random"`` on the COCO panoptic samples (lossless and JPEG q90 4:4:4,
panoptic quality) and swatches of ``painter_ade20k`` / ``painter_coco``. Needs the COCO panoptic
samples in ../shared/data/panoptic (the swatches are drawn without them).

Run: PYTHONPATH=. python docs/make_instances_figures.py   (writes docs/figures/masks_random_*.png,
prints the table)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

import rgbtask
from rgbtask.fidelity.perturb import JPEG
from rgbtask.metrics import panoptic_quality
from rgbtask.palettes import min_pairwise_distance, named_palette

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "panoptic" / "coco" / "panoptic_examples"
FIG = ROOT / "docs" / "figures"


def coco_ids(path: Path) -> np.ndarray:
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(np.int64)
    seg = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]  # panopticapi rgb2id
    u, inv = np.unique(seg, return_inverse=True)
    return (inv.reshape(seg.shape) + (u[0] != 0)).astype(np.int32)


def random_colours() -> list[tuple]:
    rows, panels = [], []
    codec = rgbtask.get_codec("mask/instance", colors="random", seed=0)
    split = rgbtask.get_codec("mask/instance", colors="random", seed=0, components=True)
    for path in sorted(DATA.glob("*.png")):
        ids = coco_ids(path)
        rgb = codec.encode(ids)
        jpeg = JPEG(90, "4:4:4")(rgb, np.random.default_rng(0))
        res = []
        for c in (codec, split):
            for img in (rgb, jpeg):
                res.append(panoptic_quality(c.decode(img), ids))
        rows.append((path.name, int(ids.max()), *res))
        panels.append((rgb, codec.encode(ids[:, ::-1].copy()), jpeg, codec.decode(jpeg)))
    if panels:
        fig, axes = plt.subplots(len(panels), 4, figsize=(13, 2.6 * len(panels)))
        titles = ["seed 0", "seed 0, mirrored image (new draw)", "JPEG q90 4:4:4", "decoded ids"]
        for panel, row in zip(panels, np.atleast_2d(axes)):
            for ax, img, title in zip(row, panel, titles):
                ax.imshow(img, cmap=None if img.ndim == 3 else "tab20")
                ax.set_title(title, fontsize=8)
                ax.axis("off")
        fig.tight_layout()
        fig.savefig(FIG / "masks_random_instances.png", dpi=60)
        plt.close(fig)
    return rows


def painter_swatches() -> list[tuple[str, int, float]]:
    fig, axes = plt.subplots(2, 1, figsize=(10, 3))
    rows = []
    for ax, (name, cols) in zip(axes, (("painter_ade20k", 16), ("painter_coco", 14))):
        pal = named_palette(name)
        k = pal.shape[0]
        grid = np.zeros((-(-k // cols) * cols, 3), np.uint8)
        grid[:k] = pal
        ax.imshow(grid.reshape(-1, cols, 3).transpose(1, 0, 2), interpolation="nearest")
        ax.set_title(
            f"{name}: {k} entries (label 0 at top left, labels run down the columns)", fontsize=8
        )
        ax.axis("off")
        rows.append((name, k, min_pairwise_distance(pal, "lab")))
    fig.tight_layout()
    fig.savefig(FIG / "masks_random_painter_palettes.png", dpi=70)
    plt.close(fig)
    return rows


def main() -> None:
    FIG.mkdir(parents=True, exist_ok=True)
    for name, k, d in painter_swatches():
        print(f"| `{name}` | {k} | min pairwise Delta E {d:.1f} |")
    print(
        "| image | segments | PQ lossless | PQ JPEG q90 4:4:4 (SQ, RQ, TP/FP/FN) | with components=True: lossless, JPEG |"
    )
    print("|---|---|---|---|---|")
    for name, n, loss, jpeg, loss_s, jpeg_s in random_colours():
        print(
            f"| {name} | {n} | {loss['pq']:.1f} | {jpeg['pq']:.1f} ({jpeg['sq']:.1f}, "
            f"{jpeg['rq']:.1f}, {jpeg['tp']}/{jpeg['fp']}/{jpeg['fn']}) | "
            f"{loss_s['pq']:.1f}, {jpeg_s['pq']:.1f} |"
        )


if __name__ == "__main__":
    main()
