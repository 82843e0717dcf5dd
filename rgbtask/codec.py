"""The codec contract: one small base class every task codec derives from.

A codec maps a task value (a depth map, a label map, a normal map, keypoints) to an RGB image
``(..., H, W, 3)`` and back. The base class owns everything that is the same for every codec:

* RGB input validation for ``decode`` (dtype, shape, NaN/inf, range, emptiness), with errors that say
  what was expected and what came;
* the result type of ``decode_with_confidence`` (:class:`Decoded`);
* configuration: ``get_config`` / ``from_config``, equality, hashing, ``repr`` and pickling all derive
  from one thing, the constructor's keyword arguments. Subclasses are frozen dataclasses declared with
  ``@dataclass(frozen=True, eq=False, repr=False)`` so that the base class's config-based ``__eq__``,
  ``__hash__`` and ``__repr__`` apply.

A subclass implements ``_encode(value)`` and ``_decode(rgb)`` on already validated, C-contiguous arrays,
``validate_value(value)`` for the task value, and declares its round-trip bound
(``roundtrip_error`` / ``roundtrip_bound``) which :func:`rgbtask.testing.check_codec` verifies.

RGB input conventions (the same for every codec):

* ``uint8`` (0..255) and ``uint16`` (0..65535) are read at their full scale;
* floating point (``float16``, ``float32``, ``float64``) is read as 0..1 and is **not** rounded to
  8 bits before decoding; values must be finite and inside [0, 1] (clip a model's overshoot with
  ``np.clip(rgb, 0, 1)`` first, map a [-1, 1] output with ``(rgb + 1) / 2``: rgbtask never clips
  or rescales silently);
* channels are in **RGB** order: OpenCV's ``cv2.imread`` returns BGR, which decodes silently
  wrong; read files with :func:`rgbtask.io.read_rgb` (or flip with ``bgr[..., ::-1]``);
* any other dtype (bool, signed or wider integers, complex) is an :class:`InputError`;
* big-endian, Fortran-ordered, strided and read-only arrays are accepted (copied when needed), and
  so is anything NumPy can view as an array (a PIL image, a CPU tensor); a masked array with masked
  entries, a file name or raw file bytes is an :class:`InputError`.

What ``decode`` may return (the same for every codec): a value inside the codec's declared range
(:meth:`Codec.range_text`, checked per item by :meth:`Codec.in_range`) or the invalid marker (NaN
for floating-point values, the codec's ignore label otherwise) with ``valid`` False, whatever the
input colours: arbitrary, noisy or adversarial images never decode to out-of-range values.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, NamedTuple

import numpy as np

from rgbtask.errors import ConfigError, InputError
from rgbtask.params import check_params

__all__ = [
    "BOUND_RTOL",
    "Codec",
    "Decoded",
    "check_rgb",
    "check_value",
    "describe_array",
    "rgb_scale",
    "within_bound",
]


class Decoded(NamedTuple):
    """What ``decode_with_confidence`` returns, for every codec.

    Attributes
    ----------
    value : ndarray
        The decoded task value, as ``decode`` returns it (invalid entries NaN when floating point).
    confidence : ndarray of float32
        In [0, 1]; 1 where the input colour is a valid code, falling with its distance from the
        nearest valid code. Shape: ``value``'s per-item shape (per pixel, or per keypoint).
    valid : ndarray of bool
        Same shape as ``confidence``: False where the input decoded as "invalid / no value".
    """

    value: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray


_RGB_FLOATS = (np.float16, np.float32, np.float64)


def describe_array(array: np.ndarray) -> str:
    """A short description of an array for error messages: dtype and shape."""
    return f"{array.dtype} array of shape {tuple(array.shape)}"


def _array_like(obj: Any) -> bool:
    """NumPy can view ``obj`` as an array (a PIL image, a CPU tensor, a buffer-backed array)."""
    return any(
        hasattr(obj, attr) for attr in ("__array__", "__array_interface__", "__array_struct__")
    )


def check_rgb(rgb: Any, check_range: bool = True) -> np.ndarray:
    """Validate an RGB input and return it as a native-endian, C-contiguous array.

    Returns ``uint8`` or ``uint16`` unchanged in type, ``float16`` widened to ``float32``, and
    ``float32`` / ``float64`` as they are. See the module docstring for the policy.
    ``check_range=False``: float values are not checked for [0, 1] here (a decode kernel that
    checks them itself, and calls this again to raise the error when one is outside).
    """
    if isinstance(rgb, (str, bytes, os.PathLike)):
        shown = rgb[:16] if isinstance(rgb, bytes) else os.fspath(rgb)
        raise InputError(
            f"expected an RGB array of shape (..., H, W, 3), got {type(rgb).__name__} {shown!r}; "
            "to decode an image file, read it first (rgbtask.io.read_rgb(path))"
        )
    if isinstance(rgb, np.ma.MaskedArray):
        if np.ma.is_masked(rgb):
            raise InputError(
                f"expected an RGB array with a colour in every pixel, got a masked array with "
                f"{int(np.ma.count_masked(rgb))} masked values; fill them first (rgb.filled(0))"
            )
        rgb = np.ma.getdata(rgb)
    if not isinstance(rgb, np.ndarray):
        if isinstance(rgb, (list, tuple)) or np.isscalar(rgb) or _array_like(rgb):
            rgb = np.asarray(rgb)
        else:
            raise InputError(
                f"expected an RGB array of shape (..., H, W, 3), got {type(rgb).__name__}"
            )
    dtype = rgb.dtype
    if dtype.kind == "u" and dtype.itemsize in (1, 2):
        pass
    elif dtype.kind == "f" and dtype.itemsize in (2, 4, 8):
        pass
    else:
        raise InputError(
            f"expected RGB as uint8 (0..255), uint16 (0..65535) or float (0..1), got {dtype}; "
            "convert with rgb.astype(np.uint8) if the values are 8-bit"
        )
    if rgb.ndim < 3 or rgb.shape[-1] != 3:
        hint = ""
        if rgb.ndim >= 3 and rgb.shape[-1] == 4:
            hint = "; drop the alpha channel with rgb[..., :3]"
        elif rgb.ndim >= 3 and rgb.shape[-3] == 3:
            hint = "; channel-first input? use np.moveaxis(rgb, -3, -1)"
        elif rgb.ndim == 2:
            hint = "; a single-channel image needs np.repeat(img[..., None], 3, axis=-1)"
        raise InputError(
            f"expected an RGB array of shape (..., H, W, 3), got {describe_array(rgb)}{hint}"
        )
    if rgb.size == 0:
        raise InputError(f"expected a non-empty RGB array, got {describe_array(rgb)}")
    if not dtype.isnative:
        rgb = rgb.astype(dtype.newbyteorder("="))
    if rgb.dtype == np.float16:
        rgb = rgb.astype(np.float32)
    if rgb.dtype.kind == "f" and check_range:
        from rgbtask.core._jit import min_max  # Numba is loaded anyway: a decode follows

        rgb = np.ascontiguousarray(rgb)
        lo, hi = min_max(rgb)
        if not (np.isfinite(lo) and np.isfinite(hi)):
            bad = int(np.count_nonzero(~np.isfinite(rgb)))
            raise InputError(
                f"expected finite float RGB in [0, 1], got {bad} NaN/inf values in {describe_array(rgb)}"
            )
        if lo < 0.0 or hi > 1.0:
            raise InputError(_float_range_message(rgb, lo, hi))
    return np.ascontiguousarray(rgb)


def _float_range_message(rgb: np.ndarray, lo: np.floating, hi: np.floating) -> str:
    """Why float RGB outside [0, 1] is refused and what to do: the count of offending values, the
    extremes printed with every digit their dtype needs (float32 ``1.0000001`` is not ``1``), and
    the fix that fits the range seen."""
    outside = int(np.count_nonzero((rgb < 0.0) | (rgb > 1.0)))
    if lo >= -1.0 and hi <= 1.0 and lo < -1.0 / 255:
        hint = "values in [-1, 1] (a tanh or VAE output)? map them with (rgb + 1) / 2"
    elif lo >= 0.0 and 1.0 + 1.0 / 255 < hi <= 255.0:
        hint = "0..255 stored as float? use rgb / 255 (or pass uint8)"
    else:
        hint = "clip with np.clip(rgb, 0, 1) if your model overshoots"
    return (
        f"expected float RGB in [0, 1], got {outside} of {rgb.size} values outside it "
        f"(min {_plain_float(lo)}, max {_plain_float(hi)}); {hint}"
    )


def _plain_float(value: Any) -> str:
    """A float as the shortest text that reads back as the same value of its own dtype
    (``float32(1.0000001)`` -> ``"1.0000001"``, not ``"1"``), without NumPy's scalar repr."""
    if isinstance(value, np.floating):
        return str(value)
    return repr(float(value))


def check_value(
    value: Any,
    what: str,
    shape: str,
    kinds: str = "fiu",
    min_ndim: int = 2,
    allow_empty: bool = False,
) -> np.ndarray:
    """Validate a task value for ``encode`` and return it native-endian and C-contiguous.

    ``value`` must be an array (or anything NumPy can view as one) whose dtype kind is one of
    ``kinds`` (``"f"`` float, ``"i"`` signed, ``"u"`` unsigned, ``"b"`` bool), with at least
    ``min_ndim`` dimensions and at least one element (``allow_empty``: zero elements are a valid
    value, e.g. zero keypoint instances); otherwise :class:`InputError` says "expected {what} of
    shape {shape}, got ...". The dtype is kept: converting is the codec's call.
    """
    array = np.asarray(value)
    empty = array.size == 0 and not allow_empty
    if array.dtype.kind not in kinds or array.ndim < min_ndim or empty:
        names = {"f": "float", "i": "integer", "u": "unsigned", "b": "bool"}
        accepted = "/".join(names[k] for k in kinds if k in names)
        qualifier = accepted if allow_empty else f"{accepted}, non-empty"
        raise InputError(
            f"expected {what} of shape {shape} ({qualifier}), got {describe_array(array)}"
        )
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    return np.ascontiguousarray(array)


def rgb_scale(rgb: np.ndarray) -> float:
    """The full-scale value of an (already checked) RGB array: 255, 65535 or 1.0."""
    if rgb.dtype == np.uint8:
        return 255.0
    if rgb.dtype == np.uint16:
        return 65535.0
    return 1.0


#: Float slack on top of a declared round-trip bound: rounding of float32 results, nothing more.
BOUND_RTOL = 1e-6
#: Absolute slack on top of it, for a bound of zero met by float arithmetic.
BOUND_ATOL = 1e-12


def within_bound(err: Any, bound: Any) -> np.ndarray:
    """Where a measured round-trip error is within its declared bound (elementwise, broadcast).

    The one tolerance every comparison with a bound uses (conformance checks, ``rgbtask demo``, the
    fidelity report): ``err <= bound * (1 + BOUND_RTOL) + BOUND_ATOL``. NaN errors are not within.
    """
    err = np.asarray(err, dtype=np.float64)
    bound = np.asarray(bound, dtype=np.float64)
    return err <= bound * (1 + BOUND_RTOL) + BOUND_ATOL


def _jsonable(value: Any) -> Any:
    """Turn a config value into plain JSON types (tuples -> lists, NumPy scalars -> Python)."""
    if isinstance(value, (str, bool, type(None))):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    raise ConfigError(f"codec parameter of type {type(value).__name__} is not JSON-serialisable")


def _config_key(config: Mapping[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, allow_nan=True)


class Codec(abc.ABC):
    """Base class of every codec: task value <-> RGB image ``(..., H, W, 3)``.

    Class attributes a subclass sets
    --------------------------------
    name : str
        Registry name ``task/scheme`` (e.g. ``"normals/xyz"``); ``task`` is the part before ``/``.
    error_unit : str
        Unit of :meth:`roundtrip_error` ("deg", "m", "px", "label", ...), for reports.
    primary_metric : (str, bool)
        The headline key of :meth:`metrics` (for plots and one-number summaries) and whether lower
        is better; the default is the round-trip error statistics' ``("mean_error", True)``.
    task_io : rgbtask.io.TaskIO or None
        How the task family's samples are read from files and decoded values written back
        (``rgbtask encode`` / ``decode`` / ``convert`` use only this); None: values are written,
        files are not read.
    torch_impl : str or None
        ``"module:Class"`` of this class's torch implementation (``rgbtask.torch``, imported lazily;
        not inherited: a subclass declares its own); None: tensors take the NumPy (host) path.
    """

    name: ClassVar[str] = ""
    error_unit: ClassVar[str] = ""
    primary_metric: ClassVar[tuple[str, bool]] = ("mean_error", True)
    task_io: ClassVar[Any] = None
    torch_impl: ClassVar[str | None] = None

    def __post_init__(self) -> None:
        """Validate every parameter declared with :func:`rgbtask.params.param` (dataclass codecs).

        Subclasses with cross-parameter rules override this and call ``super().__post_init__()``
        first."""
        check_params(self)

    # ---------------------------------------------------------------- identity
    @property
    def task(self) -> str:
        """The task family, the part of :attr:`name` before the slash."""
        return self.name.split("/", 1)[0]

    @property
    def dtype(self) -> np.dtype:
        """The dtype ``encode`` returns (``uint8`` unless the codec says otherwise)."""
        return np.dtype(np.uint8)

    @property
    def levels(self) -> int | None:
        """Number of distinct codes the encoding can produce (None if not meaningful)."""
        return None

    def get_config(self) -> dict[str, Any]:
        """JSON-serialisable configuration: ``{"name": ..., **constructor keyword arguments}``."""
        if not dataclasses.is_dataclass(self):
            raise NotImplementedError(
                f"{type(self).__name__} is not a dataclass: override get_config()"
            )
        params = {
            f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self) if f.init
        }
        return {"name": self.name, **params}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Codec:
        """Build a codec from :meth:`get_config`'s output (the ``name`` key is checked, not passed)."""
        params = dict(config)
        name = params.pop("name", cls.name)
        if name != cls.name:
            raise ConfigError(f"config is for codec {name!r}, not {cls.name!r}")
        return cls(**params)

    def info(self) -> dict[str, Any]:
        """What a user asks of an encoding: config, levels, output dtype and round-trip bound."""
        return {
            "name": self.name,
            "task": self.task,
            "config": self.get_config(),
            "levels": self.levels,
            "dtype": str(self.dtype),
            "error_unit": self.error_unit,
            "bound": self.bound_text(),
            "range": self.range_text(),
        }

    def bound_text(self) -> str:
        """A one-line statement of the round-trip bound, for reports."""
        return ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Codec):
            return NotImplemented
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, _config_key(self.get_config())))

    def __repr__(self) -> str:
        params = {k: v for k, v in self.get_config().items() if k != "name"}
        args = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(self).__name__}({args})"

    def __reduce__(self):
        # Pickle the config only: lookup tables live in module-level caches, never in the pickle.
        return (type(self).from_config, (self.get_config(),))

    # ---------------------------------------------------------------- encode / decode
    def encode(self, value: Any) -> np.ndarray:
        """Task value -> RGB array ``(..., H, W, 3)`` of :attr:`dtype`, C-contiguous."""
        return self._encode(self.validate_value(value))

    def decode(self, rgb: Any) -> np.ndarray:
        """RGB ``(..., H, W, 3)`` (uint8, uint16 or float in [0, 1]) -> task value.

        The channels must be in RGB order. OpenCV's ``cv2.imread`` returns BGR, which decodes
        silently wrong (no error can tell the two apart): read an encoded file with
        :func:`rgbtask.io.read_rgb` (RGB, 8 or 16 bits, exactly as stored), or flip a BGR array
        with ``bgr[..., ::-1]`` first.
        """
        return self.decode_with_confidence(rgb).value

    def decode_with_confidence(self, rgb: Any) -> Decoded:
        """Decode and say how sure: ``Decoded(value, confidence, valid)``. Input as :meth:`decode`
        (RGB channel order, not OpenCV's BGR)."""
        return self._decode(check_rgb(rgb))

    @abc.abstractmethod
    def validate_value(self, value: Any) -> np.ndarray:
        """Check a task value and return it as a C-contiguous array ready for ``_encode``."""

    @abc.abstractmethod
    def _encode(self, value: np.ndarray) -> np.ndarray:
        """Encode a validated value."""

    @abc.abstractmethod
    def _decode(self, rgb: np.ndarray) -> Decoded:
        """Decode a validated RGB array (uint8, uint16, float32 or float64, C-contiguous)."""

    # ---------------------------------------------------------------- declared bound
    @abc.abstractmethod
    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """Per-item error of ``decoded`` against ``reference``, in :attr:`error_unit`.

        Where the reference is invalid the decoded value must be invalid too: 0 if so, inf if not
        (and inf where a valid reference decoded as invalid).
        """

    @abc.abstractmethod
    def roundtrip_bound(self, reference: np.ndarray) -> float | np.ndarray:
        """The theoretical bound on ``roundtrip_error(reference, decode(encode(reference)))``,
        a scalar or an array broadcastable against the error."""

    # ---------------------------------------------------------------- declared range
    def range_text(self) -> str:
        """A one-line statement of what ``decode`` can return, for reports and the docs."""
        return "finite values where valid, NaN where invalid (floating point)"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        """Per item (``decoded.valid``'s shape): True where ``decoded`` is something this codec can
        return: a valid item inside the declared range (:meth:`range_text`), an invalid item
        carrying the invalid marker.

        The default checks what every codec promises: floating-point values are finite where
        valid and NaN where invalid. Codecs override it with their range (depth within
        [near, far], unit normals, labels of the palette, keypoints on the canvas), and
        :func:`rgbtask.testing.check_codec` checks it on arbitrary images.
        """
        value = np.asarray(decoded.value)
        valid = np.asarray(decoded.valid, dtype=bool)
        if value.dtype.kind != "f":
            return np.ones(valid.shape, dtype=bool)
        per_item = value.reshape(valid.shape + (-1,))
        finite = np.all(np.isfinite(per_item), axis=-1)
        nan = np.all(np.isnan(per_item), axis=-1)
        return np.where(valid, finite, nan)

    @property
    def pixelwise(self) -> bool:
        """True when each decoded pixel depends on its input pixel only (depth, normals, plain
        palette decoding), so that decoding a crop gives the crop of the decoding. The
        conformance checks use it; False (the default) promises nothing."""
        return False

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """The task's standard metrics of ``decoded`` against ``reference`` (a flat dict of
        scalars, holding :attr:`primary_metric`'s key).

        Each codec declares its task's metrics (AbsRel, RMSE, deltas for depth; mIoU for masks;
        angular error for normals; PCK for keypoints) by overriding this; the default is
        :func:`rgbtask.metrics.roundtrip_metrics`, statistics of :meth:`roundtrip_error`.
        """
        from rgbtask.metrics import roundtrip_metrics

        return roundtrip_metrics(self, reference, decoded)

    # ---------------------------------------------------------------- examples
    @classmethod
    def examples(cls, scene: Any) -> Iterable[tuple[Codec, list[np.ndarray]]]:
        """Configured codecs with sample values drawn from a :class:`rgbtask.samples.Scene`.

        The demo and the conformance tests use these; a codec that yields none is reported as
        untested.
        """
        return ()
