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
7. bad RGB input (wrong dtype, channels, rank, NaN, out of range, empty) raises a ``ValueError``
   subclass whose message says "expected".

The config check rebuilds the codec with ``from_config`` and, when its name is registered, through
:func:`rgbtask.get_codec` too (which must give the same class).
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from rgbtask.codec import Codec

__all__ = ["check_codec", "check_roundtrip"]

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
    if len(result) != 3:
        _fail(codec, "decode_with_confidence must return (value, confidence, valid)")
    value, confidence, valid = result
    if not _equal(codec.decode(rgb), value):
        _fail(codec, "decode(rgb) differs from decode_with_confidence(rgb).value")
    confidence, valid = np.asarray(confidence), np.asarray(valid)
    if confidence.dtype != np.float32:
        _fail(codec, f"confidence has dtype {confidence.dtype}, expected float32")
    if valid.dtype != np.bool_:
        _fail(codec, f"valid has dtype {valid.dtype}, expected bool")
    if confidence.shape != valid.shape:
        _fail(codec, f"confidence shape {confidence.shape} != valid shape {valid.shape}")
    if not (np.all(confidence >= 0) and np.all(confidence <= 1)):
        _fail(codec, "confidence outside [0, 1]")
    if np.any(confidence[~valid] != 0):
        _fail(codec, "an invalid item has non-zero confidence")
    value = np.asarray(value)
    if value.shape[: confidence.ndim] != confidence.shape:
        _fail(
            codec,
            f"value shape {value.shape} does not start with confidence shape {confidence.shape}",
        )
    if value.dtype.kind == "f":
        item_nan = np.isnan(value).reshape(confidence.shape + (-1,)).any(axis=-1)
        if np.any(item_nan & valid) or np.any(~item_nan & ~valid):
            _fail(codec, "floating-point value must be NaN exactly where valid is False")


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


def _bad_rgb_inputs(rgb: np.ndarray) -> list[tuple[str, Any]]:
    one = np.ascontiguousarray(rgb.reshape((-1,) + rgb.shape[-3:])[0])
    as_float = one.astype(np.float32) / float(np.iinfo(one.dtype).max)
    nan = as_float.copy()
    nan.flat[0] = np.nan
    high = as_float.copy()
    high.flat[0] = 1.5
    return [
        ("bool dtype", one > 0),
        ("int64 dtype", one.astype(np.int64)),
        ("complex dtype", one.astype(np.complex64)),
        ("4 channels", np.concatenate([one, one[..., :1]], axis=-1)),
        ("1 channel", one[..., :1]),
        ("2-D array", one[..., 0]),
        ("NaN in float RGB", nan),
        ("float RGB above 1", high),
        ("empty array", one[:0]),
        ("a string", "not an image"),
    ]


def _check_bad_input(codec: Codec, rgb: np.ndarray) -> None:
    for label, bad in _bad_rgb_inputs(rgb):
        try:
            codec.decode(bad)
        except ValueError as exc:
            if "expected" not in str(exc):
                _fail(
                    codec,
                    f"decode({label}) raised {exc!r}, whose message does not say what was expected",
                )
        except Exception as exc:
            _fail(
                codec,
                f"decode({label}) raised {type(exc).__name__}: {exc}; expected a "
                "ValueError subclass",
            )
        else:
            _fail(codec, f"decode({label}) did not raise")


def check_codec(codec: Codec, values: Sequence[Any]) -> None:
    """Run the conformance checks on ``codec`` with sample ``values`` (single, unbatched items).

    Raises ``AssertionError`` naming the first failure. Values of equal shape are also checked as
    a batch.
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
    _check_bad_input(codec, _check_encoded(codec, values[0]))
