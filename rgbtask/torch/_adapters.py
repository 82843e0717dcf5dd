"""Everything rgbtask.torch reads of a codec beyond ``get_config`` / ``encode`` / ``decode``: one
small function per codec family, so that a refactor of the codec internals re-points them here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rgbtask.codec import Codec, Decoded


def _normals_parts(codec: Codec) -> tuple[tuple[float, float, float], float, float]:
    """``(signs to the OpenGL frame, code scale 2^bits - 1, max norm deviation)``."""
    from rgbtask.codecs.normals import MAX_NORM_DEVIATION

    signs = tuple(float(s) for s in np.asarray(codec.signs, dtype=np.float64))
    return signs, float(codec.scale), float(MAX_NORM_DEVIATION)  # type: ignore[return-value]


def _depth_parts(codec: Codec) -> dict[str, Any]:
    """The curve (vertices, knots, kind, threshold, codes) and the transform (kernel params,
    decoded range) of a depth codec."""
    from rgbtask.core.depth import KIND_NORMALIZED

    curve = codec.curve_obj()  # type: ignore[attr-defined]
    tr = codec.transform_obj  # type: ignore[attr-defined]
    return {
        "kind": curve.kind,
        "vertices": np.asarray(curve.vertices, dtype=np.float64),
        "knots": np.asarray(curve.knots, dtype=np.float64),
        "uniform": bool(curve.uniform),
        "levels": int(curve.levels),
        "threshold": float(curve.threshold),
        "codes": np.asarray(curve.codes, dtype=np.uint8),
        "params": tuple(float(v) for v in tr.params),
        "range": tuple(float(v) for v in tr.decoded_range),
        "power": tr.name == "power",
        "reserved": tuple(int(v) for v in curve.reserved),
        "zero_ok": bool(tr.zero_ok),
        "per_image": bool(tr.per_image),  # normalised per image (affine) before the level
        "affine": tr.name == "affine",  # the per-image normalisation torch does on the device
        "identity": tr.kind == KIND_NORMALIZED,  # f = d: no libm in the level formula
    }


def _palette_parts(codec: Codec) -> dict[str, Any]:
    """Palette colours (K, 3) uint8, colour space, rejection distance, ignore label, label dtype
    of a nearest-colour mask codec (``mask/palette``, ``mask/instance``)."""
    reject = getattr(codec, "reject_distance", None)
    return {
        "colors": np.asarray(codec.palette_colors, dtype=np.uint8),  # type: ignore[attr-defined]
        "space": str(codec.space),  # type: ignore[attr-defined]
        "reject": math.inf if reject is None else float(reject),
        "ignore": int(getattr(codec, "ignore", 0)),
        "label_dtype": np.dtype(getattr(codec, "label_dtype", np.int32)),
        "pixelwise": bool(codec.pixelwise),
    }


def _binary_parts(codec: Codec) -> tuple[tuple[float, ...], tuple[float, ...], float, float]:
    """``(background, foreground - background, 1 / |fg - bg|^2, threshold)`` in 8-bit units."""
    bg = np.asarray(codec.background, dtype=np.float64)  # type: ignore[attr-defined]
    direction = np.asarray(codec.foreground, dtype=np.float64) - bg  # type: ignore[attr-defined]
    return (
        tuple(bg.tolist()),
        tuple(direction.tolist()),
        1.0 / float(direction @ direction),
        float(codec.threshold),  # type: ignore[attr-defined]
    )


def _keypoint_drawable(codec: Codec, keypoints: np.ndarray, visible: Any):
    """``(lead shape, (B, N, K, 2) float64)``: the keypoints ``encode`` draws (NaN: invisible,
    absent or off the canvas), validated as the codec's ``encode`` validates them."""
    kp = codec.with_visibility(keypoints, visible)  # type: ignore[attr-defined]
    kp = codec._drawable(kp)  # type: ignore[attr-defined]
    lead = kp.shape[:-3]
    return lead, kp.reshape((math.prod(lead),) + kp.shape[-3:])


def _keypoint_parts(codec: Codec) -> dict[str, Any]:
    """Canvas size, ids, layout and its id colours (K, 3) of ``keypoints/heatmap``."""
    from rgbtask.codecs.keypoints import _colors

    k = int(codec.num_keypoints)  # type: ignore[attr-defined]
    return {
        "size": tuple(codec.size),  # type: ignore[attr-defined]
        "k": k,
        "layout": str(codec.layout),  # type: ignore[attr-defined]
        "colors": np.asarray(_colors(codec.layout, k), dtype=np.float64),  # type: ignore[attr-defined]
        "pages": int(codec.pages),  # type: ignore[attr-defined]
        "sigma": float(codec.blob_sigma),  # type: ignore[attr-defined]
        "radius": float(codec.radius),  # type: ignore[attr-defined]
        "image_shape": tuple(codec.image_shape),  # type: ignore[attr-defined]
        "threshold": float(codec.threshold),  # type: ignore[attr-defined]
        "refine": str(codec.refine_method),  # type: ignore[attr-defined]
        "max_instances": int(codec.max_instances),  # type: ignore[attr-defined]
        "nms_radius": float(codec.nms_radius),  # type: ignore[attr-defined]
    }


def _keypoint_finish(codec: Codec, cand: np.ndarray, count: np.ndarray, lead: tuple) -> Decoded:
    """The codec's decode from its peak candidates ``(B, cap, 4)`` = ``(id, x, y, value)``
    (``count`` per image): grouping into instances and scores, on the host (candidates are few)."""
    from rgbtask.codecs.keypoints import assemble, strongest

    k, m = int(codec.num_keypoints), int(codec.max_instances)  # type: ignore[attr-defined]
    n_img = cand.shape[0]
    clean_peak = math.exp(-1.0 / (4.0 * float(codec.blob_sigma) ** 2))  # type: ignore[attr-defined]
    if m == 1:
        value, peak = strongest(cand, count, k)
    else:
        value = np.full((n_img, m, k, 2), np.nan)
        peak = np.zeros((n_img, m, k))
        for b in range(n_img):
            value[b], peak[b] = assemble(cand[b, : count[b]], k, m, codec.nms_radius)  # type: ignore[attr-defined]
    score = np.clip(peak / clean_peak, 0.0, 1.0)
    valid = np.all(np.isfinite(value), axis=-1)
    score = np.where(valid, score, 0.0).astype(np.float32)
    shape = tuple(lead) + (m, k)
    return Decoded(value.reshape(shape + (2,)), score.reshape(shape), valid.reshape(shape))
