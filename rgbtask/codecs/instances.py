"""Instance clustering: the instances of a *generated* image whose colours are not known.

:meth:`rgbtask.codecs.masks.MaskInstance.decode_instances` calls :func:`decode_instances` with the
codec's colour space, ``min_size`` and cluster distance. Algorithm (per image):

1. Colours are converted to ``space``; pixels nearer than ``background_distance`` (default
   ``cluster_distance``) to black are background.
2. Clustering: the other pixels' colours are binned (bin side ``cluster_distance / 2``); bins of at
   least ``min_size`` pixels, in decreasing count, become cluster centres when farther than
   ``cluster_distance`` from every centre so far; every pixel joins its nearest centre and each
   centre moves to the mean of its pixels within ``cluster_distance`` (two k-means steps; farther
   pixels join their nearest centre without moving it).
3. Each cluster is split into 8-connected components (``scipy.ndimage.label``); components under
   ``min_size`` pixels are dropped (id 0, invalid). With ``components=False`` a cluster is one
   instance however many regions it has (for images that never reuse a colour, such as
   ``mask/instance`` with ``colors="random"``), dropped when under ``min_size`` pixels. Instances
   are numbered in raster order of their first pixel.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from rgbtask.codec import check_rgb, describe_array, rgb_scale
from rgbtask.colorspace import convert
from rgbtask.errors import InputError

__all__ = ["Instances", "decode_instances"]


class Instances(NamedTuple):
    """What :func:`decode_instances` returns for one image.

    Attributes
    ----------
    ids : (H, W) int32
        0 = background (and dropped specks), 1..N the instances in raster order of their first pixel.
    colors : (N, 3) uint8
        Each instance's mean colour (row k - 1 for id k).
    scores : (N,) float32
        Each instance's mean pixel confidence, in [0, 1].
    confidence : (H, W) float32
        Per pixel: margin between the nearest and second-nearest colour cluster (0 where invalid).
    valid : (H, W) bool
        False on dropped specks (pixels whose component was smaller than ``min_size``).
    """

    ids: np.ndarray
    colors: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray


def decode_instances(
    rgb: Any,
    space: str,
    min_size: int,
    cluster_distance: float,
    background_distance: float | None = None,
    components: bool = True,
) -> Instances:
    """Instances of one generated image ``(H, W, 3)`` (the module docstring's algorithm).

    Parameters
    ----------
    rgb : array (H, W, 3)
        uint8, uint16 or float RGB.
    space : {"rgb", "lab", "oklab"}
        Colour space of the clustering distances.
    min_size : int
        Components with fewer pixels are dropped (id 0, invalid); bins with fewer pixels seed no
        cluster.
    cluster_distance : float
        Colours closer than this (in ``space`` units) belong to one cluster.
    background_distance : float, optional
        Pixels nearer than this to black are background (default ``cluster_distance``).
    components : bool
        True: each cluster is split into 8-connected components; False: a cluster is one instance.
    """
    from scipy import ndimage

    rgb = check_rgb(rgb)
    if rgb.ndim != 3:
        raise InputError(f"expected one RGB image (H, W, 3), got {describe_array(rgb)}")
    h, w = rgb.shape[:2]
    coords = convert(rgb, space).reshape(-1, 3)
    radius = float(cluster_distance)
    bg_radius = radius if background_distance is None else float(background_distance)
    black = convert(np.zeros((1, 3), np.uint8), space)[0]
    is_bg = ((coords - black) ** 2).sum(-1) < bg_radius * bg_radius
    fg = np.flatnonzero(~is_bg)
    ids = np.zeros(h * w, dtype=np.int32)
    confidence = np.zeros(h * w, dtype=np.float32)
    valid = np.ones(h * w, dtype=bool)
    if fg.size == 0:
        return Instances(
            ids.reshape(h, w),
            np.zeros((0, 3), np.uint8),
            np.zeros(0, np.float32),
            np.where(is_bg, 1.0, 0.0).astype(np.float32).reshape(h, w),
            valid.reshape(h, w),
        )
    # Work on the distinct foreground colours, weighted by their pixel counts (the same sums and
    # means as pixel by pixel, in far less memory and time: images hold few distinct colours).
    flat_rgb = rgb.reshape(-1, 3)[fg]
    if rgb.dtype == np.uint8:
        key = (flat_rgb[:, 0].astype(np.int64) << 16) | (flat_rgb[:, 1].astype(np.int64) << 8)
        key |= flat_rgb[:, 2]
        _, first, uinv, weight = np.unique(
            key, return_index=True, return_inverse=True, return_counts=True
        )
    else:
        _, first, uinv, weight = np.unique(
            flat_rgb, axis=0, return_index=True, return_inverse=True, return_counts=True
        )
    uinv = uinv.ravel()
    pts = coords[fg][first]
    wts = weight.astype(np.float64)
    side = radius / 2.0
    bins = np.floor(pts / side).astype(np.int64)
    uniq, inverse = np.unique(bins, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    counts = np.bincount(inverse, weights=wts, minlength=uniq.shape[0])
    sums = np.stack(
        [np.bincount(inverse, weights=pts[:, c] * wts, minlength=uniq.shape[0]) for c in range(3)],
        axis=-1,
    )
    means = sums / counts[:, None]
    centres: list[np.ndarray] = []
    for b in np.argsort(-counts, kind="stable"):
        if centres and counts[b] < min_size:
            break  # too few pixels to seed an instance: they join the nearest centre
        c = means[b]
        if not centres or np.min(((np.asarray(centres) - c) ** 2).sum(-1)) > radius * radius:
            centres.append(c)
    cents = np.asarray(centres)
    for _ in range(2):
        d = ((pts[:, None, :] - cents[None, :, :]) ** 2).sum(-1)
        nearest = np.argmin(d, axis=1)
        near = d[np.arange(d.shape[0]), nearest] <= radius * radius
        for k in range(cents.shape[0]):
            # a colour farther than the cluster distance from every centre joins the nearest one
            # but does not move it: a few outlying pixels must not drag a centre off its instance
            sel = (nearest == k) & near
            if sel.any():
                cents[k] = (pts[sel] * wts[sel, None]).sum(axis=0) / wts[sel].sum()
    d = np.sqrt(((pts[:, None, :] - cents[None, :, :]) ** 2).sum(-1))
    nearest = np.argmin(d, axis=1)
    if cents.shape[0] > 1:
        part = np.partition(d, 1, axis=1)
        d1, d2 = part[:, 0], part[:, 1]
        conf_fg = np.where(d2 > 0, (d2 - d1) / np.maximum(d2 + d1, 1e-300), 0.0)
    else:
        conf_fg = np.ones(pts.shape[0])
    nearest, conf_fg = nearest[uinv], conf_fg[uinv]
    cluster = np.full(h * w, -1, dtype=np.int64)
    cluster[fg] = nearest
    pixel_conf = np.zeros(h * w)
    pixel_conf[fg] = conf_fg
    pixel_conf[is_bg] = 1.0
    structure = np.ones((3, 3), dtype=bool)
    next_id = 0
    comp_map = np.zeros(h * w, dtype=np.int64)
    cluster_img = cluster.reshape(h, w)
    for k in range(cents.shape[0]):
        if components:
            comps, n = ndimage.label(cluster_img == k, structure=structure)
        else:
            comps, n = (cluster_img == k).astype(np.int32), 1
        if n == 0:
            continue
        flat = comps.ravel()
        sizes = np.bincount(flat, minlength=n + 1)
        keep = sizes >= min_size
        keep[0] = False
        small = (flat > 0) & ~keep[flat]
        valid[small] = False
        new = np.cumsum(keep) * keep  # 1..m for kept components
        sel = keep[flat]
        comp_map[sel] = new[flat[sel]] + next_id
        next_id += int(keep.sum())
    # Renumber in raster order of the first pixel.
    present = comp_map > 0
    order_ids, first = np.unique(comp_map[present], return_index=True)
    rank = np.empty(next_id + 1, dtype=np.int32)
    rank[0] = 0
    positions = np.flatnonzero(present)[first]
    rank[order_ids[np.argsort(positions, kind="stable")]] = np.arange(1, order_ids.size + 1)
    ids = rank[comp_map].astype(np.int32)
    n_inst = order_ids.size
    area = np.bincount(ids, minlength=n_inst + 1)[1:]
    colors = np.zeros((n_inst, 3))
    for c in range(3):
        colors[:, c] = np.bincount(ids, weights=rgb.reshape(-1, 3)[:, c], minlength=n_inst + 1)[1:]
    colors = colors / np.maximum(area, 1)[:, None] / rgb_scale(rgb) * 255.0
    scores = np.bincount(ids, weights=pixel_conf, minlength=n_inst + 1)[1:] / np.maximum(area, 1)
    confidence = np.where(valid, pixel_conf, 0.0).astype(np.float32)
    return Instances(
        ids.reshape(h, w),
        np.floor(colors + 0.5).clip(0, 255).astype(np.uint8),
        scores.astype(np.float32),
        confidence.reshape(h, w),
        valid.reshape(h, w),
    )
