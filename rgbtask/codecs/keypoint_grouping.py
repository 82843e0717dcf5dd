"""Keypoint grouping and matching: from peak candidates to instances, and instances to references.

The peak kernels (:mod:`rgbtask.core.keypoints`) give candidates ``(id, x, y, value)`` per image.
This module turns them into instances and scores decoded instances against reference ones:

* :func:`nms`: per id, drop candidates closer than a radius to a stronger one; keep the strongest.
* :func:`assemble`: NMS, then ids with the most peaks first, each id's peaks assigned optimally
  (SciPy's ``linear_sum_assignment``) to the instances so far at the distance to their nearest
  keypoint (single linkage); then :func:`regroup`; instances ordered by total value, descending.
* :func:`regroup`: spatial consistency: each id's keypoints re-assigned to the instances at their
  mean distance to the instance's other keypoints (average linkage), round after round until
  nothing moves. This is what separates overlapping people (single linkage joins a wrist to the
  nearest keypoint, often another person's).
* :func:`strongest`: the single-instance case (``max_instances = 1``), the argmax per id; equal to
  :func:`assemble` with ``M = 1``.
* :func:`group_peaks`: a batch of candidate lists -> ``(B, M, K, 2)`` coordinates and ``(B, M, K)``
  peak values (:func:`strongest` for ``M = 1``, else :func:`assemble` per image).
* :func:`match_instances`: decoded instances reordered to match reference instances.
* :func:`match_error`: per id, optimal assignment of decoded to reference keypoints; the distance
  per slot, inf for a missed or a spurious keypoint.
"""

from __future__ import annotations

import math

import numpy as np

from rgbtask.errors import InputError

__all__ = [
    "assemble",
    "group_peaks",
    "match_error",
    "match_instances",
    "nms",
    "regroup",
    "strongest",
]

#: Rounds of :func:`regroup` at most (each re-assigns every id once; it usually settles in 2-3).
REGROUP_ROUNDS = 20
#: :func:`regroup`'s cost of an instance that has no other keypoint (pixels; larger than any
#: canvas distance).
EMPTY_COST = 1e9


def group_peaks(
    cand: np.ndarray, count: np.ndarray, num_keypoints: int, max_instances: int, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """Candidates ``cand`` (B, C, 4) of which ``count[b]`` are live, grouped into instances:
    ``(B, M, K, 2)`` coordinates (NaN where absent) and ``(B, M, K)`` peak values (0 there)."""
    if max_instances == 1:  # the strongest peak per id (first in scan order on ties): argmax
        return strongest(cand, count, num_keypoints)
    n_img = cand.shape[0]
    value = np.full((n_img, max_instances, num_keypoints, 2), np.nan)
    peak = np.zeros((n_img, max_instances, num_keypoints))
    for b in range(n_img):
        value[b], peak[b] = assemble(cand[b, : count[b]], num_keypoints, max_instances, radius)
    return value, peak


def strongest(cand: np.ndarray, count: np.ndarray, num_keypoints: int):
    """Single instance: per image and id, the candidate of largest value (first on ties), as
    ``(B, 1, K, 2)`` coordinates and ``(B, 1, K)`` values; what :func:`assemble` gives for M = 1."""
    n_img, cap = cand.shape[:2]
    live = np.arange(cap)[None] < count[:, None]
    ids = cand[..., 0].astype(np.int64)
    hit = live[:, None] & (ids[:, None] == np.arange(num_keypoints)[None, :, None])
    val = np.where(hit, cand[:, None, :, 3], -np.inf)
    best = np.argmax(val, axis=-1)
    b_ = np.arange(n_img)[:, None]
    found = np.isfinite(val[b_, np.arange(num_keypoints)[None], best])
    xy = np.where(found[..., None], cand[b_, best, 1:3], np.nan)
    peak = np.where(found, cand[b_, best, 3], 0.0)
    return xy[:, None], peak[:, None]


def nms(cands: np.ndarray, radius: float, keep: int) -> np.ndarray:
    """Per id, drop candidates within ``radius`` of a stronger one; keep the ``keep`` strongest.

    ``cands`` rows are ``(id, x, y, value)``; order: value descending, then scan order.
    """
    if len(cands) == 0:
        return cands
    order = np.lexsort((np.arange(len(cands)), -cands[:, 3]))
    cands = cands[order]
    kept: list[int] = []
    per_id: dict[int, int] = {}
    for i, (k, x, y, _) in enumerate(cands):
        k = int(k)
        if per_id.get(k, 0) >= keep:
            continue
        close = False
        for j in kept:
            if int(cands[j, 0]) == k and math.hypot(cands[j, 1] - x, cands[j, 2] - y) < radius:
                close = True
                break
        if not close:
            kept.append(i)
            per_id[k] = per_id.get(k, 0) + 1
    return cands[kept]


def assemble(cands: np.ndarray, num_keypoints: int, max_instances: int, radius: float):
    """Group peak candidates ``(id, x, y, value)`` into ``(M, K, 2)`` instances and ``(M, K)``
    values: NMS per id, then ids with the most peaks first, each id's peaks assigned optimally to
    the instances so far by the distance to their nearest keypoint (new instances while there is
    room). Instances come out by total value, descending."""
    from scipy.optimize import linear_sum_assignment

    xy = np.full((max_instances, num_keypoints, 2), np.nan)
    val = np.zeros((max_instances, num_keypoints))
    cands = nms(cands, radius, max_instances)
    if len(cands) == 0:
        return xy, val
    ids = cands[:, 0].astype(np.int64)
    counts = np.bincount(ids, minlength=num_keypoints)
    order = sorted(range(num_keypoints), key=lambda k: (-counts[k], k))
    n_inst = 0
    for k in order:
        rows = cands[ids == k]
        if len(rows) == 0:
            break
        if n_inst == 0:
            take = list(range(min(len(rows), max_instances)))
            for r in take:
                xy[r, k] = rows[r, 1:3]
                val[r, k] = rows[r, 3]
            n_inst = len(take)
            continue
        pts = xy[:n_inst].reshape(n_inst, -1, 2)
        d = np.linalg.norm(rows[:, None, None, 1:3] - pts[None], axis=-1)
        cost = np.nanmin(np.where(np.isfinite(d), d, np.inf), axis=-1)
        cost = np.where(np.isfinite(cost), cost, 1e9)
        r_idx, c_idx = linear_sum_assignment(cost)
        used = set()
        for r, c in zip(r_idx, c_idx):
            xy[c, k] = rows[r, 1:3]
            val[c, k] = rows[r, 3]
            used.add(int(r))
        for r in range(len(rows)):
            if r not in used and n_inst < max_instances:
                xy[n_inst, k] = rows[r, 1:3]
                val[n_inst, k] = rows[r, 3]
                n_inst += 1
    if n_inst > 1:
        regroup(xy, val)
    total = val.sum(axis=1)
    order_inst = np.lexsort((np.arange(max_instances), -total))
    return xy[order_inst], val[order_inst]


def regroup(xy: np.ndarray, val: np.ndarray, max_rounds: int = REGROUP_ROUNDS) -> int:
    """Spatial consistency, in place: id by id, the id's keypoints are re-assigned to the instances
    (optimal assignment) at their mean distance to each instance's other keypoints (average
    linkage), until a round changes nothing (at most ``max_rounds``). Returns the rounds run.

    Single linkage (:func:`assemble`'s first pass) joins a wrist to whichever person's keypoint is
    nearest, which is often another person's where people overlap; the mean distance to all of a
    person's keypoints is what tells the people apart. An instance with no other keypoint costs
    ``EMPTY_COST`` (taken only when an id has more keypoints than the other instances).
    """
    from scipy.optimize import linear_sum_assignment

    m, k = xy.shape[:2]
    present = np.isfinite(xy[..., 0])
    for rounds in range(1, max_rounds + 1):
        changed = False
        for kk in range(k):
            rows = np.flatnonzero(present[:, kk])
            if len(rows) == 0:
                continue
            pts = xy[rows, kk]
            others = np.delete(xy, kk, axis=1)  # (M, K-1, 2)
            have = np.delete(present, kk, axis=1)  # (M, K-1)
            d = np.linalg.norm(pts[:, None, None] - others[None], axis=-1)  # (n, M, K-1)
            n_have = have.sum(axis=1)
            mean = np.where(have[None], d, 0.0).sum(-1) / np.maximum(n_have, 1)
            cost = np.where(n_have[None] > 0, mean, EMPTY_COST)
            r_idx, c_idx = linear_sum_assignment(cost)
            target = np.empty(len(rows), dtype=np.int64)
            target[r_idx] = c_idx
            if np.array_equal(target, rows):
                continue
            changed = True
            new_xy = np.full((m, 2), np.nan)
            new_val = np.zeros(m)
            new_xy[target] = pts
            new_val[target] = val[rows, kk]
            xy[:, kk] = new_xy
            val[:, kk] = new_val
            present[:, kk] = np.isfinite(new_xy[:, 0])
        if not changed:
            return rounds
    return max_rounds


def match_instances(ref: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Indices into ``dec`` (M instances): first the match of each reference instance, then the
    unmatched decoded instances."""
    from scipy.optimize import linear_sum_assignment

    n, m = ref.shape[0], dec.shape[0]
    rf = np.isfinite(ref[..., 0])
    df = np.isfinite(dec[..., 0])
    both = rf[:, None] & df[None]
    d = np.linalg.norm(ref[:, None] - dec[None], axis=-1)
    dist = np.where(both, d, 0.0).sum(-1) / np.maximum(both.sum(-1), 1)
    mismatch = (rf[:, None] != df[None]).sum(-1)
    cost = np.minimum(dist, 1e6) + 1e6 * mismatch
    if n > m:
        raise InputError(f"expected at most {m} reference instances, got {n}")
    r_idx, c_idx = linear_sum_assignment(cost)
    match = np.empty(n, dtype=np.int64)
    match[r_idx] = c_idx
    rest = [i for i in range(m) if i not in set(c_idx.tolist())]
    return np.concatenate([match, np.array(rest, dtype=np.int64)])


def match_error(ref: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Per id, optimal assignment of decoded to reference keypoints; error per ``(M, K)`` slot."""
    from scipy.optimize import linear_sum_assignment

    n, m, k = ref.shape[0], dec.shape[0], dec.shape[1]
    err = np.zeros((m, k))
    for kk in range(k):
        r_rows = np.flatnonzero(np.isfinite(ref[:, kk, 0]))
        d_rows = np.flatnonzero(np.all(np.isfinite(dec[:, kk]), axis=-1))
        d = np.linalg.norm(ref[r_rows, kk][:, None] - dec[d_rows, kk][None], axis=-1)
        ri, di = linear_sum_assignment(d) if d.size else (np.zeros(0, int), np.zeros(0, int))
        err[r_rows, kk] = np.inf
        err[r_rows[ri], kk] = d[ri, di]
        spurious = len(d_rows) - len(di)
        if spurious:
            free = [i for i in range(m) if i >= n or not np.isfinite(ref[i, kk, 0])]
            err[free[:spurious], kk] = np.inf
    return err
