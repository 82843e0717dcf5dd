"""Figures and the error table of docs/keypoints.md.

Run: python docs/make_keypoints_figures.py
Writes docs/figures/keypoints_layouts.png and docs/figures/keypoints_errors.png, and prints the
error table (Markdown) that docs/keypoints.md quotes.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rgbtask
from rgbtask.samples import spread_keypoints

OUT = Path(__file__).resolve().parent / "figures"
#: The refinements in the error table and figure.
REFINES = ("gaussian_fit", "dark", "quarter")

#: A standing person in COCO's keypoint order on a 256 x 192 (H x W) canvas.
POSE = np.array(
    [
        [96, 40], [103, 34], [89, 34], [111, 38], [81, 38],
        [122, 70], [70, 70], [132, 108], [60, 108], [138, 144], [54, 144],
        [114, 140], [78, 140], [116, 190], [76, 190], [118, 236], [74, 236],
    ],
    dtype=np.float64,
)  # fmt: skip
SKELETON = [
    (15, 13),
    (13, 11),
    (16, 14),
    (14, 12),
    (11, 12),
    (5, 11),
    (6, 12),
    (5, 6),
    (5, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (1, 2),
    (0, 1),
    (0, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
]  # fmt: skip  (COCO's skeleton, 0-based)


def jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    _, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def layouts_figure() -> None:
    fig, axes = plt.subplots(
        1, 5, figsize=(13.5, 3.6), gridspec_kw={"width_ratios": [1, 1, 1, 1, 2]}
    )
    stacked = None
    for ax, layout in zip(axes, ("painter", "grid", "palette", "stacked")):
        c = rgbtask.get_codec("keypoints/heatmap", size=(256, 192), num_keypoints=17, layout=layout)
        rgb = c.encode(POSE)
        if layout == "stacked":
            stacked = rgb
            rgb = rgb[:, :192]
            title = "stacked (page 1 of 6)"
        else:
            title = layout
        ax.imshow(rgb)
        dec = c.decode(rgb if layout != "stacked" else stacked)[0]
        ax.plot(dec[:, 0], dec[:, 1], "w+", ms=5, mew=0.8)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    axes[4].imshow(np.concatenate([stacked[:, :576], stacked[:, 576:]], axis=0))
    axes[4].set_title("stacked: 6 pages side by side (shown in 2 rows)", fontsize=9)
    axes[4].axis("off")
    fig.suptitle(
        "keypoints/heatmap: one pose (17 COCO keypoints; painter: Painter's sigma 3 / 1.5, "
        "the others sigma 2); + = decoded",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(OUT / "keypoints_layouts.png", dpi=90)
    plt.close(fig)


def error_table() -> list[tuple[str, str, np.ndarray]]:
    rng = np.random.default_rng(0)
    results = []
    for layout in ("grid", "palette", "stacked"):
        for refine in REFINES:
            c = rgbtask.get_codec(
                "keypoints/heatmap",
                size=(64, 80),
                num_keypoints=17,
                layout=layout,
                refine=refine,
                max_instances=1,
            )
            kp = spread_keypoints(rng, 200, 17, c.size)
            rgb = c.encode(kp)
            noisy = np.clip(rgb / 255 + rng.normal(0, 2 / 255, rgb.shape), 0, 1)
            jp = np.stack([jpeg(r) for r in rgb])
            for pert, img in (("lossless", rgb), ("JPEG q90", jp), ("noise 2/255", noisy)):
                err = np.linalg.norm(c.decode(img) - kp, axis=-1).ravel()
                results.append((f"{layout} / {refine}", pert, err, c.max_error_px))
    print("| layout / refine | input | found | mean px | p95 px | max px | bound px |")
    print("|---|---|---|---|---|---|---|")
    for name, pert, err, bound in results:
        ok = np.isfinite(err)
        e = err[ok]
        print(
            f"| {name} | {pert} | {ok.mean() * 100:.2f}% | {e.mean():.4f} | "
            f"{np.percentile(e, 95):.4f} | {e.max():.4f} | "
            + (f"{bound:.4f}" if pert == "lossless" else "-")
            + " |"
        )
    return results


def errors_figure(results) -> None:
    fig, axes = plt.subplots(1, len(REFINES), figsize=(13, 3.2))
    for ax, refine in zip(axes, REFINES):
        for name, pert, err, _ in results:
            if not name.startswith("grid") or not name.endswith(refine):
                continue
            e = err[np.isfinite(err)]
            ax.hist(e, bins=60, histtype="step", label=pert, density=True)
        bound = next(r[3] for r in results if r[0] == f"grid / {refine}")
        ax.axvline(bound, color="k", ls="--", lw=0.8, label=f"lossless bound {bound:.3f} px")
        ax.set_title(f"grid, refine={refine!r}", fontsize=9)
        ax.set_xlabel("error (px)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(OUT / "keypoints_errors.png", dpi=90)
    plt.close(fig)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    layouts_figure()
    errors_figure(error_table())


if __name__ == "__main__":
    main()
