"""Depth as RGB: a transform (depth -> f in [0, 1]) composed with a curve (f -> colour).

Codecs: ``depth/cubewalk`` (Vision Banana), ``depth/hue`` (RealSense), ``depth/gray`` (Marigold),
``depth/colormap`` (any injective matplotlib colormap, ``cmap=``) and ``depth/curve`` (your own
control points, ``curve=[[r, g, b], ...]`` in [0, 1]). Every codec takes every transform
(:mod:`rgbtask.transforms`): ``transform``, ``near``, ``far``, ``lam``, ``c``.

Encoding (per pixel)::

    f = transform(d);   i = floor(clip(f, 0, 1) * (levels - 1) + 0.5);   rgb = codes[i]
    invalid depth (0, negative, NaN, inf) -> the curve's reserved off-curve code

Levels: cubewalk 1786, hue 1530 (``variant="nowrap"``: 1276), gray 256, colormap ``cmap.N``
(256 for matplotlib's), curve: the rasterised polyline's length.

Decoding: the colour's exact nearest point on the curve (:mod:`rgbtask.curves`) gives ``f``, then
``d = transform^-1(f)``; a colour further than the curve's threshold is invalid (NaN, valid False);
confidence falls linearly with the distance. 8-bit input goes through a 2^24-entry table per curve,
shared by all codecs and threads and filled lazily with exactly that projection; float input is
projected in float64 without rounding to 8 bits. Output is float32 metres.

Round-trip bound, per pixel: with ``t_i = i / (levels - 1)`` the level ``d`` encodes to and
``h = 0.5 / (levels - 1)``, ``|decode(encode(d)) - d| <= max(D(t_i + h) - D(t_i), D(t_i) - D(t_i - h))``
(``D`` = inverse transform): half a quantization step (exactly half for ``linear``), plus the
distance clipped off for depths outside [near, far], plus half a float32 ulp of the output. :meth:`DepthCodec.step_at` gives the step
``D(t_i + h) - D(t_i - h)`` at any depth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np

from rgbtask import curves as curves_mod
from rgbtask.codec import Codec, Decoded, describe_array, rgb_scale
from rgbtask.core import depth as kernels
from rgbtask.core._jit import run_rows
from rgbtask.core._tables import TableCache
from rgbtask.errors import InputError
from rgbtask.io.tasks import DEPTH_IO
from rgbtask.metrics import depth_metrics
from rgbtask.registry import register_codec
from rgbtask.transforms import Transform, make_transform

__all__ = ["DepthCodec", "DepthColormap", "DepthCubewalk", "DepthCurve", "DepthGray", "DepthHue"]

#: float32 depth per fine index, per (curve, transform): 21 KiB each.
_TABLES = TableCache("depth tables", max_entries=64)


def _depth_table(curve: curves_mod.Curve, transform: Transform) -> np.ndarray:
    """float32 depth of every fine index of ``curve`` (shared, cached by curve and transform)."""
    return _TABLES.get((curve.key, transform), lambda: _build_depth_table(curve, transform))


def _build_depth_table(curve: curves_mod.Curve, transform: Transform) -> np.ndarray:
    _, fine_f = curves_mod.decode_lut(curve)
    lo, hi = transform.decoded_range
    return (np.clip(transform.inverse(fine_f), lo, hi) + 0.0).astype(np.float32)


#: Inputs with at least this many pixels are encoded through a bucket table (same result, faster;
#: not under NUMBA_DISABLE_JIT, where building the table in Python would cost more than it saves).
FAST_ENCODE_MIN = 1 << 16
#: The encode bucket tables, per (curve, transform, float dtype): about 1.7 MiB each.
_ENCODE_TABLES = TableCache("depth encode tables", max_entries=16)


def _encode_table(curve: curves_mod.Curve, transform: Transform, dtype: np.dtype):
    """The encode bucket table of (curve, transform, float dtype), shared and cached."""
    key = (curve.key, transform, np.dtype(dtype).str)
    return _ENCODE_TABLES.get(key, lambda: _build_encode_table(curve, transform, dtype))


def _build_encode_table(curve: curves_mod.Curve, transform: Transform, dtype: np.dtype):
    """Build what :func:`_encode_table` caches (see ``kernels.build_encode_table``)."""
    n = curve.levels
    # cover the depths met in practice, including some beyond [near, far] (they clip to the
    # end levels, so their buckets are uniform too); anything else takes the formula
    if transform.bounded:
        lo, hi = transform.near / 16.0, transform.far * 16.0
    elif transform.name == "power":
        lo, hi = 1e-4, float(transform.inverse(1.0 - 0.5 / (n - 1))) * 16.0
    else:
        lo, hi = 1e-6, 16.0
    lo = max(lo, 1e-6)
    return kernels.build_encode_table(
        dtype, lo, hi, curve.codes, transform.params, n, transform.zero_ok
    )


@dataclass(frozen=True, eq=False, repr=False)
class DepthCodec(Codec):
    """Shared implementation: subclasses say which curve (:meth:`curve_obj`)."""

    error_unit: ClassVar[str] = "m"
    primary_metric: ClassVar[tuple[str, bool]] = ("abs_rel", True)
    task_io: ClassVar[Any] = DEPTH_IO

    transform: str = "linear"
    near: float | None = None
    far: float | None = None
    lam: float = -3.0
    c: float = 10.0 / 3.0

    def __post_init__(self) -> None:
        tr = make_transform(self.transform, self.near, self.far, self.lam, self.c, self.name)
        for key in ("near", "far"):
            v = getattr(self, key)
            if v is not None:
                object.__setattr__(self, key, float(v))
        object.__setattr__(self, "lam", tr.lam)
        object.__setattr__(self, "c", tr.c)
        self.curve_obj()  # validate the curve now

    # ---------------------------------------------------------------- description
    def curve_obj(self) -> curves_mod.Curve:
        raise NotImplementedError

    @property
    def transform_obj(self) -> Transform:
        return make_transform(self.transform, self.near, self.far, self.lam, self.c, self.name)

    @property
    def levels(self) -> int:
        return self.curve_obj().levels

    def bound_text(self) -> str:
        return "|error| <= half a quantization step at that depth (step_at(depth))"

    def _level_parameters(self, depth: np.ndarray):
        tr = self.transform_obj
        d = np.ascontiguousarray(np.asarray(depth, dtype=np.float64)).reshape(-1)
        n = self.levels
        lev = kernels.levels_of(d, tr.params, n, tr.zero_ok)
        t = lev / (n - 1)
        h = 0.5 / (n - 1)
        mid = tr.inverse(t)
        lo = tr.inverse(np.clip(t - h, 0.0, 1.0))
        hi = tr.inverse(np.clip(t + h, 0.0, 1.0))
        return lev, lo, mid, hi

    def step_at(self, depth: Any) -> np.ndarray:
        """The quantization step at ``depth``: the width in metres of the depth interval that
        encodes to the same colour (NaN for invalid depth). Scalar in, scalar out."""
        arr = np.asarray(depth, dtype=np.float64)
        lev, lo, _, hi = self._level_parameters(arr)
        with np.errstate(invalid="ignore"):
            step = np.where(lev >= 0, hi - lo, np.nan).reshape(arr.shape)
        return step[()] if step.ndim == 0 else step

    # ---------------------------------------------------------------- encode / decode
    def validate_value(self, value: Any) -> np.ndarray:
        depth = np.asarray(value)
        if depth.dtype.kind not in "fiu" or depth.dtype.kind == "b":
            raise InputError(f"expected a float depth map (..., H, W), got {describe_array(depth)}")
        if depth.ndim < 2:
            raise InputError(
                f"expected a depth map of shape (..., H, W), got {describe_array(depth)}"
            )
        if depth.ndim >= 3 and depth.shape[-1] == 3 and depth.dtype == np.uint8:
            raise InputError(
                f"expected a depth map (..., H, W), got {describe_array(depth)}: an RGB image? "
                "use decode() for RGB"
            )
        if depth.size == 0:
            raise InputError(f"expected a non-empty depth map, got {describe_array(depth)}")
        if depth.dtype not in (np.float32, np.float64):
            depth = depth.astype(np.float64)
        if not depth.dtype.isnative:
            depth = depth.astype(depth.dtype.newbyteorder("="))
        return np.ascontiguousarray(depth)

    def _encode(self, depth: np.ndarray) -> np.ndarray:
        if self.transform == "affine":
            depth, _, _ = self._affine_normalise(depth)
        curve = self.curve_obj()
        tr = self.transform_obj
        out = np.empty(depth.shape + (3,), dtype=np.uint8)
        flat = depth.reshape(-1)
        reserved = np.asarray(curve.reserved, np.uint8)
        if flat.shape[0] < FAST_ENCODE_MIN or numba.config.DISABLE_JIT:
            run_rows(
                kernels.encode_kernel,
                (flat, out.reshape(-1, 3)),
                (curve.codes, reserved, tr.params, curve.levels, tr.zero_ok),
            )
            return out
        tab, thr, lo_col, hi_col, key0, shift = _encode_table(curve, tr, depth.dtype)
        bits = flat.view(np.uint32 if depth.dtype == np.float32 else np.uint64)
        run_rows(
            kernels.encode_fast_kernel,
            (bits, flat, out.reshape(-1, 3)),
            (tab, thr, lo_col, hi_col, key0, shift, curve.codes, reserved, tr.params)
            + (curve.levels, tr.zero_ok),
        )
        return out

    def _decode(self, rgb: np.ndarray) -> Decoded:
        curve = self.curve_obj()
        flat = rgb.reshape(-1, 3)
        if rgb.dtype == np.uint8:
            lut, _ = curves_mod.decode_lut(curve)
            table = _depth_table(curve, self.transform_obj)
            out, conf, valid = kernels.decode_u8(flat, curve, table, lut)
        else:
            tr = self.transform_obj
            out, conf, valid = kernels.decode_float(
                flat, rgb_scale(rgb), curve, tr.params, *tr.decoded_range
            )
        shape = rgb.shape[:-1]
        return Decoded(out.reshape(shape), conf.reshape(shape), valid.reshape(shape))

    # ---------------------------------------------------------------- range
    def range_text(self) -> str:
        lo, hi = self.transform_obj.decoded_range
        if self.transform == "power":
            return "depth in [0, +inf] m (+inf only at the curve's far end), or NaN where invalid"
        if self.transform in ("normalized", "affine"):
            return "relative depth in [0, 1], or NaN where invalid"
        return f"depth in [near, far] = [{lo:.6g}, {hi:.6g}] m, or NaN where invalid"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        """Valid: inside the transform's decoded range (``Transform.decoded_range``); invalid:
        NaN."""
        lo, hi = self.transform_obj.decoded_range
        d = np.asarray(decoded.value, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            inside = (d >= lo) & (d <= hi)
        return np.where(decoded.valid, inside, np.isnan(d))

    @property
    def pixelwise(self) -> bool:
        return True

    # ---------------------------------------------------------------- affine
    def _affine_normalise(self, depth: np.ndarray):
        """Per image (last two axes): ``shift`` = min, ``scale`` = max - min of the valid depth."""
        d = np.asarray(depth, dtype=np.float64)
        ok = np.isfinite(d) & (d > 0)
        flat = np.where(ok, d, np.nan).reshape(d.shape[:-2] + (-1,))
        with np.errstate(all="ignore"), _quiet():
            lo = np.nanmin(flat, axis=-1)
            hi = np.nanmax(flat, axis=-1)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        scale = np.where(np.isfinite(hi) & (hi > lo), hi - lo, 1.0)
        rel = (d - lo[..., None, None]) / scale[..., None, None]
        rel = np.where(ok, rel, np.nan)
        return np.ascontiguousarray(rel), scale, lo

    def affine_params(self, depth: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(scale, shift)`` per image for ``transform="affine"``: metres = decoded * scale + shift."""
        _, scale, shift = self._affine_normalise(self.validate_value(depth))
        return scale, shift

    def in_metres(self, reference: Any, decoded: Any) -> np.ndarray:
        """``decoded`` in the reference's units: for ``affine``, the decoded relative depth mapped
        back with the reference's scale and shift (what ``affine_params`` returns); else as is."""
        dec = np.asarray(decoded, dtype=np.float64)
        if self.transform == "affine":
            _, scale, shift = self._affine_normalise(np.asarray(reference, dtype=np.float64))
            dec = dec * scale[..., None, None] + shift[..., None, None]
        return dec

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """Depth metrics (AbsRel, RMSE, ...) of the decoded depth in metres (see ``in_metres``)."""
        return depth_metrics(self.in_metres(reference, decoded), reference)

    # ---------------------------------------------------------------- bound
    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """|decoded - reference| in metres; 0 where both invalid, inf where exactly one is.
        For ``affine`` the decoded relative depth is mapped back with the reference's scale, shift."""
        ref = np.asarray(reference, dtype=np.float64)
        dec = self.in_metres(ref, decoded)
        tr = self.transform_obj
        with np.errstate(invalid="ignore"):
            zero_ok = tr.name == "normalized"
            ref_ok = np.isfinite(ref) & ((ref >= 0) if zero_ok else (ref > 0))
            dec_ok = ~np.isnan(dec)
            err = np.abs(dec - ref)
        err = np.where(ref_ok & dec_ok, err, 0.0)
        err = np.where(np.isnan(err), np.inf, err)
        return np.where(ref_ok != dec_ok, np.inf, err)

    def roundtrip_bound(self, reference: np.ndarray) -> np.ndarray:
        ref = np.asarray(reference, dtype=np.float64)
        scale = None
        if self.transform == "affine":
            ref, scale, _ = self._affine_normalise(ref)
        lev, lo, mid, hi = self._level_parameters(ref)
        with np.errstate(invalid="ignore"):
            # half a step, plus the float32 rounding of the decoded depth (half an ulp); the far
            # end of an unbounded transform (every depth from some distance on) has no bound
            half = np.maximum(hi - mid, mid - lo) + np.abs(mid) * 2.0**-24
            half = np.where(np.isinf(mid), np.inf, half)
            flat = ref.reshape(-1)
            clipped = np.abs(flat - self.transform_obj.clip(flat))
            bound = np.where(lev >= 0, half + np.nan_to_num(clipped), 0.0)
        bound = bound.reshape(ref.shape)
        if scale is not None:
            bound = bound * scale[..., None, None]
        return bound

    @classmethod
    def _example_values(cls, scene: Any) -> list[np.ndarray]:
        d = scene.depth
        return [d, d[::-1, ::-1]]


class _quiet:
    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthCubewalk(DepthCodec):
    """Vision Banana's cube walk (1786 levels); default = power transform, lam=-3, c=10/3."""

    name: ClassVar[str] = "depth/cubewalk"
    transform: str = "power"

    def curve_obj(self) -> curves_mod.Curve:
        return curves_mod.cubewalk()

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(), values
        yield cls(transform="log", near=0.5, far=20.0), values
        yield cls(transform="affine"), values


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthHue(DepthCodec):
    """RealSense hue colorization: ``variant="wrap"`` (1530 levels) or ``"nowrap"`` (1276)."""

    name: ClassVar[str] = "depth/hue"
    variant: str = "wrap"

    def curve_obj(self) -> curves_mod.Curve:
        return curves_mod.hue(self.variant)

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(near=0.5, far=20.0), values
        yield cls(transform="inverse", near=0.5, far=20.0, variant="nowrap"), values


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthGray(DepthCodec):
    """One value in three channels (256 levels)."""

    name: ClassVar[str] = "depth/gray"

    def curve_obj(self) -> curves_mod.Curve:
        return curves_mod.gray()

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(near=0.5, far=20.0), values
        yield cls(transform="power"), values


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthColormap(DepthCodec):
    """A matplotlib colormap by name (``cmap``), decoded by nearest colour."""

    name: ClassVar[str] = "depth/colormap"
    cmap: str = "turbo"

    def curve_obj(self) -> curves_mod.Curve:
        return curves_mod.colormap_curve(self.cmap)

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(near=0.5, far=20.0), values
        yield cls(cmap="plasma", transform="log", near=0.5, far=20.0), values


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthCurve(DepthCodec):
    """Your own curve: ``curve`` = control points (K, 3) in [0, 1], decoded by nearest colour."""

    name: ClassVar[str] = "depth/curve"
    curve: Any = None

    def __post_init__(self) -> None:
        if self.curve is None:
            from rgbtask.errors import ConfigError

            raise ConfigError(
                "depth/curve needs curve: control points, e.g. "
                "get_codec('depth/curve', curve=[[0, 0, 0], [1, 0, 0], [1, 1, 0]], near=1, far=10)"
            )
        object.__setattr__(self, "curve", [list(p) for p in curves_mod._points_key(self.curve)])
        super().__post_init__()

    def curve_obj(self) -> curves_mod.Curve:
        return curves_mod._curve_from_key(curves_mod._points_key(self.curve))

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        pts = [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]]
        yield cls(curve=pts, near=0.5, far=20.0), values
