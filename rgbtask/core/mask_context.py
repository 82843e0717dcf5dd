"""Spatial context for off-code pixels of a label image (``mask/palette`` ``decode="context"``).

A lossy or generated label image has colours between palette entries along every boundary, and
noise or ringing inside regions; nearest-colour decoding turns them into slivers and specks of
unrelated classes. This step re-decides those pixels from their neighbourhood. It starts from the
per-pixel nearest-colour labels (``index``: rows of ``codes``, -1 for a rejected pixel) and works
in 8-bit RGB units whatever the codec's colour space (``dev``: the largest per-channel difference
between a pixel and the code of its own label).

1. **Trusted** pixels keep their label: a pixel whose colour is its label's code exactly
   (``dev <= EXACT``) when it and its 8 neighbours are all exact codes (a lossless image: every
   pixel; a genuine one-pixel region survives), and a **seed**: ``dev <= tau`` and all its 8
   neighbours have its label.
2. Every other pixel looks at the seeds within ``radius`` (a square window); their labels are
   its **candidates**. No candidate, or its own label among them: it keeps its label.
3. Otherwise it takes the candidate whose code is nearest to its colour (ties to the lower
   index), unless its own label is a **thin region**: ``dev <= tau``, it is an exact code or at
   least ``support`` of its 8 neighbours have its label with ``dev <= tau``, the nearest candidate is farther than
   ``near`` and no segment between two candidates' codes passes within ``blend`` of its colour
   (it is no mix of two neighbouring classes). A thin region keeps its label.

:func:`context_reference` is the NumPy specification; :func:`context_kernel` the Numba kernel the
codec runs; the tests compare them.
"""

from __future__ import annotations

import numpy as np

from rgbtask.core._jit import jit

#: A pixel within this many 8-bit code values of its label's code (every channel) is exact.
EXACT = 1e-3

#: The default parameters (8-bit RGB units; ``radius`` in pixels), tuned on the ADE20K and VOC
#: label maps of ``../shared/data`` (benchmarks/bench_mask_context.py).
DEFAULTS = {"radius": 7, "tau": 6.0, "near": 24.0, "blend": 24.0, "support": 2}

_MAX_CANDIDATES = 64


@jit
def _deviation(rgb, index, codes, scale, dev):
    h, w = index.shape
    for y in range(h):
        for x in range(w):
            k = index[y, x]
            if k < 0:
                dev[y, x] = np.inf
                continue
            d = 0.0
            for c in range(3):
                d = max(d, abs(float(rgb[y, x, c]) / scale * 255.0 - codes[k, c]))
            dev[y, x] = d


@jit
def _seeds(index, dev, tau, exact_tol, seed):
    h, w = index.shape
    for y in range(h):
        y0, y1 = max(0, y - 1), min(h, y + 2)
        for x in range(w):
            x0, x1 = max(0, x - 1), min(w, x + 2)
            k = index[y, x]
            ok = False
            if k >= 0 and dev[y, x] <= exact_tol:
                ok = True
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        if dev[yy, xx] > exact_tol:
                            ok = False
            if not ok and k >= 0 and dev[y, x] <= tau:
                ok = True
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        if index[yy, xx] != k:
                            ok = False
            seed[y, x] = ok


@jit
def _segment_d2(px, py, pz, a, b):
    ux, uy, uz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    vx, vy, vz = px - a[0], py - a[1], pz - a[2]
    uu = ux * ux + uy * uy + uz * uz
    t = 0.0
    if uu > 0.0:
        t = min(1.0, max(0.0, (vx * ux + vy * uy + vz * uz) / uu))
    dx, dy, dz = vx - t * ux, vy - t * uy, vz - t * uz
    return dx * dx + dy * dy + dz * dz


@jit
def context_kernel(
    rgb, index, out, scale, codes, radius, tau, near, blend, support, exact_tol=EXACT
):
    """Resolve one image: ``rgb (H, W, 3)`` (full scale ``scale``), per-pixel ``index (H, W)``
    into ``codes (M, 3)`` (float64, 8-bit units; -1 = rejected) -> ``out (H, W)`` (the module
    docstring's rule)."""
    h, w = index.shape
    dev = np.empty((h, w))
    _deviation(rgb, index, codes, scale, dev)
    seed = np.empty((h, w), dtype=np.bool_)
    _seeds(index, dev, tau, exact_tol, seed)
    cand = np.empty(_MAX_CANDIDATES, dtype=np.int64)
    for y in range(h):
        for x in range(w):
            k0 = index[y, x]
            out[y, x] = k0
            if seed[y, x] or k0 < 0:
                continue
            n = 0
            own = False
            for yy in range(max(0, y - radius), min(h, y + radius + 1)):
                for xx in range(max(0, x - radius), min(w, x + radius + 1)):
                    if not seed[yy, xx]:
                        continue
                    k = index[yy, xx]
                    if k == k0:
                        own = True
                        break
                    found = False
                    for j in range(n):
                        if cand[j] == k:
                            found = True
                            break
                    if not found and n < _MAX_CANDIDATES:
                        cand[n] = k
                        n += 1
                if own:
                    break
            if own or n == 0:
                continue
            px = float(rgb[y, x, 0]) / scale * 255.0
            py = float(rgb[y, x, 1]) / scale * 255.0
            pz = float(rgb[y, x, 2]) / scale * 255.0
            best = -1
            best_d2 = np.inf
            for j in range(n):
                k = cand[j]
                dx, dy, dz = px - codes[k, 0], py - codes[k, 1], pz - codes[k, 2]
                d2 = dx * dx + dy * dy + dz * dz
                if d2 < best_d2 or (d2 == best_d2 and k < best):
                    best_d2 = d2
                    best = k
            take = best_d2 <= near * near or dev[y, x] > tau
            if not take and dev[y, x] > exact_tol:
                same = 0
                for yy in range(max(0, y - 1), min(h, y + 2)):
                    for xx in range(max(0, x - 1), min(w, x + 2)):
                        if index[yy, xx] == k0 and dev[yy, xx] <= tau:
                            same += 1
                take = same - 1 < support
            if not take:
                for i in range(n):
                    for j in range(i + 1, n):
                        if _segment_d2(px, py, pz, codes[cand[i]], codes[cand[j]]) <= blend * blend:
                            take = True
                            break
                    if take:
                        break
            if take:
                out[y, x] = best


def context_reference(rgb, index, scale, codes, radius, tau, near, blend, support):
    """NumPy specification of :func:`context_kernel` (slow: a Python loop over off-code pixels)."""
    h, w = index.shape
    rgb8 = rgb.astype(np.float64) / scale * 255.0
    safe = np.where(index < 0, 0, index)
    dev = np.abs(rgb8 - codes[safe]).max(axis=-1)
    dev[index < 0] = np.inf
    pad_i = np.pad(index, 1, constant_values=-2)
    pad_d = np.pad(dev, 1, constant_values=0.0)
    same_all = np.ones((h, w), bool)
    exact_all = np.ones((h, w), bool)
    same_tau = np.zeros((h, w), np.int64)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            ni = pad_i[dy : dy + h, dx : dx + w]
            nd = pad_d[dy : dy + h, dx : dx + w]
            inside = ni != -2
            same_all &= ~inside | (ni == index)
            exact_all &= ~inside | (nd <= EXACT)
            same_tau += inside & (ni == index) & (nd <= tau)
    seed = (index >= 0) & (((dev <= EXACT) & exact_all) | ((dev <= tau) & same_all))
    out = index.copy()
    for y, x in zip(*np.nonzero(~seed & (index >= 0))):
        win = (slice(max(0, y - radius), y + radius + 1), slice(max(0, x - radius), x + radius + 1))
        labels = index[win][seed[win]]
        if labels.size == 0 or (labels == index[y, x]).any():
            continue
        cands = np.unique(labels)
        d2 = ((rgb8[y, x] - codes[cands]) ** 2).sum(-1)
        best = cands[np.argmin(d2)]
        thin = dev[y, x] <= EXACT or same_tau[y, x] - 1 >= support
        take = d2.min() <= near * near or dev[y, x] > tau or not thin
        if not take:
            for i in range(cands.size):
                for j in range(i + 1, cands.size):
                    a, b = codes[cands[i]], codes[cands[j]]
                    if _segment_d2(*rgb8[y, x], a, b) <= blend * blend:
                        take = True
        if take:
            out[y, x] = best
    return out


def resolve(
    rgb: np.ndarray, index: np.ndarray, codes: np.ndarray, scale: float, **params
) -> np.ndarray:
    """Images ``rgb (..., H, W, 3)`` with per-pixel ``index (..., H, W)`` (int32, -1 = rejected)
    -> the resolved index, a new array (:data:`DEFAULTS` for the parameters not given)."""
    p = {**DEFAULTS, **params}
    h, w = index.shape[-2:]
    flat_rgb = rgb.reshape((-1, h, w, 3))
    flat_idx = np.ascontiguousarray(index, dtype=np.int32).reshape((-1, h, w))
    out = np.empty_like(flat_idx)
    codes = np.ascontiguousarray(codes, dtype=np.float64)
    for i in range(flat_idx.shape[0]):
        context_kernel(
            np.ascontiguousarray(flat_rgb[i]),
            flat_idx[i],
            out[i],
            float(scale),
            codes,
            int(p["radius"]),
            float(p["tau"]),
            float(p["near"]),
            float(p["blend"]),
            int(p["support"]),
        )
    return out.reshape(index.shape)
