"""Spatial context for off-code pixels of a label image (``mask/palette`` ``decoder="context"``).

A lossy or generated label image has colours between palette entries along every boundary, and
noise or ringing inside regions; nearest-colour decoding turns them into slivers and specks of
unrelated classes. This step re-decides those pixels from their neighbourhood. Inputs: the image,
its per-pixel nearest-colour labels (``index``: rows of ``codes``, -1 for a rejected pixel), and
the same for the image's 3x3 box mean (``smooth``, rounded to 8 bits: :func:`box_mean`, and its
``smooth_index``). Everything is measured in 8-bit RGB units whatever the codec's colour space;
``dev`` is the largest per-channel difference between a colour and the code of its label.

1. **Trusted**: a pixel whose colour is its label's code exactly (``dev <= EXACT``) when it and
   its 8 neighbours are all exact codes (a lossless image: every pixel, one-pixel regions
   included). It keeps its label and is a seed.
2. **Seeds**: pixels whose box mean is within ``tau`` of its label's code, whose 8
   neighbours' box means have that label too, and whose own colour is within ``near`` of that
   code in every channel (ringing and noise average out in the mean; the blends along a
   boundary do not, and a blend that happens to be a third code is no pixel's own colour:
   they are no seeds). A seed takes its box mean's label.
3. Every other pixel looks at the seeds within ``radius`` (a square window); their labels are
   its **candidates**. No candidate, or its own label among them: it keeps its label.
   Otherwise it takes the candidate whose code is nearest to its colour (ties to the lower
   index), unless its own label is a **thin region**: ``dev <= tau``; it is an exact code with
   ``exact_support`` exact 8-neighbours or it has ``support`` 8-neighbours of its label with
   ``dev <= tau``; the nearest candidate is farther than ``near``; and no segment between two
   candidates' codes passes within ``blend`` of its colour (it is no mix of two neighbouring
   classes). A thin region keeps its label.
4. **Specks**: a pixel of the result that is not trusted nor rejected, whose label is not its
   own colour's label within ``tau / 2`` of the code (a thin line under noise stays), and that has
   fewer than 2 of its 8 neighbours with its label takes the most frequent label of those neighbours that are
   not rejected (ties to the lower index), read from the result of step 3.

:func:`context_reference` is the NumPy specification; :func:`context_kernel` the Numba kernel the
codec runs; the tests compare them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rgbtask.core._jit import jit

#: A pixel within this many 8-bit code values of its label's code (every channel) is exact.
EXACT = 1e-3

#: The default parameters (8-bit RGB units; ``radius`` in pixels), tuned on the ADE20K and VOC
#: label maps of ``../shared/data`` (benchmarks/bench_mask_context.py).
DEFAULTS = {
    "radius": 7,
    "tau": 6.0,
    "near": 24.0,
    "blend": 24.0,
    "support": 2,
    "exact_support": 1,
}

_MAX_CANDIDATES = 64


@jit
def box_mean_kernel(rgb, scale, out):
    """3x3 box mean of ``rgb (H, W, 3)`` (over the in-image neighbours), in 8-bit units rounded
    half up, into ``out`` uint8. Separable: sums of 3 rows, then of 3 of those columns."""
    h, w = rgb.shape[0], rgb.shape[1]
    cols = np.empty((w, 3))
    for y in range(h):
        y0, y1 = max(0, y - 1), min(h, y + 2)
        for x in range(w):
            for c in range(3):
                s = 0.0
                for yy in range(y0, y1):
                    s += float(rgb[yy, x, c])
                cols[x, c] = s
        for x in range(w):
            x0, x1 = max(0, x - 1), min(w, x + 2)
            k = 255.0 / (scale * (y1 - y0) * (x1 - x0))
            for c in range(3):
                s = 0.0
                for xx in range(x0, x1):
                    s += cols[xx, c]
                v = np.floor(s * k + 0.5)
                out[y, x, c] = min(255.0, max(0.0, v))


def box_mean_reference(rgb, scale):
    """NumPy specification of :func:`box_mean_kernel`."""
    x = rgb.astype(np.float64)
    h, w = x.shape[:2]
    pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    ones = np.pad(np.ones((h, w)), 1)
    s = sum(pad[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    n = sum(ones[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    v = np.floor(s * (255.0 / (scale * n[..., None])) + 0.5)
    return np.clip(v, 0, 255).astype(np.uint8)


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
    rgb, index, smooth, smooth_index, out, scale, codes, radius, tau, near, blend, support,
    exact_support,
):  # fmt: skip
    """Resolve one image (the module docstring's rule): ``rgb (H, W, 3)`` (full scale
    ``scale``), ``index (H, W)`` int32 rows of ``codes (M, 3)`` (float64, 8-bit units; -1 =
    rejected), ``smooth`` its uint8 box mean and ``smooth_index`` that one's rows -> ``out``."""
    h, w = index.shape
    dev = np.empty((h, w))
    _deviation(rgb, index, codes, scale, dev)
    sdev = np.empty((h, w))
    _deviation(smooth, smooth_index, codes, 255.0, sdev)
    trusted = np.zeros((h, w), dtype=np.bool_)
    seed = np.zeros((h, w), dtype=np.bool_)
    for y in range(h):
        y0, y1 = max(0, y - 1), min(h, y + 2)
        for x in range(w):
            x0, x1 = max(0, x - 1), min(w, x + 2)
            if index[y, x] >= 0 and dev[y, x] <= EXACT:
                ok = True
                for yy in range(y0, y1):
                    for xx in range(x0, x1):
                        if dev[yy, xx] > EXACT:
                            ok = False
                trusted[y, x] = ok
            k = smooth_index[y, x]
            if trusted[y, x] or k < 0 or sdev[y, x] > tau:
                seed[y, x] = trusted[y, x]
                continue
            ok = True
            for c in range(3):
                if abs(float(rgb[y, x, c]) / scale * 255.0 - codes[k, c]) > near:
                    ok = False
            for yy in range(y0, y1):
                for xx in range(x0, x1):
                    if smooth_index[yy, xx] != k:
                        ok = False
            seed[y, x] = ok
    mid = np.empty((h, w), dtype=np.int32)
    cand = np.empty(_MAX_CANDIDATES, dtype=np.int64)
    for y in range(h):
        for x in range(w):
            k0 = index[y, x]
            mid[y, x] = k0
            if trusted[y, x] or k0 < 0:
                continue
            if seed[y, x]:
                mid[y, x] = smooth_index[y, x]
                continue
            n = 0
            own = False
            for yy in range(max(0, y - radius), min(h, y + radius + 1)):
                for xx in range(max(0, x - radius), min(w, x + radius + 1)):
                    if not seed[yy, xx]:
                        continue
                    k = index[yy, xx] if trusted[yy, xx] else smooth_index[yy, xx]
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
            if not take:
                same = 0
                exact_nb = 0
                for yy in range(max(0, y - 1), min(h, y + 2)):
                    for xx in range(max(0, x - 1), min(w, x + 2)):
                        if index[yy, xx] == k0 and dev[yy, xx] <= tau:
                            same += 1
                        if dev[yy, xx] <= EXACT:
                            exact_nb += 1
                exact_ok = dev[y, x] <= EXACT and exact_nb - 1 >= exact_support
                take = same - 1 < support and not exact_ok
            if not take:
                for i in range(n):
                    for j in range(i + 1, n):
                        if _segment_d2(px, py, pz, codes[cand[i]], codes[cand[j]]) <= blend * blend:
                            take = True
                            break
                    if take:
                        break
            if take:
                mid[y, x] = best
    labs = np.empty(9, dtype=np.int64)
    cnts = np.empty(9, dtype=np.int64)
    for y in range(h):
        for x in range(w):
            k0 = mid[y, x]
            out[y, x] = k0
            if trusted[y, x] or k0 < 0 or (k0 == index[y, x] and dev[y, x] <= 0.5 * tau):
                continue
            m = 0
            same = 0
            for yy in range(max(0, y - 1), min(h, y + 2)):
                for xx in range(max(0, x - 1), min(w, x + 2)):
                    if yy == y and xx == x:
                        continue
                    k = mid[yy, xx]
                    if k == k0:
                        same += 1
                    if k < 0:
                        continue
                    found = False
                    for j in range(m):
                        if labs[j] == k:
                            cnts[j] += 1
                            found = True
                            break
                    if not found:
                        labs[m] = k
                        cnts[m] = 1
                        m += 1
            if same >= 2 or m == 0:
                continue
            best = labs[0]
            bc = cnts[0]
            for j in range(1, m):
                if cnts[j] > bc or (cnts[j] == bc and labs[j] < best):
                    best = labs[j]
                    bc = cnts[j]
            out[y, x] = best


def context_reference(
    rgb, index, smooth, smooth_index, scale, codes, radius, tau, near, blend, support, exact_support
):
    """NumPy specification of :func:`context_kernel` (slow: a Python loop over off-code pixels)."""
    h, w = index.shape

    def deviation(img, idx, s):
        d = np.abs(img.astype(np.float64) / s * 255.0 - codes[np.where(idx < 0, 0, idx)]).max(-1)
        return np.where(idx < 0, np.inf, d)

    def neighbours(a, fill):
        pad = np.pad(a, 1, constant_values=fill)
        return [pad[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]

    dev = deviation(rgb, index, scale)
    sdev = deviation(smooth, smooth_index, 255.0)
    inside = neighbours(np.ones((h, w), bool), False)
    exact_all = np.all([~i | (d <= EXACT) for i, d in zip(inside, neighbours(dev, 0.0))], axis=0)
    trusted = (index >= 0) & (dev <= EXACT) & exact_all
    same_all = np.all([~i | (k == smooth_index) for i, k in zip(inside, neighbours(smooth_index, 0))], axis=0)  # fmt: skip
    rgb8 = rgb.astype(np.float64) / scale * 255.0
    own_near = np.abs(rgb8 - codes[np.where(smooth_index < 0, 0, smooth_index)]).max(-1) <= near
    seed = trusted | ((smooth_index >= 0) & (sdev <= tau) & same_all & own_near)
    seed_label = np.where(trusted, index, smooth_index)
    same_tau = sum((k == index) & (d <= tau) for k, d in zip(neighbours(index, -2), neighbours(dev, np.inf)))  # fmt: skip
    exact_nb = sum(i & (d <= EXACT) for i, d in zip(inside, neighbours(dev, np.inf)))
    mid = np.where(seed & ~trusted, smooth_index, index).astype(np.int32)
    for y, x in zip(*np.nonzero(~seed & (index >= 0))):
        win = (slice(max(0, y - radius), y + radius + 1), slice(max(0, x - radius), x + radius + 1))
        labels = seed_label[win][seed[win]]
        if labels.size == 0 or (labels == index[y, x]).any():
            continue
        cands = np.unique(labels)
        d2 = ((rgb8[y, x] - codes[cands]) ** 2).sum(-1)
        exact_ok = dev[y, x] <= EXACT and exact_nb[y, x] - 1 >= exact_support
        thin = exact_ok or same_tau[y, x] - 1 >= support
        take = d2.min() <= near * near or dev[y, x] > tau or not thin
        for i in range(cands.size):
            for j in range(i + 1, cands.size):
                if _segment_d2(*rgb8[y, x], codes[cands[i]], codes[cands[j]]) <= blend * blend:
                    take = True
        if take:
            mid[y, x] = cands[np.argmin(d2)]
    out = mid.copy()
    kept = (mid == index) & (dev <= 0.5 * tau)  # its own colour's label, near its code: no speck
    for y, x in zip(*np.nonzero(~trusted & (mid >= 0) & ~kept)):
        nb = mid[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].ravel().tolist()
        nb.remove(int(mid[y, x]))  # the pixel itself
        if nb.count(int(mid[y, x])) >= 2:
            continue
        nb = [k for k in nb if k >= 0]  # rejected neighbours do not vote
        if not nb:
            continue
        labels, counts = np.unique(nb, return_counts=True)
        out[y, x] = labels[np.argmax(counts)]  # ties: the lower label (np.unique sorts)
    return out


def resolve(
    rgb: np.ndarray,
    index: np.ndarray,
    codes: np.ndarray,
    scale: float,
    nearest: Callable[[np.ndarray], np.ndarray],
    **params,
) -> np.ndarray:
    """Images ``rgb (..., H, W, 3)`` with per-pixel ``index (..., H, W)`` (int32, -1 =
    rejected) -> the resolved index, a new array. ``nearest(uint8 rgb (H, W, 3))`` gives the
    per-pixel rows of an 8-bit image (the codec's nearest-colour rule, used on the box mean);
    :data:`DEFAULTS` for the parameters not given."""
    p = {**DEFAULTS, **params}
    h, w = index.shape[-2:]
    flat_rgb = rgb.reshape((-1, h, w, 3))
    flat_idx = np.ascontiguousarray(index, dtype=np.int32).reshape((-1, h, w))
    out = np.empty_like(flat_idx)
    codes = np.ascontiguousarray(codes, dtype=np.float64)
    smooth = np.empty((h, w, 3), dtype=np.uint8)
    for i in range(flat_idx.shape[0]):
        image = np.ascontiguousarray(flat_rgb[i])
        box_mean_kernel(image, float(scale), smooth)
        smooth_index = np.ascontiguousarray(nearest(smooth), dtype=np.int32)
        context_kernel(
            image, flat_idx[i], smooth, smooth_index, out[i], float(scale), codes,
            int(p["radius"]), float(p["tau"]), float(p["near"]), float(p["blend"]),
            int(p["support"]), int(p["exact_support"]),
        )  # fmt: skip
    return out.reshape(index.shape)
