"""Scalar transforms: depth (metres) -> curve parameter ``f`` in [0, 1], and back.

=============  ==========================================  =====================================
``transform``  forward ``f(d)``                            parameters
=============  ==========================================  =====================================
linear         ``(d - near) / (far - near)``                ``near``, ``far``
log            ``log(d / near) / log(far / near)``          ``near``, ``far``
inverse        ``(1/near - 1/d) / (1/near - 1/far)``        ``near``, ``far`` (disparity, linear)
power          ``1 - (1 - d / (lam c))^(lam + 1)``          ``lam`` (-3), ``c`` (10/3): unbounded
normalized     ``d`` (relative depth already in [0, 1])     none
affine         ``(d - shift) / scale`` per image, then      none; ``shift, scale`` = the image's
               ``normalized``                               min and (max - min) of valid depth
=============  ==========================================  =====================================

``f`` increases with depth for every transform. Bounded transforms (linear, log, inverse) clip
depth to [near, far]: a depth outside comes back as ``near`` or ``far`` (documented, and counted in
the round-trip bound). The power transform is Barron's general loss shape as used by Vision Banana
(hilbertmap 0.1.3, ``hilbertmap/transform.py``): strictly increasing on [0, inf) with ``f -> 1`` as
``d -> inf``; ``f = 1`` (white on ``cubewalk``) decodes to ``+inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rgbtask.core.depth import KINDS, forward_reference, inverse_reference
from rgbtask.errors import ConfigError

__all__ = ["TRANSFORMS", "Transform", "make_transform"]

TRANSFORMS = ("linear", "log", "inverse", "power", "normalized", "affine")
BOUNDED = ("linear", "log", "inverse")


@dataclass(frozen=True)
class Transform:
    """A validated transform; ``params`` is the kernel's ``[kind, near, far, lam, c]``."""

    name: str
    near: float
    far: float
    lam: float
    c: float

    @property
    def params(self) -> np.ndarray:
        kind = KINDS["normalized" if self.name == "affine" else self.name]
        return np.array([kind, self.near, self.far, self.lam, self.c], dtype=np.float64)

    @property
    def bounded(self) -> bool:
        return self.name in BOUNDED

    @property
    def zero_ok(self) -> bool:
        """Relative depth 0 is a valid value for ``normalized`` (and for ``affine`` once its depth
        is normalised: the nearest valid pixel maps to 0); metric depth 0 is invalid."""
        return self.name in ("normalized", "affine")

    def forward(self, depth: np.ndarray) -> np.ndarray:
        """Depth -> f (float64, not clipped)."""
        return forward_reference(depth, self.params)

    def inverse(self, f: np.ndarray) -> np.ndarray:
        """f in [0, 1] -> depth (float64); ``power`` gives +inf at f = 1."""
        f = np.asarray(f, dtype=np.float64)
        d = inverse_reference(f, self.params)
        if self.name == "power":
            d = np.where(f >= 1.0, np.inf, d)
        return d

    @property
    def decoded_range(self) -> tuple[float, float]:
        """``(lo, hi)``: every valid decoded depth lies in ``[lo, hi]`` (float32 values; decoding
        clamps the inverse transform's rounding into it). ``[near, far]`` when bounded, ``[0, 1]``
        for relative depth, ``[0, +inf]`` for ``power`` (+inf only at ``f = 1``)."""
        if self.bounded:
            lo, hi = self.near, self.far
        elif self.name == "power":
            lo, hi = 0.0, math.inf
        else:
            lo, hi = 0.0, 1.0
        return float(np.float32(lo)), float(np.float32(hi))

    def clip(self, depth: np.ndarray) -> np.ndarray:
        """The depth the encoding can represent: clipped to [near, far] when bounded."""
        if self.bounded:
            return np.clip(depth, self.near, self.far)
        if self.name in ("normalized", "affine"):
            return np.clip(depth, 0.0, 1.0)
        return depth


def make_transform(name, near, far, lam, c, codec_name: str) -> Transform:
    """Validate the transform parameters of a depth codec (``ConfigError`` naming what is wrong)."""
    if name not in TRANSFORMS:
        raise ConfigError(f"expected transform in {list(TRANSFORMS)}, got {name!r}")
    for key, v in (("lam", lam), ("c", c)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ConfigError(f"expected {key} a finite number, got {v!r}")
    lam, c = float(lam), float(c)
    if name in BOUNDED:
        missing = [k for k, v in (("near", near), ("far", far)) if v is None]
        if missing:
            raise ConfigError(
                f"{codec_name} with transform={name!r} needs {' and '.join(missing)} (metres): "
                f"e.g. get_codec({codec_name!r}, transform={name!r}, near=0.5, far=80.0)"
            )
        for key, v in (("near", near), ("far", far)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ConfigError(f"expected {key} a finite number of metres, got {v!r}")
        near, far = float(near), float(far)
        if not (far > near >= 0.0) or (name in ("log", "inverse") and near <= 0.0):
            need = "0 < near < far" if name in ("log", "inverse") else "0 <= near < far"
            raise ConfigError(f"expected {need}, got near={near!r}, far={far!r}")
        return Transform(name, near, far, lam, c)
    if near is not None or far is not None:
        raise ConfigError(
            f"expected no near/far with transform={name!r} (it is not a [near, far] range), "
            f"got near={near!r}, far={far!r}"
        )
    if name == "power":
        if lam * c == 0.0 or lam == -1.0 or lam >= 0.0 or c <= 0.0:
            raise ConfigError(
                f"expected lam < 0, lam != -1 and c > 0 for the power transform, got lam={lam!r}, "
                f"c={c!r}"
            )
        if lam > -1.0:
            raise ConfigError(
                f"expected lam < -1 (unbounded depth: f -> 1 as d -> inf), got lam={lam!r}"
            )
    return Transform(name, 0.0, 1.0, lam, c)
