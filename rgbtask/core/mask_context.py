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
   classes). A thin region keeps its label. So does a **luma fit** (JPEG keeps luma better than
   chroma: ringing and chroma loss move a thin region's colour off its code, not its luma):
   ``tau < dev <= near``, the luma Y (BT.601, JPEG's YCbCr) of its colour within ``luma_tol`` of
   its code's and every candidate's Y at least ``luma_gap`` farther, ``support`` 8-neighbours of
   its label with ``dev <= tau``, the nearest candidate farther than ``near`` and on no segment
   as above.
   A pixel that step 3 re-labels then meets the **blend fit** (JPEG 4:2:0 keeps each pixel's
   luma but gives it the chroma of its 2x2 block and, with libjpeg's fancy upsampling, of the
   neighbouring blocks: a thin line's colour is its own luma with its neighbours' chroma). The
   misfit of a label ``l`` with partner ``m`` is the distance (8-bit RGB) from the colour to
   ``clip(Y_l + chroma)`` over the chroma on the segment from ``l``'s to ``m``'s (clipped to
   0..255 as the decoder does: a black line under green chroma reads (0, g, 0));
   a label's misfit is that with its best partner among the labels compared. The own code
   **fits** when its misfit (partners: the candidates) is at most ``own_fit`` and every other
   palette code within :data:`OWN_LUMA_WINDOW` of its luma fits at least
   ``own_margin`` worse (its code alone explains the colour). Then, among the own label and the
   candidates (partners: each other), the one with the least misfit, when it is at most
   ``blend_fit`` and ``blend_margin`` below every other's, replaces the nearest candidate
   (``blend_fit=0``: off). A dark line's colour is often clipped far from its code's luma
   (ringing, then chroma added to a luma near 0), which only the clipped model explains.
4. **Specks**: a pixel of the result that is not trusted nor rejected, whose label is not its
   own colour's label within ``tau / 2`` of the code (a thin line under noise stays), and that has
   fewer than 2 of its 8 neighbours with its label takes the most frequent label of those neighbours that are
   not rejected (ties to the lower index), read from the result of step 3.

:func:`context_reference` is the NumPy specification; :func:`resolve` runs the Numba kernels
:func:`prepare_kernel` and :func:`resolve_kernel` (which compute the box mean only near pixels that
are not trusted, and skip trusted pixels); the tests compare them.
"""

from __future__ import annotations

import threading
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
    "luma_tol": 16.0,
    "luma_gap": 16.0,
    "blend_fit": 20.0,
    "blend_margin": 16.0,
    "own_fit": 5.0,
    "own_margin": 24.0,
}

_MAX_CANDIDATES = 64

#: The blend fit compares the pixel's own code with the palette's codes whose luma is within this
#: of the pixel's (8-bit units): clipping moves a dark or bright line's luma by up to ~35 (the
#: ADE20K maps under JPEG q90 4:2:0), a code farther off fits worse than ``own_fit + own_margin``.
OWN_LUMA_WINDOW = 40.0

_LUMA_NORM = float(np.sqrt(0.299**2 + 0.587**2 + 0.114**2))


def box_mean_reference(rgb, scale):
    """3x3 box mean of ``rgb (H, W, 3)`` (over the in-image neighbours), in 8-bit units rounded
    half up, uint8: NumPy specification of the box means :func:`prepare_kernel` computes."""
    x = rgb.astype(np.float64)
    h, w = x.shape[:2]
    pad = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    ones = np.pad(np.ones((h, w)), 1)
    s = sum(pad[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    n = sum(ones[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3))
    v = np.floor(s * (255.0 / (scale * n[..., None])) + 0.5)
    return np.clip(v, 0, 255).astype(np.uint8)


#: ``flags`` bits of :func:`prepare_kernel` / :func:`resolve_kernel`.
EXACT_BIT, TRUSTED_BIT, NEED_BIT = 1, 2, 4


@jit
def _dev(rgb, y, x, k, codes, to8):
    """The largest per-channel difference (8-bit units) between pixel ``(y, x)`` and code ``k``
    (``to8 = 255 / scale``: exact for 8-bit input)."""
    d = 0.0
    for c in range(3):
        d = max(d, abs(float(rgb[y, x, c]) * to8 - codes[k, c]))
    return d


@jit
def prepare_kernel(rgb, index, flags, smooth, scale, codes):
    """First pass of :func:`resolve`: ``flags`` (H, W) uint8 get :data:`EXACT_BIT` (an exact
    code), :data:`TRUSTED_BIT` (exact among exact 8-neighbours) and :data:`NEED_BIT` (within one
    pixel of a pixel that is not trusted: its box mean is read); ``smooth`` (N, 3) uint8 gets the
    box means (:func:`box_mean_reference`'s) of the needed pixels, in raster order. Returns N."""
    h, w = index.shape
    to8 = 255.0 / scale
    # 8-bit input and whole codes: exact is equality (|v - code| <= EXACT < 1 for integers)
    ints = scale == 255.0
    icodes = np.empty(codes.shape, dtype=np.int64)
    for k in range(codes.shape[0]):
        for c in range(3):
            icodes[k, c] = int(codes[k, c])
            ints = ints and float(icodes[k, c]) == codes[k, c]
    for y in range(h):
        for x in range(w):
            k = index[y, x]
            f = 0
            if k >= 0:
                if ints:
                    if (
                        int(rgb[y, x, 0]) == icodes[k, 0]
                        and int(rgb[y, x, 1]) == icodes[k, 1]
                        and int(rgb[y, x, 2]) == icodes[k, 2]
                    ):
                        f = EXACT_BIT
                elif _dev(rgb, y, x, k, codes, to8) <= EXACT:
                    f = EXACT_BIT
            flags[y, x] = f
    # trusted: the 3x3 AND of exact; its complement dilated by 3x3: needed (a border row or
    # column counts twice, which changes neither)
    row = np.empty(w + 2, dtype=np.uint8)
    for y in range(h):
        a, b, c = flags[max(0, y - 1)], flags[y], flags[min(h - 1, y + 1)]
        for x in range(w):
            row[x + 1] = a[x] & b[x] & c[x]
        row[0], row[w + 1] = row[1], row[w]
        for x in range(w):
            b[x] |= (row[x] & row[x + 1] & row[x + 2] & EXACT_BIT) << 1
    for y in range(h):
        a, b, c = flags[max(0, y - 1)], flags[y], flags[min(h - 1, y + 1)]
        for x in range(w):
            row[x + 1] = ~(a[x] & b[x] & c[x]) & TRUSTED_BIT
        row[0], row[w + 1] = row[1], row[w]
        for x in range(w):
            b[x] |= (row[x] | row[x + 1] | row[x + 2]) << 1
    # the box mean of the needed pixels: column sums over each run of them, then rows of 3
    cols = np.empty((w, 3))
    inv = np.empty((4, 4))
    for i in range(1, 4):
        for j in range(1, 4):
            inv[i, j] = 255.0 / (scale * i * j)
    n = 0
    for y in range(h):
        y0, y1 = max(0, y - 1), min(h, y + 2)
        fy = flags[y]
        r0, r1, r2 = rgb[y0], rgb[y], rgb[y1 - 1]
        x = 0
        while x < w:
            if not fy[x] & NEED_BIT:
                x += 1
                continue
            a = x
            while x < w and fy[x] & NEED_BIT:
                x += 1
            lo, hi = max(0, a - 1), min(w, x + 1)
            if y1 - y0 == 3:
                for xx in range(lo, hi):
                    for c in range(3):
                        cols[xx, c] = float(r0[xx, c]) + float(r1[xx, c]) + float(r2[xx, c])
            else:
                for xx in range(lo, hi):
                    for c in range(3):
                        t = 0.0
                        for yy in range(y0, y1):
                            t += float(rgb[yy, xx, c])
                        cols[xx, c] = t
            for xx in range(a, x):
                x0, x1 = max(0, xx - 1), min(w, xx + 2)
                k = inv[y1 - y0, x1 - x0]
                for c in range(3):
                    if x1 - x0 == 3:
                        t = cols[x0, c] + cols[x0 + 1, c] + cols[x0 + 2, c]
                    else:
                        t = 0.0
                        for xk in range(x0, x1):
                            t += cols[xk, c]
                    smooth[n, c] = min(255.0, max(0.0, np.floor(t * k + 0.5)))
                n += 1
    return n


@jit
def _luma(r, g, b):
    """Y of JPEG's YCbCr (ITU-R BT.601, full range)."""
    return 0.299 * r + 0.587 * g + 0.114 * b


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
def _blend_misfit(px, py, pz, codes, k, m, ts):
    """Squared distance (8-bit RGB) from the colour ``(px, py, pz)`` to the closest colour with
    the luma of ``codes[k]`` and a chroma on the segment from its chroma to ``codes[m]``'s,
    clipped to 0..255 as a JPEG decoder does: ``clip(a + t b)``, ``a = codes[m] + (Y_k - Y_m)``,
    ``b = codes[k] - a``, ``t`` in [0, 1]. Exact: on each interval between the ``t`` where a
    channel meets 0 or 255 the clipped channels are constant and the rest linear, a quadratic
    minimised in closed form. ``ts``: scratch, 8 floats."""
    dy = _luma(codes[k, 0], codes[k, 1], codes[k, 2]) - _luma(codes[m, 0], codes[m, 1], codes[m, 2])
    a0, a1, a2 = codes[m, 0] + dy, codes[m, 1] + dy, codes[m, 2] + dy
    b0, b1, b2 = codes[k, 0] - a0, codes[k, 1] - a1, codes[k, 2] - a2
    ts[0], n = 0.0, 1
    for a, b in ((a0, b0), (a1, b1), (a2, b2)):
        if b != 0.0:
            for edge in (0.0, 255.0):
                t = (edge - a) / b
                if 0.0 < t < 1.0:
                    j = n  # insertion sort: ts[:n] stays sorted
                    while j > 0 and ts[j - 1] > t:
                        ts[j] = ts[j - 1]
                        j -= 1
                    ts[j] = t
                    n += 1
    ts[n] = 1.0
    best = np.inf
    for i in range(n):
        lo, hi = ts[i], ts[i + 1]
        tm = 0.5 * (lo + hi)
        num, den = 0.0, 0.0
        for a, b, o in ((a0, b0, px), (a1, b1, py), (a2, b2, pz)):
            v = a + tm * b
            if 0.0 < v < 255.0:
                num += b * (o - a)
                den += b * b
        t = lo
        if den > 0.0:
            t = min(hi, max(lo, num / den))
        d = 0.0
        for a, b, o in ((a0, b0, px), (a1, b1, py), (a2, b2, pz)):
            e = min(255.0, max(0.0, a + t * b)) - o
            d += e * e
        best = min(best, d)
    return best


@jit
def _blend_choice(px, py, pz, labels, n, codes, fit, margin, ts):
    """The blend fit's choice: the label among ``labels[:n]`` whose luma-and-blended-chroma model
    (:func:`_blend_misfit`, the blend partner any other of them or none) fits the colour within
    ``fit`` and at least ``margin`` better than every other's (ties to the lower label); -1:
    none."""
    first, d1, d2 = -1, np.inf, np.inf
    for i in range(n):
        k = labels[i]
        d = np.inf
        for j in range(n):
            d = min(d, _blend_misfit(px, py, pz, codes, k, labels[j], ts))
        d = np.sqrt(d)
        if d < d1 or (d == d1 and k < first):
            d2 = d1
            d1, first = d, k
        elif d < d2:
            d2 = d
    if d1 <= fit and d2 >= d1 + margin:
        return first
    return -1


@jit
def _misfit_bound(px, py, pz, yp, k, m, codes, code_luma):
    """A lower bound of the square root of :func:`_blend_misfit` of code ``k`` with partner
    ``m`` (``yp``: the colour's luma): each channel of the model is monotone in ``t``, so it
    stays between its clipped ends (the distance to that box); where the model clips nowhere it
    keeps ``k``'s luma (Y is linear and Y(1, 1, 1) = 1), and a luma difference ``dY`` costs at
    least ``dY / |(0.299, 0.587, 0.114)|``."""
    dy = code_luma[k] - code_luma[m]
    d2 = 0.0
    inside = True
    for c, o in ((0, px), (1, py), (2, pz)):
        a = codes[m, c] + dy
        inside = inside and 0.0 <= a <= 255.0
        a = min(255.0, max(0.0, a))
        lo, hi = min(a, codes[k, c]), max(a, codes[k, c])
        e = max(0.0, lo - o, o - hi)
        d2 += e * e
    d = np.sqrt(d2)
    if inside:
        d = max(d, abs(code_luma[k] - yp) / _LUMA_NORM)
    return d


@jit
def _first_not_below(sorted_values, v):
    """The first index of ascending ``sorted_values`` whose value is not below ``v`` (NumPy's
    ``searchsorted``, left side), by bisection (no compile of NumPy's generic one)."""
    lo, hi = 0, sorted_values.size
    while lo < hi:
        mid = (lo + hi) // 2
        if sorted_values[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


@jit
def _own_fits(px, py, pz, k0, cand, n, codes, code_luma, by_luma, luma_sorted, fit, margin, ts):
    """Whether the pixel's own code ``k0`` fits (step 3's blend fit) and joins the choice: its
    model (chroma blended with a candidate's, ``cand[:n]``) fits within ``fit`` and at least
    ``margin`` better than that of every other code of the palette with a luma (``code_luma``;
    ``by_luma`` orders the codes by it, ``luma_sorted`` = ``code_luma[by_luma]``) within
    :data:`OWN_LUMA_WINDOW` of the colour's. Pairs whose :func:`_misfit_bound` already decides
    the test are not computed (the same answer, cheaper)."""
    yp = _luma(px, py, pz)
    d0 = np.inf
    for j in range(n):
        if _misfit_bound(px, py, pz, yp, k0, cand[j], codes, code_luma) > fit:
            continue
        d0 = min(d0, _blend_misfit(px, py, pz, codes, k0, cand[j], ts))
    d0 = np.sqrt(d0)
    if d0 > fit:
        return False
    bar = d0 + margin
    # the other codes by luma distance, nearest first (a competitor that fits is found early)
    hi = _first_not_below(luma_sorted, yp)
    lo = hi - 1
    while True:
        if lo >= 0 and (hi >= by_luma.size or yp - luma_sorted[lo] <= luma_sorted[hi] - yp):
            k = by_luma[lo]
            lo -= 1
        elif hi < by_luma.size:
            k = by_luma[hi]
            hi += 1
        else:
            break
        if abs(code_luma[k] - yp) > OWN_LUMA_WINDOW:
            break
        if k == k0:
            continue
        for j in range(n):
            m = cand[j]
            if _misfit_bound(px, py, pz, yp, k, m, codes, code_luma) >= bar:
                continue
            if np.sqrt(_blend_misfit(px, py, pz, codes, k, m, ts)) < bar:
                return False
    return True


@jit
def _scatter_row(flags, mid, smooth_rows, i):
    """Row ``mid`` gets the box means' rows at its needed pixels, from ``smooth_rows[i]`` on;
    returns the next ``i``."""
    for x in range(flags.shape[0]):
        if flags[x] & NEED_BIT:
            mid[x] = smooth_rows[i]
            i += 1
    return i


@jit
def resolve_kernel(
    rgb, index, flags, smooth, smooth_rows, seed_label, run_end, mid, out, scale, codes,
    radius, tau, near, blend, support, exact_support, luma_tol, luma_gap, blend_fit, blend_margin,
    own_fit, own_margin, code_luma, by_luma, luma_sorted,
):  # fmt: skip
    """Second pass of :func:`resolve` (the module docstring's rule), after
    :func:`prepare_kernel` and the nearest-colour rows ``smooth_rows`` of its box means:
    ``out`` (H, W) int32. ``seed_label`` (-1: no seed), ``run_end`` (where the run of one
    ``seed_label`` value that holds a pixel ends in its row: the window scan reads a run once)
    and ``mid`` are (H, W) int32 scratch."""
    h, w = index.shape
    to8 = 255.0 / scale
    # steps 1-2: seeds (mid holds the box means' rows, one row ahead); out = the seed's label,
    # else the pixel's own
    j = _scatter_row(flags[0], mid[0], smooth_rows, np.int64(0))  # one specialisation
    i = 0
    for y in range(h):
        if y + 1 < h:
            j = _scatter_row(flags[y + 1], mid[y + 1], smooth_rows, j)
        y0, y1 = max(0, y - 1), min(h, y + 2)
        fy, sy, oy = flags[y], seed_label[y], out[y]
        for x in range(w):
            f = fy[x]
            if f & NEED_BIT:
                i += 1  # smooth[i - 1] is this pixel's box mean
            if f & TRUSTED_BIT:
                sy[x] = oy[x] = index[y, x]
                continue
            sy[x] = -1
            oy[x] = index[y, x]
            k = mid[y, x]  # every pixel that is not trusted is needed
            if k < 0:
                continue
            x0, x1 = max(0, x - 1), min(w, x + 2)
            ok = True
            for yy in range(y0, y1):
                my = mid[yy]
                if my[x0] != k or my[x1 - 1] != k or my[x] != k:
                    ok = False
                    break
            if not ok:
                continue
            for c in range(3):
                if abs(float(smooth[i - 1, c]) - codes[k, c]) > tau:
                    ok = False
                if abs(float(rgb[y, x, c]) * to8 - codes[k, c]) > near:
                    ok = False
            if ok:
                sy[x] = oy[x] = k
        end = w
        ey = run_end[y]
        for x in range(w - 1, 0, -1):
            ey[x] = end
            if sy[x - 1] != sy[x]:
                end = x
        ey[0] = end
    # step 3: the pixels that are no seeds
    cand = np.empty(_MAX_CANDIDATES + 1, dtype=np.int64)
    ts = np.empty(8)
    for y in range(h):
        sy0 = seed_label[y]
        own_k, own_x = -1, -1  # the last own seed found in this row's windows: its column
        for x in range(w):
            if sy0[x] >= 0:
                continue
            k0 = index[y, x]
            if k0 < 0:
                continue
            xa, xb = max(0, x - radius), min(w, x + radius + 1)
            if k0 == own_k and own_x >= xa:
                continue  # that seed is in this window too: its own label is there
            n = 0
            own = False
            for r in range(2 * radius + 1):
                yy = y + (r + 1) // 2 if r % 2 else y - r // 2  # y, y+1, y-1, y+2, ...
                if yy < 0 or yy >= h:
                    continue
                sr, er = seed_label[yy], run_end[yy]
                xx = xa
                while xx < xb:
                    k = sr[xx]
                    xx = er[xx]
                    if k < 0:
                        continue
                    if k == k0:
                        own = True
                        own_k, own_x = k0, min(xx, xb) - 1
                        break
                    found = False
                    for t in range(n):
                        if cand[t] == k:
                            found = True
                            break
                    if not found and n < _MAX_CANDIDATES:
                        cand[n] = k
                        n += 1
                if own:
                    break
            if own or n == 0:
                continue
            px = float(rgb[y, x, 0]) * to8
            py = float(rgb[y, x, 1]) * to8
            pz = float(rgb[y, x, 2]) * to8
            best = -1
            best_d2 = np.inf
            for t in range(n):
                k = cand[t]
                dx, dy, dz = px - codes[k, 0], py - codes[k, 1], pz - codes[k, 2]
                d2 = dx * dx + dy * dy + dz * dz
                if d2 < best_d2 or (d2 == best_d2 and k < best):
                    best_d2 = d2
                    best = k
            dev0 = _dev(rgb, y, x, k0, codes, to8)
            # a luma fit (JPEG keeps luma better than chroma): off its code by more than tau
            # but at most near, its luma within luma_tol of its code's, and every
            # candidate's luma luma_gap farther
            fits = False
            if tau < dev0 <= near and luma_tol > 0.0:
                yp = _luma(px, py, pz)
                e0 = abs(yp - _luma(codes[k0, 0], codes[k0, 1], codes[k0, 2]))
                fits = e0 <= luma_tol
                for t in range(n):
                    k = cand[t]
                    if (
                        fits
                        and abs(yp - _luma(codes[k, 0], codes[k, 1], codes[k, 2])) <= e0 + luma_gap
                    ):
                        fits = False
            take = best_d2 <= near * near or (dev0 > tau and not fits)
            if not take:
                same = 0
                exact_nb = 0
                for yy in range(max(0, y - 1), min(h, y + 2)):
                    for xx in range(max(0, x - 1), min(w, x + 2)):
                        if flags[yy, xx] & EXACT_BIT:
                            exact_nb += 1
                        if index[yy, xx] == k0 and _dev(rgb, yy, xx, k0, codes, to8) <= tau:
                            same += 1
                exact_ok = dev0 <= EXACT and exact_nb - 1 >= exact_support
                if fits:  # support neighbours of its label near its code (not itself)
                    take = same < support
                else:
                    take = same - 1 < support and not exact_ok
            if not take:
                for a in range(n):
                    for b in range(a + 1, n):
                        if _segment_d2(px, py, pz, codes[cand[a]], codes[cand[b]]) <= blend * blend:
                            take = True
                            break
                    if take:
                        break
            if take:
                out[y, x] = best
                if blend_fit > 0.0:
                    cand[n] = k0
                    m = n + _own_fits(
                        px, py, pz, np.int64(k0), cand, n, codes, code_luma, by_luma, luma_sorted,
                        own_fit, own_margin, ts,
                    )  # fmt: skip
                    if m > n:  # the own code fits: it or a candidate
                        k = _blend_choice(px, py, pz, cand, m, codes, blend_fit, blend_margin, ts)
                        if k >= 0:
                            out[y, x] = k
    # step 4: specks, read from the result of step 3 (out), their new labels listed in the
    # free scratch (rows, columns, labels) and written after the pass
    sp_y, sp_x, sp_k = seed_label.reshape(-1), run_end.reshape(-1), mid.reshape(-1)
    m_sp = 0
    labs = np.empty(9, dtype=np.int64)
    cnts = np.empty(9, dtype=np.int64)
    for y in range(h):
        y0, y1 = max(0, y - 1), min(h, y + 2)
        for x in range(w):
            if flags[y, x] & TRUSTED_BIT:
                continue
            k0 = out[y, x]
            if k0 < 0:
                continue
            if k0 == index[y, x] and _dev(rgb, y, x, k0, codes, to8) <= 0.5 * tau:
                continue
            x0, x1 = max(0, x - 1), min(w, x + 2)
            same = -1  # the pixel itself
            for yy in range(y0, y1):
                for xx in range(x0, x1):
                    same += out[yy, xx] == k0
            if same >= 2:
                continue
            m = 0
            for yy in range(y0, y1):
                for xx in range(x0, x1):
                    if yy == y and xx == x:
                        continue
                    k = out[yy, xx]
                    if k < 0:
                        continue
                    found = False
                    for t in range(m):
                        if labs[t] == k:
                            cnts[t] += 1
                            found = True
                            break
                    if not found:
                        labs[m] = k
                        cnts[m] = 1
                        m += 1
            if m == 0:
                continue
            best = labs[0]
            bc = cnts[0]
            for t in range(1, m):
                if cnts[t] > bc or (cnts[t] == bc and labs[t] < best):
                    best = labs[t]
                    bc = cnts[t]
            sp_y[m_sp], sp_x[m_sp], sp_k[m_sp] = y, x, best
            m_sp += 1
    for t in range(m_sp):
        out[sp_y[t], sp_x[t]] = sp_k[t]


def context_reference(
    rgb,
    index,
    smooth,
    smooth_index,
    scale,
    codes,
    radius,
    tau,
    near,
    blend,
    support,
    exact_support,
    luma_tol,
    luma_gap,
    blend_fit,
    blend_margin,
    own_fit,
    own_margin,
):
    """NumPy specification of :func:`resolve` for one image (slow: a Python loop over off-code pixels)."""
    h, w = index.shape

    def deviation(img, idx, s):
        d = np.abs(img.astype(np.float64) * (255.0 / s) - codes[np.where(idx < 0, 0, idx)]).max(-1)
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
    rgb8 = rgb.astype(np.float64) * (255.0 / scale)
    own_near = np.abs(rgb8 - codes[np.where(smooth_index < 0, 0, smooth_index)]).max(-1) <= near
    seed = trusted | ((smooth_index >= 0) & (sdev <= tau) & same_all & own_near)
    seed_label = np.where(trusted, index, smooth_index)
    same_tau = sum((k == index) & (d <= tau) for k, d in zip(neighbours(index, -2), neighbours(dev, np.inf)))  # fmt: skip
    exact_nb = sum(i & (d <= EXACT) for i, d in zip(inside, neighbours(dev, np.inf)))
    mid = np.where(seed & ~trusted, smooth_index, index).astype(np.int32)
    code_luma = np.array([_luma(*c) for c in codes])
    ts = np.empty(8)

    def misfit(o, k, partners):  # the blend fit's, with the best partner
        return np.sqrt(min(_blend_misfit(*o, codes, k, m, ts) for m in partners))

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
        if tau < dev[y, x] <= near and luma_tol > 0:  # a luma fit
            yp = _luma(*rgb8[y, x])
            e0 = abs(yp - _luma(*codes[index[y, x]]))
            gaps = [abs(yp - _luma(*codes[k])) for k in cands]
            if e0 <= luma_tol and min(gaps) > e0 + luma_gap:
                take = d2.min() <= near * near or same_tau[y, x] < support
        for i in range(cands.size):
            for j in range(i + 1, cands.size):
                if _segment_d2(*rgb8[y, x], codes[cands[i]], codes[cands[j]]) <= blend * blend:
                    take = True
        if take:
            mid[y, x] = cands[np.argmin(d2)]
            if blend_fit > 0:  # a blend fit: luma of the label, chroma a blend, clipped
                o, k0 = rgb8[y, x], index[y, x]
                f0 = misfit(o, k0, cands)
                near_luma = np.abs(code_luma - _luma(*o)) <= OWN_LUMA_WINDOW
                others = [k for k in np.flatnonzero(near_luma) if k != k0]
                if f0 <= own_fit and all(misfit(o, k, cands) >= f0 + own_margin for k in others):
                    labels = np.append(cands, k0)  # the own code fits: it or a candidate
                    fits = np.array([misfit(o, k, labels) for k in labels])
                    order = np.lexsort((labels, fits))  # by fit, ties to the lower label
                    f1, f2 = fits[order[:2]]
                    if f1 <= blend_fit and f2 >= f1 + blend_margin:
                        mid[y, x] = labels[order[0]]
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
    rejected) -> the resolved index, a new array. ``nearest(uint8 rgb (N, 3))`` gives the
    per-pixel rows of 8-bit colours (the codec's nearest-colour rule, used on the box means);
    :data:`DEFAULTS` for the parameters not given."""
    p = {**DEFAULTS, **params}
    h, w = index.shape[-2:]
    flat_rgb = rgb.reshape((-1, h, w, 3))
    flat_idx = np.ascontiguousarray(index, dtype=np.int32).reshape((-1, h, w))
    out = np.empty_like(flat_idx)
    codes = np.ascontiguousarray(codes, dtype=np.float64)
    # the codes' lumas (:func:`_luma`, the same operations) and their order, for step 3's own
    # fit: sorted here, not in the kernel (Numba's sort compiles for seconds)
    code_luma = 0.299 * codes[:, 0] + 0.587 * codes[:, 1] + 0.114 * codes[:, 2]
    by_luma = np.argsort(code_luma, kind="stable")
    luma_sorted = np.ascontiguousarray(code_luma[by_luma])
    flags, smooth, seed_label, run_end, mid = _scratch(h, w)
    for i in range(flat_idx.shape[0]):
        image = np.ascontiguousarray(flat_rgb[i])
        n = prepare_kernel(image, flat_idx[i], flags, smooth, float(scale), codes)
        rows = np.ascontiguousarray(nearest(smooth[:n]), dtype=np.int32)
        resolve_kernel(
            image, flat_idx[i], flags, smooth, rows, seed_label, run_end, mid, out[i],
            float(scale), codes, int(p["radius"]), float(p["tau"]), float(p["near"]),
            float(p["blend"]), int(p["support"]), int(p["exact_support"]),
            float(p["luma_tol"]), float(p["luma_gap"]), float(p["blend_fit"]),
            float(p["blend_margin"]), float(p["own_fit"]), float(p["own_margin"]), code_luma,
            by_luma, luma_sorted,
        )  # fmt: skip
    return out.reshape(index.shape)


_local = threading.local()

#: Scratch for images up to this many pixels (1080p) is kept per thread, 16 bytes per pixel (32
#: MiB at most); larger images get fresh arrays each call.
SCRATCH_CACHE_PIXELS = 1 << 21


def _scratch(h: int, w: int) -> tuple[np.ndarray, ...]:
    """The kernels' scratch arrays for an ``(h, w)`` image: flags, box means, seed labels, run
    ends, step 3's labels. Kept per thread for the last shape up to
    :data:`SCRATCH_CACHE_PIXELS` (new arrays cost a page fault per 4 KiB on first use: 1-2 ms
    at 1080p, half a per-pixel decode)."""
    cached = getattr(_local, "arrays", None)
    if cached is not None and cached[0] == (h, w):
        return cached[1]
    arrays = (
        np.empty((h, w), dtype=np.uint8),
        np.empty((h * w, 3), dtype=np.uint8),
        np.empty((h, w), dtype=np.int32),
        np.empty((h, w), dtype=np.int32),
        np.empty((h, w), dtype=np.int32),
    )
    if h * w <= SCRATCH_CACHE_PIXELS:
        _local.arrays = ((h, w), arrays)
    return arrays
