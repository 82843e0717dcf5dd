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
7. the adversarial suite (:func:`check_adversarial`): the 94 hostile inputs to ``decode`` and
   ``encode`` of :mod:`rgbtask.adversarial` (layouts, dtypes, NaN / inf, out-of-range values,
   channel counts, empty and extreme shapes, arbitrary colours), each of which must give a correct
   result or a ``ValueError`` subclass whose message says "expected"; and arbitrary images never
   decode out of range (:meth:`Codec.in_range`).

The config check rebuilds the codec with ``from_config`` and, when its name is registered, through
:func:`rgbtask.get_codec` too (which must give the same class).

What "correct" means for each hostile input (``Case.expect``): see :mod:`rgbtask.adversarial`.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import numbers
import pickle
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from rgbtask.adversarial import (  # the catalogue, re-exported where it used to live
    DECODES,
    EITHER,  # noqa: F401
    REJECTS,
    SAME,
    Case,
    Outcome,
    _decode_cases,
    _encode_cases,
    _plain,
    adversarial_cases,
)
from rgbtask.codec import BOUND_RTOL, Codec, Decoded, rgb_scale, within_bound  # noqa: F401
from rgbtask.params import plain

__all__ = [
    "Case",
    "Outcome",
    "adversarial_cases",
    "check_adversarial",
    "check_codec",
    "check_config_values",
    "check_decoded",
    "check_roundtrip",
    "registered_examples",
]

#: A pickled codec must be small: lookup tables belong in module caches, not in the codec.
MAX_PICKLE_BYTES = 64 * 1024


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
    over = ~within_bound(err, bound)
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
    full = rgb_scale(rgb)
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


# ---------------------------------------------------------------- config values

_NAN = float("nan")


def _same_config_value(given: Any, stored: Any) -> bool:
    """``stored`` is exactly ``given``: equal (NaN equal to NaN), and a bool stays a bool."""
    if isinstance(given, (bool, np.bool_)) != isinstance(stored, (bool, np.bool_)):
        return False
    if isinstance(given, float) and math.isnan(given):
        return isinstance(stored, float) and math.isnan(stored)
    try:
        return bool(given == stored)
    except Exception:
        return False


def _config_fields(codec: Codec) -> list[str]:
    """The codec's constructor parameters: its dataclass init fields, or its signature's."""
    if dataclasses.is_dataclass(codec):
        return [f.name for f in dataclasses.fields(codec) if f.init]
    signature = inspect.signature(type(codec))
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]


def _wrong_values(current: Any) -> list[tuple[str, Any]]:
    """The values a parameter is tried with: wrong types, signs and NaN."""
    wrong = [
        ("a string", "x"),
        ("None", None),
        ("a list", [1, 2]),
        ("a bool", True),
        ("a non-integral float", 2.7),
        ("a negative number", -1),
        ("NaN", _NAN),
    ]
    if isinstance(current, numbers.Integral) and not isinstance(current, (bool, np.bool_)):
        wrong.append(("its value plus a half", int(current) + 0.5))
    return wrong


def _noisy(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` with small deterministic noise: decodes where the config's tolerances matter."""
    full = int(np.iinfo(rgb.dtype).max)
    rng = np.random.default_rng(0)
    step = max(1, full // 255)
    noise = rng.integers(-6, 7, size=rgb.shape) * step
    return np.clip(rgb.astype(np.int64) + noise, 0, full).astype(rgb.dtype)


def _same_decoding(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))


def check_config_values(codec: Codec, values: Sequence[Any] = ()) -> None:
    """Assert that the codec's config is complete and that its parameters are validated.

    * ``get_config()`` holds ``name`` and exactly the constructor's parameters (a parameter left
      out would make a rebuilt codec compare equal although it decodes differently);
    * every parameter, given a wrong value (a string, None, a list, a bool, a non-integral float,
      a negative number, NaN, and an integer parameter's value plus a half), either raises
      :class:`~rgbtask.errors.ConfigError` or builds a codec whose ``get_config()`` holds exactly
      the value given (never a silently cast one: ``2.7`` stored as ``2``);
    * a codec rebuilt from its config (``from_config(get_config())``, and through JSON) encodes
      ``values`` and decodes their images, clean and noisy, to the very same values.
    """
    from rgbtask.errors import ConfigError

    cls = type(codec)
    config = codec.get_config()
    fields = _config_fields(codec)
    keys = sorted(k for k in config if k != "name")
    if keys != sorted(fields):
        missing = sorted(set(fields) - set(keys))
        extra = sorted(set(keys) - set(fields))
        _fail(
            codec,
            f"get_config() keys {keys} are not the constructor's parameters {sorted(fields)}"
            + (f"; missing {missing}" if missing else "")
            + (f"; extra {extra}" if extra else ""),
        )
    for field in fields:
        for what, wrong in _wrong_values(config.get(field)):
            try:
                with warnings.catch_warnings():  # errors are the point here, not warnings
                    warnings.simplefilter("ignore")
                    built = cls.from_config({**config, field: wrong})
            except ConfigError:
                continue
            except Exception as exc:
                _fail(
                    codec,
                    f"{field}={wrong!r} ({what}) raised {type(exc).__name__}: {exc}; "
                    "expected a ConfigError saying what was expected",
                )
            try:
                stored = built.get_config().get(field, "<missing>")
            except Exception as exc:
                _fail(
                    codec,
                    f"{field}={wrong!r} ({what}) built a codec whose get_config() raised {exc!r}",
                )
            if not _same_config_value(wrong, stored):
                _fail(
                    codec,
                    f"{field}={wrong!r} ({what}) was accepted and stored as {stored!r}: "
                    "raise a ConfigError or keep the value given",
                )
    rebuilt = {
        "from_config(get_config())": cls.from_config(config),
        "from_config(json)": cls.from_config(json.loads(json.dumps(config))),
    }
    for value in [values] if isinstance(values, np.ndarray) else values:
        rgb = codec.encode(value)
        images = {"its image": rgb, "its image with noise": _noisy(rgb)}
        wants = {k: codec.decode_with_confidence(image) for k, image in images.items()}
        for how, twin in rebuilt.items():
            if not _equal(twin.encode(value), rgb):
                _fail(codec, f"a codec rebuilt by {how} encodes differently")
            for k, image in images.items():
                if not _same_decoding(twin.decode_with_confidence(image), wants[k]):
                    _fail(
                        codec,
                        f"a codec rebuilt by {how} decodes {k} differently "
                        "(its config leaves something out)",
                    )


# ---------------------------------------------------------------- adversarial suite


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
            f"first at {i}: {plain(value)!r} (valid={bool(np.asarray(result.valid)[i])})",
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
    value = _as_samples(values)[0]
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

    A user palette's colour collision is warned about once, where such a codec is built by a
    user, not here (a named palette's known collision, ADE20K's labels 7 and 49, never warns).
    """

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


def _as_samples(values: Any) -> list[Any]:
    """``check_codec``'s ``values``: a single ndarray is one sample; otherwise a non-empty list or
    tuple of samples."""
    if isinstance(values, np.ndarray):
        return [values]
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        raise AssertionError(
            "expected values a list of sample values (or one ndarray: one sample), got "
            f"{type(values).__name__}"
        )
    if len(values) == 0:
        raise AssertionError("check_codec needs at least one sample value")
    return list(values)


def check_codec(
    codec: Codec,
    values: Sequence[Any],
    adversarial: bool = True,
    *,
    config_values: bool = True,
) -> None:
    """Run the conformance checks on ``codec`` with sample ``values`` (single, unbatched items).

    ``values`` is a list (or tuple) of sample values; a single NumPy array is one sample
    (``check_codec(codec, depth)`` is ``check_codec(codec, [depth])``), never a list of samples
    along its first axis. Raises ``AssertionError`` naming the first failure. Values of equal
    shape are also checked as a batch. ``adversarial=False`` skips the adversarial suite
    (:func:`check_adversarial`); ``config_values=False`` skips the config section
    (:func:`check_config_values`).
    """
    if not isinstance(codec, Codec):
        raise AssertionError(f"expected an rgbtask.Codec, got {type(codec).__name__}")
    values = _as_samples(values)
    _check_config(codec)
    if config_values:
        check_config_values(codec, values)
    for value in values:
        rgb = _check_encoded(codec, value)
        check_roundtrip(codec, value, rgb)
        _check_decoded(codec, rgb)
        _check_float_decode(codec, value, rgb)
    _check_batch(codec, values)
    if adversarial:
        check_adversarial(codec, values)
