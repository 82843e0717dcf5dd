"""The lookup tables' home: one cache class for all of them, and page-lazy zeroed arrays.

Every table a codec needs (a curve's 2^24-entry decode table, a palette's, a depth table per
transform, an encode bucket table, a keypoint layout's colours) lives in a module-level
:class:`TableCache` keyed by what defines it: built on first use, once per process however many
threads ask at once, shared by every codec instance and thread, never pickled with a codec (codecs
pickle their config), and bounded: past ``max_entries`` the least recently used table is dropped
(a thread still decoding with it keeps its reference).

``np.zeros`` of a large array gets pages the kernel maps on first touch, which is what a lazily
filled 2^24 table wants; but NumPy advises the kernel to back every allocation of 4 MiB or more with
transparent huge pages (``MADV_HUGEPAGE``), so on a Linux system with huge pages on, the first colour
decoded in each 2 MiB region committed the whole region: 50 of a depth table's 64 MiB for a typical
4K depth image of 525 colours. :func:`lazy_zeros` maps the memory itself with ``MADV_NOHUGEPAGE``,
so a table costs one 4 KiB page per group of colours actually met. The price is paid once per page:
decoding an image of 137k colours never seen before into an empty palette table takes 168 ms with
4 KiB pages and 29 ms with huge pages (page faults), while a run of noisy frames decodes at the same
speed either way with 3 MiB of table instead of 60 (``python benchmarks/bench_masks.py``).
``RGBTASK_HUGE_PAGES=1`` opts back into NumPy's huge-page advice, for short-lived processes that
meet many colours once.

The 2^24-entry colour tables (depth curves, palettes) share one protocol: :func:`new_lut` allocates
a table of one entry per 8-bit colour, all 0 ("not computed yet"), and the jitted helpers of
:mod:`rgbtask.core._lut` read and publish its entries (index ``(R << 16) | (G << 8) | B``).
This module stays free of Numba: it is imported by code that never compiles a kernel.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np

__all__ = ["LUT_ENTRIES", "TableCache", "clear_all", "lazy_zeros", "new_lut"]

#: Entries of a colour table: one per 8-bit RGB colour.
LUT_ENTRIES = 1 << 24

_CACHES: weakref.WeakSet[TableCache] = weakref.WeakSet()


class TableCache:
    """A process-wide, thread-safe, size-bounded cache of lookup tables (module docstring).

    ``get(key, build)`` returns the table for ``key``, calling ``build()`` (under the cache's lock,
    so exactly once per key while it stays cached) when there is none.
    """

    def __init__(self, name: str, max_entries: int) -> None:
        self.name = name
        self.max_entries = int(max_entries)
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.RLock()  # a build may look up another key of the same cache
        _CACHES.add(self)

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = build()
                self._entries[key] = entry
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(key)
            return entry

    def __getitem__(self, key: Hashable) -> Any:
        with self._lock:
            return self._entries[key]

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> list[Any]:
        with self._lock:
            return list(self._entries.values())

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __repr__(self) -> str:
        return f"TableCache({self.name!r}, {len(self)}/{self.max_entries} entries)"


def clear_all() -> None:
    """Drop every cached table of every cache (frees their memory once no decode uses them)."""
    for cache in list(_CACHES):
        cache.clear()


def lazy_zeros(count: int, dtype) -> np.ndarray:
    """A writable, zero-filled 1-D array of ``count`` items, committed in 4 KiB pages as touched.

    ``np.zeros`` (huge pages where the system has them) with ``RGBTASK_HUGE_PAGES=1``, and where
    anonymous private mappings are not available (Windows).
    """
    dtype = np.dtype(dtype)
    flags = getattr(mmap, "MAP_PRIVATE", None), getattr(mmap, "MAP_ANONYMOUS", None)
    if None in flags or os.environ.get("RGBTASK_HUGE_PAGES") == "1":
        return np.zeros(count, dtype=dtype)
    buffer = mmap.mmap(-1, count * dtype.itemsize, flags=flags[0] | flags[1])
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        try:
            buffer.madvise(mmap.MADV_NOHUGEPAGE)
        except OSError:  # a kernel without transparent huge pages: nothing to opt out of
            pass
    return np.frombuffer(buffer, dtype=dtype)


def new_lut(dtype) -> np.ndarray:
    """A lazily filled colour table: :data:`LUT_ENTRIES` zeros of ``dtype`` (0 = unknown), pages
    committed as colours are first decoded (:func:`lazy_zeros`)."""
    return lazy_zeros(LUT_ENTRIES, dtype)
