"""Mask kernels: colour-space conversion, nearest-palette search, panoptic ids; NumPy references.

Colour spaces (``space_id``: 0 = RGB, 1 = CIELAB, 2 = OKLab), for sRGB ``(r, g, b)`` in [0, 1]:

* RGB: ``(255 r, 255 g, 255 b)``, so distances are in 8-bit code units;
* CIELAB (D65 white, sRGB companding, CIE 1976):
  ``lin(c) = c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4``;
  ``XYZ = M_srgb @ lin``; ``f(t) = cbrt(t) if t > (6/29)^3 else t / (3 (6/29)^2) + 4/29``;
  ``L = 116 f(Y/Yn) - 16, a = 500 (f(X/Xn) - f(Y/Yn)), b = 200 (f(Y/Yn) - f(Z/Zn))``;
* OKLab (Ottosson 2020, https://bottosson.github.io/posts/oklab/), from the same linear RGB.

Nearest palette colour (per pixel): squared distances ``d = dx*dx + dy*dy + dz*dz`` (in that order)
to every palette colour in the chosen space; the label is the first index of the minimum (ties go to
the lowest index, as ``np.argmin``). With ``d1 <= d2`` the two smallest distances (square roots):
``confidence = (d2 - d1) / (d2 + d1)`` (1 with a single colour, 0 when ``d2 == 0``, i.e. an exact
colour shared by two entries); a pixel with ``d1 > reject`` gets the ``ignore`` label, confidence 0
and ``valid = False``.

8-bit input goes through a lazily filled lookup table of ``2**24`` packed entries (one ``uint64`` per
colour: bit 63 "filled", bits 32..62 the label, bits 0..31 the float32 confidence). The entry for a
colour is computed by the same brute force the first time the colour is seen and then reused, so the
result is identical to the brute force for every pixel. A single aligned 64-bit store publishes an
entry, so threads filling the same table never see half an entry.
"""

from __future__ import annotations

import math

import numpy as np

from rgbtask.core._jit import jit

SPACE_IDS = {"rgb": 0, "lab": 1, "oklab": 2}

# sRGB (D65) linear RGB -> XYZ, IEC 61966-2-1.
_XYZ = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
_WHITE = (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0
_DELTA3 = _DELTA**3
_LAB_LIN = 1.0 / (3.0 * _DELTA * _DELTA)
# OKLab: linear sRGB -> LMS, then cube roots -> Lab (Ottosson 2020).
_OK_LMS = (
    (0.4122214708, 0.5363325363, 0.0514459929),
    (0.2119034982, 0.6806995451, 0.1073969566),
    (0.0883024619, 0.2817188376, 0.6299787005),
)
_OK_LAB = (
    (0.2104542553, 0.7936177850, -0.0040720468),
    (1.9779984951, -2.4285922050, 0.4505937099),
    (0.0259040371, 0.7827717662, -0.8086757660),
)

_FILLED = np.uint64(1 << 63)
_VALID = np.uint64(1 << 62)
_LABEL_MASK = np.uint64(0x3FFFFFFF)
_CONF_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_VALID_SHIFT = np.uint64(62)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)


# ---------------------------------------------------------------- colour spaces (scalar, jitted)


@jit
def srgb_to_linear(c):
    if c <= 0.04045:
        return c / 12.92
    return ((c + 0.055) / 1.055) ** 2.4


@jit
def _lab_f(t):
    if t > _DELTA3:
        return np.cbrt(t)
    return t * _LAB_LIN + 4.0 / 29.0


@jit
def to_space(r, g, b, space_id):
    """sRGB in [0, 1] -> coordinates in space ``space_id`` (see the module docstring)."""
    if space_id == 0:
        return r * 255.0, g * 255.0, b * 255.0
    lr = srgb_to_linear(r)
    lg = srgb_to_linear(g)
    lb = srgb_to_linear(b)
    if space_id == 1:
        x = (0.4124564 * lr + 0.3575761 * lg + 0.1804375 * lb) / 0.95047
        y = 0.2126729 * lr + 0.7151522 * lg + 0.0721750 * lb
        z = (0.0193339 * lr + 0.1191920 * lg + 0.9503041 * lb) / 1.08883
        fx = _lab_f(x)
        fy = _lab_f(y)
        fz = _lab_f(z)
        return 116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)
    lc = np.cbrt(0.4122214708 * lr + 0.5363325363 * lg + 0.0514459929 * lb)
    mc = np.cbrt(0.2119034982 * lr + 0.6806995451 * lg + 0.1073969566 * lb)
    sc = np.cbrt(0.0883024619 * lr + 0.2817188376 * lg + 0.6299787005 * lb)
    return (
        0.2104542553 * lc + 0.7936177850 * mc - 0.0040720468 * sc,
        1.9779984951 * lc - 2.4285922050 * mc + 0.4505937099 * sc,
        0.0259040371 * lc + 0.7827717662 * mc - 0.8086757660 * sc,
    )


@jit
def convert_kernel(rgb, out, scale, space_id):
    """Rows of RGB (any real dtype, full scale ``scale``) -> rows of space coordinates (float64)."""
    for i in range(rgb.shape[0]):
        x, y, z = to_space(
            float(rgb[i, 0]) / scale, float(rgb[i, 1]) / scale, float(rgb[i, 2]) / scale, space_id
        )
        out[i, 0] = x
        out[i, 1] = y
        out[i, 2] = z


def convert_reference(rgb, scale, space_id):
    """NumPy specification of :func:`convert_kernel` (equal to it within float64 rounding)."""
    c = rgb.astype(np.float64) / scale
    if space_id == 0:
        return c * 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    if space_id == 1:
        xyz = lin @ np.asarray(_XYZ).T / np.asarray(_WHITE)
        f = np.where(xyz > _DELTA3, np.cbrt(xyz), xyz * _LAB_LIN + 4.0 / 29.0)
        return np.stack(
            [
                116.0 * f[..., 1] - 16.0,
                500.0 * (f[..., 0] - f[..., 1]),
                200.0 * (f[..., 1] - f[..., 2]),
            ],
            axis=-1,
        )
    lms = np.cbrt(lin @ np.asarray(_OK_LMS).T)
    return lms @ np.asarray(_OK_LAB).T


# ---------------------------------------------------------------- nearest palette colour


@jit
def _nearest(x, y, z, palette):
    """Index of the nearest palette row (first on ties) and the two smallest distances."""
    best = 0
    d1 = math.inf
    d2 = math.inf
    for k in range(palette.shape[0]):
        dx = x - palette[k, 0]
        dy = y - palette[k, 1]
        dz = z - palette[k, 2]
        d = dx * dx + dy * dy + dz * dz
        if d < d1:
            d2 = d1
            d1 = d
            best = k
        elif d < d2:
            d2 = d
    return best, math.sqrt(d1), math.sqrt(d2)


@jit
def margin_confidence(d1, d2):
    """``(d2 - d1) / (d2 + d1)``: 1 on a palette colour, 0 halfway between two (float32)."""
    if d2 == math.inf:
        return np.float32(1.0)
    if d2 <= 0.0:
        return np.float32(0.0)
    return np.float32((d2 - d1) / (d2 + d1))


@jit
def nearest_float_kernel(rgb, labels, confidence, valid, scale, palette, space_id, reject, ignore):
    """Brute force for every pixel (uint16 or float input: nothing is rounded to 8 bits)."""
    for i in range(rgb.shape[0]):
        x, y, z = to_space(
            float(rgb[i, 0]) / scale, float(rgb[i, 1]) / scale, float(rgb[i, 2]) / scale, space_id
        )
        k, d1, d2 = _nearest(x, y, z, palette)
        if d1 > reject:
            labels[i] = ignore
            confidence[i] = 0.0
            valid[i] = False
        else:
            labels[i] = k
            confidence[i] = margin_confidence(d1, d2)
            valid[i] = True


@jit
def nearest_lut_kernel(rgb, labels, confidence, valid, lut, palette, space_id, reject, ignore):
    """8-bit input through the lazily filled table ``lut`` (``2**24`` uint64, 0 = not yet known)."""
    conf_f = np.empty(1, dtype=np.float32)
    conf_u = conf_f.view(np.uint32)
    for i in range(rgb.shape[0]):
        key = (np.int64(rgb[i, 0]) << 16) | (np.int64(rgb[i, 1]) << 8) | np.int64(rgb[i, 2])
        entry = lut[key]
        if entry == 0:
            x, y, z = to_space(
                float(rgb[i, 0]) / 255.0,
                float(rgb[i, 1]) / 255.0,
                float(rgb[i, 2]) / 255.0,
                space_id,
            )
            k, d1, d2 = _nearest(x, y, z, palette)
            if d1 > reject:
                label = np.int64(ignore)
                conf_f[0] = 0.0
                flag = _ZERO
            else:
                label = np.int64(k)
                conf_f[0] = margin_confidence(d1, d2)
                flag = _VALID
            entry = _FILLED | flag | (np.uint64(label) << _SHIFT) | np.uint64(conf_u[0])
            lut[key] = entry
        labels[i] = np.int64((entry >> _SHIFT) & _LABEL_MASK)
        conf_u[0] = np.uint32(entry & _CONF_MASK)
        confidence[i] = conf_f[0]
        valid[i] = ((entry >> _VALID_SHIFT) & _ONE) == _ONE


def nearest_reference(coords, palette, reject, ignore):
    """NumPy brute force: pixel coordinates ``(N, 3)`` (from :func:`convert_kernel`) against the
    palette coordinates ``(K, 3)``; returns ``(labels int64, confidence float32, valid bool)``."""
    dx = coords[:, None, 0] - palette[None, :, 0]
    dy = coords[:, None, 1] - palette[None, :, 1]
    dz = coords[:, None, 2] - palette[None, :, 2]
    d = dx * dx + dy * dy + dz * dz
    labels = np.argmin(d, axis=1)
    d_sorted = np.sort(d, axis=1)
    d1 = np.sqrt(d_sorted[:, 0])
    d2 = np.sqrt(d_sorted[:, 1]) if palette.shape[0] > 1 else np.full_like(d1, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(d2 == np.inf, 1.0, np.where(d2 <= 0.0, 0.0, (d2 - d1) / (d2 + d1))).astype(
            np.float32
        )
    rejected = d1 > reject
    labels = np.where(rejected, ignore, labels)
    conf = np.where(rejected, np.float32(0.0), conf)
    return labels.astype(np.int64), conf, ~rejected


# ---------------------------------------------------------------- panoptic ids


@jit
def rgb2id_kernel(rgb, out):
    """``id = R + 256 G + 256^2 B`` (panopticapi's ``rgb2id``), uint8 rows -> int32."""
    for i in range(rgb.shape[0]):
        out[i] = np.int32(rgb[i, 0]) + 256 * np.int32(rgb[i, 1]) + 65536 * np.int32(rgb[i, 2])


def rgb2id_reference(rgb):
    """The published NumPy formula (panopticapi ``utils.rgb2id``)."""
    c = rgb.astype(np.int32)
    return c[..., 0] + 256 * c[..., 1] + 256 * 256 * c[..., 2]


@jit
def id2rgb_kernel(ids, out):
    """``R = id % 256, G = id // 256 % 256, B = id // 256^2 % 256`` (panopticapi ``id2rgb``)."""
    for i in range(ids.shape[0]):
        v = np.int64(ids[i])
        out[i, 0] = v % 256
        out[i, 1] = (v // 256) % 256
        out[i, 2] = (v // 65536) % 256


def id2rgb_reference(ids):
    """The published NumPy formula (panopticapi ``utils.id2rgb``)."""
    ids = ids.astype(np.int64).copy()
    out = np.zeros((*ids.shape, 3), dtype=np.uint8)
    for c in range(3):
        out[..., c] = ids % 256
        ids //= 256
    return out


@jit
def panoptic_float_kernel(rgb, out, confidence, scale):
    """uint16 / float RGB -> ids by rounding each channel to its nearest 8-bit code (half up);
    confidence ``1 - 2 max_c |255 c - code_c|`` (1 on a code, 0 halfway between two)."""
    for i in range(rgb.shape[0]):
        worst = 0.0
        v = np.int64(0)
        mult = np.int64(1)
        for c in range(3):
            x = float(rgb[i, c]) / scale * 255.0
            q = math.floor(x + 0.5)
            worst = max(worst, abs(x - q))
            v += np.int64(q) * mult
            mult *= 256
        out[i] = v
        confidence[i] = max(0.0, 1.0 - 2.0 * worst)


def panoptic_float_reference(rgb, scale):
    """NumPy specification of :func:`panoptic_float_kernel`."""
    x = rgb.astype(np.float64) / scale * 255.0
    q = np.floor(x + 0.5)
    worst = np.max(np.abs(x - q), axis=-1)
    qi = q.astype(np.int64)
    ids = qi[..., 0] + 256 * qi[..., 1] + 65536 * qi[..., 2]
    return ids.astype(np.int32), np.maximum(0.0, 1.0 - 2.0 * worst).astype(np.float32)


# ---------------------------------------------------------------- binary


@jit
def binary_kernel(rgb, labels, confidence, scale, background, direction, inv_len2, threshold):
    """Project each pixel on the segment background -> foreground: ``t = (c - bg) . (fg - bg) /
    |fg - bg|^2`` (8-bit units); label 1 where ``t >= threshold``; confidence
    ``min(1, |t - threshold| / min(threshold, 1 - threshold))``."""
    half = min(threshold, 1.0 - threshold)
    for i in range(rgb.shape[0]):
        t = 0.0
        for c in range(3):
            t += (float(rgb[i, c]) / scale * 255.0 - background[c]) * direction[c]
        t *= inv_len2
        labels[i] = 1 if t >= threshold else 0
        confidence[i] = min(1.0, abs(t - threshold) / half)


def binary_reference(rgb, scale, background, direction, inv_len2, threshold):
    """NumPy specification of :func:`binary_kernel`."""
    c = rgb.astype(np.float64) / scale * 255.0 - background
    t = (c[..., 0] * direction[0] + c[..., 1] * direction[1] + c[..., 2] * direction[2]) * inv_len2
    half = min(threshold, 1.0 - threshold)
    conf = np.minimum(1.0, np.abs(t - threshold) / half).astype(np.float32)
    return (t >= threshold).astype(np.uint8), conf
