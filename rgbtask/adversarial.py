"""The hostile-input catalogue: every input the adversarial suite throws at a codec.

94 hostile inputs: 64 for ``decode`` (strided, Fortran, big-endian and read-only views;
array-like objects; bool, signed, complex, object and string dtypes; NaN, inf and out-of-range
floats; 1, 2, 4 and 5 channels, channel-first; empty, 1x1 and 1x65536 shapes; arbitrary colours;
paths, bytes and None) and 30 for ``encode``. Each :class:`Case` builds its input from a sample (the codec's canonical
encoded image on the decode side, the sample value on the encode side) and says what a correct
codec does with it; :func:`rgbtask.testing.check_adversarial` runs them and returns one
:class:`Outcome` per case.

What "correct" means, per case (``Case.expect``):

* ``"same"``: exactly what the canonical input gives (a Fortran-ordered, strided, big-endian or
  read-only view of the same codes; an array-like object wrapping them);
* ``"decodes"``: no error, the result satisfies the contract (dtypes, shapes, NaN exactly where
  invalid) and every item is in range; where the input holds a sample's exact codes at another
  bit depth, the round trip is within the declared bound too;
* ``"rejects"``: a ``ValueError`` subclass that says what was expected;
* ``"either"``: a clear rejection, or a result that is correct as for ``"decodes"`` and, for a
  codec whose decoding is per pixel (:attr:`Codec.pixelwise`), equal pixel for pixel to the
  canonical decoding of the same pixels (crops, 1x1, extreme aspect ratios). On the encode side,
  an accepted value must round-trip within the bound, with itself as the reference.

This module only describes inputs: it imports no codec and runs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rgbtask.codec import rgb_scale

__all__ = ["DECODES", "EITHER", "REJECTS", "SAME", "Case", "Outcome", "adversarial_cases"]

SAME, DECODES, REJECTS, EITHER = "same", "decodes", "rejects", "either"


@dataclass(frozen=True)
class Case:
    """One hostile input: ``make(sample)`` builds it from a sample (the codec's canonical encoded
    image for the decode side, the sample value for the encode side)."""

    side: str  # "decode" or "encode"
    group: str  # what kind of hostility: "layout", "dtype", "values", "shape", "channels", "type"
    name: str
    expect: str  # SAME, DECODES, REJECTS or EITHER (module docstring)
    make: Callable[[np.ndarray], Any]
    #: "same": the canonical input the result must equal; "pixels": (rows, cols) of the sample's
    #: pixels the input is made of; "roundtrip": the input holds the sample's exact codes
    reference: str | None = None


@dataclass(frozen=True)
class Outcome:
    """What one case gave on one codec: ``result`` is "same", "decoded", "encoded" or
    "rejected" (then ``message`` is the error's text)."""

    side: str
    group: str
    case: str
    expect: str
    result: str
    message: str = ""


class _ArrayLike:
    """An object NumPy can view, as a PIL image or a CPU tensor is (``__array__``)."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


class _InterfaceOnly:
    """An object exposing only ``__array_interface__`` (as PIL images do)."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = np.ascontiguousarray(array)
        self.__array_interface__ = self._array.__array_interface__


def _as_float(rgb: np.ndarray, dtype=np.float64) -> np.ndarray:
    return (rgb.astype(np.float64) / rgb_scale(rgb)).astype(dtype)


def _with(array: np.ndarray, value: Any) -> np.ndarray:
    out = np.array(array, copy=True)
    out.reshape(-1)[0] = value
    return out


def _plain(data: Any) -> np.ndarray:
    """The plain array an input stands for: native byte order, C-contiguous, unmasked."""
    array = np.asarray(np.ma.getdata(data) if isinstance(data, np.ma.MaskedArray) else data)
    return np.ascontiguousarray(array.astype(array.dtype.newbyteorder("=")))


def _signed_zero_and_denormal(rgb: np.ndarray) -> np.ndarray:
    out = _as_float(rgb)
    flat = out.reshape(-1)
    flat[0], flat[-1] = -0.0, 5e-324
    return out


def _negative_strides(data: Any) -> np.ndarray:
    """The same values, viewed through negative strides on every axis."""
    flipped = np.ascontiguousarray(np.flip(np.asarray(data)))
    return np.flip(flipped)


def _stride_two(data: Any) -> np.ndarray:
    """The same values, non-contiguous: every other element of a buffer twice as long."""
    return np.repeat(np.asarray(data), 2, axis=0)[::2]


def _channel_first(rgb: np.ndarray) -> np.ndarray:
    """``(3, H, W)``, with W != 3 (a width of 3 would make it a valid channel-last image)."""
    if rgb.shape[-2] == 3:
        rgb = np.concatenate([rgb, rgb[..., :1, :]], axis=-2)
    return np.moveaxis(rgb, -1, 0)


def _other_depth(rgb: np.ndarray) -> np.ndarray:
    """The same codes at the other integer bit depth (exact 8 -> 16; 16 -> 8 rounds)."""
    if rgb.dtype == np.uint8:
        return rgb.astype(np.uint16) * np.uint16(257)
    return np.floor(rgb.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)


def _random(rgb: np.ndarray, dtype, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.random(rgb.shape)
    return rng.integers(0, np.iinfo(dtype).max, rgb.shape, dtype=dtype, endpoint=True)


def _grid(rows: np.ndarray, cols: np.ndarray) -> Callable[[np.ndarray], tuple]:
    return lambda rgb: (rows % rgb.shape[-3], cols % rgb.shape[-2])


def _pixels(index: Callable[[np.ndarray], tuple]):
    def make(rgb: np.ndarray) -> np.ndarray:
        rows, cols = index(rgb)
        return np.ascontiguousarray(rgb[..., rows[:, None], cols[None, :], :])

    make.index = index  # type: ignore[attr-defined]
    return make


def _decode_cases() -> list[Case]:
    def case(group, name, expect, make, reference=None):
        return Case("decode", group, name, expect, make, reference)

    def readonly(rgb):
        out = rgb.copy()
        out.flags.writeable = False
        return out

    def masked(rgb):
        out = np.ma.masked_array(rgb, mask=np.zeros(rgb.shape, bool))
        out.mask.reshape(-1)[0] = True
        return out

    big = np.dtype(">u2")
    return [
        # layouts of the very same codes: exactly the canonical result
        case("layout", "negative strides", SAME, _negative_strides),
        case("layout", "non-contiguous (stride 2)", SAME, _stride_two),
        case("layout", "Fortran order", SAME, np.asfortranarray),
        case("layout", "read-only array", SAME, readonly),
        case("layout", "RGB view of an RGBA buffer", SAME,
             lambda r: np.concatenate([r, r[..., :1]], axis=-1)[..., :3]),
        case("layout", "big-endian uint16", SAME, lambda r: _other_depth(r).astype(big)
             if r.dtype == np.uint8 else r.astype(big)),
        case("layout", "big-endian float64", SAME, lambda r: _as_float(r).astype(">f8")),
        case("layout", "masked array, nothing masked", SAME, np.ma.masked_array),
        case("type", "array-like object (__array__)", SAME, _ArrayLike),
        case("type", "array-like object (__array_interface__)", SAME, _InterfaceOnly),
        # other representations of the same codes: decode, within the bound where exact
        case("dtype", "float64 in [0, 1]", DECODES, _as_float, "roundtrip"),
        case("dtype", "float32 in [0, 1]", DECODES, lambda r: _as_float(r, np.float32),
             "roundtrip"),
        case("dtype", "float16 in [0, 1]", DECODES, lambda r: _as_float(r, np.float16)),
        case("dtype", "the other integer bit depth (8 <-> 16)", DECODES, _other_depth,
             "roundtrip_8to16"),
        # dtypes outside the contract
        case("dtype", "bool", REJECTS, lambda r: r > 0),
        case("dtype", "int8", REJECTS, lambda r: (r // 2).astype(np.int8)),
        case("dtype", "int16", REJECTS, lambda r: r.astype(np.int16)),
        case("dtype", "int32", REJECTS, lambda r: r.astype(np.int32)),
        case("dtype", "int64", REJECTS, lambda r: r.astype(np.int64)),
        case("dtype", "uint32", REJECTS, lambda r: r.astype(np.uint32)),
        case("dtype", "uint64", REJECTS, lambda r: r.astype(np.uint64)),
        case("dtype", "complex64", REJECTS, lambda r: r.astype(np.complex64)),
        case("dtype", "object", REJECTS, lambda r: r.astype(object)),
        case("dtype", "strings", REJECTS, lambda r: r.astype(str)),
        case("dtype", "datetime64", REJECTS, lambda r: r.astype("datetime64[s]")),
        # values
        case("values", "NaN in float RGB", REJECTS, lambda r: _with(_as_float(r), np.nan)),
        case("values", "+inf in float RGB", REJECTS, lambda r: _with(_as_float(r), np.inf)),
        case("values", "-inf in float RGB", REJECTS, lambda r: _with(_as_float(r), -np.inf)),
        case("values", "float RGB above 1 (1 + 1e-6)", REJECTS,
             lambda r: _with(_as_float(r), 1.0 + 1e-6)),
        case("values", "float RGB above 1 (255.0: 8-bit values as float)", REJECTS,
             lambda r: r.astype(np.float32) if r.max() > 1 else _with(_as_float(r), 255.0)),
        case("values", "float RGB below 0 (-1e-9)", REJECTS, lambda r: _with(_as_float(r), -1e-9)),
        case("values", "masked array with a masked value", REJECTS, masked),
        case("values", "-0.0 and denormals in float RGB", DECODES, _signed_zero_and_denormal),
        case("values", "all zeros (black)", DECODES, np.zeros_like),
        case("values", "all full scale (white)", DECODES, lambda r: np.full_like(r, rgb_scale(r))),
        case("values", "float all 0.0", DECODES, lambda r: np.zeros(r.shape)),
        case("values", "float all 1.0", DECODES, lambda r: np.ones(r.shape)),
        case("values", "arbitrary uint8 colours", DECODES, lambda r: _random(r, np.uint8, 1)),
        case("values", "arbitrary uint8 colours (2nd draw)", DECODES,
             lambda r: _random(r, np.uint8, 2)),
        case("values", "arbitrary uint16 colours", DECODES, lambda r: _random(r, np.uint16, 3)),
        case("values", "arbitrary float colours", DECODES, lambda r: _random(r, np.float64, 4)),
        # shapes
        case("shape", "1x1", EITHER, _pixels(_grid(np.arange(1), np.arange(1))), "pixels"),
        case("shape", "one row", EITHER, _pixels(lambda r: (np.arange(1), np.arange(r.shape[-2]))),
             "pixels"),
        case("shape", "one column", EITHER,
             _pixels(lambda r: (np.arange(r.shape[-3]), np.arange(1))), "pixels"),
        case("shape", "odd sizes (3x5)", EITHER, _pixels(_grid(np.arange(3), np.arange(5))),
             "pixels"),
        case("shape", "extreme aspect ratio (1x65536)", EITHER,
             _pixels(_grid(np.arange(1), np.arange(65536))), "pixels"),
        case("shape", "extreme aspect ratio (65536x1)", EITHER,
             _pixels(_grid(np.arange(65536), np.arange(1))), "pixels"),
        case("shape", "empty: 0 rows", REJECTS, lambda r: r[:0]),
        case("shape", "empty: 0 columns", REJECTS, lambda r: r[:, :0]),
        case("shape", "empty: batch of 0", REJECTS, lambda r: r[None][:0]),
        case("shape", "0-d scalar", REJECTS, lambda r: r.reshape(-1)[0]),
        case("shape", "1-d (one colour)", REJECTS, lambda r: r.reshape(-1, 3)[0]),
        # channels
        case("channels", "1 channel (H, W, 1)", REJECTS, lambda r: r[..., :1]),
        case("channels", "2 channels", REJECTS, lambda r: r[..., :2]),
        case("channels", "4 channels (RGBA)", REJECTS,
             lambda r: np.concatenate([r, np.full_like(r[..., :1], rgb_scale(r))], axis=-1)),
        case("channels", "5 channels", REJECTS, lambda r: np.concatenate([r, r[..., :2]], -1)),
        case("channels", "grayscale (H, W)", REJECTS, lambda r: r[..., 0]),
        case("channels", "channel-first (3, H, W)", REJECTS, _channel_first),
        # not arrays at all
        case("type", "None", REJECTS, lambda r: None),
        case("type", "a string", REJECTS, lambda r: "not an image"),
        case("type", "a file path", REJECTS, lambda r: __import__("pathlib").Path("x.png")),
        case("type", "raw PNG bytes", REJECTS, lambda r: b"\x89PNG\r\n\x1a\n"),
        case("type", "a dict", REJECTS, lambda r: {"rgb": r}),
        case("type", "a nested list of ints", EITHER, lambda r: r.tolist()),
    ]  # fmt: skip


def _encode_cases() -> list[Case]:
    def case(group, name, expect, make, reference=None):
        return Case("encode", group, name, expect, make, reference)

    def readonly(v):
        out = np.array(v, copy=True)
        out.flags.writeable = False
        return out

    def big_endian(v):
        v = np.asarray(v)
        return v if v.dtype.itemsize == 1 else v.astype(v.dtype.newbyteorder(">"))

    def floats_only(fn):
        def make(v):
            v = np.asarray(v)
            return fn(v) if v.dtype.kind == "f" else None  # None: not applicable

        return make

    def ints_only(fn):
        def make(v):
            v = np.asarray(v)
            return fn(v) if v.dtype.kind in "iub" else None

        return make

    return [
        case("layout", "negative strides", SAME, _negative_strides),
        case("layout", "non-contiguous (stride 2)", SAME, _stride_two),
        case("layout", "Fortran order", SAME, np.asfortranarray),
        case("layout", "big-endian", SAME, big_endian),
        case("layout", "read-only array", SAME, readonly),
        case("dtype", "float16", EITHER, lambda v: np.asarray(v).astype(np.float16)),
        case("dtype", "float32", EITHER, lambda v: np.asarray(v).astype(np.float32)),
        case("dtype", "float64", EITHER, lambda v: np.asarray(v).astype(np.float64)),
        case("dtype", "int32", EITHER, lambda v: np.asarray(v).astype(np.int32)),
        case("dtype", "int64", EITHER, lambda v: np.asarray(v).astype(np.int64)),
        case("dtype", "uint8", EITHER, lambda v: np.asarray(v).astype(np.uint8)),
        case("dtype", "bool", EITHER, lambda v: np.asarray(v) != 0),
        case("dtype", "complex128", REJECTS, lambda v: np.asarray(v).astype(np.complex128)),
        case("dtype", "object", REJECTS, lambda v: np.asarray(v).astype(object)),
        case("dtype", "strings", REJECTS, lambda v: np.asarray(v).astype(str)),
        case("values", "NaN", EITHER, floats_only(lambda v: _with(v, np.nan))),
        case("values", "+inf", EITHER, floats_only(lambda v: _with(v, np.inf))),
        case("values", "-inf", EITHER, floats_only(lambda v: _with(v, -np.inf))),
        case("values", "all NaN", EITHER, floats_only(lambda v: np.full_like(v, np.nan))),
        case("values", "largest finite float", EITHER,
             floats_only(lambda v: _with(v, np.finfo(v.dtype).max))),
        case("values", "smallest subnormal", EITHER,
             floats_only(lambda v: _with(v, np.finfo(v.dtype).smallest_subnormal))),
        case("values", "negative", EITHER, floats_only(lambda v: _with(v, -1.0))),
        case("values", "-0.0", EITHER, floats_only(lambda v: _with(v, -0.0))),
        case("values", "negative integer", EITHER, ints_only(lambda v: _with(v.astype(np.int64), -1))),
        case("values", "integer 2^40", EITHER,
             ints_only(lambda v: _with(v.astype(np.int64), 1 << 40))),
        case("shape", "empty (0 along the first axis)", EITHER, lambda v: np.asarray(v)[:0]),
        case("shape", "one axis fewer", EITHER, lambda v: np.asarray(v)[0]),
        case("type", "nested lists", EITHER, lambda v: np.asarray(v).tolist()),
        case("type", "None", REJECTS, lambda v: None),
        case("type", "a string", REJECTS, lambda v: "not a value"),
    ]  # fmt: skip


def adversarial_cases() -> list[Case]:
    """Every case of the adversarial suite, decode side first (see :func:`check_adversarial`)."""
    return _decode_cases() + _encode_cases()
