"""Optical flow as RGB: ``flow/wheel`` (the Middlebury colour wheel) and ``flow/uv``.

A flow field is ``(..., H, W, 2)`` float ``(u, v)`` in pixels (u right, v down). A vector is
unknown when either component is NaN or infinite or larger in magnitude than 1e9 (Middlebury's
``UNKNOWN_FLOW_THRESH``); decoding gives NaN there with ``valid`` False.

``flow/wheel`` -- the picture every flow repository draws (Baker et al., ICCV 2007), encoded exactly
as ``flow_vis`` (github.com/tomrunia/OpticalFlow_Visualization, ``flow_vis/flow_vis.py``, commit
248d9e4; torchvision's ``flow_to_image`` and mmflow draw the same wheel)::

    s     = max_flow, or (default) max |f| over the image's known vectors + 1e-5 (flow_vis's epsilon)
    (u, v) = f / s;  hue = wheel position of atan2(-v, -u) (55 colours, 54 intervals over 360 deg)
    col   = 1 - |f/s| * (1 - wheel colour)      for |f| <= s   (white at zero, full colour at s)
    col   = 0.75 * wheel colour                  for |f| >  s   (flow_vis's "out of range")
    code  = floor(255 * col);  unknown -> (0, 0, 0)  (mmcv's flow2rgb paints unknown black too)

8 bits, ``uint8``. Decoding inverts it: the largest channel tells in range (255), beyond ``s``
(191) or unknown (0); the smallest channel gives the magnitude ``1 - c_min``, the middle one the
position on the hexagon edge named by the largest and middle channels, hence the angle. With
``max_flow=None`` the decoded flow is in units of the image's scale (``|decoded| <= 1``):
``flow_scale(flow)`` returns ``s`` per image, and ``in_pixels(reference, decoded)`` multiplies it
back (as ``affine`` depth's ``affine_params``).

Beyond ``max_flow`` the wheel keeps only the direction: such a vector is **clamped** -- it decodes
valid, with magnitude ``max_flow`` along its direction and confidence at most 0.5.

Round-trip bound of ``flow/wheel`` (end-point error, pixels), derived in ``docs/flow.md``: each
channel is known to within its floor interval, so the midpoint estimate is off by at most half a
level, ``0.5 / 255``: the magnitude ``1 - c_min`` by at most ``0.5/255``, and ``rad * t`` (the
position along an edge, times the magnitude) by at most ``1/255`` (``1.5/255`` next to a hexagon
vertex, where the largest two channels may swap). The steepest wheel segment spans 17/255 of a
channel (red->yellow, 15 colours) over ``2 pi / 54`` radians, so::

    EPE <= s * (0.5/255 + (2 pi / 54) * 1.5/17)   = 0.01223 * s           (|f| <= s)
    EPE <= (|f| - s) + s * (2 pi / 54) * 2/17     = (|f| - s) + 0.01369 s  (|f| > s, clamped)

``flow/uv`` -- a code for round trips: ``u`` in red, ``v`` in green, quantized with ``step =
max_flow / (2^(bits-1) - 1)`` around the code ``2^(bits-1)`` (zero flow is exact; KITTI's offset),
clamped to ``[-max_flow, max_flow]`` (valid kept); blue is the valid flag (full scale; KITTI's
16-bit flow PNGs carry theirs in the third channel too). Unknown flow is ``(0, 0, 0)``: a blue
below half scale never decodes as valid. Bound: half a step per component, ``EPE <= step *
sqrt(2) / 2`` (8 bits, max_flow 64: 0.356 px; 16 bits: 0.00138 px), plus the clamped excess.

Confidence: 1 for an exact code of the class, falling linearly with the distance of the largest
channel (wheel) or of the valid flag (uv) from its code towards the class boundary; clamped wheel
vectors (beyond ``max_flow``) have at most 0.5, since only a lower bound of their magnitude is
known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rgbtask.codec import Codec, Decoded, check_value, describe_array, rgb_scale
from rgbtask.core import flow as kernels
from rgbtask.errors import InputError
from rgbtask.io.tasks import FLOW_IO
from rgbtask.metrics import flow_metrics
from rgbtask.params import number, one_of, param
from rgbtask.registry import register_codec

__all__ = ["UNKNOWN_FLOW_THRESHOLD", "FlowUV", "FlowWheel", "known_flow"]

#: Middlebury's ``UNKNOWN_FLOW_THRESH`` (``flowIO.h``): a component above it marks unknown flow.
UNKNOWN_FLOW_THRESHOLD = kernels.UNKNOWN
#: flow_vis's epsilon added to the image's largest magnitude when normalising per image.
WHEEL_EPSILON = 1e-5
#: The wheel's bound factors (module docstring): inside the scale, and the angular part beyond it.
WHEEL_BOUND_INSIDE = 0.5 / 255 + (2 * math.pi / 54) * 1.5 / 17
WHEEL_BOUND_BEYOND = (2 * math.pi / 54) * 2 / 17
#: float32 rounding of decoded components, relative to the scale.
_F32 = 2.0**-22


def known_flow(flow: np.ndarray) -> np.ndarray:
    """Where a flow field ``(..., 2)`` is known: both components finite and at most 1e9."""
    with np.errstate(invalid="ignore"):
        return np.all(np.isfinite(flow) & (np.abs(flow) <= UNKNOWN_FLOW_THRESHOLD), axis=-1)


def _validate_flow(value: Any) -> np.ndarray:
    """Check a flow field; float32 and float64 are kept (the kernels widen), other kinds become
    float64. Unknown vectors are left as they are: the kernels and ``known_flow`` tell them."""
    flow = np.asarray(value)
    if flow.ndim >= 3 and flow.shape[-1] == 3 and flow.dtype in (np.uint8, np.uint16):
        raise InputError(
            f"expected a flow field (..., H, W, 2), got {describe_array(flow)}: an RGB image? "
            "use decode() for RGB"
        )
    flow = check_value(flow, "a flow field", "(..., H, W, 2)", kinds="fiu", min_ndim=3)
    if flow.shape[-1] != 2:
        raise InputError(
            f"expected a flow field of shape (..., H, W, 2) (u, v in pixels), got "
            f"{describe_array(flow)}"
        )
    if flow.dtype not in (np.float32, np.float64):
        flow = flow.astype(np.float64)
    return flow


def _known_or_nan(flow: np.ndarray) -> np.ndarray:
    return np.where(known_flow(flow)[..., None], flow.astype(np.float64), np.nan)


def _epe(reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    """End-point error per pixel; 0 where both unknown, inf where exactly one is."""
    ref = np.asarray(reference, dtype=np.float64)
    dec = np.asarray(decoded, dtype=np.float64)
    ref_ok = known_flow(ref)
    dec_ok = np.all(np.isfinite(dec), axis=-1)
    with np.errstate(invalid="ignore"):
        err = np.sqrt(np.sum((dec - ref) ** 2, axis=-1))
    err = np.where(ref_ok & dec_ok, err, 0.0)
    return np.where(ref_ok != dec_ok, np.inf, err)


def _in_disc(decoded: Decoded, radius: float) -> np.ndarray:
    f = np.asarray(decoded.value, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        inside = np.sqrt(np.sum(f * f, axis=-1)) <= radius * (1 + 2.0**-20)
    nan = np.all(np.isnan(f), axis=-1)
    return np.where(decoded.valid, inside, nan)


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class FlowWheel(Codec):
    """Optical flow ``(..., H, W, 2)`` <-> the Middlebury colour wheel (flow_vis's picture).

    Parameters
    ----------
    max_flow : float or None
        Magnitude in pixels that maps to full saturation; longer vectors are drawn darkened and
        decode clamped to it. None (default): normalise each image by its largest magnitude
        (+1e-5) like flow_vis, torchvision and mmflow; decoded flow is then in units of that
        scale (:meth:`flow_scale`, :meth:`in_pixels`).
    """

    name: ClassVar[str] = "flow/wheel"
    error_unit: ClassVar[str] = "px"
    primary_metric: ClassVar[tuple[str, bool]] = ("epe", True)
    task_io: ClassVar[Any] = FLOW_IO

    max_flow: float | None = param(
        None, number(0, math.inf, lo_open=True, hi_open=True), optional=True
    )

    @property
    def levels(self) -> int:
        return 256

    def bound_text(self) -> str:
        s = "max_flow" if self.max_flow is not None else "the image's scale"
        return f"EPE <= {WHEEL_BOUND_INSIDE:.5f} * {s} inside it; (|f| - s) + {WHEEL_BOUND_BEYOND:.5f} * s beyond"

    # ---------------------------------------------------------------- scale
    def flow_scale(self, flow: Any) -> Any:
        """The scale ``s`` (pixels) each image is divided by: ``max_flow``, or the image's largest
        known magnitude + 1e-5. One image ``(H, W, 2)`` gives a float; a batch an array ``(...)``."""
        scale = self._scale(self.validate_value(flow))
        return float(scale) if scale.ndim == 0 else scale

    def _scale(self, flow: np.ndarray) -> np.ndarray:
        if self.max_flow is not None:
            return np.full(flow.shape[:-3], float(self.max_flow))
        images = flow.reshape(-1, flow.shape[-3] * flow.shape[-2], 2)
        return kernels.max_magnitude(images).reshape(flow.shape[:-3]) + WHEEL_EPSILON

    def in_pixels(self, reference: Any, decoded: Any) -> np.ndarray:
        """``decoded`` in pixels: with ``max_flow=None`` multiplied by the reference's per-image
        scale (what :meth:`flow_scale` returns); else as is."""
        dec = np.asarray(decoded, dtype=np.float64)
        if self.max_flow is not None:
            return dec
        scale = self._scale(_validate_flow(reference))
        return dec * scale[..., None, None, None]

    # ---------------------------------------------------------------- encode / decode
    def validate_value(self, value: Any) -> np.ndarray:
        return _validate_flow(value)

    def _encode(self, flow: np.ndarray) -> np.ndarray:
        scale = self._scale(flow).reshape(-1)
        if self.max_flow is not None:
            return kernels.encode_wheel(flow, scale=float(self.max_flow))
        images = flow.reshape(scale.shape[0], *flow.shape[-3:])
        out = np.empty(images.shape[:-1] + (3,), dtype=np.uint8)
        for i, s in enumerate(scale):
            out[i] = kernels.encode_wheel(images[i], scale=float(s))
        return out.reshape(flow.shape[:-1] + (3,))

    def _decode(self, rgb: np.ndarray) -> Decoded:
        mult = 1.0 if self.max_flow is None else float(self.max_flow)
        flow, conf, valid = kernels.decode_wheel(rgb, to_code=255.0 / rgb_scale(rgb), mult=mult)
        return Decoded(flow, conf, valid)

    # ---------------------------------------------------------------- range
    def range_text(self) -> str:
        if self.max_flow is None:
            return "flow in units of the image's scale, |f| <= 1, or NaN where unknown"
        return f"flow with |f| <= max_flow = {self.max_flow:g} px, or NaN where unknown"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        return _in_disc(decoded, 1.0 if self.max_flow is None else float(self.max_flow))

    @property
    def pixelwise(self) -> bool:
        return True

    # ---------------------------------------------------------------- metrics and bound
    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.flow_metrics` of the decoded flow in pixels (``in_pixels``)."""
        return flow_metrics(self.in_pixels(reference, decoded), reference)

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """End-point error in pixels (``in_pixels``); 0 where both unknown, inf where one is."""
        return _epe(reference, self.in_pixels(reference, decoded))

    def roundtrip_bound(self, reference: np.ndarray) -> np.ndarray:
        ref = _known_or_nan(_validate_flow(reference))
        scale = self._scale(ref)[..., None, None]
        with np.errstate(invalid="ignore"):
            rad = np.sqrt(np.sum(ref * ref, axis=-1))
        beyond = rad - scale + WHEEL_BOUND_BEYOND * scale
        bound = np.where(rad > scale, beyond, WHEEL_BOUND_INSIDE * scale) + _F32 * scale
        return np.where(np.isnan(rad), 0.0, bound)

    @classmethod
    def examples(cls, scene: Any):
        flow = scene_flow(scene)
        yield cls(), [flow, flow[::-1, ::-1]]
        yield cls(max_flow=_half_max(flow)), [flow]  # the longer half of the vectors: clamped


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class FlowUV(Codec):
    """Optical flow ``(..., H, W, 2)`` <-> RGB ``(u, v, valid)`` codes, for round trips.

    Parameters
    ----------
    bits : {8, 16}
        Code depth: ``uint8`` or ``uint16`` output (16-bit PNG).
    max_flow : float
        Largest magnitude per component, pixels (default 64): ``step = max_flow / (2^(bits-1) -
        1)``; components beyond are clamped (valid kept).
    """

    name: ClassVar[str] = "flow/uv"
    error_unit: ClassVar[str] = "px"
    primary_metric: ClassVar[tuple[str, bool]] = ("epe", True)
    task_io: ClassVar[Any] = FLOW_IO

    bits: int = param(8, one_of(8, 16))
    max_flow: float = param(64.0, number(0, math.inf, lo_open=True, hi_open=True))

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.bits == 8 else np.uint16)

    @property
    def levels(self) -> int:
        return 2**self.bits - 1

    @property
    def step(self) -> float:
        """Quantization step in pixels: ``max_flow / (2^(bits-1) - 1)``."""
        return float(self.max_flow) / (2 ** (self.bits - 1) - 1)

    @property
    def max_error_px(self) -> float:
        """Lossless round-trip bound inside ``[-max_flow, max_flow]``: ``step * sqrt(2) / 2``."""
        return self.step * math.sqrt(2.0) / 2.0

    def bound_text(self) -> str:
        return f"EPE <= step*sqrt(2)/2 = {self.max_error_px:.4g} px (+ the excess beyond max_flow)"

    def validate_value(self, value: Any) -> np.ndarray:
        return _validate_flow(value)

    def _encode(self, flow: np.ndarray) -> np.ndarray:
        return kernels.encode_uv(flow, step=self.step, bits=self.bits)

    def _decode(self, rgb: np.ndarray) -> Decoded:
        to_code = (2**self.bits - 1) / rgb_scale(rgb)
        flow, conf, valid = kernels.decode_uv(rgb, to_code=to_code, step=self.step, bits=self.bits)
        return Decoded(flow, conf, valid)

    def range_text(self) -> str:
        return f"flow with |u|, |v| <= max_flow = {self.max_flow:g} px, or NaN where unknown"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        f = np.asarray(decoded.value, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            inside = np.all(np.abs(f) <= float(self.max_flow) * (1 + 2.0**-20), axis=-1)
        return np.where(decoded.valid, inside, np.all(np.isnan(f), axis=-1))

    @property
    def pixelwise(self) -> bool:
        return True

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.flow_metrics` (end-point error, KITTI Fl-all)."""
        return flow_metrics(decoded, reference)

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """End-point error in pixels; 0 where both unknown, inf where exactly one is."""
        return _epe(reference, decoded)

    def roundtrip_bound(self, reference: np.ndarray) -> float | np.ndarray:
        """``step * sqrt(2) / 2`` (a float), plus per pixel the clamped excess (an array) when a
        component lies beyond ``max_flow``."""
        ref = _known_or_nan(_validate_flow(reference))
        m = float(self.max_flow)
        with np.errstate(invalid="ignore"):
            excess = np.sqrt(np.sum((ref - np.clip(ref, -m, m)) ** 2, axis=-1))
        constant = self.max_error_px + _F32 * m
        if not np.any(excess > 0):  # nothing clamped: the constant bound (NaN: unknown vectors)
            return constant
        return np.where(np.isnan(excess), 0.0, excess + constant)

    @classmethod
    def examples(cls, scene: Any):
        flow = scene_flow(scene)
        yield cls(), [flow, flow[::-1, ::-1]]
        yield cls(bits=16, max_flow=16.0), [flow]
        yield cls(max_flow=_half_max(flow)), [flow]  # clamped components


def _half_max(flow: np.ndarray) -> float:
    """Half the largest known magnitude, rounded to 3 digits (at least 0.1): a ``max_flow`` that
    some of ``flow``'s vectors exceed, whatever the scene's size."""
    with np.errstate(invalid="ignore"):
        m = float(np.nanmax(np.sqrt(np.sum(np.square(flow, dtype=np.float64), axis=-1))))
    return max(0.1, round(m / 2, 3)) if np.isfinite(m) else 1.0


def scene_flow(scene: Any) -> np.ndarray:
    """A flow field ``(H, W, 2)`` float32 of ``scene``: its ``flow`` when it has one, else the
    motion field of the static scene seen by a camera moving by (0.12, -0.04, 0.25) m (forward
    and sideways: every direction occurs around the focus of expansion), NaN where depth is."""
    flow = getattr(scene, "flow", None)
    if flow is not None:
        return np.asarray(flow, dtype=np.float32)
    depth = np.asarray(scene.depth, dtype=np.float64)
    k = np.asarray(scene.intrinsics, dtype=np.float64)
    h, w = depth.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    fx, fy, cx, cy = k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    big_x = (x - cx) / fx * depth
    big_y = (y - cy) / fy * depth
    t = (0.12, -0.04, 0.25)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = depth - t[2]
        u = fx * (big_x - t[0]) / z + cx - x
        v = fy * (big_y - t[1]) / z + cy - y
    flow = np.stack([u, v], axis=-1)
    flow[~np.isfinite(depth) | (z <= 0)] = np.nan
    return flow.astype(np.float32)
