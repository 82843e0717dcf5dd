"""Depth as RGB: a transform (depth -> f in [0, 1]) composed with a curve (f -> colour).

Codecs: ``depth/cubewalk`` (Vision Banana), ``depth/hue`` (RealSense), ``depth/gray`` (Marigold),
``depth/colormap`` (any injective matplotlib colormap, ``cmap=``) and ``depth/curve`` (your own
control points, ``curve=[[r, g, b], ...]`` in [0, 1]). Every codec takes every transform
(:mod:`rgbtask.transforms`): ``transform``, ``near``, ``far``, ``lam``, ``c``, and ``low``, ``high``
(the quantiles of ``transform="quantile"``, Marigold's per-image normalisation); and
``bits=8|16`` (default 8): ``bits=16`` encodes to ``uint16`` RGB (16-bit PNGs) on the 16-bit
curve of :mod:`rgbtask.curves` (about 257 times the levels).

Input: depth in metres (or the transform's units), float (``float16`` is widened); integer depth
(a 16-bit PNG's millimetres) is refused with :class:`~rgbtask.errors.InputError`: divide by its
scale first (``depth / 1000.0``), as ``rgbtask.io.read_depth(path, depth_scale)`` does.

Encoding (per pixel)::

    f = transform(d);   i = floor(clip(f, 0, 1) * (levels - 1) + 0.5);   rgb = codes[i]
    invalid depth (0, negative, NaN, inf) -> the curve's reserved off-curve code

Levels: cubewalk 1786, hue 1530 (``variant="nowrap"``: 1276), gray 256, colormap ``cmap.N``
(256 for matplotlib's), curve: the rasterised polyline's length. ``bits=16``: cubewalk 458,746, hue
392,954 (``nowrap``: 327,676), gray 65,536, colormap and curve: the 16-bit rasterisation of the
polyline through their colours (turbo 197,312; ``codec.levels`` says).

Decoding: the colour's exact nearest point on the curve (:mod:`rgbtask.curves`) gives ``f``, then
``d = transform^-1(f)``; a colour further than the curve's threshold is invalid (NaN, valid False);
confidence falls linearly with the distance. 8-bit input goes through a 2^24-entry table per curve,
shared by all codecs and threads and filled lazily with exactly that projection; float input is
projected in float64 without rounding to 8 bits. A 16-bit codec decodes every input by the same
projection (no 2^48 table), except that a colour that is one of its 16-bit codes (to 0.01 of a
code, so float RGB of a code decodes as the code does) decodes to its level's depth, found among
the levels next to its projection or by a hash of the curve's codes (``kernels.decode_u16``); an 8-bit codec decodes ``uint16`` input as
float, as before.
Output is float32 metres.

Round-trip bound, per pixel: with ``t_i = i / (levels - 1)`` the level ``d`` encodes to and
``h = 0.5 / (levels - 1)``, ``|decode(encode(d)) - d| <= max(D(t_i + h) - D(t_i), D(t_i) - D(t_i - h))``
(``D`` = inverse transform): half a quantization step (exactly half for ``linear``), plus the
distance clipped off for depths outside [near, far], plus half a float32 ulp of the output. :meth:`DepthCodec.step_at` gives the step
``D(t_i + h) - D(t_i - h)`` at any depth. The same formula holds for ``bits=16`` with its levels.

Images written by other tools (issue 14; docs/depth.md):

* ``quantization="floor"`` (8-bit cubewalk, hue, gray): ``rgb = floor(colour(f) * 255)``, the
  continuous curve's colour truncated (hilbertmap's examples); decoded by the nearest colour of
  :func:`rgbtask.curves.floor_table` to the centre of the ``f`` interval painted with it. Bound:
  half that interval (half a level; one level at the cube walk's green and blue vertices).
* ``quantization="matplotlib"`` / ``"opencv"`` (``depth/colormap``, 8 bits): the tool's 256-entry
  table, entry ``trunc(f * scale)`` (matplotlib ``scale = N``, OpenCV 255;
  :func:`rgbtask.curves.source_table`), decoded to the centre of the colour's interval.
* ``max_distance``: ``"auto"`` (the curve's threshold), a number, or None (every colour is valid,
  the reserved code included: ``depth/cubewalk`` then equals ``hilbertmap.rgb_to_depth`` on all
  2^24 colours). Confidence stays ``1 - distance / threshold``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numba
import numpy as np

from rgbtask import curves as curves_mod
from rgbtask.codec import Codec, Decoded, check_rgb, check_value, describe_array, rgb_scale
from rgbtask.core import depth as kernels
from rgbtask.core._tables import TableCache
from rgbtask.errors import ConfigError, InputError
from rgbtask.io.tasks import DEPTH_IO, INTEGER_DEPTH_HINT
from rgbtask.metrics import depth_metrics
from rgbtask.params import number, one_of, param, plain
from rgbtask.registry import register_codec
from rgbtask.transforms import HIGH, LOW, TRANSFORMS, Affine, Quantile, Transform

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


#: The 16-bit code hashes, per curve (``kernels.build_code_hash``): 3 to 14 MiB each; and the
#: float32 depth of every level, per (curve, transform): up to 1.8 MiB each.
_CODE_HASHES = TableCache("depth 16-bit code tables", max_entries=16)


def _code_hash(curve: curves_mod.Curve):
    """The code hash of a 16-bit curve (shared, cached by curve)."""
    return _CODE_HASHES.get(curve.key, lambda: kernels.build_code_hash(curve))


def _level_depths(curve: curves_mod.Curve, transform: Transform) -> np.ndarray:
    """float32 depth of every level of a 16-bit curve (shared, cached by curve and transform)."""
    key = (curve.key, transform)
    return _CODE_HASHES.get(
        key, lambda: kernels.level_depths(curve, transform.params, *transform.decoded_range)
    )


def _float_grid(curve: curves_mod.Curve):
    """The curve's projection grid for float decoding, or None (brute force) where the curve has
    too few segments for the grid to save work (``gray``: one segment)."""
    items = len(curve.vertices) - (curve.kind != "palette")
    return curves_mod.projection_grid(curve) if items > 2 else None


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
    lo, hi = transform.table_range(curve.levels)
    return kernels.build_encode_table(
        dtype,
        max(lo, 1e-6),
        hi,
        codes=curve.codes,
        tp=transform.params,
        nlev=curve.levels,
        zero_ok=transform.zero_ok,
    )


_ANY_NUMBER = number()
_POSITIVE = number(0.0, lo_open=True)

#: Largest distance between two colours of the unit cube: ``max_distance=None`` accepts all.
_ANY_DISTANCE = 2.0


def _max_distance(value: Any, name: str) -> str | float:
    """``"auto"`` (the curve's own threshold) or a positive number (None: no limit)."""
    if isinstance(value, str):
        if value == "auto":
            return value
        raise ConfigError(f"expected {name} 'auto', None or a positive number, got {value!r}")
    try:
        return _POSITIVE(value, name)
    except ConfigError:
        raise ConfigError(
            f"expected {name} 'auto', None or a positive number, got {plain(value)!r}"
        ) from None


def _name(value: Any, name: str) -> str:
    """A non-empty string (a colormap name)."""
    if isinstance(value, str) and value:
        return value
    raise ConfigError(f"expected {name} a non-empty string, got {plain(value)!r}")


def _control_points(value: Any, name: str) -> list[list[float]]:
    """Control points ``(K >= 2, 3)``, numbers in [0, 1]: a list of lists of floats."""
    expected = "control points: a list of at least 2 [r, g, b] rows of numbers in [0, 1]"
    check = number(0.0, 1.0)

    def fail() -> ConfigError:
        return ConfigError(f"expected {name} {expected}, got {plain(value)!r}")

    def is_seq(v: Any) -> bool:
        return not isinstance(v, (str, bytes)) and isinstance(v, (Sequence, np.ndarray))

    if not is_seq(value) or len(value) < 2:
        raise fail()
    rows = []
    for row in value:
        if not is_seq(row) or len(row) != 3:
            raise fail()
        try:
            rows.append([check(v, name) for v in row])
        except ConfigError:
            raise fail() from None
    return rows


@dataclass(frozen=True, eq=False, repr=False)
class DepthCodec(Codec):
    """Shared implementation: subclasses say which curve (:meth:`_build_curve`).

    The transform and the curve are built once, at construction, and kept in private attributes
    (not fields: a codec pickles its config only)."""

    error_unit: ClassVar[str] = "m"
    primary_metric: ClassVar[tuple[str, bool]] = ("abs_rel", True)
    task_io: ClassVar[Any] = DEPTH_IO

    transform: str = param("linear", one_of(*TRANSFORMS))
    near: float | None = param(None, _ANY_NUMBER, optional=True)
    far: float | None = param(None, _ANY_NUMBER, optional=True)
    lam: float = param(-3.0, _ANY_NUMBER)
    c: float = param(10.0 / 3.0, _ANY_NUMBER)
    low: float = param(LOW, number(0.0, 1.0))
    high: float = param(HIGH, number(0.0, 1.0))
    bits: int = param(8, one_of(8, 16))
    quantization: str = param("round", one_of("round", "floor"))
    max_distance: Any = param("auto", _max_distance, optional=True)

    def __post_init__(self) -> None:
        super().__post_init__()  # every parameter on its own
        tr = TRANSFORMS[self.transform].build(
            self.near, self.far, self.lam, self.c, self.name, self.low, self.high
        )
        object.__setattr__(self, "_transform", tr)
        if type(self).curve_obj is DepthCodec.curve_obj:
            curve = self._build_curve()
        else:  # a subclass written before _build_curve: it overrides curve_obj() instead
            curve = self.curve_obj()
        object.__setattr__(self, "_curve", curve)
        if self.quantization == "floor":
            if curve.kind != "polyline" or self.bits != 8:
                raise ConfigError(
                    f"expected quantization 'round' for {self.name} at bits={self.bits}, got "
                    "'floor': it applies to 8-bit polyline curves (cubewalk, hue, gray)"
                    + (
                        "; colormaps: quantization='matplotlib'"
                        if self.name.endswith("map")
                        else ""
                    )
                )
            table = curves_mod.floor_table(curve)
        else:
            table = self._source_table()
        object.__setattr__(self, "_table", table)
        if table is not None:  # depth of each level's centre (the decode of its colour)
            lo, hi = tr.decoded_range
            centre = 0.5 * (table.f_lo + table.f_hi)
            depths = np.clip(tr.inverse(centre), lo, hi).astype(np.float32) + np.float32(0.0)
            depths.setflags(write=False)
            object.__setattr__(self, "_centre_depths", depths)
            fine = np.zeros(table.curve.n_fine, dtype=np.float32)  # decode_u8: q = level * fine
            fine[:: table.curve.fine] = depths
            object.__setattr__(self, "_fine_centre_depths", fine)

    def _source_table(self) -> curves_mod.SourceTable | None:
        """The tool's colour table for ``quantization`` 'matplotlib' / 'opencv' (colormaps)."""
        return None

    # ---------------------------------------------------------------- description
    def _build_curve(self) -> curves_mod.Curve:
        """The codec's curve, built once by ``__post_init__`` (subclasses define it)."""
        raise NotImplementedError(f"{type(self).__name__} must define _build_curve()")

    def curve_obj(self) -> curves_mod.Curve:
        """The codec's curve (built once, at construction)."""
        return self._curve

    @property
    def default_decode(self) -> bool:
        """True for the default quantization and threshold (the paths torch runs on device)."""
        return self.quantization == "round" and self.max_distance == "auto"

    @property
    def transform_obj(self) -> Transform:
        """The codec's transform (built once, at construction)."""
        return self._transform

    @property
    def levels(self) -> int:
        return self._curve.levels

    @property
    def dtype(self) -> np.dtype:
        """``uint8`` (``bits=8``) or ``uint16`` (``bits=16``)."""
        return np.dtype(np.uint8 if self.bits == 8 else np.uint16)

    def bound_text(self) -> str:
        return "|error| <= half a quantization step at that depth (step_at(depth))"

    def _level_parameters(self, depth: np.ndarray):
        """Per depth: its level (-1: invalid) and the depths ``lo, mid, hi`` of the interval
        that encodes to that colour and of the value it decodes to."""
        tr = self._transform
        d = np.ascontiguousarray(np.asarray(depth, dtype=np.float64)).reshape(-1)
        n = self.levels
        lev = kernels.levels_of(d, tr.params, n, tr.zero_ok)
        if self.quantization != "round":
            f_lo, f_mid, f_hi = self._intervals(d, lev >= 0)
            return lev, tr.inverse(f_lo), tr.inverse(f_mid), tr.inverse(f_hi)
        t = lev / (n - 1)
        h = 0.5 / (n - 1)
        mid = tr.inverse(t)
        lo = tr.inverse(np.clip(t - h, 0.0, 1.0))
        hi = tr.inverse(np.clip(t + h, 0.0, 1.0))
        return lev, lo, mid, hi

    def _parameter(self, depth: np.ndarray, ok: np.ndarray) -> np.ndarray:
        """``clip(f, 0, 1)`` of flat, normalised depth (0 where not ``ok``)."""
        with np.errstate(all="ignore"):
            f = self._transform.forward(np.where(ok, depth, 1.0))
        return np.where(ok, np.clip(f, 0.0, 1.0), 0.0)

    def _intervals(self, depth: np.ndarray, ok: np.ndarray):
        """``(f_lo, f_mid, f_hi)`` of ``quantization`` 'floor' / 'matplotlib' / 'opencv': the
        interval of ``f`` a truncating writer paints with the colour of ``depth``, and its centre
        (what that colour decodes to). Truncation in any channel (rising or falling along the
        curve) cuts ``f`` at whole levels, so 'floor' gives ``[k, k + 1] / (levels - 1)``."""
        f = self._parameter(depth, ok)
        j = self._table.levels_of(f)
        lo, hi = self._table.f_lo[j], self._table.f_hi[j]
        return lo, 0.5 * (lo + hi), hi

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
        if depth.ndim >= 3 and depth.shape[-1] == 3 and depth.dtype == np.uint8:
            raise InputError(
                f"expected a depth map (..., H, W), got {describe_array(depth)}: an RGB image? "
                "use decode() for RGB"
            )
        depth = check_value(depth, "a depth map", "(..., H, W)", kinds="fiu")
        if depth.dtype.kind in "iu":
            raise InputError(
                f"expected depth in metres (float), got {describe_array(depth)}: integer depth "
                f"needs a scale ({INTEGER_DEPTH_HINT}); convert it first, e.g. "
                "codec.encode(depth / 1000.0) for millimetres (0 stays invalid)"
            )
        if depth.dtype not in (np.float32, np.float64):
            depth = depth.astype(np.float64)
        return depth

    def _encode(self, depth: np.ndarray) -> np.ndarray:
        curve, tr = self._curve, self._transform
        depth, _, _ = tr.normalise(depth)
        out = np.empty(depth.shape + (3,), dtype=self.dtype)
        flat = depth.reshape(-1)
        if self.quantization != "round":
            self._encode_truncating(flat, out.reshape(-1, 3))
            return out
        if self.bits == 16 or flat.shape[0] < FAST_ENCODE_MIN or numba.config.DISABLE_JIT:
            kernels.encode(flat, out.reshape(-1, 3), curve=curve, tp=tr.params, zero_ok=tr.zero_ok)
        else:
            kernels.encode_fast(
                flat,
                out.reshape(-1, 3),
                table=_encode_table(curve, tr, depth.dtype),
                curve=curve,
                tp=tr.params,
                zero_ok=tr.zero_ok,
            )
        return out

    def _decode_u8(self, flat: np.ndarray, confidence: bool):
        curve = self._curve
        lut, _ = curves_mod.decode_lut(curve)
        table = _depth_table(curve, self._transform)
        diag = None
        if curve.key == ("gray",):  # the gray codes (v, v, v) read directly (issue 17)
            key = (curve.key, self._transform, "gray codes")
            diag = _TABLES.get(key, lambda: kernels.gray_codes(curve, table, lut))
        return kernels.decode_u8(flat, curve, table, lut, confidence, diag)

    def decode(self, rgb: Any) -> np.ndarray:
        """RGB -> depth (float32 metres, NaN where invalid); see :meth:`Codec.decode`. 8-bit
        and float input to an 8-bit codec skip the confidence (the same depth, fewer bytes
        written)."""
        if not (self.default_decode and self.bits == 8):
            return self._decode(check_rgb(rgb)).value
        rgb = check_rgb(rgb, check_range=False)
        flat = rgb.reshape(-1, 3)
        if rgb.dtype == np.uint8:
            out, _, _ = self._decode_u8(flat, confidence=False)
        else:
            out, _, _ = self._decode_float(rgb, confidence=False)
        return out.reshape(rgb.shape[:-1])

    def decode_with_confidence(self, rgb: Any) -> Decoded:
        """See :meth:`Codec.decode_with_confidence`; float input to an 8-bit codec is checked
        for [0, 1] by the decode kernel itself (one pass over the input, not two)."""
        fused = self.default_decode and self.bits == 8
        return self._decode(check_rgb(rgb, check_range=not fused))

    def _decode_float(self, rgb: np.ndarray, confidence: bool):
        """Float (or uint16) RGB through the 8-bit curve's projection grid; the range check of
        float input (:func:`~rgbtask.codec.check_rgb`) is fused into the kernel: when it finds a
        colour outside [0, 1] (or NaN), the full check raises its error."""
        tr = self._transform
        outside = np.zeros(1, dtype=np.bool_)
        res = kernels.decode_float(
            rgb.reshape(-1, 3), rgb_scale(rgb), self._curve, tr.params, *tr.decoded_range,
            grid=_float_grid(self._curve), confidence=confidence, outside=outside,
        )  # fmt: skip
        if outside[0]:
            check_rgb(rgb)  # raises, naming the values outside [0, 1]
        return res

    def _encode_truncating(self, flat: np.ndarray, out: np.ndarray) -> None:
        """``quantization`` 'floor': the curve's continuous colour at ``f``, each channel
        truncated (``floor(colour * (2**bits - 1))``, as ``(rgb * 255).astype(np.uint8)``
        does); 'matplotlib' / 'opencv': the tool's table entry ``trunc(f * scale)``."""
        curve, tr = self._curve, self._transform
        ok = kernels.levels_of(flat, tr.params, self.levels, tr.zero_ok) >= 0
        f = self._parameter(flat, ok)
        if self.quantization == "floor":
            codes = np.clip(np.floor(curve.colors(f) * 255.0), 0.0, 255.0)
        else:
            codes = curve.codes[self._table.levels_of(f)]
        out[...] = np.where(ok[:, None], codes, np.asarray(curve.reserved))

    def _decode(self, rgb: np.ndarray) -> Decoded:
        curve, tr = self._curve, self._transform
        flat = rgb.reshape(-1, 3)
        if not self.default_decode:
            out, conf, valid = self._decode_general(flat)
        elif self.bits == 16:
            out, conf, valid = kernels.decode_u16(
                flat, curve, tr.params, *tr.decoded_range, rgb_scale(rgb), _code_hash(curve),
                _level_depths(curve, tr), curves_mod.projection_grid(curve),
            )  # fmt: skip
        elif self.bits == 8 and rgb.dtype == np.uint8:
            out, conf, valid = self._decode_u8(flat, confidence=True)
        else:
            out, conf, valid = self._decode_float(rgb, confidence=True)
        shape = rgb.shape[:-1]
        return Decoded(out.reshape(shape), conf.reshape(shape), valid.reshape(shape))

    def _decode_general(self, flat: np.ndarray):
        """Decode for ``quantization`` other than 'round' or ``max_distance`` other than 'auto'.

        'floor', 'matplotlib', 'opencv': the nearest colour of the writer's table (8-bit input
        through the shared 2^24 table) gives the interval of ``f`` painted with that colour, and
        the colour decodes to its centre (``self._table``). Otherwise the exact projection of
        the float path. A colour is valid within ``max_distance`` of the curve (None: every
        colour); the confidence is the default's, ``1 - distance / threshold`` (0 beyond the
        curve's own threshold)."""
        tr = self._transform
        curve = self._curve if self._table is None else self._table.curve
        scale = rgb_scale(flat)
        limit = self.max_distance
        limit = curve.threshold if limit == "auto" else (_ANY_DISTANCE if limit is None else limit)
        wide = dataclasses.replace(curve, threshold=float(limit))
        if self._table is None:
            out, conf, valid = kernels.decode_float(flat, scale, wide, tr.params, *tr.decoded_range)
        elif self.max_distance == "auto" and flat.dtype == np.uint8:  # the shared 8-bit table
            lut, _ = curves_mod.decode_lut(curve)
            return kernels.decode_u8(flat, curve, self._fine_centre_depths, lut)
        else:  # level of the nearest colour -> the centre of that colour's interval
            ident = np.array([kernels.KIND_NORMALIZED, 0.0, 0.0, 0.0, 0.0])
            f, conf, valid = kernels.decode_float(flat, scale, wide, ident, 0.0, 1.0)
            level = np.floor(np.nan_to_num(f, nan=0.0) * (curve.levels - 1) + 0.5)
            out = np.where(valid, self._centre_depths[level.astype(np.int64)], np.float32(np.nan))
        if limit != curve.threshold:  # distance back from the confidence, then the default's
            dist = (1.0 - conf.astype(np.float64)) * limit
            conf = np.where(valid, np.clip(1.0 - dist / curve.threshold, 0.0, 1.0), 0.0)
        return out, conf.astype(np.float32), valid

    # ---------------------------------------------------------------- range
    def range_text(self) -> str:
        return self._transform.range_text()

    def in_range(self, decoded: Decoded) -> np.ndarray:
        """Valid: inside the transform's decoded range (``Transform.decoded_range``); invalid:
        NaN."""
        lo, hi = self._transform.decoded_range
        d = np.asarray(decoded.value, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            inside = (d >= lo) & (d <= hi)
        return np.where(decoded.valid, inside, np.isnan(d))

    @property
    def pixelwise(self) -> bool:
        return True

    # ---------------------------------------------------------------- affine
    def affine_params(self, depth: Any) -> tuple[Any, Any]:
        """``(scale, shift)`` per image for ``transform="affine"``: metres = decoded * scale + shift.

        One image ``(H, W)`` gives two Python floats; a batch ``(..., H, W)`` gives two float64
        arrays of shape ``(...)``, one entry per image."""
        _, scale, shift = Affine().normalise(self.validate_value(depth))
        if scale.ndim == 0:
            return float(scale), float(shift)
        return scale, shift

    def quantile_params(self, depth: Any) -> tuple[Any, Any]:
        """``(d_lo, d_hi)`` per image: the depths at the ``low`` and ``high`` quantiles of the
        valid depth (``transform="quantile"``; NaN for an image without valid depth), so that
        metres = ``d_lo + decoded * (d_hi - d_lo)``.

        One image ``(H, W)`` gives two Python floats; a batch ``(..., H, W)`` gives two float64
        arrays of shape ``(...)``, one entry per image (as :meth:`affine_params`)."""
        tr = self._transform
        if not isinstance(tr, Quantile):
            tr = Quantile(low=self.low, high=self.high)
        d_lo, d_hi = tr.depths(self.validate_value(depth))
        if d_lo.ndim == 0:
            return float(d_lo), float(d_hi)
        return d_lo, d_hi

    def in_metres(self, reference: Any, decoded: Any) -> np.ndarray:
        """``decoded`` in the reference's units: for a per-image transform (``affine``,
        ``quantile``), the decoded relative depth mapped back with the reference's scale and
        shift (what ``affine_params`` / ``quantile_params`` give); else as is."""
        dec = np.asarray(decoded, dtype=np.float64)
        _, scale, shift = self._transform.normalise(np.asarray(reference, dtype=np.float64))
        if scale is not None:
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
        with np.errstate(invalid="ignore"):
            ref_ok = self._transform.valid(ref)
            dec_ok = ~np.isnan(dec)
            err = np.abs(dec - ref)
        err = np.where(ref_ok & dec_ok, err, 0.0)
        err = np.where(np.isnan(err), np.inf, err)
        return np.where(ref_ok != dec_ok, np.inf, err)

    def roundtrip_bound(self, reference: np.ndarray) -> np.ndarray:
        tr = self._transform
        ref, scale, _ = tr.normalise(np.asarray(reference, dtype=np.float64))
        raw, _, _ = tr.normalise(np.asarray(reference, dtype=np.float64), clip=False)
        lev, lo, mid, hi = self._level_parameters(ref)
        with np.errstate(invalid="ignore"):
            # half a step, plus the float32 rounding of the decoded depth (half an ulp); the far
            # end of an unbounded transform (every depth from some distance on) has no bound
            half = np.maximum(hi - mid, mid - lo) + np.abs(mid) * 2.0**-24
            half = np.where(np.isinf(mid), np.inf, half)
            flat = raw.reshape(-1)  # before a per-image clip (quantile): its distance counts
            clipped = np.abs(flat - tr.clip(flat))
            bound = np.where(lev >= 0, half + np.nan_to_num(clipped), 0.0)
        bound = bound.reshape(ref.shape)
        if scale is not None:
            bound = bound * scale[..., None, None]
        return bound

    @classmethod
    def _example_values(cls, scene: Any) -> list[np.ndarray]:
        d = scene.depth
        return [d, d[::-1, ::-1]]


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthCubewalk(DepthCodec):
    """Vision Banana's cube walk (1786 levels); default = power transform, lam=-3, c=10/3."""

    name: ClassVar[str] = "depth/cubewalk"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._depth:_DepthNative"
    transform: str = param("power", one_of(*TRANSFORMS))

    def _build_curve(self) -> curves_mod.Curve:
        return curves_mod.cubewalk(self.bits)

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(), values
        yield cls(transform="log", near=0.5, far=20.0), values
        yield cls(transform="affine"), values
        yield cls(bits=16), values
        yield cls(quantization="floor"), values
        yield cls(max_distance=0.6), values  # None: the reserved code decodes too


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthHue(DepthCodec):
    """RealSense hue colorization: ``variant="wrap"`` (1530 levels) or ``"nowrap"`` (1276)."""

    name: ClassVar[str] = "depth/hue"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._depth:_DepthNative"
    variant: str = param("wrap", one_of("wrap", "nowrap"))

    def _build_curve(self) -> curves_mod.Curve:
        return curves_mod.hue(self.variant, self.bits)

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(near=0.5, far=20.0), values
        yield cls(transform="inverse", near=0.5, far=20.0, variant="nowrap"), values
        yield cls(near=0.5, far=20.0, quantization="floor", max_distance=0.2), values
        yield cls(near=0.5, far=20.0, bits=16), values


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthGray(DepthCodec):
    """One value in three channels (256 levels).

    Decoding projects the colour onto the gray diagonal: ``f = (r + g + b) / (3 * 255)``, the mean
    of the channels (Marigold averages its prediction's three channels), exact on 8-bit input
    (the curve's fine table has ``3 * 255 + 1`` entries, one per channel sum). Exact codes
    decode as before; where the channels disagree (a model's output) the confidence is
    ``1 - 3 * sqrt(2) * rms / 255`` (to the table's resolution), with ``rms`` the channels'
    root-mean-square deviation from their mean in code units: the colour's distance from the
    diagonal (``sqrt(3) * rms / 255``) over the curve's threshold (``1 / sqrt(6)``, half the
    reserved red's distance). 1 on gray; invalid (NaN, valid False) from ``rms`` of about 60 code
    levels on."""

    name: ClassVar[str] = "depth/gray"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._depth:_DepthNative"

    def _build_curve(self) -> curves_mod.Curve:
        return curves_mod.gray(self.bits)

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(near=0.5, far=20.0), values
        yield cls(transform="power"), values
        yield cls(transform="quantile"), values
        yield cls(transform="log", near=0.5, far=20.0, bits=16), values


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthColormap(DepthCodec):
    """A matplotlib colormap by name (``cmap``), decoded by nearest colour."""

    name: ClassVar[str] = "depth/colormap"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._depth:_DepthNative"
    cmap: str = param("turbo", _name)
    quantization: str = param("round", one_of("round", "floor", *curves_mod.TABLE_SOURCES))

    def _build_curve(self) -> curves_mod.Curve:
        if self.quantization in curves_mod.TABLE_SOURCES:
            if self.bits != 8:
                raise ConfigError(
                    f"expected bits=8 for quantization={self.quantization!r} (an 8-bit colour "
                    f"table), got bits={self.bits}"
                )
            return curves_mod.source_table(self.cmap, self.quantization).curve
        return curves_mod.colormap_curve(self.cmap, self.bits)

    def _source_table(self) -> curves_mod.SourceTable | None:
        if self.quantization in curves_mod.TABLE_SOURCES:
            return curves_mod.source_table(self.cmap, self.quantization)
        return None

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        yield cls(near=0.5, far=20.0), values
        yield cls(cmap="plasma", transform="log", near=0.5, far=20.0), values
        yield cls(cmap="plasma", quantization="matplotlib", near=0.5, far=20.0), values
        yield cls(near=0.5, far=20.0, bits=16), values


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class DepthCurve(DepthCodec):
    """Your own curve: ``curve`` = control points (K, 3) in [0, 1], decoded by nearest colour."""

    name: ClassVar[str] = "depth/curve"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._depth:_DepthNative"
    curve: Any = param(None, _control_points, optional=True)

    def __post_init__(self) -> None:
        if self.curve is None:
            raise ConfigError(
                "depth/curve needs curve: control points, e.g. "
                "get_codec('depth/curve', curve=[[0, 0, 0], [1, 0, 0], [1, 1, 0]], near=1, far=10)"
            )
        super().__post_init__()

    def _build_curve(self) -> curves_mod.Curve:
        return curves_mod._curve_from_key(curves_mod._points_key(self.curve), self.bits)

    @classmethod
    def examples(cls, scene: Any):
        values = cls._example_values(scene)
        pts = [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]]
        yield cls(curve=pts, near=0.5, far=20.0), values
        yield cls(curve=pts, transform="inverse", near=0.5, far=20.0, bits=16), values
