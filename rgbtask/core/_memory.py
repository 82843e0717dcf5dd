"""Zero-filled arrays whose memory is committed page by page, for the lazily filled 2^24 tables.

``np.zeros`` of a large array gets pages the kernel maps on first touch, which is what a lazily
filled lookup table wants; but NumPy advises the kernel to back every allocation of 4 MiB or more
with transparent huge pages (``MADV_HUGEPAGE``), so on a Linux system with huge pages on, the first
colour decoded in each 2 MiB region commits the whole region: 50 of the depth table's 64 MiB for a
typical 4K depth image of 525 colours. :func:`lazy_zeros` maps the memory itself with
``MADV_NOHUGEPAGE``, so a table costs one 4 KiB page per region of colours actually met.
"""

from __future__ import annotations

import mmap

import numpy as np

__all__ = ["lazy_zeros"]


def lazy_zeros(count: int, dtype) -> np.ndarray:
    """A writable, zero-filled 1-D array of ``count`` items, committed in 4 KiB pages as touched.

    Falls back to ``np.zeros`` where anonymous private mappings are not available (Windows).
    """
    dtype = np.dtype(dtype)
    flags = getattr(mmap, "MAP_PRIVATE", None), getattr(mmap, "MAP_ANONYMOUS", None)
    if None in flags:
        return np.zeros(count, dtype=dtype)
    buffer = mmap.mmap(-1, count * dtype.itemsize, flags=flags[0] | flags[1])
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        try:
            buffer.madvise(mmap.MADV_NOHUGEPAGE)
        except OSError:  # a kernel without transparent huge pages: nothing to opt out of
            pass
    return np.frombuffer(buffer, dtype=dtype)
