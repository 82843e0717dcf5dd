"""mask/palette: per-pixel nearest colour vs the spatial context decoder, mIoU and time, same run.

The real label maps of ``../shared/data/semantic`` (ADE20K: 3 validation annotations and one
training ``_challenge`` map; VOC (labelme): 3 ``SegmentationClass`` maps), re-coloured with each
palette: label ``l`` -> ``l % K`` for a palette of K classes, VOC's void label 255 -> the
palette's void colour where it has one (``ignore=255``), else label 0. Perturbations: Gaussian
noise sigma 2/255 (float RGB), JPEG q90 4:4:4 and JPEG q90 4:2:0 (Pillow's default
subsampling). mIoU over the classes present in the reference or the prediction (void pixels of
the reference left out), averaged over the maps of each dataset. Time: median of 5 interleaved
runs of ``decode`` on all the maps of a cell (warm colour tables), context / pixel.

Run: cd benchmarks && PYTHONPATH=.. python bench_mask_context.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from _common import machine, print_table

import rgbtask
from rgbtask.fidelity.perturb import JPEG, Noise
from rgbtask.metrics import mask_metrics

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "semantic"
PALETTES = {
    "ade20k": {"palette": "ade20k"},
    "voc": {"palette": "voc"},
    "cityscapes": {"palette": "cityscapes"},
    "distinct 151": {"palette": "distinct", "num_classes": 151},
    "distinct 21": {"palette": "distinct", "num_classes": 21},
}
PERTURBATIONS = {
    "noise 2/255": Noise(2.0),
    "JPEG q90 4:4:4": JPEG(90, "4:4:4"),
    "JPEG q90 4:2:0": JPEG(90, "4:2:0"),
}


def label_maps() -> dict[str, list[np.ndarray]]:
    from PIL import Image

    ade = sorted((DATA / "ade20k" / "annotations").glob("*.png"))
    ade.append(DATA / "ade20k" / "full_format" / "ADE_train_00000970_challenge.png")
    voc = sorted((DATA / "voc_labelme" / "SegmentationClass").glob("*.png"))
    return {
        "ADE20K": [np.asarray(Image.open(p)) for p in ade],
        "VOC": [np.asarray(Image.open(p)) for p in voc],
    }


def recolour(labels: np.ndarray, codec) -> np.ndarray:
    void = labels == 255
    out = labels.astype(np.int64) % codec.levels
    out[void] = codec.ignore if codec.void_color is not None else 0
    return out


def median_ratio(pixel, context, rgbs, repeat: int = 5) -> tuple[float, float, float]:
    """Median, min and max over ``repeat`` interleaved runs of (context time / pixel time)."""
    ratios = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for x in rgbs:
            pixel.decode(x)
        t1 = time.perf_counter()
        for x in rgbs:
            context.decode(x)
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
    return float(np.median(ratios)), min(ratios), max(ratios)


def main() -> None:
    maps = label_maps()
    rows = []
    for pname, config in PALETTES.items():
        context = rgbtask.get_codec("mask/palette", **config)
        pixel = rgbtask.get_codec("mask/palette", **config, decoder="pixel")
        for dname, images in maps.items():
            refs = [recolour(m, context) for m in images]
            for qname, perturb in PERTURBATIONS.items():
                rgbs = [
                    perturb(context.encode(r), np.random.default_rng(i)) for i, r in enumerate(refs)
                ]
                scores = {}
                for cname, codec in (("pixel", pixel), ("context", context)):
                    scores[cname] = np.mean(
                        [
                            mask_metrics(codec.decode(x), r, ignore=255)["miou"]
                            for x, r in zip(rgbs, refs)
                        ]
                    )
                med, lo, hi = median_ratio(pixel, context, rgbs)
                rows.append(
                    [pname, dname, qname, f"{scores['pixel']:.1f}", f"{scores['context']:.1f}",
                     f"{med:.2f} [{lo:.2f}, {hi:.2f}]"]
                )  # fmt: skip
    print_table(
        f"mask/palette mIoU (%): decoder='pixel' vs decoder='context' ({machine()})",
        rows,
        ["palette", "maps", "perturbation", "pixel", "context", "time context / pixel"],
    )


if __name__ == "__main__":
    main()
