"""keypoints/heatmap on real COCO person annotations (../shared/data/keypoints/coco; skipped when
absent): every annotated person round-tripped at its image's own size, lossless, JPEG q90 and
Gaussian noise of sigma 2/255; and seeded sub-pixel offsets against the lossless bound."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import rgbtask
from rgbtask.io import read_coco_keypoints
from rgbtask.metrics import keypoint_metrics

LAYOUTS = ("painter", "grid", "palette", "stacked")
#: The layouts that keep sub-pixel positions (painter rounds the centres to whole pixels, as
#: Painter does).
SUBPIXEL_LAYOUTS = ("grid", "palette", "stacked")


def jpeg(rgb: np.ndarray, quality: int = 90) -> np.ndarray:
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


def noisy(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.clip(rgb / 255.0 + rng.normal(0.0, 2.0 / 255.0, rgb.shape), 0.0, 1.0)


@pytest.fixture(scope="module")
def people(data_dir):
    path = data_dir / "keypoints" / "coco" / "test_coco.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    out = []
    for ann in read_coco_keypoints(path).values():
        for n in range(ann["keypoints"].shape[0]):
            bbox = ann["bbox"][n]
            out.append((ann["keypoints"][n], ann["size"], max(bbox[2], bbox[3]), ann))
    assert len(out) == 14
    return out


def person_rows(people, layout, offsets=None):
    """Per person: (reference, decoded lossless, decoded JPEG q90, decoded noisy, bbox size)."""
    rng = np.random.default_rng(0)
    rows = []
    for kp, size, box, _ in people:
        c = rgbtask.get_codec(
            "keypoints/heatmap", size=size, num_keypoints=17, layout=layout, max_instances=1
        )
        ref = kp[None] if offsets is None else kp[None] + offsets.uniform(-0.5, 0.5, kp.shape)
        rgb = c.encode(ref)
        rows.append((ref, c.decode(rgb), c.decode(jpeg(rgb)), c.decode(noisy(rgb, rng)), box, c))
    return rows


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_person_round_trips(people, layout):
    rows = person_rows(people, layout)
    ref = np.concatenate([r[0] for r in rows])
    box = np.array([r[4] for r in rows])
    table = {}
    for i, name in enumerate(("lossless", "jpeg q90", "noise 2/255"), start=1):
        dec = np.concatenate([r[i] for r in rows])
        table[name] = keypoint_metrics(dec, ref, bbox_size=box)
        print(layout, name, {k: round(v, 4) for k, v in table[name].items()})
    assert table["lossless"]["count"] == sum(np.isfinite(p[0][:, 0]).sum() for p in people)
    assert table["lossless"]["found"] == 100.0
    assert table["lossless"]["pck@0.05"] == 100.0
    assert table["noise 2/255"]["found"] == 100.0
    assert table["noise 2/255"]["pck@0.05"] == 100.0
    if layout == "painter":
        # Painter's decode: the argmax and a quarter-pixel step toward the larger neighbour, which
        # a neighbour taken by a nearby keypoint's blob (eyes beside the nose) or noise sets off
        assert table["lossless"]["max_px"] <= np.sqrt(2) * 0.25
        assert table["noise 2/255"]["max_px"] <= np.sqrt(2) * 0.25
    else:
        assert table["lossless"]["max_px"] <= 0.1  # whole-pixel COCO coordinates: exact here
        assert table["noise 2/255"]["mean_px"] <= 0.1
    assert table["jpeg q90"]["found"] >= 95.0
    assert table["jpeg q90"]["pck@0.05"] >= 95.0
    for ref_one, dec, *_rest, c in rows:
        assert np.all(c.roundtrip_error(ref_one, dec) <= c.roundtrip_bound(ref_one))


@pytest.mark.parametrize("layout", SUBPIXEL_LAYOUTS)
def test_subpixel_offsets_keep_the_lossless_bound(people, layout):
    """Seeded uniform +-0.5 px offsets: keypoints >= 6 px from the person's other keypoints and
    from the border keep mean <= 0.02 px and max <= 0.1 px."""
    rows = person_rows(people, layout, offsets=np.random.default_rng(42))
    errs = []
    for ref, dec, *_rest, c in rows:
        h, w = c.size
        pts = ref[0]
        d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        with np.errstate(invalid="ignore"):
            far = np.nanmin(np.where(np.isfinite(d), d, np.inf), axis=1) >= 6.0
            inside = (
                (pts[:, 0] >= 6) & (pts[:, 0] <= w - 7) & (pts[:, 1] >= 6) & (pts[:, 1] <= h - 7)
            )
        keep = far & inside & np.isfinite(pts[:, 0])
        errs.append(np.linalg.norm(dec[0, keep] - pts[keep], axis=-1))
        assert np.all(c.roundtrip_error(ref, dec) <= c.roundtrip_bound(ref))
    err = np.concatenate(errs)
    print(layout, "isolated keypoints", err.size, "mean", err.mean(), "max", err.max())
    assert err.size >= 100
    assert err.mean() <= 0.02
    assert err.max() <= 0.1


def test_all_people_in_one_image(people):
    """All of an image's people on one canvas, every layout: every keypoint found at its place
    (per id) and grouped into the right person (PCK@0.05 = 100 % after matching), the five
    overlapping people of 000000197388 included (57.9 % with single linkage alone)."""
    seen = set()
    for _, size, _, ann in people:
        if id(ann) in seen:
            continue
        seen.add(id(ann))
        kp = ann["keypoints"]
        for layout in LAYOUTS:
            c = rgbtask.get_codec("keypoints/heatmap", size=size, num_keypoints=17, layout=layout)
            decoded = c.decode(c.encode(kp))
            assert np.all(c.roundtrip_error(kp, decoded) <= c.roundtrip_bound(kp))
            assert np.isfinite(decoded[..., 0]).sum() == np.isfinite(kp[..., 0]).sum()
            metrics = c.metrics(kp, decoded)
            print(ann["image_id"], kp.shape[0], "people", layout, metrics)
            assert metrics["pck@0.05"] == 100.0  # grouped right, overlapping people included
            jpeg_pck = c.metrics(kp, c.decode(jpeg(c.encode(kp))))["pck@0.05"]
            print("  jpeg q90 pck@0.05", jpeg_pck)
            assert jpeg_pck >= 95.0
