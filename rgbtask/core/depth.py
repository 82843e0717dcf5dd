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
8-bit input goes through the curve's shared lookup table (filled lazily with the same projection).
Any input to a 16-bit curve (:func:`decode_u16`): a colour that is one of the curve's 16-bit codes
(within :data:`CODE_TOLERANCE` on the 65535 scale, as float32 RGB of a code is) decodes to its
level's depth ``transform^-1(k / (levels - 1))``, the level found by an index computation (a hash of
the curve's codes, ~2 slots a level: no 2^48 table); any other colour by the same projection as
float input.
"""

from __future__ import annotations

import math

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


@jit
def _inverse(f, tp):
    kind = int(tp[0])
    near = tp[1]
    far = tp[2]
    if kind == KIND_LINEAR:
        return near + f * (far - near)
    if kind == KIND_LOG:
        return near * math.exp(f * math.log(far / near))
    if kind == KIND_INVERSE:
        return 1.0 / (1.0 / near - f * (1.0 / near - 1.0 / far))
    if kind == KIND_POWER:
        if f >= 1.0:
            return math.inf
        return tp[3] * tp[4] * (1.0 - (1.0 - f) ** (1.0 / (tp[3] + 1.0)))
    return f


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


@jit
def _project(p0, p1, p2, verts, palette, uniform, knots, nlev):
    """Nearest point of the curve: returns (f, distance)."""
    best = math.inf
    bk = 0
    bt = 0.0
    if palette:
        for k in range(verts.shape[0]):
            x0 = p0 - verts[k, 0]
            x1 = p1 - verts[k, 1]
            x2 = p2 - verts[k, 2]
            d2 = x0 * x0 + x1 * x1 + x2 * x2
            if d2 < best:
                best = d2
                bk = k
        return bk / (nlev - 1), math.sqrt(best)
    nseg = verts.shape[0] - 1
    for k in range(nseg):
        e0 = verts[k + 1, 0] - verts[k, 0]
        e1 = verts[k + 1, 1] - verts[k, 1]
        e2 = verts[k + 1, 2] - verts[k, 2]
        dot = (p0 - verts[k, 0]) * e0 + (p1 - verts[k, 1]) * e1 + (p2 - verts[k, 2]) * e2
        t = dot / (e0 * e0 + e1 * e1 + e2 * e2)
        t = min(1.0, max(0.0, t))
        x0 = p0 - (verts[k, 0] + t * e0)
        x1 = p1 - (verts[k, 1] + t * e1)
        x2 = p2 - (verts[k, 2] + t * e2)
        d2 = x0 * x0 + x1 * x1 + x2 * x2
        if d2 < best:
            best = d2
            bk = k
            bt = t
    if uniform:
        f = (bk + bt) / nseg
    else:
        f = (knots[bk] + bt * (knots[bk + 1] - knots[bk])) / (nlev - 1)
    return f, math.sqrt(best)


@jit
def decode_u8_kernel(
    rgb, out, conf, valid, lut, table, verts, palette, uniform, knots, nlev, nfine, threshold
):
    for i in range(rgb.shape[0]):
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
            conf[i] = 0.0
            valid[i] = False
        else:
            out[i] = table[q]
            conf[i] = ((v >> 16) & 255) / 255.0
            valid[i] = True


@jit
def _accept(out, conf, valid, i, f, dist, threshold, tp, lo, hi):
    """Pixel ``i`` of a float decode from its projection ``(f, dist)``: the depth of ``f``
    clamped into the decoded range (an ulp of rounding; -0.0 -> +0.0) with confidence
    ``1 - dist / threshold`` when the colour is within ``threshold`` of the curve, else invalid."""
    if dist < threshold:
        out[i] = min(hi, max(lo, _inverse(min(1.0, max(0.0, f)), tp))) + 0.0
        conf[i] = min(1.0, max(0.0, 1.0 - dist / threshold))
        valid[i] = True
    else:
        out[i] = math.nan
        conf[i] = 0.0
        valid[i] = False


@jit
def decode_float_kernel(
    rgb, out, conf, valid, scale, tp, lo, hi, verts, palette, uniform, knots, nlev, threshold
):
    for i in range(rgb.shape[0]):
        f, dist = _project(
            float(rgb[i, 0]) / scale,
            float(rgb[i, 1]) / scale,
            float(rgb[i, 2]) / scale,
            verts,
            palette,
            uniform,
            knots,
            nlev,
        )
        _accept(out, conf, valid, i, f, dist, threshold, tp, lo, hi)


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
    rgb, out, conf, valid, scale, keys, vals, lconf, ldepth, tp, lo, hi, verts, palette, uniform,
    knots, nlev, threshold,
):  # fmt: skip
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
        p0 = float(rgb[i, 0]) / scale
        p1 = float(rgb[i, 1]) / scale
        p2 = float(rgb[i, 2]) / scale
        j = _code_level(p0 * 65535.0, p1 * 65535.0, p2 * 65535.0, keys, vals)
        if j >= 0:  # one of the curve's codes: its level's depth, no projection
            out[i] = ldepth[j]
            conf[i] = lconf[j]
            valid[i] = True
            continue
        f, dist = _project(p0, p1, p2, verts, palette, uniform, knots, nlev)
        _accept(out, conf, valid, i, f, dist, threshold, tp, lo, hi)


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


def decode_u8(rgb: np.ndarray, curve, table: np.ndarray, lut: np.ndarray):
    """8-bit (n, 3) -> (depth float32, confidence float32, valid bool) through the shared table."""
    n = rgb.shape[0]
    out = np.empty(n, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    verts, palette, uniform, knots, nlev = _curve_args(curve)
    run_rows(
        decode_u8_kernel,
        (rgb, out, conf, valid),
        (lut, table, verts, palette, uniform, knots, nlev, curve.n_fine, curve.threshold),
    )
    return out, conf, valid


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
):
    """RGB (n, 3) at full scale ``scale`` -> (depth, confidence, valid) for a 16-bit curve: a
    16-bit code (to CODE_TOLERANCE) decodes to its level's depth (``depths``, from
    :func:`level_depths`) by the code hash (``hashed``, from :func:`build_code_hash`; both built
    here if not given), any other colour by the float path's projection
    (:func:`decode_u16_kernel`)."""
    keys, vals, lconf = build_code_hash(curve) if hashed is None else hashed
    ldepth = level_depths(curve, tp, lo, hi) if depths is None else depths
    n = rgb.shape[0]
    out = np.empty(n, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    verts, palette, uniform, knots, nlev = _curve_args(curve)
    run_rows(
        decode_u16_kernel,
        (rgb, out, conf, valid),
        (
            float(scale),
            keys,
            vals,
            lconf,
            ldepth,
            tp,
            float(lo),
            float(hi),
            verts,
            palette,
            uniform,
        )
        + (knots, nlev, curve.threshold),
    )
    return out, conf, valid


def decode_float(rgb: np.ndarray, scale: float, curve, tp: np.ndarray, lo: float, hi: float):
    """Float or 16-bit (n, 3) -> (depth, confidence, valid), exact projection in float64; valid
    depth clamped into ``[lo, hi]`` (the transform's decoded range)."""
    n = rgb.shape[0]
    out = np.empty(n, dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    verts, palette, uniform, knots, nlev = _curve_args(curve)
    run_rows(
        decode_float_kernel,
        (rgb, out, conf, valid),
        (float(scale), tp, float(lo), float(hi), verts, palette, uniform, knots, nlev)
        + (curve.threshold,),
    )
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
