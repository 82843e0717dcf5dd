"""Task metrics: the functions the codecs' ``metrics`` hooks call, and reports use.

No task dispatch lives here: each codec declares its task's metrics (``Codec.metrics``) and its
headline metric (``Codec.primary_metric``). Plain NumPy, no Numba: these run on results, not in
hot loops.
"""

from __future__ import annotations

import numpy as np

from rgbtask.errors import ConfigError, InputError

__all__ = [
    "align_scale_shift",
    "angular_error_deg",
    "confusion_matrix",
    "default_metrics",
    "depth_metrics",
    "instance_matching",
    "instance_metrics",
    "keypoint_box_size",
    "keypoint_metrics",
    "keypoint_position_bound",
    "mask_metrics",
    "normal_metrics",
    "panoptic_quality",
    "primary_metric",
    "roundtrip_metrics",
]


def _unit_scaled(v) -> np.ndarray:
    """``v`` (last axis 3) divided per row by its largest absolute component, as float64; rows
    whose largest component is 0 or not finite are left as they are."""
    v = np.asarray(v, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        scale = np.max(np.abs(v), axis=-1, keepdims=True)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return v / scale


def angular_error_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between vectors ``a`` and ``b`` (last axis 3), via atan2(|a x b|, a . b).

    atan2 keeps full precision at small angles, where arccos of a dot product does not. Rows with a
    NaN give NaN. Each vector is first divided by its largest absolute component, so that the
    result depends on the directions only: components up to the largest finite float neither
    overflow the cross product nor underflow it (subnormals).
    """
    a = _unit_scaled(a)
    b = _unit_scaled(b)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    return np.degrees(np.arctan2(cross, dot))


def normal_metrics(pred: np.ndarray, target: np.ndarray, valid: np.ndarray | None = None) -> dict:
    """Standard surface-normal metrics over the pixels where both are finite (and ``valid``).

    Returns mean / median / RMSE of the angular error in degrees and the percentage of pixels
    within 11.25, 22.5 and 30 degrees (the thresholds of Fouhey et al. 2013 used since).
    """
    err = angular_error_deg(pred, target)
    mask = np.isfinite(err)
    if valid is not None:
        mask &= np.asarray(valid, dtype=bool)
    e = err[mask]
    if e.size == 0:
        nan = float("nan")
        return {
            "mean": nan,
            "median": nan,
            "rmse": nan,
            "within_11.25": nan,
            "within_22.5": nan,
            "within_30": nan,
            "count": 0,
        }
    return {
        "mean": float(e.mean()),
        "median": float(np.median(e)),
        "rmse": float(np.sqrt(np.mean(e * e))),
        "within_11.25": float(np.mean(e < 11.25) * 100),
        "within_22.5": float(np.mean(e < 22.5) * 100),
        "within_30": float(np.mean(e < 30.0) * 100),
        "count": int(e.size),
    }


# ---------------------------------------------------------------- depth


#: ``align_scale_shift(space=...)`` values: where the least-squares fit is made.
SPACES = ("depth", "disparity")


def align_scale_shift(
    pred: np.ndarray,
    target: np.ndarray,
    valid: np.ndarray | None = None,
    space: str = "depth",
    *,
    shift: bool = True,
):
    """Least-squares scale and shift of an affine-invariant prediction onto metric depth.

    Per image (last two axes), ``scale, shift = argmin sum (scale * pred + shift - y)^2`` over the
    pixels where ``pred`` is finite, ``target`` is valid (finite, > 0) and ``valid`` (if given)
    is true, with ``y`` the target depth (``space="depth"``: Marigold's evaluation,
    ``src/util/alignment.py`` ``align_depth_least_square``) or the target disparity ``1 / depth``
    (``space="disparity"``: MiDaS's evaluation, Ranftl et al. 2020, ``compute_scale_and_shift``;
    ``pred`` is then a relative disparity). ``shift=False`` fits the scale alone
    (``scale = sum(pred y) / sum(pred^2)``, shift 0).

    Parameters
    ----------
    pred, target : array (..., H, W)
        Relative prediction (depth or disparity, e.g. a decoded ``transform="quantile"`` image)
        and metric ground truth of the same shape.
    valid : bool array (..., H, W), optional
        Pixels to fit on (besides the finite/positive rules), e.g. a dataset's eval mask.
    space : {"depth", "disparity"}
        Where the fit is made.

    Returns
    -------
    aligned : float64 array (..., H, W)
        Metric depth of every pixel: ``scale * pred + shift``, or in disparity space
        ``1 / (scale * pred + shift)`` (NaN where that disparity is <= 0). Non-positive aligned
        depth is left as it is (``depth_metrics`` counts it invalid); clip to a dataset's range
        yourself if its protocol does (Marigold clips to ``[min_depth, max_depth]``).
    scale, shift : float, or float64 arrays (...) for a batch
        In the fit's space (1/m per unit of ``pred`` for disparity). The centred normal equations
        solve the fit in float64; a constant prediction gets scale 0 and shift = the mean target;
        an image without a pixel to fit gets NaN.
    """
    if space not in SPACES:
        raise ConfigError(f"expected space 'depth' or 'disparity', got {space!r}")
    disparity = space == "disparity"
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim < 2:
        raise InputError(
            f"expected pred and target of the same shape (..., H, W), got {pred.shape} and "
            f"{target.shape}"
        )
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(pred) & np.isfinite(target) & (target > 0)
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape != pred.shape or valid.dtype != np.bool_:
            raise InputError(
                f"expected valid a bool array of shape {pred.shape}, got {valid.dtype} "
                f"{valid.shape}"
            )
        ok &= valid
    with np.errstate(divide="ignore", invalid="ignore"):
        y = 1.0 / target if disparity else target
    lead = pred.shape[:-2]
    okf = ok.reshape(lead + (-1,))
    p = np.where(okf, pred.reshape(okf.shape), 0.0)
    t = np.where(okf, y.reshape(okf.shape), 0.0)
    n = okf.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if shift:
            mp = p.sum(axis=-1) / n
            mt = t.sum(axis=-1) / n
            dp = np.where(okf, p - mp[..., None], 0.0)
            dt = np.where(okf, t - mt[..., None], 0.0)
            var = (dp * dp).sum(axis=-1)
            scale = np.where(var > 0, (dp * dt).sum(axis=-1) / var, 0.0)
            offset = mt - scale * mp
        else:
            pp = (p * p).sum(axis=-1)
            scale = np.where(pp > 0, (p * t).sum(axis=-1) / pp, 0.0)
            offset = np.zeros_like(scale)
    scale = np.where(n > 0, scale, np.nan)
    offset = np.where(n > 0, offset, np.nan)
    fit = pred * scale[..., None, None] + offset[..., None, None]
    if disparity:
        with np.errstate(divide="ignore", invalid="ignore"):
            fit = np.where(fit > 0, 1.0 / fit, np.nan)
    if scale.ndim == 0:
        return fit, float(scale), float(offset)
    return fit, scale, offset


#: ``depth_metrics(align=...)`` values.
ALIGNMENTS = ("scale_shift", "scale", None)


def depth_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    align: str | None = None,
    space: str = "depth",
    valid: np.ndarray | None = None,
) -> dict:
    """The standard monocular-depth metrics (Eigen et al. 2014) over pixels valid in both.

    A depth is valid when finite and > 0. Returns AbsRel, SqRel, RMSE (metres), log RMSE,
    delta < 1.25^k for k = 1, 2, 3 (percent), and ``invalid_flips``: the percentage of pixels whose
    validity differs between ``pred`` and ``target`` (a valid pixel lost, or an invalid one decoded
    as a plausible depth).

    ``valid`` (bool, same shape; e.g. a dataset's eval mask) restricts everything, the
    alignment's fit included, to its pixels. ``align="scale_shift"`` (or ``"scale"``) first aligns
    an affine-invariant ``pred`` to ``target`` per image by least squares in ``space``
    (:func:`align_scale_shift`), as Marigold's (depth space) and MiDaS's (disparity space)
    evaluations do; the metrics are then of the aligned metric depth.
    """
    if align not in ALIGNMENTS:
        raise ConfigError(f"expected align in {list(ALIGNMENTS)}, got {align!r}")
    if space not in SPACES:
        raise ConfigError(f"expected space 'depth' or 'disparity', got {space!r}")
    if align is None and space == "disparity":
        raise ConfigError(
            f"expected space only with align='scale_shift' or 'scale' (it is the fit's space), "
            f"got space={space!r} with align=None"
        )
    if align is not None:
        pred, _, _ = align_scale_shift(
            pred, target, valid, space=space, shift=align == "scale_shift"
        )
    if valid is not None:
        valid = np.asarray(valid)
        if valid.shape != np.shape(pred) or valid.dtype != np.bool_:
            raise InputError(
                f"expected valid a bool array of shape {np.shape(pred)}, got {valid.dtype} "
                f"{valid.shape}"
            )
        pred, target = np.asarray(pred)[valid], np.asarray(target)[valid]
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        pv = np.isfinite(pred) & (pred > 0)
        tv = np.isfinite(target) & (target > 0)
    both = pv & tv
    flips = float(np.mean(pv != tv) * 100) if pv.size else float("nan")
    p, t = pred[both], target[both]
    if p.size == 0:
        nan = float("nan")
        return {
            "abs_rel": nan,
            "sq_rel": nan,
            "rmse": nan,
            "log_rmse": nan,
            "delta1": nan,
            "delta2": nan,
            "delta3": nan,
            "invalid_flips": flips,
            "count": 0,
        }
    ratio = np.maximum(p / t, t / p)
    return {
        "abs_rel": float(np.mean(np.abs(p - t) / t)),
        "sq_rel": float(np.mean((p - t) ** 2 / t)),
        "rmse": float(np.sqrt(np.mean((p - t) ** 2))),
        "log_rmse": float(np.sqrt(np.mean((np.log(p) - np.log(t)) ** 2))),
        "delta1": float(np.mean(ratio < 1.25) * 100),
        "delta2": float(np.mean(ratio < 1.25**2) * 100),
        "delta3": float(np.mean(ratio < 1.25**3) * 100),
        "invalid_flips": flips,
        "count": int(p.size),
    }


# ---------------------------------------------------------------- masks


def confusion_matrix(
    pred: np.ndarray, target: np.ndarray, num_classes: int, ignore: int | None = 255
) -> np.ndarray:
    """``C[t, p]``: pixels of target class t predicted as p, over target pixels not ``ignore``.

    Predicted labels outside ``[0, num_classes)`` (e.g. the ignore label a decoder gives a rejected
    pixel) count in an extra last column: always wrong.
    """
    pred = np.asarray(pred).ravel().astype(np.int64)
    target = np.asarray(target).ravel().astype(np.int64)
    keep = (target >= 0) & (target < num_classes)
    if ignore is not None:
        keep &= target != ignore
    p = np.where((pred >= 0) & (pred < num_classes), pred, num_classes)[keep]
    t = target[keep]
    counts = np.bincount(t * (num_classes + 1) + p, minlength=num_classes * (num_classes + 1))
    return counts.reshape(num_classes, num_classes + 1)


def mask_metrics(
    pred: np.ndarray, target: np.ndarray, num_classes: int | None = None, ignore: int | None = 255
) -> dict:
    """Pixel accuracy, mean IoU and per-class IoU of a semantic label map.

    Target pixels equal to ``ignore`` are left out. mIoU averages the classes present in the target
    or the prediction. ``per_class_iou`` maps class id -> IoU for those classes.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if num_classes is None:
        valid_t = target[target != ignore] if ignore is not None else target
        num_classes = int(max(valid_t.max(initial=0), pred[pred != ignore].max(initial=0))) + 1
    cm = confusion_matrix(pred, target, num_classes, ignore)
    total = cm.sum()
    tp = np.diag(cm[:, :num_classes]).astype(np.float64)
    fn = cm.sum(axis=1) - tp
    fp = cm[:, :num_classes].sum(axis=0) - tp
    union = tp + fp + fn
    present = union > 0
    iou = np.where(present, tp / np.maximum(union, 1), np.nan)
    return {
        "pixel_acc": float(tp.sum() / total * 100) if total else float("nan"),
        "miou": float(np.nanmean(iou) * 100) if present.any() else float("nan"),
        "per_class_iou": {int(c): float(iou[c] * 100) for c in np.flatnonzero(present)},
        "count": int(total),
    }


def instance_matching(pred: np.ndarray, target: np.ndarray, iou_threshold: float = 0.5) -> dict:
    """Match predicted to target instances (ids > 0; 0 is background) one-to-one by IoU.

    Ids need not agree between the two maps. A pair matches when its IoU exceeds ``iou_threshold``
    (above 0.5 a match is unique, as in COCO panoptic quality). Returns the counts, precision and
    recall in percent, and the mean IoU of the matched pairs.
    """
    pred = np.asarray(pred).ravel().astype(np.int64)
    target = np.asarray(target).ravel().astype(np.int64)
    p_ids, p_inv = np.unique(pred, return_inverse=True)
    t_ids, t_inv = np.unique(target, return_inverse=True)
    joint = np.bincount(t_inv * p_ids.size + p_inv, minlength=t_ids.size * p_ids.size)
    joint = joint.reshape(t_ids.size, p_ids.size).astype(np.float64)
    t_area, p_area = joint.sum(axis=1), joint.sum(axis=0)
    iou = joint / (t_area[:, None] + p_area[None, :] - joint)
    iou = iou[t_ids > 0][:, p_ids > 0]
    n_t, n_p = int(np.sum(t_ids > 0)), int(np.sum(p_ids > 0))
    matched = iou > iou_threshold
    if iou_threshold < 0.5 and matched.any():
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(-iou)
        good = iou[rows, cols] > iou_threshold
        ious = iou[rows[good], cols[good]]
    else:
        ious = iou[matched]
    m = int(ious.size)
    return {
        "matched": m,
        "target_instances": n_t,
        "pred_instances": n_p,
        "precision": float(m / n_p * 100) if n_p else float("nan"),
        "recall": float(m / n_t * 100) if n_t else float("nan"),
        "mean_iou": float(ious.mean() * 100) if m else float("nan"),
    }


# ---------------------------------------------------------------- keypoints


def keypoint_metrics(
    pred: np.ndarray,
    target: np.ndarray,
    visible: np.ndarray | None = None,
    bbox_size: np.ndarray | float | None = None,
    alpha: float = 0.05,
) -> dict:
    """Mean pixel error and PCK of keypoints ``(..., N, K, 2)``.

    Only target keypoints that are ``visible`` (default: finite) count. A keypoint the decoder did
    not find (NaN) counts as a PCK miss and in ``found`` but not in the mean error. PCK uses the
    threshold ``alpha * bbox_size`` per instance (``bbox_size``: ``(..., N)`` or a scalar, e.g. the
    larger side of the person's box); without it, PCK is left out.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    vis = np.all(np.isfinite(target), axis=-1)
    if visible is not None:
        vis &= np.asarray(visible, dtype=bool)
    err = np.linalg.norm(pred - target, axis=-1)
    found = vis & np.isfinite(err)
    out = {
        "mean_px": float(err[found].mean()) if found.any() else float("nan"),
        "p95_px": float(np.percentile(err[found], 95)) if found.any() else float("nan"),
        "max_px": float(err[found].max()) if found.any() else float("nan"),
        "found": float(found.sum() / vis.sum() * 100) if vis.any() else float("nan"),
        "count": int(vis.sum()),
    }
    if bbox_size is not None:
        thr = alpha * np.asarray(bbox_size, dtype=np.float64)[..., None]
        hit = found & (np.where(np.isfinite(err), err, np.inf) <= thr)
        out[f"pck@{alpha:g}"] = float(hit.sum() / vis.sum() * 100) if vis.any() else float("nan")
    return out


def keypoint_box_size(target: np.ndarray) -> np.ndarray:
    """The larger side of each instance's keypoint extent, ``(..., N)`` (0 with no keypoint): the
    ``bbox_size`` of :func:`keypoint_metrics` when no boxes are given."""
    finite = np.all(np.isfinite(target), axis=-1, keepdims=True)
    lo = np.min(np.where(finite, target, np.inf), axis=-2)
    hi = np.max(np.where(finite, target, -np.inf), axis=-2)
    span = np.max(hi - lo, axis=-1)
    return np.where(np.isfinite(span), span, 0.0)


def keypoint_position_bound(
    keypoints: np.ndarray, sigma: float, noise: float, size: tuple[int, int]
) -> np.ndarray:
    """The Cramer-Rao bound on the position error (px) of each keypoint ``(..., 2)`` (x, y)
    refined from its heatmap blob ``A exp(-d^2 / (2 sigma^2))`` (amplitude ``A`` free) sampled
    at the pixel centres of an ``(h, w)`` canvas (pixels off the canvas carry nothing) under
    white noise of standard deviation ``noise`` (heatmap units, e.g. ``2 / 255``; add the 8-bit
    rounding as ``hypot(noise, 1 / 255 / sqrt(12))``): ``sqrt(trace)`` of the position block of
    ``noise^2 (J^T J)^-1``, ``J`` the blob's derivatives over a window of ``ceil(4 sigma) + 1``
    pixels each side of the rounded centre. No unbiased refinement has a smaller root-mean-square
    error (for non-Gaussian noise of that variance: none linear in the pixels). Shape ``(...)``."""
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.ndim < 1 or kp.shape[-1] != 2 or not np.all(np.isfinite(kp)):
        raise InputError(f"expected finite keypoints of shape (..., 2), got shape {kp.shape}")
    if not (np.isfinite(sigma) and sigma > 0 and np.isfinite(noise) and noise >= 0):
        raise ConfigError(f"expected sigma > 0 and noise >= 0, got sigma={sigma}, noise={noise}")
    h, w = size
    half = int(np.ceil(4.0 * sigma)) + 1
    off = np.arange(-half, half + 1)
    x, y = kp[..., 0].reshape(-1), kp[..., 1].reshape(-1)
    rows = np.round(y)[:, None, None] + off[None, :, None]
    cols = np.round(x)[:, None, None] + off[None, None, :]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    dx, dy = cols - x[:, None, None], rows - y[:, None, None]
    g = np.where(inside, np.exp(-(dx * dx + dy * dy) / (2.0 * sigma * sigma)), 0.0)
    jac = np.stack([g, g * dx / sigma**2, g * dy / sigma**2])
    cov = np.linalg.inv(np.einsum("anhw,bnhw->nab", jac, jac)) * noise**2
    return np.sqrt(cov[:, 1, 1] + cov[:, 2, 2]).reshape(kp.shape[:-1])


# ---------------------------------------------------------------- per codec


def panoptic_quality(pred: np.ndarray, target: np.ndarray, void: int | None = 0) -> dict:
    """Class-agnostic panoptic quality of segment id maps ``(..., H, W)`` (Kirillov et al. 2019,
    "Panoptic Segmentation", CVPR; counting as panopticapi's ``pq_compute``).

    Every id other than ``void`` is a segment (ids need not agree between the maps; ``void=None``:
    every id, 0 included, is a segment, for maps whose 0 is a background to be scored). Per image, a
    predicted and a target segment match when their IoU exceeds 0.5 (then the match is unique),
    the union leaving out predicted pixels that are void in the target. Unmatched target segments
    are false negatives; unmatched predicted segments are false positives unless more than half of
    their pixels are void in the target. Leading axes are images; the counts are summed over them:
    ``SQ = sum of matched IoUs / TP``, ``RQ = TP / (TP + FP / 2 + FN / 2)``, ``PQ = SQ * RQ``.
    Returns ``pq``, ``sq``, ``rq`` in percent (NaN when there is no segment at all; ``sq`` NaN
    when nothing matched) and the counts ``tp``, ``fp``, ``fn``.
    """
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape or pred.ndim < 2:
        raise ValueError(
            f"expected two id maps of one shape (..., H, W), got {pred.shape} and {target.shape}"
        )
    h, w = pred.shape[-2:]
    tp = fp = fn = 0
    iou_sum = 0.0
    for p_img, t_img in zip(pred.reshape(-1, h, w), target.reshape(-1, h, w)):
        p = p_img.ravel().astype(np.int64)
        t = t_img.ravel().astype(np.int64)
        p_ids, p_inv = np.unique(p, return_inverse=True)
        t_ids, t_inv = np.unique(t, return_inverse=True)
        joint = np.bincount(t_inv * p_ids.size + p_inv, minlength=t_ids.size * p_ids.size)
        joint = joint.reshape(t_ids.size, p_ids.size).astype(np.float64)
        p_area, t_area = joint.sum(axis=0), joint.sum(axis=1)
        t_void = t_ids == void if void is not None else np.zeros(t_ids.size, dtype=bool)
        p_on_void = joint[t_void].sum(axis=0) if t_void.any() else np.zeros(p_ids.size)
        t_seg = ~t_void
        p_seg = p_ids != void if void is not None else np.ones(p_ids.size, dtype=bool)
        inter = joint[t_seg][:, p_seg]
        union = t_area[t_seg][:, None] + (p_area - p_on_void)[p_seg][None, :] - inter
        iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        matched = iou > 0.5
        m_t, m_p = matched.any(axis=1), matched.any(axis=0)
        tp += int(matched.sum())
        iou_sum += float(iou[matched].sum())
        fn += int((~m_t).sum())
        p_void_share = p_on_void[p_seg] / np.maximum(p_area[p_seg], 1)
        fp += int((~m_p & ~(p_void_share > 0.5)).sum())
    den = tp + 0.5 * fp + 0.5 * fn
    rq = tp / den if den else float("nan")
    sq = iou_sum / tp if tp else float("nan")
    pq = sq * rq if tp else (0.0 if den else float("nan"))
    return {
        "pq": float(pq * 100),
        "sq": float(sq * 100),
        "rq": float(rq * 100),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def instance_metrics(pred: np.ndarray, target: np.ndarray) -> dict:
    """:func:`instance_matching` of two id maps plus ``pixel_acc``, the percentage of pixels whose
    id agrees (the metrics of instance and panoptic id maps)."""
    out = instance_matching(pred, target)
    out["pixel_acc"] = float(np.mean(np.asarray(pred) == np.asarray(target)) * 100)
    return out


def roundtrip_metrics(codec, reference: np.ndarray, decoded: np.ndarray) -> dict:
    """Statistics of ``codec.roundtrip_error``: mean and max of the finite errors, and the
    percentage of items whose validity flipped (the default of :meth:`rgbtask.Codec.metrics`)."""
    err = np.asarray(codec.roundtrip_error(reference, decoded), dtype=np.float64)
    finite = err[np.isfinite(err)]
    return {
        "mean_error": float(finite.mean()) if finite.size else float("nan"),
        "max_error": float(finite.max()) if finite.size else float("nan"),
        "invalid_flips": float(np.mean(~np.isfinite(err)) * 100),
    }


def primary_metric(codec) -> tuple[str, bool]:
    """``(metric name, lower is better)`` of a codec (or codec class): its ``primary_metric``."""
    return tuple(getattr(codec, "primary_metric", ("mean_error", True)))


def default_metrics(codec, reference: np.ndarray, decoded: np.ndarray) -> dict:
    """The standard metrics of ``codec``'s task: ``codec.metrics(reference, decoded)``."""
    return codec.metrics(reference, decoded)


# ---------------------------------------------------------------- optical flow

__all__ += ["flow_metrics"]


def flow_metrics(pred: np.ndarray, target: np.ndarray) -> dict:
    """The standard optical-flow metrics over the pixels where ``target`` is known.

    ``pred`` and ``target`` are ``(..., H, W, 2)`` ``(u, v)`` in pixels; a vector is unknown when a
    component is NaN, infinite or above 1e9 (Middlebury's unknown marker). Returns:

    * ``epe``: mean end-point error ``|pred - target|`` over pixels known in both (pixels);
    * ``px1``, ``px3``, ``px5``: percentage of known target pixels with EPE < 1, 3, 5 px;
    * ``fl_all``: KITTI 2015's Fl-all, the percentage of known target pixels that are outliers,
      EPE > 3 px **and** EPE > 5 % of the true magnitude (Menze & Geiger, CVPR 2015; the KITTI
      devkit's ``ABS_THRESH = 3``, ``REL_THRESH = 0.05``);
    * ``missing``: percentage of known target pixels that ``pred`` leaves unknown: they count as
      outliers in ``fl_all`` and as over every threshold in ``px*`` (a dense method must not
      gain by abstaining), and are left out of ``epe``;
    * ``count``: the known target pixels.
    """
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim < 1 or pred.shape[-1] != 2:
        raise ValueError(
            f"expected pred and target of one shape (..., H, W, 2), got {pred.shape} and "
            f"{target.shape}"
        )

    def known(f):
        with np.errstate(invalid="ignore"):
            return np.all(np.isfinite(f) & (np.abs(f) <= 1e9), axis=-1)

    tv = known(target)
    pv = known(pred) & tv
    n = int(np.sum(tv))
    if n == 0:
        nan = float("nan")
        return {
            "epe": nan,
            "px1": nan,
            "px3": nan,
            "px5": nan,
            "fl_all": nan,
            "missing": nan,
            "count": 0,
        }
    epe = np.sqrt(np.sum((pred[pv] - target[pv]) ** 2, axis=-1))
    mag = np.sqrt(np.sum(target[pv] ** 2, axis=-1))
    outliers = np.sum((epe > 3.0) & (epe > 0.05 * mag)) + (n - epe.size)
    return {
        "epe": float(np.mean(epe)) if epe.size else float("nan"),
        "px1": float(np.sum(epe < 1.0) / n * 100),
        "px3": float(np.sum(epe < 3.0) / n * 100),
        "px5": float(np.sum(epe < 5.0) / n * 100),
        "fl_all": float(outliers / n * 100),
        "missing": float((n - epe.size) / n * 100),
        "count": n,
    }
