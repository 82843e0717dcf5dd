"""Surface normals as RGB: ``normals/xyz``.

Encoding (per pixel)::

    n_img = n * signs(convention) * signs(image_convention)   # user frame -> OpenGL -> image frame
    rgb   = round((n_img / |n_img| + 1) / 2 * (2**bits - 1))  # round half up
    quantization="floor": floor(...) instead (what ``(x * 255).astype(np.uint8)`` writes)

``bits=8`` gives ``uint8`` codes (255 levels per axis), ``bits=16`` ``uint16`` codes for 16-bit PNG
(65535 levels per axis). Invalid normals (zero vector, NaN, inf) get the reserved code (0, 0, 0),
which no unit vector can produce (it would need all three components near -1).

Decoding: ``v = rgb / (2**bits - 1) * 2 - 1``, renormalised, converted back to ``convention``;
``quantization="floor"`` reads a code as the centre of its truncation cell,
``v = (rgb + 0.5) / (2**bits - 1) * 2 - 1`` (float RGB or the other integer depth shifted by the
same half code of ``bits``), so truncated files decode within the same bound and without bias.
A pixel is valid while ``| |v| - 1 | < 0.5``; the reserved code has ``|v| = sqrt(3)``. Confidence is 1
while the norm's deviation is within what quantization alone explains (``sqrt(3) / (2**b - 1)`` for
the input's bit depth ``b``) and falls linearly to 0 at a deviation of 0.5.

Round-trip bound: each component is off by at most half a step, ``1 / (2**bits - 1)``, so the error
vector is at most ``sqrt(3) / (2**bits - 1)`` long and the angular error at most
``arcsin(sqrt(3) / (2**bits - 1))``: 0.389 deg for 8 bits, 0.0015 deg for 16 bits.

Conventions: ``image_convention`` is the frame of the stored image (default the **OpenGL camera
frame**: x right, y up, z toward the viewer; +x reads red, +y green, +z blue); ``convention`` names
the frame of the vectors you pass to ``encode`` and get back from ``decode``. Both take the same
values, per-axis signs to the OpenGL frame:

* ``"opengl"`` (default), (+1, +1, +1): x right, y up, z toward the viewer. Marigold: diffusers'
  ``docs/source/en/api/pipelines/marigold.md`` ("X axis points right, Y axis points up, and Z axis
  points at the viewer"; a normal facing the viewer ``[0, 0, 1]`` is RGB ``[128, 128, 255]``) and
  ``visualize_normals`` (defaults: x right, y top, z facing the observer). Hypersim's ``normal_cam``,
  Marigold's training data, is the same frame (apple/ml-hypersim README). The camera frame the
  Vision Banana paper describes. OpenGL's eye space looks down -z (google-research/multinerf README:
  "[right, up, backwards]: OpenGL, NeRF, most graphics code").
* ``"opencv"``, (+1, -1, -1): x right, y down, z forward into the scene, outward normals.
  google-research/multinerf README: "[right, down, forwards]: OpenCV, COLMAP, most computer vision
  code", converted with ``diag([1, -1, -1])``. Omnidata's normal maps are in this frame: measured on
  its own demo output (``omnidata_tools/torch`` demo images: a left wall (254, 127, 122), a floor
  (110, 9, 98), a wall facing the camera (147, 111, 3)); a docstring in its ``transforms.py`` says
  otherwise about z and is contradicted by its code.
* ``"dsine"``, (-1, +1, +1): x left, y up, z toward the viewer, the negated OpenCV frame (a
  reflection: left-handed). DSINE, StableNormal (Stable-X/StableNormal issue 18) and GeoWizard
  (fuxiao0719/GeoWizard issues 45, 47) write their images in it. DSINE's README says "(right, down,
  front)" with a camera-facing wall at (0, 0, 1), which no right-handed right/down/front frame gives;
  its code (``RayReLU`` keeps normals along the viewing ray ``((u - cu)/fu, (v - cv)/fv, 1)``, and
  ``data/d2n/cross.py`` negates the cross product) and its own result images (a left-facing flank has
  R = 247) give the negated OpenCV normal, i.e. x left, y up, z toward the viewer. dn-splatter (PR 17)
  and StableNormal (issue 18) describe DSINE's output the same way.
* a sequence of three signs, e.g. ``(1, 1, -1)``, for any other axis-aligned frame: component i of
  your vector is multiplied by sign i to reach the OpenGL frame (and back, on decode).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rgbtask.codec import Codec, Decoded, check_rgb, check_value, describe_array, rgb_scale
from rgbtask.core import normals as kernels
from rgbtask.errors import ConfigError, InputError
from rgbtask.io.tasks import NORMALS_IO
from rgbtask.metrics import angular_error_deg, normal_metrics
from rgbtask.params import one_of, param, plain
from rgbtask.registry import register_codec

__all__ = ["CONVENTIONS", "MAX_NORM_DEVIATION", "NormalsXYZ"]

#: Named conventions: per-axis signs that take a vector of that frame to the OpenGL camera frame.
CONVENTIONS: dict[str, tuple[int, int, int]] = {
    "opengl": (1, 1, 1),
    "opencv": (1, -1, -1),
    "dsine": (-1, 1, 1),
}

#: A decoded colour whose vector norm is further than this from 1 is invalid.
MAX_NORM_DEVIATION = 0.5


def _is_sign(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, (bool, np.bool_))
        and value in (-1, 1)
    )


def convention_signs(value: Any, name: str) -> str | tuple[int, int, int]:
    """Validator of ``convention``: a preset name, or three signs of +1/-1 (stored as the
    preset's name when they equal one, else as a tuple of ints)."""
    if isinstance(value, str):
        if value not in CONVENTIONS:
            raise ConfigError(
                f"expected {name} in {sorted(CONVENTIONS)} or three signs like (1, -1, -1), "
                f"got {value!r}"
            )
        return value
    ok = isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, bytes)
    ok = ok and len(value) == 3 and all(_is_sign(s) for s in value)
    if not ok:
        raise ConfigError(
            f"expected {name} as a preset name {sorted(CONVENTIONS)} or three signs of "
            f"+1/-1, got {plain(value)!r}"
        )
    signs = tuple(int(s) for s in value)
    return next((k for k, v in CONVENTIONS.items() if v == signs), signs)  # type: ignore[return-value]


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class NormalsXYZ(Codec):
    """Unit normals ``(..., H, W, 3)`` <-> RGB by ``(n + 1) / 2`` at 8 or 16 bits.

    Parameters
    ----------
    bits : {8, 16}
        Code depth: 8 gives ``uint8`` output, 16 gives ``uint16`` (for 16-bit PNG).
    convention : str or sequence of 3 signs
        Frame of the vectors given to ``encode`` and returned by ``decode``: ``"opengl"``
        (default), ``"opencv"``, ``"dsine"``, or per-axis signs to the OpenGL frame. A sign triple equal to a
        preset is stored as the preset's name.
    image_convention : str or sequence of 3 signs
        Frame of the stored image, the same values (default ``"opengl"``): ``"opencv"`` reads
        Omnidata's PNGs, ``"dsine"`` DSINE's, StableNormal's and GeoWizard's.
    quantization : {"round", "floor"}
        How the image's codes were made: rounded (default) or truncated
        (``(x * 255).astype(np.uint8)``); ``"floor"`` decodes a code as its cell's centre and
        encodes by truncation.
    """

    name: ClassVar[str] = "normals/xyz"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._normals:_NormalsNative"
    error_unit: ClassVar[str] = "deg"
    primary_metric: ClassVar[tuple[str, bool]] = ("mean", True)
    task_io: ClassVar[Any] = NORMALS_IO

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.normal_metrics` (angular error in degrees)."""
        return normal_metrics(decoded, reference)

    bits: int = param(8, one_of(8, 16))
    convention: str | tuple[int, int, int] = param("opengl", convention_signs)
    image_convention: str | tuple[int, int, int] = param("opengl", convention_signs)
    quantization: str = param("round", one_of("round", "floor"))

    def __post_init__(self) -> None:
        super().__post_init__()
        # the sign vector the kernels take, built once (read-only; not part of the config):
        # the user's frame -> OpenGL -> the image's frame (each sign is its own inverse)
        user = CONVENTIONS.get(self.convention, self.convention)  # type: ignore[call-overload]
        image = CONVENTIONS.get(self.image_convention, self.image_convention)  # type: ignore[call-overload]
        signs = np.asarray(user, dtype=np.float64) * np.asarray(image, dtype=np.float64)
        signs.setflags(write=False)
        object.__setattr__(self, "_signs", signs)

    # ---------------------------------------------------------------- description
    @property
    def signs(self) -> np.ndarray:
        """Per-axis signs from the user's frame (``convention``) to the stored image's frame
        (``image_convention``), read-only; the same signs take the image back."""
        return self._signs

    @property
    def offset(self) -> float:
        """Added to an integer code before decoding (0.5 for ``quantization="floor"``: the
        centre of the truncation cell), and to the scaled value before ``floor`` on encoding
        (0.5 rounds, 0 truncates)."""
        return 0.0 if self.quantization == "floor" else 0.5

    @property
    def scale(self) -> float:
        return float(2**self.bits - 1)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.bits == 8 else np.uint16)

    @property
    def levels(self) -> int:
        """Code values per axis."""
        return 2**self.bits

    @property
    def max_error_deg(self) -> float:
        """The round-trip bound: arcsin(sqrt(3) / (2**bits - 1)) in degrees."""
        return math.degrees(math.asin(math.sqrt(3.0) / self.scale))

    def bound_text(self) -> str:
        return f"angular error <= arcsin(sqrt(3)/{int(self.scale)}) = {self.max_error_deg:.4g} deg"

    # ---------------------------------------------------------------- encode / decode
    def validate_value(self, value: Any) -> np.ndarray:
        normals = check_value(value, "normals", "(..., H, W, 3)", kinds="fiu", min_ndim=3)
        if normals.shape[-1] != 3:
            raise InputError(
                f"expected normals of shape (..., H, W, 3), got {describe_array(normals)}"
            )
        if normals.dtype not in (np.float32, np.float64):
            normals = normals.astype(np.float64)
        return normals

    def _encode(self, normals: np.ndarray) -> np.ndarray:
        return kernels.encode(
            normals, signs=self.signs, scale=self.scale, dtype=self.dtype, offset=self.offset
        )

    def decode(self, rgb: Any) -> np.ndarray:
        """RGB -> normals, equal to ``decode_with_confidence(rgb).value`` (see
        :meth:`Codec.decode`) without the confidence and validity nobody asked for."""
        rgb = check_rgb(rgb)
        scale = rgb_scale(rgb)
        return kernels.decode_values(
            rgb,
            scale=scale,
            signs=self.signs,
            max_dev=MAX_NORM_DEVIATION,
            offset=self._decode_offset(scale),
        )

    def _decode_offset(self, scale: float) -> float:
        """quantization="floor": a code c of the codec's bits stands for the cell [c, c + 1): its
        centre, half a code of the codec's bits in the input's scale (float RGB, or the other
        integer depth, of a code decodes as the code does)."""
        return 0.5 * scale / self.scale if self.quantization == "floor" else 0.0

    def _decode(self, rgb: np.ndarray) -> Decoded:
        scale = rgb_scale(rgb)
        # quantization slack of the input's bit depth (float input: the codec's)
        slack = math.sqrt(3.0) / (scale if scale > 1.0 else self.scale)
        offset = self._decode_offset(scale)
        normals, confidence, valid = kernels.decode(
            rgb,
            scale=scale,
            signs=self.signs,
            slack=slack,
            max_dev=MAX_NORM_DEVIATION,
            offset=offset,
        )
        return Decoded(normals, confidence, valid)

    # ---------------------------------------------------------------- range
    def range_text(self) -> str:
        return "unit vectors (norm within 2^-23 of 1), or NaN where invalid"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        """Valid: finite with norm 1 up to float32 rounding (each component is rounded once from
        the float64 unit vector, so ``| |n| - 1 | <= 2^-24``; 2^-23 allows for the check's own
        rounding). Invalid: NaN."""
        n = np.asarray(decoded.value, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            unit = np.abs(np.sqrt(np.sum(n * n, axis=-1)) - 1.0) <= 2.0**-23
        nan = np.all(np.isnan(n), axis=-1)
        return np.where(decoded.valid, unit, nan)

    @property
    def pixelwise(self) -> bool:
        return True

    # ---------------------------------------------------------------- bound
    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """Angle in degrees; 0 where both are invalid, inf where exactly one is."""
        reference = np.asarray(reference, dtype=np.float64)
        ref_valid = np.all(np.isfinite(reference), axis=-1) & np.any(reference != 0, axis=-1)
        dec_valid = np.all(np.isfinite(decoded), axis=-1)
        with np.errstate(invalid="ignore", over="ignore"):
            err = angular_error_deg(
                np.where(ref_valid[..., None], reference, 1.0),
                np.where(dec_valid[..., None], decoded, 1.0),
            )
        err = np.where(ref_valid & dec_valid, err, 0.0)
        return np.where(ref_valid != dec_valid, np.inf, err)

    def roundtrip_bound(self, reference: np.ndarray) -> float:
        return self.max_error_deg

    @classmethod
    def examples(cls, scene: Any):
        normals = scene.normals
        flip = np.asarray(CONVENTIONS["opencv"], dtype=np.float32)
        yield cls(), [normals, normals[::-1, ::-1]]
        yield cls(bits=16), [normals]
        yield cls(convention="opencv"), [normals * flip]
        yield cls(convention="opencv", image_convention="opencv"), [normals * flip]
        yield cls(quantization="floor", image_convention="dsine"), [normals]
