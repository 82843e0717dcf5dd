"""Numba options in one place, and the thread pool that runs kernels over row chunks.

* ``jit`` is ``numba.njit(cache=True, nogil=True)``. No ``fastmath``: NaN and inf are data here.
  When no cache location is writable (a read-only install with an unwritable home), Numba refuses
  ``cache=True`` at decoration time; we then compile without the on-disk cache and say so once.
* Kernels widen every array element with ``float()`` before arithmetic. Compiled, that is what
  Numba does anyway; but under ``NUMBA_DISABLE_JIT=1`` an element of a float32 array is a NumPy
  scalar, which NumPy 2 keeps in float32 against Python floats (NEP 50), so the Python fallback
  computed in float32 and decoded float32 RGB less exactly (found by the fuzzer: a normal 1.1e-7
  off unit length).
* Kernels are serial. Large inputs are split into row chunks that run on a shared thread pool;
  because every kernel releases the GIL (``nogil=True``), the chunks run in parallel. We do not use
  ``parallel=True``: it multiplies compile latency, and Numba's default ``workqueue`` threading
  layer aborts the interpreter when two user threads launch parallel kernels at once. Set
  ``RGBTASK_NUM_THREADS`` (or call :func:`set_num_threads`) to change the pool size.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba

__all__ = ["jit", "num_threads", "run_rows", "set_num_threads"]

NUMBA_OPTIONS = {"cache": True, "nogil": True}
MIN_ROWS_PER_THREAD = 1 << 15

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_num_threads = max(1, int(os.environ.get("RGBTASK_NUM_THREADS", 0) or (os.cpu_count() or 1)))
_warned_cache = False


def jit(func: Callable | None = None, **overrides):
    """Compile a kernel with the project's Numba options (usable with or without arguments)."""

    def compile_(f: Callable):
        global _warned_cache
        options = {**NUMBA_OPTIONS, **overrides}
        try:
            return numba.njit(**options)(f)
        except RuntimeError as exc:
            if "cannot cache" not in str(exc):
                raise
            if not _warned_cache:
                _warned_cache = True
                warnings.warn(
                    "rgbtask: no writable Numba cache location (set NUMBA_CACHE_DIR); kernels "
                    "will be compiled in every new process",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return numba.njit(**{**options, "cache": False})(f)

    return compile_(func) if func is not None else compile_


def num_threads() -> int:
    """How many threads large kernels are split over."""
    return _num_threads


def set_num_threads(n: int) -> None:
    """Set the number of kernel threads (1 disables threading)."""
    global _num_threads, _pool
    if int(n) < 1:
        raise ValueError(f"expected a thread count >= 1, got {n}")
    with _pool_lock:
        _num_threads = int(n)
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=False)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=_num_threads, thread_name_prefix="rgbtask")
        return _pool


def run_rows(
    kernel: Callable, arrays: Sequence, params: Sequence = (), min_rows: int | None = None
) -> None:
    """Run ``kernel(*arrays, *params)`` over the rows (first axis) of ``arrays``.

    Kernels take their arrays first, then their other arguments. Every array in ``arrays`` shares
    its first axis (inputs and outputs alike) and is split; ``params`` (scalars, lookup tables) are
    passed unchanged. Rows are split into contiguous chunks, one per thread, when each thread gets
    at least ``min_rows`` (default :data:`MIN_ROWS_PER_THREAD`, right for per-pixel kernels; 1 for
    kernels whose rows are whole images).
    """
    rows = arrays[0].shape[0]
    per_thread = MIN_ROWS_PER_THREAD if min_rows is None else max(1, int(min_rows))
    threads = min(_num_threads, rows // per_thread)
    if threads <= 1:
        kernel(*arrays, *params)
        return
    bounds = [rows * i // threads for i in range(threads + 1)]
    chunks = list(zip(bounds[:-1], bounds[1:]))
    pool = _get_pool()
    futures = []
    try:
        for lo, hi in chunks:
            futures.append(pool.submit(kernel, *(a[lo:hi] for a in arrays), *params))
    except RuntimeError:
        # set_num_threads() retired this pool between _get_pool() and submit(): the chunks not
        # submitted run here, in the caller's thread
        for lo, hi in chunks[len(futures) :]:
            kernel(*(a[lo:hi] for a in arrays), *params)
    for future in futures:
        future.result()
