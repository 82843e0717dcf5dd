"""Codec parameters: declared and validated in one line each.

A codec is a frozen dataclass whose fields are its config. Each field that a user sets is declared
with :func:`param`, naming its default and a validator from this module::

    @dataclass(frozen=True, eq=False, repr=False)
    class MyCodec(Codec):
        name: ClassVar[str] = "task/mine"
        bits: int = param(8, one_of(8, 16))
        sigma: float = param(2.0, number(lo=0.5, hi=64.0))
        ignore: int | None = param(255, integer(lo=0, hi=2**30 - 1), optional=True)

:meth:`rgbtask.Codec.__post_init__` runs every field's validator before the codec's own
``__post_init__`` logic (cross-field rules). A validator either returns the value in its canonical
type (``2`` for an integer, ``2.0`` for a float, a tuple for an RGB triple: a value that compares
equal to the one given, so ``get_config()`` holds exactly what the user wrote) or raises
:class:`~rgbtask.errors.ConfigError` with ``expected ..., got ...``. Nothing is cast silently:
``2.7`` is not an integer, ``"3"`` is not a number, ``True`` is neither.

The validators are small callables ``check(value, name) -> value``; write your own for anything
else (a function of two arguments that raises ``ConfigError``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from rgbtask.errors import ConfigError

__all__ = [
    "Validator",
    "boolean",
    "check_params",
    "color_list",
    "integer",
    "number",
    "one_of",
    "param",
    "plain",
    "rgb_triple",
    "size_hw",
]

#: ``check(value, name) -> canonical value``; raises :class:`ConfigError`.
Validator = Callable[[Any, str], Any]


def plain(value: Any) -> Any:
    """A value as the user would write it in an error message (no NumPy 2 scalar reprs)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _fail(name: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"expected {name} {expected}, got {plain(value)!r}")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _range_text(lo, hi, lo_open=False, hi_open=False) -> str:
    if lo is not None and hi is not None:
        return f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return ""


def integer(lo: int | None = None, hi: int | None = None) -> Validator:
    """A whole number in ``[lo, hi]`` (either end may be open-ended with None).

    Accepts ``int``, NumPy integers and integral floats (``3.0`` becomes ``3``); refuses ``2.7``,
    bools, strings, NaN and everything else.
    """
    span = _range_text(lo, hi)
    expected = f"an integer {span}".rstrip()

    def check(value: Any, name: str) -> int:
        if not _is_real(value):
            raise _fail(name, expected, value)
        if isinstance(value, numbers.Integral):
            v = int(value)
        else:
            f = float(value)
            if not math.isfinite(f) or f != math.floor(f):
                raise _fail(name, expected, value)
            v = int(f)
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise _fail(name, expected, value)
        return v

    return check


def number(
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
    hi_open: bool = False,
) -> Validator:
    """A finite real number in the range (``lo_open`` / ``hi_open`` exclude the ends); returns a
    Python float. Refuses bools, strings, NaN and inf."""
    span = _range_text(lo, hi, lo_open, hi_open)
    expected = f"a finite number {span}".rstrip()

    def check(value: Any, name: str) -> float:
        if not _is_real(value):
            raise _fail(name, expected, value)
        v = float(value)
        if not math.isfinite(v):
            raise _fail(name, expected, value)
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise _fail(name, expected, value)
        if hi is not None and (v > hi or (hi_open and v == hi)):
            raise _fail(name, expected, value)
        return v

    return check


def one_of(*options: Any) -> Validator:
    """One of a fixed set of values (strings or numbers), compared with ``==`` and the type
    (``True`` is not ``1``)."""
    shown = ", ".join(repr(o) for o in options)

    def check(value: Any, name: str) -> Any:
        for option in options:
            if isinstance(option, str) != isinstance(value, str):
                continue
            if not isinstance(value, str) and not _is_real(value):
                continue
            if value == option:
                return option
        raise _fail(name, f"one of {shown}", value)

    return check


def boolean(value: Any, name: str) -> bool:
    """``True`` or ``False`` (NumPy bools too); refuses 0/1 and strings."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise _fail(name, "True or False", value)


def _rgb(value: Any, name: str) -> tuple[int, int, int]:
    expected = "an RGB colour: three integers in 0..255"
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise _fail(name, expected, value)
    if len(value) != 3:
        raise _fail(name, expected, value)
    check = integer(0, 255)
    try:
        return tuple(check(v, name) for v in value)  # type: ignore[return-value]
    except ConfigError:
        raise _fail(name, expected, value) from None


def rgb_triple(value: Any, name: str) -> tuple[int, int, int]:
    """An RGB colour ``(r, g, b)``, integers in 0..255 (a list, tuple or array); returns a tuple."""
    return _rgb(value, name)


def color_list(min_colors: int = 1) -> Validator:
    """A list of at least ``min_colors`` RGB colours; returns a tuple of tuples."""
    expected = f"a list of at least {min_colors} RGB colours (three integers in 0..255 each)"

    def check(value: Any, name: str) -> tuple[tuple[int, int, int], ...]:
        if isinstance(value, (str, bytes)) or not isinstance(value, (Iterable, np.ndarray)):
            raise _fail(name, expected, value)
        items = list(value)
        if len(items) < min_colors:
            raise _fail(name, expected, value)
        try:
            return tuple(_rgb(c, name) for c in items)
        except ConfigError:
            raise _fail(name, expected, value) from None

    return check


def size_hw(value: Any, name: str) -> tuple[int, int]:
    """An image size ``(H, W)`` of two positive integers; returns a tuple."""
    expected = "an image size (H, W): two positive integers"
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise _fail(name, expected, value)
    if len(value) != 2:
        raise _fail(name, expected, value)
    check = integer(1, None)
    try:
        return tuple(check(v, name) for v in value)  # type: ignore[return-value]
    except ConfigError:
        raise _fail(name, expected, value) from None


def param(default: Any, check: Validator, *, optional: bool = False) -> Any:
    """Declare a codec parameter: its default and its validator (``optional``: None is allowed
    and kept as None). Use as a dataclass field default."""
    return dataclasses.field(default=default, metadata={"check": check, "optional": optional})


def check_params(obj: Any) -> None:
    """Run the validator of every :func:`param` field of the dataclass ``obj`` and store the
    canonical values (``object.__setattr__``, so frozen dataclasses work)."""
    for f in dataclasses.fields(obj):
        check = f.metadata.get("check")
        if check is None:
            continue
        value = getattr(obj, f.name)
        if value is None:
            if f.metadata.get("optional"):
                continue
            try:  # the validator's own "expected ..." says what None should have been
                check(None, f.name)
            except ConfigError:
                raise
            except Exception:  # a hand-written validator that does not expect None
                pass
            raise ConfigError(f"expected {f.name} to be set, got None")
        object.__setattr__(obj, f.name, check(value, f.name))
