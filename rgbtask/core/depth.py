"""Depth kernels: depth -> curve level -> colour, and colour -> projection -> depth; NumPy references.

Transforms (``tp = [kind, near, far, lam, c]``; f increases with depth for every kind):

* KIND_LINEAR      f = (d - near) / (far - near)         d = near + f (far - near)
* KIND_LOG         f = log(d / near) / log(far / near)    d = near exp(f log(far / near))
* KIND_INVERSE     f = (1/near - 1/d) / (1/near - 1/far)  d = 1 / (1/near - f (1/near - 1/far))
* KIND_POWER       f = 1 - (1 - d / (lam c))^(lam + 1)    d = lam c (1 - (1 - f)^(1 / (lam + 1)))
* KIND_NORMALIZED  f = d                                  d = f

The transform classes of :mod:`rgbtask.transforms` build ``tp``; the kernels only see the kind.

Encode (per pixel, float64): invalid (NaN, inf, <= 0; < 0 for ``normalized``) -> reserved code;
else ``i = floor(clip(f, 0, 1) * (levels - 1) + 0.5)``, colour ``codes[i]``.

Decode (per pixel, float64): project the colour onto the curve (:mod:`rgbtask.curves`), ``f`` and
the distance ``dist``; valid iff ``dist < threshold``; confidence ``clip(1 - dist / threshold)``.
Float and 16-bit input measure only the candidate segments of the colour's cell of a 32^3 grid over
the RGB cube (:func:`build_projection_grid`), with the brute force's result bit for bit.
8-bit input goes through the curve's shared lookup table (filled lazily with the same projection).
Any input to a 16-bit curve (:func:`decode_u16`): a colour that is one of the curve's 16-bit codes
(within :data:`CODE_TOLERANCE` on the 65535 scale, as float32 RGB of a code is) decodes to its
level's depth ``transform^-1(k / (levels - 1))``, the level found by an index computation (a hash of
the curve's codes, ~2 slots a level: no 2^48 table); any other colour by the same projection as
float input.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from rgbtask.core._jit import jit, run_rows
from rgbtask.core._lut import UNKNOWN, color_index, known_u32, value_u32

#: Fine index meaning "off the curve: invalid" (in the 8-bit decode table).
Q_INVALID = 0xFFFF

#: Transform kinds (``tp[0]``); each :class:`rgbtask.transforms.Transform` names its own.
KIND_LINEAR = 0
KIND_LOG = 1
KIND_INVERSE = 2
KIND_POWER = 3
KIND_NORMALIZED = 4


@jit
def _forward(d, tp):
    kind = int(tp[0])
    near = tp[1]
    far = tp[2]
    if kind == KIND_LINEAR:
        return (d - near) / (far - near)
    if kind == KIND_LOG:
        return math.log(d / near) / math.log(far / near)
    if kind == KIND_INVERSE:
        return (1.0 / near - 1.0 / d) / (1.0 / near - 1.0 / far)
    if kind == KIND_POWER:
        return 1.0 - (1.0 - d / (tp[3] * tp[4])) ** (tp[3] + 1.0)
    return d


@jit(inline="always")
def _inverse_constants(tp):
    """``(kind, a, b)``: the loop-invariant part of :func:`_inverse` (computed by the same
    expressions, so :func:`_inverse_of` gives the same value bit for bit)."""
    kind = int(tp[0])
    near = tp[1]
    far = tp[2]
    if kind == KIND_LINEAR:
        return kind, near, far - near
    if kind == KIND_LOG:
        return kind, near, math.log(far / near)
    if kind == KIND_INVERSE:
        return kind, 1.0 / near, 1.0 / near - 1.0 / far
    if kind == KIND_POWER:
        return kind, tp[3] * tp[4], 1.0 / (tp[3] + 1.0)
    return kind, 0.0, 0.0


@jit(inline="always")
def _inverse_of(f, kind, a, b):
    """f -> depth from :func:`_inverse_constants` (a kernel reads them once, not per pixel)."""
    if kind == KIND_LINEAR:
        return a + f * b
    if kind == KIND_LOG:
        return a * math.exp(f * b)
    if kind == KIND_INVERSE:
        return 1.0 / (a - f * b)
    if kind == KIND_POWER:
        if f >= 1.0:
            return math.inf
        return a * (1.0 - (1.0 - f) ** b)
    return f


@jit(inline="always")
def _inverse(f, tp):
    kind, a, b = _inverse_constants(tp)
    return _inverse_of(f, kind, a, b)


@jit
def _level(d, tp, nlev, zero_ok):
    ok = d >= 0.0 if zero_ok else d > 0.0
    if not (ok and d < math.inf):
        return -1
    f = _forward(d, tp)
    f = min(1.0, max(0.0, f))
    return int(math.floor(f * (nlev - 1) + 0.5))


@jit
def level_kernel(depth, levels, tp, nlev, zero_ok):
    for i in range(depth.shape[0]):
        levels[i] = _level(float(depth[i]), tp, nlev, zero_ok)


@jit
def encode_kernel(depth, out, codes, reserved, tp, nlev, zero_ok):
    for i in range(depth.shape[0]):
        k = _level(float(depth[i]), tp, nlev, zero_ok)
        if k < 0:
            out[i, 0] = reserved[0]
            out[i, 1] = reserved[1]
            out[i, 2] = reserved[2]
        else:
            out[i, 0] = codes[k, 0]
            out[i, 1] = codes[k, 1]
            out[i, 2] = codes[k, 2]


@jit(inline="always")
def _point_d2(p0, p1, p2, verts, k):
    """Squared distance from the colour to vertex ``k`` (palette curves)."""
    x0 = p0 - verts[k, 0]
    x1 = p1 - verts[k, 1]
    x2 = p2 - verts[k, 2]
    return x0 * x0 + x1 * x1 + x2 * x2


@jit(inline="always")
def _segment_d2(p0, p1, p2, verts, k):
    """Squared distance from the colour to segment ``k`` and the local position ``t`` in [0, 1]
    of its nearest point (the one expression every projection evaluates, so all agree bit for
    bit)."""
    e0 = verts[k + 1, 0] - verts[k, 0]
    e1 = verts[k + 1, 1] - verts[k, 1]
    e2 = verts[k + 1, 2] - verts[k, 2]
    dot = (p0 - verts[k, 0]) * e0 + (p1 - verts[k, 1]) * e1 + (p2 - verts[k, 2]) * e2
    esq = e0 * e0 + e1 * e1 + e2 * e2
    t = dot if esq == 1.0 else dot / esq  # the same value: x / 1.0 == x (cube edges skip it)
    t = min(1.0, max(0.0, t))
    x0 = p0 - (verts[k, 0] + t * e0)
    x1 = p1 - (verts[k, 1] + t * e1)
    x2 = p2 - (verts[k, 2] + t * e2)
    return x0 * x0 + x1 * x1 + x2 * x2, t


@jit(inline="always")
def _parameter(bk, bt, palette, uniform, knots, nlev, nseg):
    """The curve parameter ``f`` of position ``bt`` on segment (or vertex) ``bk``."""
    if palette:
        return bk / (nlev - 1)
    if uniform:
        return (bk + bt) / nseg
    return (knots[bk] + bt * (knots[bk + 1] - knots[bk])) / (nlev - 1)


@jit
def _project(p0, p1, p2, verts, palette, uniform, knots, nlev):
    """Nearest point of the curve: returns (f, distance)."""
    best = math.inf
    bk = 0
    bt = 0.0
    if palette:
        for k in range(verts.shape[0]):
            d2 = _point_d2(p0, p1, p2, verts, k)
            if d2 < best:
                best = d2
                bk = k
        return _parameter(bk, bt, palette, uniform, knots, nlev, 0), math.sqrt(best)
    nseg = verts.shape[0] - 1
    for k in range(nseg):
        d2, t = _segment_d2(p0, p1, p2, verts, k)
        if d2 < best:
            best = d2
            bk = k
            bt = t
    return _parameter(bk, bt, palette, uniform, knots, nlev, nseg), math.sqrt(best)


@jit(inline="always")
def _project_grid(p0, p1, p2, start, cand, gsize, verts, palette, uniform, knots, nlev):
    """:func:`_project` through the projection grid (:func:`build_projection_grid`): only the
    candidates of the colour's cell, in increasing index, are measured, so the result is the
    brute force's bit for bit. Colours outside [0, 1] (or NaN) take the brute force."""
    if not (p0 >= 0.0 and p0 <= 1.0 and p1 >= 0.0 and p1 <= 1.0 and p2 >= 0.0 and p2 <= 1.0):
        return _project(p0, p1, p2, verts, palette, uniform, knots, nlev)
    best, bk, bt = _grid_nearest(p0, p1, p2, start, cand, gsize, verts, palette)
    nseg = verts.shape[0] - 1
    return _parameter(bk, bt, palette, uniform, knots, nlev, nseg), math.sqrt(best)


@jit(inline="always")
def _grid_nearest(p0, p1, p2, start, cand, gsize, verts, palette):
    """``(d2, k, t)`` of the nearest candidate of the grid cell of a colour in [0, 1]: squared
    distance, segment (or palette entry) and its parameter, the candidates measured in increasing
    index so that ties go as in the brute force. No candidate (``d2`` inf): every point of the
    cell is at least the threshold from the curve (invalid)."""
    c0 = min(gsize - 1, int(p0 * gsize))
    c1 = min(gsize - 1, int(p1 * gsize))
    c2 = min(gsize - 1, int(p2 * gsize))
    cell = (c0 * gsize + c1) * gsize + c2
    best = math.inf
    bk = 0
    bt = 0.0
    for j in range(start[cell], start[cell + 1]):
        k = cand[j]
        if palette:
            d2 = _point_d2(p0, p1, p2, verts, k)
            t = 0.0
        else:
            d2, t = _segment_d2(p0, p1, p2, verts, k)
        if d2 < best:
            best = d2
            bk = k
            bt = t
    return best, bk, bt


#: Cells per axis of the projection grid over the RGB cube (:func:`build_projection_grid`).
GRID_SIZE = 32
#: Slack (RGB units, [0, 1] scale) on the cell boxes and on the candidate test: far above the
#: rounding of the distances (1e-16), far below any distance that decides a projection.
GRID_SLACK = 1e-9


@jit
def _box_distance2(lo0, lo1, lo2, hi0, hi1, hi2, a0, a1, a2, b0, b1, b2):
    """Squared distance between two axis-aligned boxes (the second given by its corners ``a``,
    ``b`` in any order)."""
    g0 = max(0.0, min(a0, b0) - hi0, lo0 - max(a0, b0))
    g1 = max(0.0, min(a1, b1) - hi1, lo1 - max(a1, b1))
    g2 = max(0.0, min(a2, b2) - hi2, lo2 - max(a2, b2))
    return g0 * g0 + g1 * g1 + g2 * g2


@jit
def grid_cell_kernel(cells, counts, offsets, cand, verts, palette, threshold, gsize, fill):
    """For every cell ``cells[i]`` of the grid, the segments (palette: vertices) that can be the
    nearest to a colour in it: those whose distance to the cell (a lower bound: the segment cut
    into pieces no longer than half a cell, each replaced by its bounding box) is at most
    ``min(threshold, min over segments of the largest distance to the cell)`` (a corner's, the
    distance to a segment being convex) plus :data:`GRID_SLACK`. Any other segment is further
    from every colour of the cell than some candidate, or than the threshold (then the colour
    is invalid whichever segment is nearest). ``fill``: write the candidates, in increasing
    index, from ``offsets[i]``; else count them into ``counts[i]``."""
    nitem = verts.shape[0] if palette else verts.shape[0] - 1
    h = 1.0 / gsize
    lb = np.empty(nitem)
    for i in range(cells.shape[0]):
        c = cells[i]
        c0 = c // (gsize * gsize)
        c1 = (c // gsize) % gsize
        c2 = c % gsize
        lo0 = c0 * h - GRID_SLACK
        lo1 = c1 * h - GRID_SLACK
        lo2 = c2 * h - GRID_SLACK
        hi0 = (c0 + 1) * h + GRID_SLACK
        hi1 = (c1 + 1) * h + GRID_SLACK
        hi2 = (c2 + 1) * h + GRID_SLACK
        bound = threshold
        for k in range(nitem):
            worst = 0.0
            for corner in range(8):
                q0 = hi0 if corner & 4 else lo0
                q1 = hi1 if corner & 2 else lo1
                q2 = hi2 if corner & 1 else lo2
                if palette:
                    d2 = _point_d2(q0, q1, q2, verts, k)
                else:
                    d2, _ = _segment_d2(q0, q1, q2, verts, k)
                worst = max(worst, d2)
            bound = min(bound, math.sqrt(worst))
            if palette:
                v0, v1, v2 = verts[k, 0], verts[k, 1], verts[k, 2]
                best = _box_distance2(lo0, lo1, lo2, hi0, hi1, hi2, v0, v1, v2, v0, v1, v2)
            else:
                e0 = verts[k + 1, 0] - verts[k, 0]
                e1 = verts[k + 1, 1] - verts[k, 1]
                e2 = verts[k + 1, 2] - verts[k, 2]
                length = math.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
                pieces = min(256, max(1, int(math.ceil(2.0 * length * gsize))))
                best = math.inf
                for m in range(pieces):
                    ta = m / pieces
                    tb = (m + 1) / pieces
                    best = min(
                        best,
                        _box_distance2(
                            lo0 - GRID_SLACK, lo1 - GRID_SLACK, lo2 - GRID_SLACK,
                            hi0 + GRID_SLACK, hi1 + GRID_SLACK, hi2 + GRID_SLACK,
                            verts[k, 0] + ta * e0, verts[k, 1] + ta * e1, verts[k, 2] + ta * e2,
                            verts[k, 0] + tb * e0, verts[k, 1] + tb * e1, verts[k, 2] + tb * e2,
                        ),
                    )  # fmt: skip
            lb[k] = math.sqrt(best)
        n = 0
        for k in range(nitem):
            if lb[k] <= bound + GRID_SLACK:
                if fill:
                    cand[offsets[i] + n] = k
                n += 1
        if not fill:
            counts[i] = n


def build_projection_grid(curve, gsize: int | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """``(start, cand, gsize)``: a uniform grid of ``gsize``^3 cells over the RGB cube, cell
    ``(i * gsize + j) * gsize + k`` covering ``[i, i + 1] x [j, j + 1] x [k, k + 1] / gsize``, its
    candidate segments (palette curves: vertices) ``cand[start[c]:start[c + 1]]`` in increasing
    index (:func:`grid_cell_kernel`). :func:`decode_float` measures only those, with the result
    of the brute force bit for bit. ``gsize`` defaults to :data:`GRID_SIZE`, and to 1 (one cell:
    the brute force, less the segments beyond the threshold) under ``NUMBA_DISABLE_JIT``, where
    building 32^3 cells as Python would take minutes."""
    if gsize is None:
        gsize = 1 if numba.config.DISABLE_JIT else GRID_SIZE
    verts = curve.vertices
    palette = curve.kind == "palette"
    cells = np.arange(gsize**3, dtype=np.int64)
    counts = np.zeros(cells.shape[0], dtype=np.int64)
    empty = np.zeros(0, dtype=np.int32)
    args = (verts, palette, float(curve.threshold), gsize)
    run_rows(grid_cell_kernel, (cells, counts, counts), (empty, *args, False), min_rows=1024)
    start = np.zeros(cells.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=start[1:])
    cand = np.empty(int(start[-1]), dtype=np.int32)
    run_rows(grid_cell_kernel, (cells, counts, start[:-1]), (cand, *args, True), min_rows=1024)
    return start.astype(np.int32), cand, gsize


@jit
def decode_u8_kernel(
    rgb, out, conf, valid, lut, table, verts, palette, uniform, knots, nlev, nfine, threshold,
    want_conf, diag, diag_conf,
):  # fmt: skip
    """8-bit decode through the curve's lazily filled table; an unknown colour is projected
    and published (the brute force: no projection grid to build and compile on first use). ``want_conf`` False: ``conf`` and ``valid``
    are not written (``decode()`` returns the depth alone). ``diag`` (256 entries, else empty):
    the decode of each gray colour ``(v, v, v)`` (the gray curve's codes, made by this kernel),
    read directly, without the 2^24 table."""
    gray = diag.shape[0] == 256
    for i in range(rgb.shape[0]):
        if gray and rgb[i, 0] == rgb[i, 1] and rgb[i, 1] == rgb[i, 2]:
            v8 = rgb[i, 0]
            out[i] = diag[v8]
            if want_conf:
                conf[i] = diag_conf[v8]
                valid[i] = True
            continue
        key = color_index(rgb, i)
        v = lut[key]
        if v == UNKNOWN:  # not computed yet (rgbtask.core._lut: entries hold code + 1)
            f, dist = _project(
                float(rgb[i, 0]) / 255.0, float(rgb[i, 1]) / 255.0, float(rgb[i, 2]) / 255.0,
                verts, palette, uniform, knots, nlev,
            )  # fmt: skip
            if dist < threshold:
                q = int(math.floor(f * (nfine - 1) + 0.5))
                c = int(math.floor((1.0 - dist / threshold) * 255.0 + 0.5))
                v = known_u32(q | (c << 16))
            else:
                v = known_u32(Q_INVALID)
            lut[key] = v
        v = value_u32(v)
        q = v & 0xFFFF
        if q == Q_INVALID:
            out[i] = math.nan
            if want_conf:
                conf[i] = 0.0
                valid[i] = False
        else:
            out[i] = table[q]
            if want_conf:
                conf[i] = ((v >> 16) & 255) / 255.0
                valid[i] = True


@jit(inline="always")
def _accept(f, dist, threshold, kind, ca, cb, lo, hi):
    """A float decode's pixel from its projection ``(f, dist)``: ``(depth, confidence, valid)``,
    the depth of ``f`` clamped into the decoded range (an ulp of rounding; -0.0 -> +0.0) with
    confidence ``1 - dist / threshold`` when the colour is within ``threshold`` of the curve,
    else invalid; ``kind, ca, cb``: the transform's :func:`_inverse_constants`, read once per
    kernel call. (Scalars out, not stores into the caller's arrays: inlined, stores through
    array arguments cost the kernels a third of their speed.)"""
    if dist < threshold:
        return _depth_of(f, kind, ca, cb, lo, hi), min(1.0, max(0.0, 1.0 - dist / threshold)), True
    return math.nan, 0.0, False


#: Bound on ``|1 / sqrt(x) - x ** -0.5|`` (both in float64) relative to the value, with room to
#: spare: 2.5 ulps (libm's ``pow`` within 1 ulp, ``1 / sqrt`` within 1.5), doubled.
RSQRT_ERROR = 5.0 * 2.0**-52


@jit(inline="always")
def _depth_of(f, kind, a, b, lo, hi):
    """The decoded depth of a valid projection's ``f``: clamped into the decoded range (an ulp of
    rounding; -0.0 -> +0.0). For the float32 output only: the power transform with exponent
    -0.5 (``lam=-3``, the cube walk's default) takes ``1 / sqrt`` for ``pow`` (a fifth of the
    time) where the bound on the difference (:data:`RSQRT_ERROR`, through ``1 - p`` and the
    product) cannot move the float32 rounding; elsewhere the exact expression."""
    fc = min(1.0, max(0.0, f))
    if kind == KIND_POWER and b == -0.5 and fc < 1.0:
        p = 1.0 / math.sqrt(1.0 - fc)
        v = a * (1.0 - p)
        err = (abs(a) * (RSQRT_ERROR * p + 2.0**-52 * (p + 1.0)) + 2.0**-52 * abs(v)) * 2.0
        v_lo = min(hi, max(lo, v - err)) + 0.0
        v_hi = min(hi, max(lo, v + err)) + 0.0
        if np.float32(v_lo) == np.float32(v_hi):
            return v_lo  # every value within the bound rounds to this float32, the exact one too
    return min(hi, max(lo, _inverse_of(fc, kind, a, b))) + 0.0


@jit(inline="always")
def _unit_colour(rgb, i, scale, unit):
    """Pixel ``i`` of ``rgb`` (n, 3) over ``scale`` (``unit``: scale is 1, no division) and
    whether it lies in [0, 1]^3 (False for NaN)."""
    p0 = float(rgb[i, 0])
    p1 = float(rgb[i, 1])
    p2 = float(rgb[i, 2])
    if not unit:
        p0 /= scale
        p1 /= scale
        p2 /= scale
    inside = p0 >= 0.0 and p0 <= 1.0 and p1 >= 0.0 and p1 <= 1.0 and p2 >= 0.0 and p2 <= 1.0
    return p0, p1, p2, inside


@jit
def decode_float_kernel(
    rgb, out, conf, valid, outside, scale, tp, lo, hi, verts, palette, uniform, knots, nlev,
    threshold, want_conf, only_outside=False,
):  # fmt: skip
    """The brute force: every segment (palette: colour) measured. ``outside``, ``want_conf``: as
    :func:`decode_float_grid_kernel`; ``only_outside``: decode only the colours outside [0, 1]
    (or NaN), which that kernel leaves to this one."""
    kind, ca, cb = _inverse_constants(tp)
    unit = scale == 1.0  # x / 1.0 == x: float input skips the three divisions
    bad = False
    for i in range(rgb.shape[0]):
        p0, p1, p2, inside = _unit_colour(rgb, i, scale, unit)
        if not inside:
            bad = True
        elif only_outside:
            continue
        f, dist = _project(p0, p1, p2, verts, palette, uniform, knots, nlev)
        d, c, v = _accept(f, dist, threshold, kind, ca, cb, lo, hi)
        out[i] = d
        if want_conf:
            conf[i] = c
            valid[i] = v
    if bad:
        outside[0] = True  # the same store from every chunk: no race


#: Relative margin under ``threshold ** 2`` below which a squared distance is surely under the
#: threshold once its square root is taken (rounding: 1e-16), so the root is skipped.
SQRT_MARGIN = 1e-9


@jit
def decode_float_grid_kernel(
    rgb, out, conf, valid, outside, scale, tp, lo, hi, start, cand, gsize, verts, palette,
    uniform, knots, nlev, threshold, want_conf,
):  # fmt: skip
    """:func:`decode_float_kernel` through the projection grid: the same result, bit for bit.

    Fused for the codecs' float input: a colour outside [0, 1] or NaN sets ``outside[0]`` (the
    caller raises the input check's error, so none is made before: one pass over the input)
    and takes the brute force; ``want_conf`` False: ``conf`` and ``valid`` are not written,
    and the distance's square root is taken only near the threshold (validity alone)."""
    unit = scale == 1.0  # x / 1.0 == x: float input skips the three divisions
    kind, ca, cb = _inverse_constants(tp)
    near2 = threshold * threshold * (1.0 - SQRT_MARGIN)
    nseg = verts.shape[0] - 1
    bad = False
    for i in range(rgb.shape[0]):
        p0, p1, p2, inside = _unit_colour(rgb, i, scale, unit)
        if not inside:
            bad = True  # decoded by the brute force below, out of this loop
            continue
        best, bk, bt = _grid_nearest(p0, p1, p2, start, cand, gsize, verts, palette)
        f = _parameter(bk, bt, palette, uniform, knots, nlev, nseg)
        if not want_conf and best < near2:  # surely valid: the root is not needed
            out[i] = _depth_of(f, kind, ca, cb, lo, hi)
            continue
        d, c, v = _accept(f, math.sqrt(best), threshold, kind, ca, cb, lo, hi)
        out[i] = d
        if want_conf:
            conf[i] = c
            valid[i] = v
    if bad:
        outside[0] = True  # the same store from every chunk: no race
        decode_float_kernel(
            rgb, out, conf, valid, outside, scale, tp, lo, hi, verts, palette, uniform, knots,
            nlev, threshold, want_conf, True,
        )  # fmt: skip


#: A colour within this many codes (65535 scale) of a 16-bit code, in every channel, is that code
#: (float32 holds code / 65535 to 0.004 codes).
CODE_TOLERANCE = 0.01


@jit
def _slot(key, mask):
    """Start slot of a packed 16-bit colour in the code hash (int64 arithmetic, no overflow)."""
    r = key >> 32
    g = (key >> 16) & 0xFFFF
    b = key & 0xFFFF
    return ((r * 73856093) ^ (g * 19349663) ^ (b * 83492791)) & mask


@jit
def code_hash_kernel(codes, keys, vals):
    """Insert every level's packed code ``r << 32 | g << 16 | b`` (linear probing; -1: empty)."""
    mask = keys.shape[0] - 1
    for j in range(codes.shape[0]):
        key = (np.int64(codes[j, 0]) << 32) | (np.int64(codes[j, 1]) << 16) | np.int64(codes[j, 2])
        s = _slot(key, mask)
        while keys[s] != -1:
            s = (s + 1) & mask
        keys[s] = key
        vals[s] = j


@jit
def _code_level(c0, c1, c2, keys, vals):
    """The level whose 16-bit code is the colour ``(c0, c1, c2)`` (65535 scale), by the code
    hash; -1 if none (not within CODE_TOLERANCE of one of the curve's codes)."""
    r0 = math.floor(c0 + 0.5)
    r1 = math.floor(c1 + 0.5)
    r2 = math.floor(c2 + 0.5)
    tol = CODE_TOLERANCE
    if abs(c0 - r0) > tol or abs(c1 - r1) > tol or abs(c2 - r2) > tol:
        return -1
    if min(r0, r1, r2) < 0.0 or max(r0, r1, r2) > 65535.0:
        return -1
    key = (np.int64(r0) << 32) | (np.int64(r1) << 16) | np.int64(r2)
    mask = keys.shape[0] - 1
    s = _slot(key, mask)
    while keys[s] != -1:
        if keys[s] == key:
            return vals[s]
        s = (s + 1) & mask
    return -1


@jit
def level_confidence_kernel(codes, conf, verts, palette, uniform, knots, nlev, threshold):
    """The decode confidence of every level's own code (its distance to the curve)."""
    for j in range(codes.shape[0]):
        _, dist = _project(
            float(codes[j, 0]) / 65535.0, float(codes[j, 1]) / 65535.0,
            float(codes[j, 2]) / 65535.0, verts, palette, uniform, knots, nlev,
        )  # fmt: skip
        conf[j] = min(1.0, max(0.0, 1.0 - dist / threshold))


@jit
def level_depth_kernel(levels, out, tp, lo, hi, nlev):
    """float32 depth of levels ``levels`` (int64): what :func:`decode_u16_kernel` gives a code."""
    for i in range(levels.shape[0]):
        out[i] = min(hi, max(lo, _inverse(levels[i] / (nlev - 1), tp))) + 0.0


def level_depths(curve, tp: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """float32 depth of every level of ``curve`` (the decode of its own codes)."""
    out = np.empty(curve.levels, dtype=np.float32)
    lev = np.arange(curve.levels, dtype=np.int64)
    run_rows(level_depth_kernel, (lev, out), (tp, float(lo), float(hi), curve.levels))
    return out


@jit
def decode_u16_kernel(
    rgb, out, conf, valid, scale, keys, vals, lconf, ldepth, tp, lo, hi, start, cand, gsize,
    codes, verts, palette, uniform, knots, nlev, threshold,
):  # fmt: skip
    """The colour's projection (through the grid) first; a colour within CODE_TOLERANCE of a
    16-bit code is that code: the level nearest the projection or its neighbours when one of
    them is the code (``codes`` is in level order, so a smooth image reads it in order), else
    the code hash (:func:`_code_level`, the specification: codes are distinct, so both find
    the same level)."""
    unit = scale == 1.0
    kind, ca, cb = _inverse_constants(tp)
    for i in range(rgb.shape[0]):
        if (
            i > 0
            and rgb[i, 0] == rgb[i - 1, 0]
            and rgb[i, 1] == rgb[i - 1, 1]
            and (rgb[i, 2] == rgb[i - 1, 2])
        ):  # runs of one colour (smooth depth): the previous pixel's answer
            out[i] = out[i - 1]
            conf[i] = conf[i - 1]
            valid[i] = valid[i - 1]
            continue
        p0, p1, p2, _ = _unit_colour(rgb, i, scale, unit)
        f, dist = _project_grid(
            p0, p1, p2, start, cand, gsize, verts, palette, uniform, knots, nlev
        )
        c0 = p0 * 65535.0
        c1 = p1 * 65535.0
        c2 = p2 * 65535.0
        r0 = math.floor(c0 + 0.5)
        r1 = math.floor(c1 + 0.5)
        r2 = math.floor(c2 + 0.5)
        tol = CODE_TOLERANCE
        if abs(c0 - r0) <= tol and abs(c1 - r1) <= tol and abs(c2 - r2) <= tol:
            j = -1
            if dist < threshold:  # the level nearest the projection, or a neighbour
                g = int(math.floor(f * (nlev - 1) + 0.5))
                for k in range(max(0, g - 1), min(nlev, g + 2)):
                    if codes[k, 0] == r0 and codes[k, 1] == r1 and codes[k, 2] == r2:
                        j = k
                        break
            if j < 0:
                j = _code_level(c0, c1, c2, keys, vals)
            if j >= 0:  # one of the curve's codes: its level's depth
                out[i] = ldepth[j]
                conf[i] = lconf[j]
                valid[i] = True
                continue
        out[i], conf[i], valid[i] = _accept(f, dist, threshold, kind, ca, cb, lo, hi)


# ---------------------------------------------------------------- wrappers
def _curve_args(curve):
    return (
        curve.vertices,
        curve.kind == "palette",
        curve.uniform,
        curve.knots,
        curve.levels,
    )


def levels_of(depth: np.ndarray, tp: np.ndarray, nlev: int, zero_ok: bool) -> np.ndarray:
    """The level index (int32, -1 invalid) ``encode`` picks for every depth (flat array)."""
    out = np.empty(depth.shape[0], dtype=np.int32)
    run_rows(level_kernel, (depth, out), (tp, nlev, zero_ok))
    return out


def encode(depth: np.ndarray, out: np.ndarray, *, curve, tp: np.ndarray, zero_ok: bool) -> None:
    """Flat depth (n,) -> colours ``out`` (n, 3) (uint8, or uint16 for a 16-bit curve) by the
    formula (:func:`encode_kernel`)."""
    reserved = np.asarray(curve.reserved, curve.codes.dtype)
    run_rows(encode_kernel, (depth, out), (curve.codes, reserved, tp, curve.levels, zero_ok))


def encode_fast(
    depth: np.ndarray, out: np.ndarray, *, table, curve, tp: np.ndarray, zero_ok: bool
) -> None:
    """:func:`encode` through the bucket ``table`` of :func:`build_encode_table` (built for
    ``depth``'s float dtype, the same curve and ``tp``): the same colours, faster."""
    tab, thr, lo_col, hi_col, key0, shift = table
    bits = depth.view(np.uint32 if depth.dtype == np.float32 else np.uint64)
    run_rows(
        encode_fast_kernel,
        (bits, depth, out),
        (tab, thr, lo_col, hi_col, key0, shift, curve.codes)
        + (np.asarray(curve.reserved, np.uint8), tp, curve.levels, zero_ok),
    )


_NO_DIAG = np.zeros(0, dtype=np.float32)


def decode_u8(
    rgb: np.ndarray,
    curve,
    table: np.ndarray,
    lut: np.ndarray,
    confidence=True,
    diag=None,
):
    """8-bit (n, 3) -> (depth float32, confidence float32, valid bool) through the shared table.
    ``confidence=False``: the confidence and valid arrays are left unwritten (the depth
    alone, NaN where invalid, is what ``decode()`` returns). ``diag``: ``(depth, confidence)`` of
    the 256 gray colours (:func:`gray_codes`) for the gray curve, read without the table."""
    diag, diag_conf = (_NO_DIAG, _NO_DIAG) if diag is None else diag
    n = rgb.shape[0]
    out = np.empty(n, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    verts, palette, uniform, knots, nlev = _curve_args(curve)
    run_rows(
        decode_u8_kernel,
        (rgb, out, conf, valid),
        (lut, table, verts, palette, uniform, knots, nlev, curve.n_fine)
        + (curve.threshold, bool(confidence), diag, diag_conf),
    )
    return out, conf, valid


def gray_codes(curve, table: np.ndarray, lut: np.ndarray):
    """``(depth, confidence)`` (float32, 256 each) of the gray colours ``(v, v, v)``: what
    :func:`decode_u8` gives them through the table (valid, every one: they are the gray curve's
    codes), for its ``diag`` shortcut."""
    v = np.arange(256, dtype=np.uint8)
    out, conf, valid = decode_u8(np.stack([v, v, v], -1), curve, table, lut)
    if not valid.all():
        raise ValueError(f"expected a curve through every gray colour, got {curve.key}")
    return out, conf


def build_code_hash(curve) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(keys, vals, level_confidence)`` of a 16-bit curve: an open-addressing hash of its codes
    (a power of two >= 2 levels slots, int64 packed code or -1, int32 level) and the confidence of
    each level's own code. About 12 bytes a slot: 11 MiB for the 16-bit cube walk."""
    size = 1 << int(2 * curve.levels - 1).bit_length()
    keys = np.full(size, -1, dtype=np.int64)
    vals = np.zeros(size, dtype=np.int32)
    code_hash_kernel(curve.codes, keys, vals)
    lconf = np.empty(curve.levels, dtype=np.float32)
    verts, palette, uniform, knots, nlev = _curve_args(curve)
    run_rows(
        level_confidence_kernel,
        (curve.codes, lconf),
        (verts, palette, uniform, knots, nlev, curve.threshold),
    )
    return keys, vals, lconf


def decode_u16(
    rgb: np.ndarray,
    curve,
    tp: np.ndarray,
    lo: float,
    hi: float,
    scale=65535.0,
    hashed=None,
    depths=None,
    grid=None,
):
    """RGB (n, 3) at full scale ``scale`` -> (depth, confidence, valid) for a 16-bit curve: a
    16-bit code (to CODE_TOLERANCE) decodes to its level's depth (``depths``, from
    :func:`level_depths`) by the code hash (``hashed``, from :func:`build_code_hash`; both built
    here if not given), any other colour by the float path's projection
    (:func:`decode_u16_kernel`, through ``grid`` from :func:`build_projection_grid`, built here
    if not given)."""
    keys, vals, lconf = build_code_hash(curve) if hashed is None else hashed
    ldepth = level_depths(curve, tp, lo, hi) if depths is None else depths
    start, cand, gsize = build_projection_grid(curve) if grid is None else grid
    n = rgb.shape[0]
    out = np.empty(n, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    verts, palette, uniform, knots, nlev = _curve_args(curve)
    run_rows(
        decode_u16_kernel,
        (rgb, out, conf, valid),
        (float(scale), keys, vals, lconf, ldepth, tp, float(lo), float(hi), start, cand, gsize)
        + (curve.codes, verts, palette, uniform, knots, nlev, curve.threshold),
    )
    return out, conf, valid


def decode_float(
    rgb: np.ndarray,
    scale: float,
    curve,
    tp: np.ndarray,
    lo: float,
    hi: float,
    grid=None,
    confidence: bool = True,
    outside=None,
):
    """Float or 16-bit (n, 3) -> (depth, confidence, valid), exact projection in float64; valid
    depth clamped into ``[lo, hi]`` (the transform's decoded range). ``grid``
    (:func:`build_projection_grid`) measures only each cell's candidate segments (the same
    result, faster); without it every segment is measured (:func:`decode_float_kernel`).
    ``confidence=False`` leaves the confidence and valid arrays unwritten; ``outside`` (a bool
    array of one element) is set True when a colour is outside [0, 1] or NaN (the codecs' input
    check, fused into the kernel's pass)."""
    n = rgb.shape[0]
    out = np.empty(n, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    verts, palette, uniform, knots, nlev = _curve_args(curve)
    flag = np.zeros(1, dtype=np.bool_) if outside is None else outside
    head = (flag, float(scale), tp, float(lo), float(hi))
    tail = (verts, palette, uniform, knots, nlev, curve.threshold, bool(confidence))
    if grid is None:
        run_rows(decode_float_kernel, (rgb, out, conf, valid), head + tail)
    else:
        run_rows(decode_float_grid_kernel, (rgb, out, conf, valid), head + tuple(grid) + tail)
    return out, conf, valid


# ---------------------------------------------------------------- NumPy references
def forward_reference(d: np.ndarray, tp) -> np.ndarray:
    kind = int(tp[0])
    near, far, lam, c = (float(v) for v in tp[1:])
    d = np.asarray(d, dtype=np.float64)
    with np.errstate(all="ignore"):
        if kind == KIND_LINEAR:
            return (d - near) / (far - near)
        if kind == KIND_LOG:
            return np.log(d / near) / math.log(far / near)
        if kind == KIND_INVERSE:
            return (1.0 / near - 1.0 / d) / (1.0 / near - 1.0 / far)
        if kind == KIND_POWER:
            return 1.0 - (1.0 - d / (lam * c)) ** (lam + 1.0)
        return d


def inverse_reference(f: np.ndarray, tp) -> np.ndarray:
    """f -> depth; for ``power`` the expression and its evaluation order are hilbertmap's."""
    kind = int(tp[0])
    near, far, lam, c = (float(v) for v in tp[1:])
    f = np.asarray(f, dtype=np.float64)
    with np.errstate(all="ignore"):
        if kind == KIND_LINEAR:
            return near + f * (far - near)
        if kind == KIND_LOG:
            return near * np.exp(f * math.log(far / near))
        if kind == KIND_INVERSE:
            return 1.0 / (1.0 / near - f * (1.0 / near - 1.0 / far))
        if kind == KIND_POWER:
            return lam * c * (1.0 - (1.0 - f) ** (1.0 / (lam + 1.0)))
        return f


def levels_reference(depth: np.ndarray, tp, nlev: int, zero_ok: bool) -> np.ndarray:
    d = np.asarray(depth, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = ((d >= 0) if zero_ok else (d > 0)) & (d < np.inf)
        f = np.clip(forward_reference(np.where(ok, d, 1.0), tp), 0.0, 1.0)
        lev = np.floor(f * (nlev - 1) + 0.5).astype(np.int32)
    return np.where(ok, lev, -1).astype(np.int32)


def encode_reference(depth: np.ndarray, curve, tp, zero_ok: bool) -> np.ndarray:
    lev = levels_reference(depth, tp, curve.levels, zero_ok)
    out = curve.codes[np.maximum(lev, 0)]
    out[lev < 0] = curve.reserved
    return out


def project_reference(colors: np.ndarray, curve) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest point of ``curve`` for float64 colours (n, 3) in [0, 1]: (f, distance)."""
    p = np.asarray(colors, dtype=np.float64)
    n = curve.levels
    if curve.kind == "palette":
        f = np.empty(p.shape[0])
        dist = np.empty(p.shape[0])
        for lo in range(0, p.shape[0], 4096):
            x = p[lo : lo + 4096, None, :] - curve.vertices[None]
            d2 = (x[..., 0] * x[..., 0] + x[..., 1] * x[..., 1]) + x[..., 2] * x[..., 2]
            k = np.argmin(d2, axis=1)
            f[lo : lo + 4096] = k / (n - 1)
            dist[lo : lo + 4096] = np.sqrt(d2[np.arange(len(k)), k])
        return f, dist
    starts = curve.vertices[:-1]
    edges = curve.vertices[1:] - starts
    x = p[:, None, :] - starts
    dot = (x[..., 0] * edges[:, 0] + x[..., 1] * edges[:, 1]) + x[..., 2] * edges[:, 2]
    esq = (edges[:, 0] * edges[:, 0] + edges[:, 1] * edges[:, 1]) + edges[:, 2] * edges[:, 2]
    t = np.clip(dot / esq, 0.0, 1.0)
    r = p[:, None, :] - (starts + t[..., None] * edges)
    d2 = (r[..., 0] * r[..., 0] + r[..., 1] * r[..., 1]) + r[..., 2] * r[..., 2]
    k = np.argmin(d2, axis=1)
    rows = np.arange(p.shape[0])
    tb = t[rows, k]
    nseg = len(edges)
    if curve.uniform:
        f = (k + tb) / nseg
    else:
        f = (curve.knots[k] + tb * (curve.knots[k + 1] - curve.knots[k])) / (n - 1)
    return f, np.sqrt(d2[rows, k])


def decode_float_reference(colors: np.ndarray, curve, tp, lo: float, hi: float):
    """NumPy specification of :func:`decode_float_kernel` for colours (n, 3) in [0, 1]."""
    f, dist = project_reference(colors, curve)
    valid = dist < curve.threshold
    depth = inverse_reference(np.clip(f, 0.0, 1.0), tp)
    if int(tp[0]) == KIND_POWER:
        depth = np.where(f >= 1.0, np.inf, depth)
    depth = np.clip(depth, lo, hi) + 0.0
    conf = np.clip(1.0 - dist / curve.threshold, 0.0, 1.0)
    return (
        np.where(valid, depth, np.nan).astype(np.float32),
        np.where(valid, conf, 0.0).astype(np.float32),
        valid,
    )


def _pack48(c: np.ndarray) -> np.ndarray:
    """16-bit colours (n, 3) -> uint64 ``r << 32 | g << 16 | b``."""
    c = c.astype(np.uint64)
    return (c[:, 0] << np.uint64(32)) | (c[:, 1] << np.uint64(16)) | c[:, 2]


def decode_u16_reference(rgb: np.ndarray, curve, tp, lo: float, hi: float, scale=65535.0):
    """NumPy specification of :func:`decode_u16_kernel` for colours (n, 3) at full scale
    ``scale``: 16-bit codes (looked up in ``codes`` by sorting, not by the kernel's local search)
    decode to their level's depth, other colours as :func:`decode_float_reference`."""
    p = np.asarray(rgb, dtype=np.float64) / scale
    depth, conf, valid = decode_float_reference(p, curve, tp, lo, hi)
    c = p * 65535.0
    r = np.floor(c + 0.5)
    close = np.all(np.abs(c - r) <= CODE_TOLERANCE, axis=1)
    kc = _pack48(curve.codes)
    order = np.argsort(kc)
    kr = _pack48(np.clip(r, 0, 65535).astype(np.uint16))
    pos = np.clip(np.searchsorted(kc[order], kr), 0, len(kc) - 1)
    lev = order[pos]
    exact = (kc[lev] == kr) & valid & close
    f = lev / (curve.levels - 1)
    d = inverse_reference(f, tp)
    if int(tp[0]) == KIND_POWER:
        d = np.where(f >= 1.0, np.inf, d)
    d = (np.clip(d, lo, hi) + 0.0).astype(np.float32)
    return np.where(exact, d, depth), conf, valid


# ---------------------------------------------------------------- fast encode
#: Mantissa bits kept in the encode table's key: buckets 2^-15 of an octave wide.
KEY_MANTISSA_BITS = 15
FLAG_MIXED = 0x80000000


@jit
def encode_table_kernel(first, last, tab, codes, tp, nlev, zero_ok):
    """One entry per bucket of float bit patterns: the packed colour when the bucket's first and
    last float encode to the same level (so, the formula being monotone, does every float in it),
    else FLAG_MIXED (the encoder then evaluates the formula for that pixel)."""
    for k in range(first.shape[0]):
        a = _level(float(first[k]), tp, nlev, zero_ok)
        b = _level(float(last[k]), tp, nlev, zero_ok)
        if a == b and a >= 0:
            tab[k] = (
                np.uint32(codes[a, 0])
                | (np.uint32(codes[a, 1]) << 8)
                | (np.uint32(codes[a, 2]) << 16)
            )
        else:
            tab[k] = FLAG_MIXED


@jit
def encode_fast_kernel(
    bits, depth, out, tab, thr, lo_col, hi_col, key0, shift, codes, reserved, tp, nlev, zero_ok
):
    """:func:`encode_kernel` through the bucket table; the same result for every input.

    A bucket entry is a packed colour, or ``FLAG_MIXED | j``: bucket ``j`` of the side arrays holds
    two levels split at the float bit pattern ``thr[j]`` (``j`` past the side arrays: more than two
    levels, evaluate the formula)."""
    n = tab.shape[0]
    m = thr.shape[0]
    for i in range(bits.shape[0]):
        k = np.int64(bits[i] >> shift) - key0
        if k >= 0 and k < n:
            e = tab[k]
            if e >= FLAG_MIXED:
                j = np.int64(e & 0x7FFFFFFF)
                if j < m:
                    e = hi_col[j] if bits[i] >= thr[j] else lo_col[j]
            if e < FLAG_MIXED:
                out[i, 0] = e & 255
                out[i, 1] = (e >> 8) & 255
                out[i, 2] = (e >> 16) & 255
                continue
        lev = _level(float(depth[i]), tp, nlev, zero_ok)
        if lev < 0:
            out[i, 0] = reserved[0]
            out[i, 1] = reserved[1]
            out[i, 2] = reserved[2]
        else:
            out[i, 0] = codes[lev, 0]
            out[i, 1] = codes[lev, 1]
            out[i, 2] = codes[lev, 2]


def build_encode_table(dtype, lo: float, hi: float, codes, tp, nlev: int, zero_ok: bool):
    """Bucket table over the positive floats of ``dtype`` in [lo, hi]:
    ``(tab, thr, lo_col, hi_col, key0, shift)`` (see :func:`encode_fast_kernel`)."""
    dtype = np.dtype(dtype)
    uint = np.uint32 if dtype == np.float32 else np.uint64
    shift = (23 if dtype == np.float32 else 52) - KEY_MANTISSA_BITS
    k_lo = int(np.asarray(lo, dtype).view(uint)) >> shift
    k_hi = (int(np.asarray(hi, dtype).view(uint)) >> shift) + 1
    keys = np.arange(k_lo, k_hi + 1, dtype=np.uint64)
    first = (keys << np.uint64(shift)).astype(uint).view(dtype)
    last = (((keys + np.uint64(1)) << np.uint64(shift)) - np.uint64(1)).astype(uint).view(dtype)
    tab = np.empty(keys.shape[0], dtype=np.uint32)
    run_rows(encode_table_kernel, (first, last, tab), (codes, tp, nlev, zero_ok))
    # Buckets that straddle one level boundary: find the boundary's exact bit pattern by bisection
    # over the bucket's floats (the formula is monotone), so those pixels need one comparison.
    mixed = np.flatnonzero(tab == FLAG_MIXED)
    lo_b = first[mixed].view(uint).astype(np.uint64)
    hi_b = last[mixed].view(uint).astype(np.uint64)
    lev_lo = levels_of(lo_b.astype(uint).view(dtype), tp, nlev, zero_ok)
    lev_hi = levels_of(hi_b.astype(uint).view(dtype), tp, nlev, zero_ok)
    a, b = lo_b.copy(), hi_b.copy()  # invariant: level(a) == lev_lo, level(b) != lev_lo
    for _ in range(shift + 1):
        mid = a + (b - a) // np.uint64(2)
        same = levels_of(mid.astype(uint).view(dtype), tp, nlev, zero_ok) == lev_lo
        a = np.where(same, mid, a)
        b = np.where(same, b, mid)
    lev_b = levels_of(b.astype(uint).view(dtype), tp, nlev, zero_ok)
    two = (lev_lo >= 0) & (lev_b == lev_hi) & (lev_b == lev_lo + 1)
    packed = pack_codes(codes)
    sel = mixed[two]
    tab[sel] = np.uint32(FLAG_MIXED) | np.arange(sel.shape[0], dtype=np.uint32)
    tab[mixed[~two]] = np.uint32(0xFFFFFFFF)
    thr = b[two].astype(uint)
    lo_col = packed[lev_lo[two]]
    hi_col = packed[lev_hi[two]]
    return tab, thr, lo_col, hi_col, k_lo, shift


def pack_codes(codes: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 -> (N,) uint32 ``r | g << 8 | b << 16``."""
    c = codes.astype(np.uint32)
    return c[:, 0] | (c[:, 1] << 8) | (c[:, 2] << 16)
