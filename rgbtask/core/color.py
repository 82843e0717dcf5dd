"""Colour science, defined once: sRGB <-> linear, XYZ, CIELAB and OKLab.

The named constants below are read by the jitted scalar conversion (:func:`to_space`, which the
nearest-palette kernels of :mod:`rgbtask.core.masks` call per pixel) and by the NumPy code
(:func:`convert_reference` here and the inverses in :mod:`rgbtask.colorspace`), so the two can
never disagree on a coefficient.

Colour spaces (``SPACE_IDS``: 0 = RGB, 1 = CIELAB, 2 = OKLab), for sRGB ``(r, g, b)`` in [0, 1]:

* RGB: ``(255 r, 255 g, 255 b)``, so distances are in 8-bit code units;
* CIELAB (D65 white, sRGB companding, CIE 1976):
  ``lin(c) = c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4``;
  ``XYZ = M_srgb @ lin``; ``f(t) = cbrt(t) if t > (6/29)^3 else t / (3 (6/29)^2) + 4/29``;
  ``L = 116 f(Y/Yn) - 16, a = 500 (f(X/Xn) - f(Y/Yn)), b = 200 (f(Y/Yn) - f(Z/Zn))``;
* OKLab: ``lms = M1 @ lin``, ``Lab = M2 @ cbrt(lms)`` from the same linear RGB.
"""

from __future__ import annotations

import math

import numpy as np

from rgbtask.core._jit import jit

__all__ = [
    "LAB_DELTA",
    "LAB_DELTA3",
    "LAB_LINEAR_SLOPE",
    "LAB_OFFSET",
    "OKLAB_M1",
    "OKLAB_M2",
    "SPACE_IDS",
    "SRGB_ENCODED_THRESHOLD",
    "SRGB_GAMMA",
    "SRGB_LINEAR_THRESHOLD",
    "SRGB_OFFSET",
    "SRGB_SCALE",
    "SRGB_SLOPE",
    "WHITE_D65",
    "XYZ_FROM_LINEAR_SRGB",
    "convert_kernel",
    "convert_reference",
    "linear_from_srgb",
    "nearest_color",
    "srgb_from_linear",
    "srgb_to_linear",
    "to_space",
]

#: Kernel ids of the colour spaces.
SPACE_IDS = {"rgb": 0, "lab": 1, "oklab": 2}
RGB, LAB, OKLAB = 0, 1, 2

# ---------------------------------------------------------------- sRGB transfer function
# IEC 61966-2-1:1999 (sRGB): linear = c / 12.92 for c <= 0.04045, else ((c + 0.055) / 1.055)^2.4;
# the inverse switches at linear 0.0031308.
SRGB_ENCODED_THRESHOLD = 0.04045
SRGB_LINEAR_THRESHOLD = 0.0031308
SRGB_SLOPE = 12.92
SRGB_OFFSET = 0.055
SRGB_SCALE = 1.055
SRGB_GAMMA = 2.4

# ---------------------------------------------------------------- CIE XYZ and CIELAB
#: Linear sRGB -> CIE XYZ (D65), IEC 61966-2-1 (7-digit form, as Bruce Lindbloom tabulates it).
XYZ_FROM_LINEAR_SRGB = (
    (0.4124564, 0.3575761, 0.1804375),
    (0.2126729, 0.7151522, 0.0721750),
    (0.0193339, 0.1191920, 0.9503041),
)
#: Reference white D65 (Xn, Yn, Zn), CIE 15:2004 (2-degree observer), Y normalised to 1.
WHITE_D65 = (0.95047, 1.0, 1.08883)
# CIE 15:2004, CIELAB: f(t) = cbrt(t) above (6/29)^3, else t / (3 (6/29)^2) + 4/29.
LAB_DELTA = 6.0 / 29.0
LAB_DELTA3 = LAB_DELTA**3
LAB_LINEAR_SLOPE = 1.0 / (3.0 * LAB_DELTA * LAB_DELTA)
LAB_OFFSET = 4.0 / 29.0
LAB_L_SCALE = 116.0
LAB_L_OFFSET = 16.0
LAB_A_SCALE = 500.0
LAB_B_SCALE = 200.0

# ---------------------------------------------------------------- OKLab
# Björn Ottosson, "A perceptual color space for image processing" (2020),
# https://bottosson.github.io/posts/oklab/: M1 takes linear sRGB to LMS, M2 takes the cube roots
# of LMS to (L, a, b).
OKLAB_M1 = (
    (0.4122214708, 0.5363325363, 0.0514459929),
    (0.2119034982, 0.6806995451, 0.1073969566),
    (0.0883024619, 0.2817188376, 0.6299787005),
)
OKLAB_M2 = (
    (0.2104542553, 0.7936177850, -0.0040720468),
    (1.9779984951, -2.4285922050, 0.4505937099),
    (0.0259040371, 0.7827717662, -0.8086757660),
)

# Scalars of the matrices for the jitted code (Numba freezes module globals at compile time).
_X0, _X1, _X2 = XYZ_FROM_LINEAR_SRGB[0]
_Y0, _Y1, _Y2 = XYZ_FROM_LINEAR_SRGB[1]
_Z0, _Z1, _Z2 = XYZ_FROM_LINEAR_SRGB[2]
_XN, _YN, _ZN = WHITE_D65
_L0, _L1, _L2 = OKLAB_M1[0]
_M0, _M1, _M2 = OKLAB_M1[1]
_S0, _S1, _S2 = OKLAB_M1[2]
_A0, _A1, _A2 = OKLAB_M2[0]
_B0, _B1, _B2 = OKLAB_M2[1]
_C0, _C1, _C2 = OKLAB_M2[2]


# ---------------------------------------------------------------- scalar conversion (jitted)


@jit
def srgb_to_linear(c):
    """IEC 61966-2-1 decoding of one sRGB component in [0, 1]."""
    if c <= SRGB_ENCODED_THRESHOLD:
        return c / SRGB_SLOPE
    return ((c + SRGB_OFFSET) / SRGB_SCALE) ** SRGB_GAMMA


@jit
def _lab_f(t):
    if t > LAB_DELTA3:
        return np.cbrt(t)
    return t * LAB_LINEAR_SLOPE + LAB_OFFSET


@jit
def to_space(r, g, b, space_id):
    """sRGB in [0, 1] -> coordinates in space ``space_id`` (see the module docstring)."""
    if space_id == RGB:
        return r * 255.0, g * 255.0, b * 255.0
    lr = srgb_to_linear(r)
    lg = srgb_to_linear(g)
    lb = srgb_to_linear(b)
    if space_id == LAB:
        x = (_X0 * lr + _X1 * lg + _X2 * lb) / _XN
        y = _Y0 * lr + _Y1 * lg + _Y2 * lb
        z = (_Z0 * lr + _Z1 * lg + _Z2 * lb) / _ZN
        fx = _lab_f(x)
        fy = _lab_f(y)
        fz = _lab_f(z)
        return (
            LAB_L_SCALE * fy - LAB_L_OFFSET,
            LAB_A_SCALE * (fx - fy),
            LAB_B_SCALE * (fy - fz),
        )
    lc = np.cbrt(_L0 * lr + _L1 * lg + _L2 * lb)
    mc = np.cbrt(_M0 * lr + _M1 * lg + _M2 * lb)
    sc = np.cbrt(_S0 * lr + _S1 * lg + _S2 * lb)
    return (
        _A0 * lc + _A1 * mc + _A2 * sc,
        _B0 * lc + _B1 * mc + _B2 * sc,
        _C0 * lc + _C1 * mc + _C2 * sc,
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


# ---------------------------------------------------------------- NumPy


def linear_from_srgb(c: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 decoding, elementwise (NumPy)."""
    return np.where(
        c <= SRGB_ENCODED_THRESHOLD,
        c / SRGB_SLOPE,
        ((c + SRGB_OFFSET) / SRGB_SCALE) ** SRGB_GAMMA,
    )


def srgb_from_linear(lin: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 encoding, elementwise, odd-symmetric (out-of-gamut values keep their sign)."""
    mag = np.abs(lin)
    srgb = np.where(
        mag <= SRGB_LINEAR_THRESHOLD,
        mag * SRGB_SLOPE,
        SRGB_SCALE * mag ** (1 / SRGB_GAMMA) - SRGB_OFFSET,
    )
    return np.sign(lin) * srgb


def convert_reference(rgb, scale, space_id):
    """NumPy specification of :func:`convert_kernel` (equal to it within float64 rounding)."""
    c = rgb.astype(np.float64) / scale
    if space_id == RGB:
        return c * 255.0
    lin = linear_from_srgb(c)
    if space_id == LAB:
        xyz = lin @ np.asarray(XYZ_FROM_LINEAR_SRGB).T / np.asarray(WHITE_D65)
        f = np.where(xyz > LAB_DELTA3, np.cbrt(xyz), xyz * LAB_LINEAR_SLOPE + LAB_OFFSET)
        return np.stack(
            [
                LAB_L_SCALE * f[..., 1] - LAB_L_OFFSET,
                LAB_A_SCALE * (f[..., 0] - f[..., 1]),
                LAB_B_SCALE * (f[..., 1] - f[..., 2]),
            ],
            axis=-1,
        )
    lms = np.cbrt(lin @ np.asarray(OKLAB_M1).T)
    return lms @ np.asarray(OKLAB_M2).T


# ---------------------------------------------------------------- nearest colour


@jit
def nearest_color(x, y, z, palette):
    """Index of the row of ``palette`` (n, 3) nearest to ``(x, y, z)`` in Euclidean distance (the
    first on ties) and the two smallest distances: the one nearest-colour search, shared by the
    mask palettes and the keypoint id colours."""
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
