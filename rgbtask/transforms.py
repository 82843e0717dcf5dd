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
quantile       ``clip((d - d_lo) / (d_hi - d_lo), 0, 1)``   ``low`` (0.02), ``high`` (0.98): the
               per image, then ``normalized``               quantiles whose depths are ``d_lo``,
                                                            ``d_hi`` (Marigold's normalisation)
=============  ==========================================  =====================================

``f`` increases with depth for every transform. Bounded transforms (linear, log, inverse) clip
depth to [near, far]: a depth outside comes back as ``near`` or ``far`` (documented, and counted in
the round-trip bound). The power transform is Barron's general loss shape as used by Vision Banana
(hilbertmap 0.1.3, ``hilbertmap/transform.py``): strictly increasing on [0, inf) with ``f -> 1`` as
``d -> inf``; ``f = 1`` (white on ``cubewalk``) decodes to ``+inf``.

Each transform is one class (a subclass of :class:`Transform`) that describes itself: its name,
forward and inverse (NumPy), whether it is bounded, whether depth 0 is valid, whether it works per
image, its decoded range and range text, and its kernel kind (``rgbtask.core.depth.KIND_*``).
:data:`TRANSFORMS` maps names to classes; adding a transform is one class here plus its branch in
the kernels' ``_forward`` / ``_inverse``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from rgbtask.core import depth as kernels
from rgbtask.errors import ConfigError
from rgbtask.params import number, plain

__all__ = [
    "TRANSFORMS",
    "Affine",
    "Inverse",
    "Linear",
    "Log",
    "Normalized",
    "Power",
    "Quantile",
    "Transform",
    "make_transform",
]

_NUMBER = number()
_FRACTION = number(0.0, 1.0)

#: Default quantiles of ``transform="quantile"`` (Marigold's 2 % and 98 %).
LOW, HIGH = 0.02, 0.98


def _no_quantiles(name: str, low: float, high: float) -> None:
    """``low``/``high`` belong to ``transform="quantile"`` only: anything else refuses them (a
    user who sets them meant the quantile transform)."""
    if (low, high) != (LOW, HIGH):
        raise ConfigError(
            f"expected low/high only with transform='quantile' (they are its quantiles), got "
            f"low={plain(low)!r}, high={plain(high)!r} with transform={name!r}"
        )


@dataclass(frozen=True)
class Transform:
    """A validated depth transform (build one with :meth:`build` or :func:`make_transform`).

    ``params`` is the kernels' ``[kind, near, far, lam, c]`` (built once). Equality and hashing
    compare the class and the four numbers, so a transform is a cache key.
    """

    #: Name in configs (``transform="..."``).
    name: ClassVar[str] = ""
    #: Kernel kind constant (``rgbtask.core.depth.KIND_*``).
    kind: ClassVar[int] = -1
    #: Clipped to ``[near, far]`` (needs ``near`` and ``far``).
    bounded: ClassVar[bool] = False
    #: Depth 0 is a valid value of the (normalised) depth the kernels see.
    zero_ok: ClassVar[bool] = False
    #: Depth is normalised per image (last two axes) before the transform.
    per_image: ClassVar[bool] = False

    near: float = 0.0
    far: float = 1.0
    lam: float = -3.0
    c: float = 10.0 / 3.0
    low: float = LOW
    high: float = HIGH
    params: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tp = np.array([self.kind, self.near, self.far, self.lam, self.c], dtype=np.float64)
        object.__setattr__(self, "params", tp)

    # ---------------------------------------------------------------- construction
    @classmethod
    def build(
        cls, near, far, lam: float, c: float, codec_name: str, low: float = LOW, high: float = HIGH
    ) -> Transform:
        """Check the cross-parameter rules (values already of the right type) and build."""
        _no_quantiles(cls.name, low, high)
        if near is not None or far is not None:
            raise ConfigError(
                f"expected no near/far with transform={cls.name!r} (it is not a [near, far] "
                f"range), got near={plain(near)!r}, far={plain(far)!r}"
            )
        return cls(0.0, 1.0, lam, c)

    # ---------------------------------------------------------------- maps
    def forward(self, depth: np.ndarray) -> np.ndarray:
        """Depth -> f (float64, not clipped)."""
        return kernels.forward_reference(depth, self.params)

    def inverse(self, f: np.ndarray) -> np.ndarray:
        """f in [0, 1] -> depth (float64)."""
        return kernels.inverse_reference(np.asarray(f, dtype=np.float64), self.params)

    def valid(self, depth: np.ndarray) -> np.ndarray:
        """Which depths (as the user gives them) are valid: finite and positive (or zero where
        :attr:`zero_ok`)."""
        d = np.asarray(depth, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.isfinite(d) & ((d >= 0) if self.zero_ok else (d > 0))

    def normalise(self, depth: np.ndarray, clip: bool = True):
        """``(depth the kernels see, scale, shift)``: the identity (scale, shift None) unless
        :attr:`per_image`. ``clip=False`` leaves values a per-image transform clips (``quantile``)
        unclipped (for the round-trip bound's clipped distance)."""
        return depth, None, None

    # ---------------------------------------------------------------- ranges
    @property
    def decoded_range(self) -> tuple[float, float]:
        """``(lo, hi)``: every valid decoded depth lies in ``[lo, hi]`` (float32 values; decoding
        clamps the inverse transform's rounding into it)."""
        lo, hi = self._range()
        return float(np.float32(lo)), float(np.float32(hi))

    def _range(self) -> tuple[float, float]:
        return 0.0, 1.0

    def range_text(self) -> str:
        """What a valid decoded value is, for reports."""
        return "relative depth in [0, 1], or NaN where invalid"

    def clip(self, depth: np.ndarray) -> np.ndarray:
        """The depth the encoding can represent (clipped into the range the transform covers)."""
        return np.clip(depth, 0.0, 1.0)

    def table_range(self, levels: int) -> tuple[float, float]:
        """The depths the encode bucket table covers (for a curve of ``levels``): those met in
        practice, including some beyond the range (they clip to the end levels); anything else
        takes the formula."""
        return 1e-6, 16.0


@dataclass(frozen=True)
class _Bounded(Transform):
    """A ``[near, far]`` transform: depth is clipped to it."""

    bounded: ClassVar[bool] = True
    #: near may be 0 (else ``0 < near``)
    near_zero_ok: ClassVar[bool] = True

    @classmethod
    def build(
        cls, near, far, lam: float, c: float, codec_name: str, low: float = LOW, high: float = HIGH
    ) -> Transform:
        _no_quantiles(cls.name, low, high)
        missing = [k for k, v in (("near", near), ("far", far)) if v is None]
        if missing:
            raise ConfigError(
                f"{codec_name} with transform={cls.name!r} needs {' and '.join(missing)} "
                f"(metres): e.g. get_codec({codec_name!r}, transform={cls.name!r}, near=0.5, "
                "far=80.0)"
            )
        if not (far > near >= 0.0) or (not cls.near_zero_ok and near <= 0.0):
            need = "0 <= near < far" if cls.near_zero_ok else "0 < near < far"
            raise ConfigError(f"expected {need}, got near={plain(near)!r}, far={plain(far)!r}")
        return cls(near, far, lam, c)

    def _range(self) -> tuple[float, float]:
        return self.near, self.far

    def range_text(self) -> str:
        lo, hi = self.decoded_range
        return f"depth in [near, far] = [{lo:.6g}, {hi:.6g}] m, or NaN where invalid"

    def clip(self, depth: np.ndarray) -> np.ndarray:
        return np.clip(depth, self.near, self.far)

    def table_range(self, levels: int) -> tuple[float, float]:
        return max(self.near / 16.0, 1e-6), self.far * 16.0


@dataclass(frozen=True)
class Linear(_Bounded):
    """``f = (d - near) / (far - near)``."""

    name: ClassVar[str] = "linear"
    kind: ClassVar[int] = kernels.KIND_LINEAR


@dataclass(frozen=True)
class Log(_Bounded):
    """``f = log(d / near) / log(far / near)``."""

    name: ClassVar[str] = "log"
    kind: ClassVar[int] = kernels.KIND_LOG
    near_zero_ok: ClassVar[bool] = False


@dataclass(frozen=True)
class Inverse(_Bounded):
    """``f = (1/near - 1/d) / (1/near - 1/far)``: disparity, linear."""

    name: ClassVar[str] = "inverse"
    kind: ClassVar[int] = kernels.KIND_INVERSE
    near_zero_ok: ClassVar[bool] = False


@dataclass(frozen=True)
class Power(Transform):
    """``f = 1 - (1 - d / (lam c))^(lam + 1)``: unbounded, ``f -> 1`` as ``d -> inf``."""

    name: ClassVar[str] = "power"
    kind: ClassVar[int] = kernels.KIND_POWER

    @classmethod
    def build(
        cls, near, far, lam: float, c: float, codec_name: str, low: float = LOW, high: float = HIGH
    ) -> Transform:
        super().build(near, far, lam, c, codec_name, low, high)  # no near/far, low/high
        if lam * c == 0.0 or lam == -1.0 or lam >= 0.0 or c <= 0.0:
            raise ConfigError(
                f"expected lam < 0, lam != -1 and c > 0 for the power transform, got lam={plain(lam)!r}, "
                f"c={plain(c)!r}"
            )
        if lam > -1.0:
            raise ConfigError(
                f"expected lam < -1 (unbounded depth: f -> 1 as d -> inf), got lam={plain(lam)!r}"
            )
        return cls(0.0, 1.0, lam, c)

    def inverse(self, f: np.ndarray) -> np.ndarray:
        """f in [0, 1] -> depth (float64); +inf at f = 1."""
        f = np.asarray(f, dtype=np.float64)
        return np.where(f >= 1.0, np.inf, super().inverse(f))

    def _range(self) -> tuple[float, float]:
        return 0.0, math.inf

    def range_text(self) -> str:
        return "depth in [0, +inf] m (+inf only at the curve's far end), or NaN where invalid"

    def clip(self, depth: np.ndarray) -> np.ndarray:
        return depth

    def table_range(self, levels: int) -> tuple[float, float]:
        return 1e-4, float(self.inverse(1.0 - 0.5 / (levels - 1))) * 16.0


@dataclass(frozen=True)
class Normalized(Transform):
    """``f = d``: relative depth already in [0, 1] (0 is valid)."""

    name: ClassVar[str] = "normalized"
    kind: ClassVar[int] = kernels.KIND_NORMALIZED
    zero_ok: ClassVar[bool] = True


@dataclass(frozen=True)
class Affine(Normalized):
    """Per image, ``(d - shift) / scale`` with ``shift, scale`` the min and (max - min) of the
    valid (finite, positive) depth, then :class:`Normalized`: the nearest valid pixel maps to 0."""

    name: ClassVar[str] = "affine"
    per_image: ClassVar[bool] = True

    def valid(self, depth: np.ndarray) -> np.ndarray:
        """Metric depth as the user gives it: 0 is invalid (only normalised depth may be 0)."""
        d = np.asarray(depth, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return np.isfinite(d) & (d > 0)

    def normalise(self, depth: np.ndarray, clip: bool = True):
        """Per image (last two axes): ``shift`` = min, ``scale`` = max - min of the valid depth
        (already in [0, 1]: nothing to clip)."""
        d = np.asarray(depth, dtype=np.float64)
        ok = self.valid(d)
        flat = np.where(ok, d, np.nan).reshape(d.shape[:-2] + (-1,))
        with np.errstate(all="ignore"), _quiet():
            lo = np.nanmin(flat, axis=-1)
            hi = np.nanmax(flat, axis=-1)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        scale = np.where(np.isfinite(hi) & (hi > lo), hi - lo, 1.0)
        rel = (d - lo[..., None, None]) / scale[..., None, None]
        rel = np.where(ok, rel, np.nan)
        return np.ascontiguousarray(rel), scale, lo


@dataclass(frozen=True)
class Quantile(Affine):
    """Per image, ``clip((d - d_lo) / (d_hi - d_lo), 0, 1)`` with ``d_lo``, ``d_hi`` the ``low`` and
    ``high`` quantiles of the valid (finite, positive) depth, then :class:`Normalized`.

    Marigold's normalisation of ground truth for its VAE (``src/util/depth_transform.py``,
    ``NearFarMetricNormalizer``: ``torch.quantile`` of the valid depth at 2 % and 98 %, mapped to
    [-1, 1] and clipped); on our curves the range is the curve parameter's [0, 1]. Quantiles
    interpolate linearly between order statistics (``np.quantile``'s default, as ``torch.quantile``).
    Depth outside ``[d_lo, d_hi]`` is clipped (Marigold clips): it decodes to ``d_lo`` or ``d_hi``,
    and the round-trip bound counts the distance clipped off. An image whose quantiles coincide
    (constant depth) has scale 1: every valid pixel encodes to 0 and decodes to ``d_lo``.
    """

    name: ClassVar[str] = "quantile"

    @classmethod
    def build(
        cls, near, far, lam: float, c: float, codec_name: str, low: float = LOW, high: float = HIGH
    ) -> Transform:
        super().build(near, far, lam, c, codec_name)  # no near/far
        low, high = _FRACTION(low, "low"), _FRACTION(high, "high")
        if not low < high:
            raise ConfigError(
                f"expected 0 <= low < high <= 1 (quantiles), got low={plain(low)!r}, "
                f"high={plain(high)!r}"
            )
        return cls(0.0, 1.0, lam, c, low, high)

    def depths(self, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(d_lo, d_hi)`` per image (last two axes): the ``low`` and ``high`` quantiles of the
        valid depth, float64 arrays of shape ``depth.shape[:-2]``; NaN for an image without valid
        depth."""
        d = np.asarray(depth, dtype=np.float64)
        flat = np.where(self.valid(d), d, np.nan).reshape(d.shape[:-2] + (-1,))
        with np.errstate(all="ignore"), _quiet():
            q = np.nanquantile(flat, [self.low, self.high], axis=-1)
        return q[0], q[1]

    def normalise(self, depth: np.ndarray, clip: bool = True):
        """Per image: ``shift`` = ``d_lo``, ``scale`` = ``d_hi - d_lo`` (0 and 1 where there is no
        valid depth, scale 1 where ``d_hi = d_lo``); clipped to [0, 1] unless ``clip=False``."""
        d = np.asarray(depth, dtype=np.float64)
        ok = self.valid(d)
        lo, hi = self.depths(d)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        scale = np.where(np.isfinite(hi) & (hi > lo), hi - lo, 1.0)
        rel = (d - lo[..., None, None]) / scale[..., None, None]
        if clip:
            rel = np.clip(rel, 0.0, 1.0)
        rel = np.where(ok, rel, np.nan)
        return np.ascontiguousarray(rel), scale, lo


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


#: Transform classes by name.
TRANSFORMS: dict[str, type[Transform]] = {
    cls.name: cls for cls in (Linear, Log, Inverse, Power, Normalized, Affine, Quantile)
}


def make_transform(
    name: Any, near, far, lam, c, codec_name: str, low: Any = LOW, high: Any = HIGH
) -> Transform:
    """Validate the transform parameters of a depth codec (``ConfigError`` naming what is wrong).

    The depth codecs validate each parameter on its own (:func:`rgbtask.params.param`) and call
    ``TRANSFORMS[name].build``; this function does both, for code that holds loose values."""
    if not isinstance(name, str) or name not in TRANSFORMS:
        raise ConfigError(f"expected transform in {list(TRANSFORMS)}, got {name!r}")
    lam, c = _NUMBER(lam, "lam"), _NUMBER(c, "c")
    near = None if near is None else _NUMBER(near, "near")
    far = None if far is None else _NUMBER(far, "far")
    low, high = _FRACTION(low, "low"), _FRACTION(high, "high")
    return TRANSFORMS[name].build(near, far, lam, c, codec_name, low, high)
