"""The read/write convention of the lazily filled 2^24-entry colour tables, for the kernels.

A table (allocated by :func:`rgbtask.core._tables.new_lut`) has one entry per 8-bit colour,
at index :func:`color_index` ``= (R << 16) | (G << 8) | B``. An entry of 0 means "not computed
yet" (a fresh table is all zeros, so nothing needs initialising); a kernel that meets an unknown
colour computes its result by brute force and publishes it with one aligned store of a nonzero
entry, so threads filling the same table at once never see half an entry (they may compute the
same colour twice, and write the same value). Two ways to make a known entry nonzero:

* ``uint32`` tables (depth): the entry is ``value + 1`` (:func:`known_u32`, :func:`value_u32`);
* ``uint64`` tables (masks): the entry is packed with the :data:`FILLED` bit set
  (:func:`pack_label`, bit 62 valid, bits 32..61 the label, bits 0..31 a float32's bits).

The helpers are inlined into the kernels that call them (``inline="always"``): a called jitted
function is otherwise compiled (and cached) as a function of its own, once more for a call with a
constant argument (``Literal[int]``), which made one-line helpers 0.05-0.2 s each of a cold first
decode (issue 17).
"""

from __future__ import annotations

import numpy as np

from rgbtask.core._jit import jit

__all__ = [
    "FILLED",
    "UNKNOWN",
    "color_index",
    "known_u32",
    "label_of",
    "low32_of",
    "pack_label",
    "valid_of",
    "value_u32",
]

#: The entry of a colour not computed yet.
UNKNOWN = 0
#: uint64 packed entries: the "known" bit, the valid bit, the label field and its shift.
FILLED = np.uint64(1 << 63)
VALID = np.uint64(1 << 62)
LABEL_MASK = np.uint64(0x3FFFFFFF)
LOW32_MASK = np.uint64(0xFFFFFFFF)
LABEL_SHIFT = np.uint64(32)
VALID_SHIFT = np.uint64(62)
_ONE = np.uint64(1)
_ZERO = np.uint64(0)


@jit(inline="always")
def color_index(rgb, i):
    """The table index of row ``i`` of an 8-bit RGB array ``(n, 3)``."""
    return (np.int64(rgb[i, 0]) << 16) | (np.int64(rgb[i, 1]) << 8) | np.int64(rgb[i, 2])


@jit(inline="always")
def known_u32(value):
    """The uint32 entry that stores ``value`` (``value + 1``; 0 stays "unknown")."""
    return np.uint32(value + 1)


@jit(inline="always")
def value_u32(entry):
    """The value a known uint32 entry stores (``entry - 1``)."""
    return entry - 1


@jit(inline="always")
def pack_label(label, low32, valid):
    """A known uint64 entry: :data:`FILLED`, ``valid``, the label (< 2^30) and 32 low bits."""
    flag = VALID if valid else _ZERO
    return FILLED | flag | (np.uint64(label) << LABEL_SHIFT) | np.uint64(low32)


@jit(inline="always")
def label_of(entry):
    """The label of a packed entry."""
    return np.int64((entry >> LABEL_SHIFT) & LABEL_MASK)


@jit(inline="always")
def low32_of(entry):
    """The 32 low bits of a packed entry (a float32's bits)."""
    return np.uint32(entry & LOW32_MASK)


@jit(inline="always")
def valid_of(entry):
    """The valid bit of a packed entry."""
    return ((entry >> VALID_SHIFT) & _ONE) == _ONE
