"""Conformance checks that every codec author runs: ours, and any plugin's.

>>> from rgbtask.testing import check_codec
>>> check_codec(my_codec, [value_a, value_b])

:func:`check_codec` raises ``AssertionError`` naming the first thing that failed:

1. ``encode`` returns ``codec.dtype``, shape ``(..., H, W, 3)``, C-contiguous, deterministically;
2. the round trip is within the codec's declared bound (``roundtrip_error <= roundtrip_bound``);
3. ``decode`` equals ``decode_with_confidence(...).value``; confidence is float32 in [0, 1]; valid is
   bool; both have the value's per-item shape;
4. float RGB (``rgb / full_scale`` in float32 and float64) decodes like the integer codes;
5. a batch (values stacked, and a 2-level batch) gives exactly what a loop over single items gives;
6. config round trip: ``get_config()`` is JSON-serialisable, carries ``name``, rebuilds an equal
   codec through :func:`rgbtask.get_codec`; ``==``, ``hash`` and ``repr`` agree; pickling ships the
   config only (small) and gives an equal codec;
7. the adversarial suite (:func:`check_adversarial`): some sixty hostile inputs to ``decode`` and
   ``encode`` (layouts, dtypes, NaN / inf, out-of-range values, channel counts, empty and extreme
   shapes, arbitrary colours), each of which must give a correct result or a ``ValueError``
   subclass whose message says "expected"; and arbitrary images never decode out of range
   (:meth:`Codec.in_range`).

The config check rebuilds the codec with ``from_config`` and, when its name is registered, through
:func:`rgbtask.get_codec` too (which must give the same class).

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
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rgbtask.codec import Codec, Decoded

__all__ = [
    "Outcome",
    "adversarial_cases",
    "check_adversarial",
    "check_codec",
    "check_decoded",
    "check_roundtrip",
    "registered_examples",
]

#: A pickled codec must be small: lookup tables belong in module caches, not in the codec.
MAX_PICKLE_BYTES = 64 * 1024
#: Float slack on top of a declared bound: rounding of float32 results, nothing more.
BOUND_RTOL = 1e-6


def _fail(codec: Codec, what: str) -> None:
    raise AssertionError(f"{codec!r}: {what}")


def _equal(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "f":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


def check_roundtrip(codec: Codec, value: Any, rgb: np.ndarray | None = None) -> np.ndarray:
    """Assert ``decode(encode(value))`` (or ``decode(rgb)``) is within the declared bound.

    Returns the per-item errors, so a caller can also look at their mean.
    """
    if rgb is None:
        rgb = codec.encode(value)
    decoded = codec.decode(rgb)
    err = np.asarray(codec.roundtrip_error(value, decoded), dtype=np.float64)
    bound = np.broadcast_to(np.asarray(codec.roundtrip_bound(value), dtype=np.float64), err.shape)
    over = ~(err <= bound * (1 + BOUND_RTOL) + 1e-12)
    if np.any(over):
        i = np.unravel_index(int(np.argmax(np.where(over, err - bound, -np.inf))), err.shape)
        _fail(
            codec,
            f"round trip error {float(err[i])!r} {codec.error_unit} exceeds the bound "
            f"{float(bound[i])!r} at index {tuple(int(k) for k in i)} "
            f"({int(over.sum())} of {err.size} items over)",
        )
    return err


def _check_encoded(codec: Codec, value: Any) -> np.ndarray:
    rgb = codec.encode(value)
    if not isinstance(rgb, np.ndarray):
        _fail(codec, f"encode returned {type(rgb).__name__}, expected ndarray")
    if rgb.dtype != codec.dtype:
        _fail(codec, f"encode returned dtype {rgb.dtype}, codec.dtype says {codec.dtype}")
    if rgb.ndim < 3 or rgb.shape[-1] != 3:
        _fail(codec, f"encode returned shape {rgb.shape}, expected (..., H, W, 3)")
    if not rgb.flags.c_contiguous:
        _fail(codec, "encode returned a non-C-contiguous array")
    if not _equal(rgb, codec.encode(value)):
        _fail(codec, "encode is not deterministic: two calls on the same value differ")
    return rgb


def _check_decoded(codec: Codec, rgb: np.ndarray) -> None:
    result = codec.decode_with_confidence(rgb)
    if not isinstance(result, tuple) or len(result) != 3:
        _fail(codec, "decode_with_confidence must return (value, confidence, valid)")
    if not _equal(codec.decode(rgb), result[0]):
        _fail(codec, "decode(rgb) differs from decode_with_confidence(rgb).value")
    check_decoded(codec, result)


def check_decoded(codec: Codec, result: Any, what: str = "decode_with_confidence") -> None:
    """Assert that ``result`` (what ``codec.decode_with_confidence`` returned) keeps the contract:
    ``(value, confidence, valid)`` with float32 confidence in [0, 1] and zero where invalid, bool
    ``valid`` of confidence's shape, a value whose shape starts with it, floating-point values NaN
    exactly where invalid, and every item in the codec's range (:meth:`Codec.in_range`).

    The fuzzers call this on every decoded input; ``what`` names the call in the failure.
    """
    if not isinstance(result, tuple) or len(result) != 3:
        _fail(codec, f"{what} must return (value, confidence, valid), got {type(result).__name__}")
    value, confidence, valid = (np.asarray(x) for x in result)
    if confidence.dtype != np.float32:
        _fail(codec, f"{what}: confidence has dtype {confidence.dtype}, expected float32")
    if valid.dtype != np.bool_:
        _fail(codec, f"{what}: valid has dtype {valid.dtype}, expected bool")
    if confidence.shape != valid.shape:
        _fail(codec, f"{what}: confidence shape {confidence.shape} != valid shape {valid.shape}")
    if not (np.all(confidence >= 0) and np.all(confidence <= 1)):
        _fail(codec, f"{what}: confidence outside [0, 1]")
    if np.any(confidence[~valid] != 0):
        _fail(codec, f"{what}: an invalid item has non-zero confidence")
    if value.shape[: confidence.ndim] != confidence.shape:
        _fail(
            codec,
            f"{what}: value shape {value.shape} does not start with confidence shape "
            f"{confidence.shape}",
        )
    if value.dtype.kind == "f":
        item_nan = np.isnan(value).reshape(confidence.shape + (-1,)).any(axis=-1)
        if np.any(item_nan & valid) or np.any(~item_nan & ~valid):
            _fail(codec, f"{what}: floating-point value must be NaN exactly where valid is False")
    _check_in_range(codec, what, Decoded(value, confidence, valid))


def _check_float_decode(codec: Codec, value: Any, rgb: np.ndarray) -> None:
    full = float(np.iinfo(rgb.dtype).max)
    reference = codec.decode(rgb)
    for dtype in (np.float64, np.float32):
        as_float = (rgb.astype(np.float64) / full).astype(dtype)
        decoded = codec.decode(as_float)
        if decoded.shape != reference.shape or decoded.dtype != reference.dtype:
            _fail(
                codec,
                f"decode of {np.dtype(dtype)} RGB gave {decoded.dtype} {decoded.shape}, "
                f"integer RGB gave {reference.dtype} {reference.shape}",
            )
        check_roundtrip(codec, value, as_float)
        if reference.dtype.kind != "f" and not _equal(decoded, reference):
            _fail(codec, f"decode of {np.dtype(dtype)} RGB differs from decode of integer codes")


def _check_batch(codec: Codec, values: Sequence[Any]) -> None:
    shapes = {np.shape(v) for v in values}
    if len(shapes) != 1:
        return
    singles_rgb = [codec.encode(v) for v in values]
    batch = np.stack([np.asarray(v) for v in values])
    batch_rgb = codec.encode(batch)
    if not _equal(batch_rgb, np.stack(singles_rgb)):
        _fail(codec, "encode of a batch differs from a loop of single encodes")
    singles = [codec.decode_with_confidence(r) for r in singles_rgb]
    batched = codec.decode_with_confidence(batch_rgb)
    for field, got in zip(("value", "confidence", "valid"), batched):
        want = np.stack([np.asarray(getattr(s, field)) for s in singles])
        if not _equal(got, want):
            _fail(
                codec, f"decode_with_confidence of a batch: {field} differs from a loop of singles"
            )
    # A two-level batch (1, n, ...) must give the same as the flat batch.
    deep = codec.encode(batch[None])
    if not _equal(deep[0], batch_rgb):
        _fail(codec, "encode of a (1, n, ...) batch differs from the (n, ...) batch")
    if not _equal(codec.decode(deep)[0], batched.value):
        _fail(codec, "decode of a (1, n, ...) batch differs from the (n, ...) batch")


def _check_config(codec: Codec) -> None:
    from rgbtask.registry import get_codec, list_codecs

    config = codec.get_config()
    if config.get("name") != codec.name:
        _fail(codec, f"get_config()['name'] is {config.get('name')!r}, expected {codec.name!r}")
    try:
        text = json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        _fail(codec, f"get_config() is not JSON-serialisable: {exc}")
    rebuilt = type(codec).from_config(json.loads(text))
    if rebuilt != codec:
        _fail(codec, f"from_config(get_config()) gave {rebuilt!r}, not an equal codec")
    if codec.name in list_codecs():
        via_registry = get_codec(json.loads(text))
        if via_registry != codec or type(via_registry) is not type(codec):
            _fail(codec, f"get_codec(get_config()) gave {via_registry!r}, not an equal codec")
    if hash(rebuilt) != hash(codec):
        _fail(codec, "equal codecs have different hashes")
    if rebuilt.get_config() != config:
        _fail(codec, "get_config() is not stable through get_codec(get_config())")
    text_repr = repr(codec)
    if type(codec).__name__ not in text_repr:
        _fail(codec, f"repr {text_repr!r} does not name the class")
    blob = pickle.dumps(codec)
    if len(blob) > MAX_PICKLE_BYTES:
        _fail(
            codec,
            f"pickled codec is {len(blob)} bytes (> {MAX_PICKLE_BYTES}): "
            "keep lookup tables out of the instance",
        )
    if pickle.loads(blob) != codec:
        _fail(codec, "pickle round trip gives an unequal codec")


# ---------------------------------------------------------------- adversarial suite

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


def _full(rgb: np.ndarray) -> float:
    return float(np.iinfo(rgb.dtype).max)


def _as_float(rgb: np.ndarray, dtype=np.float64) -> np.ndarray:
    return (rgb.astype(np.float64) / _full(rgb)).astype(dtype)


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
        case("values", "all full scale (white)", DECODES, lambda r: np.full_like(r, _full(r))),
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
             lambda r: np.concatenate([r, np.full_like(r[..., :1], _full(r))], axis=-1)),
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


def _same_result(a: Decoded, b: Decoded) -> bool:
    return all(_equal(x, y) for x, y in zip(a, b))


def _check_clear_error(codec: Codec, what: str, exc: BaseException) -> str:
    if not isinstance(exc, ValueError):
        _fail(codec, f"{what} raised {type(exc).__name__}: {exc}; expected a ValueError subclass")
    if "expected" not in str(exc):
        _fail(codec, f"{what} raised {exc!r}, whose message does not say what was expected")
    return str(exc)


def _check_in_range(codec: Codec, what: str, result: Decoded) -> None:
    ok = np.asarray(codec.in_range(result), dtype=bool)
    if ok.shape != np.shape(result.valid):
        _fail(codec, f"in_range gave shape {ok.shape}, valid has {np.shape(result.valid)}")
    if not ok.all():
        i = tuple(int(k) for k in np.unravel_index(int(np.argmin(ok)), ok.shape))
        value = np.asarray(result.value)[i]
        _fail(
            codec,
            f"{what}: {int((~ok).sum())} decoded items out of range ({codec.range_text()}); "
            f"first at {i}: {value!r} (valid={bool(np.asarray(result.valid)[i])})",
        )


def _roundtrip_of_case(codec: Codec, what: str, value: Any, rgb: Any) -> None:
    try:
        check_roundtrip(codec, value, rgb)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


def _run_decode_case(codec: Codec, case: Case, value: Any, rgb: np.ndarray) -> Outcome:
    what = f"decode({case.name})"
    with np.errstate(all="ignore"):
        data = case.make(rgb)
    try:
        result = codec.decode_with_confidence(data)
    except Exception as exc:
        message = _check_clear_error(codec, what, exc)
        if case.expect in (SAME, DECODES):
            _fail(codec, f"{what} raised {exc!r}; expected a result")
        return Outcome("decode", case.group, case.name, case.expect, "rejected", message)
    if case.expect == REJECTS:
        _fail(codec, f"{what} did not raise; expected a ValueError saying what was expected")
    check_decoded(codec, result, what)
    if case.expect == SAME:
        if not _same_result(result, codec.decode_with_confidence(_plain(data))):
            _fail(codec, f"{what} differs from the decoding of the same codes as a plain array")
        return Outcome("decode", case.group, case.name, case.expect, "same")
    if case.reference == "roundtrip" or (
        case.reference == "roundtrip_8to16" and rgb.dtype == np.uint8
    ):
        _roundtrip_of_case(codec, what, value, data)
    if case.reference == "pixels" and codec.pixelwise:
        rows, cols = case.make.index(rgb)  # type: ignore[attr-defined]
        full = codec.decode_with_confidence(rgb)
        want = Decoded(*(np.asarray(f)[rows[:, None], cols[None, :]] for f in full))
        if not _same_result(result, want):
            _fail(codec, f"{what} differs from the canonical decoding of the same pixels")
        return Outcome("decode", case.group, case.name, case.expect, "same")
    return Outcome("decode", case.group, case.name, case.expect, "decoded")


def _run_encode_case(codec: Codec, case: Case, value: Any) -> Outcome | None:
    what = f"encode({case.name})"
    with np.errstate(all="ignore"):  # casts of NaN or huge values to integers are the point
        data = case.make(value)
    if data is None and case.expect != REJECTS:
        return None  # not applicable to this value's dtype
    try:
        rgb = codec.encode(data)
    except Exception as exc:
        message = _check_clear_error(codec, what, exc)
        if case.expect == SAME:
            _fail(codec, f"{what} raised {exc!r}; expected a result")
        return Outcome("encode", case.group, case.name, case.expect, "rejected", message)
    if case.expect == REJECTS:
        _fail(codec, f"{what} did not raise; expected a ValueError saying what was expected")
    if case.expect == SAME:
        if not _equal(rgb, codec.encode(_plain(data))):
            _fail(codec, f"{what} differs from the encoding of the same values as a plain array")
        return Outcome("encode", case.group, case.name, case.expect, "same")
    if not isinstance(rgb, np.ndarray) or rgb.dtype != codec.dtype or not rgb.flags.c_contiguous:
        _fail(
            codec, f"{what} returned {type(rgb).__name__}, not a C-contiguous {codec.dtype} array"
        )
    _roundtrip_of_case(codec, what, np.asarray(data), rgb)
    return Outcome("encode", case.group, case.name, case.expect, "encoded")


def check_adversarial(codec: Codec, values: Sequence[Any]) -> list[Outcome]:
    """Run the adversarial suite on ``codec`` with its first sample value; return the outcomes.

    Raises ``AssertionError`` naming the codec and the case when an input gives neither a correct
    result nor a clear ``ValueError`` (see the module docstring for what "correct" means per case).
    The outcomes say, per case, whether the codec decoded or rejected it (the docs list them).
    """
    value = values[0]
    rgb = np.ascontiguousarray(codec.encode(value))
    outcomes: list[Outcome] = []
    for case in _decode_cases():
        outcomes.append(_run_decode_case(codec, case, value, rgb))
    for case in _encode_cases():
        outcome = _run_encode_case(codec, case, value)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def registered_examples(scene: Any = None, names: Sequence[str] | None = None) -> list[tuple]:
    """``(codec, values)`` for every example configuration of every registered codec (or of
    ``names``), drawn from ``scene`` (default: a small built-in scene), plugins included: what
    the conformance tests, the fuzzers and the generated docs go over.

    A palette's known colour collision (ADE20K labels 7 and 49) is warned about once, where such
    a codec is built by a user, not here.
    """
    import warnings

    from rgbtask.palettes import PaletteCollisionWarning
    from rgbtask.registry import get_codec_class, list_codecs
    from rgbtask.samples import make_scene

    if scene is None:
        scene = make_scene(height=12, width=10, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PaletteCollisionWarning)
        return [
            (codec, list(values))
            for name in (list_codecs() if names is None else names)
            for codec, values in get_codec_class(name).examples(scene)
        ]


def check_codec(codec: Codec, values: Sequence[Any], adversarial: bool = True) -> None:
    """Run the conformance checks on ``codec`` with sample ``values`` (single, unbatched items).

    Raises ``AssertionError`` naming the first failure. Values of equal shape are also checked as
    a batch. ``adversarial=False`` skips the adversarial suite (:func:`check_adversarial`).
    """
    if not isinstance(codec, Codec):
        raise AssertionError(f"expected an rgbtask.Codec, got {type(codec).__name__}")
    if len(values) == 0:
        raise AssertionError("check_codec needs at least one sample value")
    _check_config(codec)
    for value in values:
        rgb = _check_encoded(codec, value)
        check_roundtrip(codec, value, rgb)
        _check_decoded(codec, rgb)
        _check_float_decode(codec, value, rgb)
    _check_batch(codec, values)
    if adversarial:
        check_adversarial(codec, values)
