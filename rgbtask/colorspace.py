"""sRGB <-> CIELAB and OKLab, the perceptual spaces palettes are built and decoded in.

The constants (sRGB transfer function, XYZ matrix, D65 white, CIELAB, OKLab M1/M2) are defined once
in :mod:`rgbtask.core.color`. Forward (sRGB -> space) runs its jitted formulas (the nearest-palette
kernels use the very same code, so distances agree bit for bit); the inverses are plain NumPy.

* ``"rgb"``: ``255 * (r, g, b)``: distances in 8-bit code units;
* ``"lab"``: CIE 1976 L*a*b*, D65 white (Xn, Yn, Zn) = (0.95047, 1, 1.08883), sRGB companding of
  IEC 61966-2-1; a distance is CIE76 Delta E (about 2.3 is a just-noticeable difference);
* ``"oklab"``: Björn Ottosson's OKLab (2020, https://bottosson.github.io/posts/oklab/), L in [0, 1]
  (white is L = 1); distances are about 1/100 of Delta E.

Inputs are ``(..., 3)`` arrays: ``uint8`` (0..255), ``uint16`` (0..65535) or float (0..1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rgbtask.codec import rgb_scale
from rgbtask.core import color
from rgbtask.core._jit import run_rows
from rgbtask.errors import ConfigError, InputError

__all__ = [
    "SPACES",
    "convert",
    "lab_to_srgb",
    "oklab_to_srgb",
    "space_id",
    "srgb_to_lab",
    "srgb_to_oklab",
]

#: Colour spaces by name.
SPACES = tuple(color.SPACE_IDS)


def space_id(space: str) -> int:
    """The kernel id of a colour space name (``ConfigError`` if unknown)."""
    if space not in color.SPACE_IDS:
        raise ConfigError(f"expected space in {list(SPACES)}, got {space!r}")
    return color.SPACE_IDS[space]


def _scale_of(rgb: np.ndarray) -> float:
    if rgb.dtype in (np.uint8, np.uint16) or rgb.dtype.kind == "f":
        return rgb_scale(rgb)
    raise InputError(f"expected sRGB as uint8, uint16 or float in [0, 1], got {rgb.dtype}")


def convert(rgb: Any, space: str) -> np.ndarray:
    """sRGB ``(..., 3)`` -> coordinates in ``space`` (float64, same leading shape)."""
    sid = space_id(space)
    rgb = np.asarray(rgb)
    if rgb.ndim < 1 or rgb.shape[-1] != 3:
        raise InputError(f"expected sRGB of shape (..., 3), got shape {rgb.shape}")
    scale = _scale_of(rgb)
    flat = np.ascontiguousarray(rgb.reshape(-1, 3))
    if flat.dtype.kind == "f" and flat.dtype != np.float64:
        flat = flat.astype(np.float64)
    out = np.empty(flat.shape, dtype=np.float64)
    if flat.shape[0]:
        run_rows(color.convert_kernel, (flat, out), (scale, sid))
    return out.reshape(rgb.shape)


def srgb_to_lab(rgb: Any) -> np.ndarray:
    """sRGB -> CIELAB (D65)."""
    return convert(rgb, "lab")


def srgb_to_oklab(rgb: Any) -> np.ndarray:
    """sRGB -> OKLab."""
    return convert(rgb, "oklab")


def lab_to_srgb(lab: Any) -> np.ndarray:
    """CIELAB (D65) -> sRGB float (not clipped: out-of-gamut colours fall outside [0, 1])."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + color.LAB_L_OFFSET) / color.LAB_L_SCALE
    f = np.stack(
        [fy + lab[..., 1] / color.LAB_A_SCALE, fy, fy - lab[..., 2] / color.LAB_B_SCALE], -1
    )
    d = color.LAB_DELTA
    xyz = np.where(f > d, f**3, 3 * d * d * (f - color.LAB_OFFSET)) * np.asarray(color.WHITE_D65)
    lin = xyz @ np.linalg.inv(np.asarray(color.XYZ_FROM_LINEAR_SRGB)).T
    return color.srgb_from_linear(lin)


def oklab_to_srgb(lab: Any) -> np.ndarray:
    """OKLab -> sRGB float (not clipped)."""
    lab = np.asarray(lab, dtype=np.float64)
    lms = (lab @ np.linalg.inv(np.asarray(color.OKLAB_M2)).T) ** 3
    lin = lms @ np.linalg.inv(np.asarray(color.OKLAB_M1)).T
    return color.srgb_from_linear(lin)
