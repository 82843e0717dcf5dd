"""Numba options in one place, and the thread pool that runs kernels over row chunks.

* ``jit`` is ``numba.njit(cache=True, nogil=True)``. No ``fastmath``: NaN and inf are data here.
  When no cache location is writable (a read-only install with an unwritable home), Numba refuses
  ``cache=True`` at decoration time; we then compile without the on-disk cache and say so once.
* Kernels widen every array element with ``float()`` before arithmetic. Compiled, that is what
  Numba does anyway; but under ``NUMBA_DISABLE_JIT=1`` an element of a float32 array is a NumPy
  scalar, which NumPy 2 keeps in float32 against Python floats (NEP 50), so the Python fallback
  computed in float32 and decoded float32 RGB less exactly (found by the fuzzer: a normal 1.1e-7
  off unit length).
* Kernels are serial. Large inputs are split into row chunks that run on rgbtask's own thread
  pool *and in the calling thread*; because every kernel releases the GIL (``nogil=True``), the
  chunks run in parallel. Chunks are handed out dynamically (several per thread, each thread takes
  the next one when done), so a thread slowed by uneven rows (sky against ground in a depth map) or
  by another process on the machine does not hold the others up. We do not use ``parallel=True``:
  it multiplies compile latency (every kernel compiled twice: serial and gufunc), and Numba's
  default ``workqueue`` threading layer aborts the interpreter when two user threads launch
  parallel kernels at once (a DataLoader's threads, a server's workers).
* The number of threads: :func:`set_num_threads`, else the first of ``RGBTASK_NUM_THREADS``,
  ``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS`` that is set, else the CPUs this process may run on.
* Read-only arrays (a PIL image through ``np.asarray``, a memory map) are handed to kernels as
  writable aliases of the same memory: Numba types a read-only array as a different type and
  would compile every kernel twice. Kernels never write their inputs (the NumPy references, which
  the tests compare them with, say what they write), so the alias changes nothing but the compile.
"""

from __future__ import annotations

import itertools
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from rgbtask.errors import ConfigError

__all__ = [
    "default_num_threads",
    "jit",
    "num_threads",
    "run_rows",
    "set_num_threads",
    "writable",
]

NUMBA_OPTIONS = {"cache": True, "nogil": True}
MIN_ROWS_PER_THREAD = 1 << 15

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
#: Environment variables read for the default thread count, first set wins.
THREAD_VARIABLES = ("RGBTASK_NUM_THREADS", "NUMBA_NUM_THREADS", "OMP_NUM_THREADS")
#: Chunks handed out per thread (dynamic load balancing), each at least a quarter of ``min_rows``.
CHUNKS_PER_THREAD = 4


def default_num_threads(environ=os.environ) -> int:
    """The thread count the environment asks for: the first of :data:`THREAD_VARIABLES` that is
    set (``OMP_NUM_THREADS=4,2`` reads as 4), else the CPUs this process may run on."""
    for variable in THREAD_VARIABLES:
        text = environ.get(variable, "").strip()
        if not text:
            continue
        first = text.split(",")[0].strip()
        if not first.isdigit() or int(first) < 1:
            raise ConfigError(f"expected a positive integer in {variable}, got {text!r}")
        return int(first)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


_num_threads = default_num_threads()
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


def set_num_threads(n: int | None) -> None:
    """Set the number of kernel threads (1: every kernel runs in the caller's thread; None: back
    to the environment's default, :func:`default_num_threads`)."""
    global _num_threads, _pool
    if n is None:
        n = default_num_threads()
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:
        raise ConfigError(f"expected a thread count >= 1 (an integer), got {n!r}")
    with _pool_lock:
        _num_threads = int(n)
        old, _pool = _pool, None
    if old is not None:
        old.shutdown(wait=False)


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            # the caller's thread runs chunks too: the pool holds the others
            _pool = ThreadPoolExecutor(
                max_workers=max(1, _num_threads - 1), thread_name_prefix="rgbtask"
            )
        return _pool


def writable(array):
    """``array`` itself when writable (or not an array), else a writable alias of its memory (the
    module docstring: one compiled specialisation, not two; kernels never write their inputs).
    For arguments of kernels called directly (not through :func:`run_rows`, which does this); the
    alias must not escape into anything returned to the caller."""
    if not isinstance(array, np.ndarray) or array.flags.writeable:
        return array
    return np.asarray(_Alias(array))


class _Alias:
    """Exposes a read-only array's memory as writable through the array interface, keeping the
    array alive as long as the alias."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def run_rows(
    kernel: Callable, arrays: Sequence, params: Sequence = (), min_rows: int | None = None
) -> None:
    """Run ``kernel(*arrays, *params)`` over the rows (first axis) of ``arrays``.

    Kernels take their arrays first, then their other arguments. Every array in ``arrays`` shares
    its first axis (inputs and outputs alike) and is split; ``params`` (scalars, lookup tables) are
    passed unchanged. Rows are split when each thread gets at least ``min_rows`` (default
    :data:`MIN_ROWS_PER_THREAD`, right for per-pixel kernels; 1 for kernels whose rows are whole
    images) into up to :data:`CHUNKS_PER_THREAD` contiguous chunks per thread, which the pool's
    threads and the calling thread take in turn until none is left.
    """
    arrays = [writable(a) for a in arrays]
    params = [writable(p) for p in params]
    rows = arrays[0].shape[0]
    per_thread = MIN_ROWS_PER_THREAD if min_rows is None else max(1, int(min_rows))
    threads = min(_num_threads, rows // per_thread)
    if threads <= 1:
        kernel(*arrays, *params)
        return
    n_chunks = max(threads, min(threads * CHUNKS_PER_THREAD, rows // max(1, per_thread // 4)))
    bounds = [rows * i // n_chunks for i in range(n_chunks + 1)]
    chunks = list(zip(bounds[:-1], bounds[1:]))
    taken = itertools.count()  # next() is atomic under the GIL: each chunk runs once

    def work() -> None:
        for i in iter(taken.__next__, None):
            if i >= len(chunks):
                return
            lo, hi = chunks[i]
            kernel(*(a[lo:hi] for a in arrays), *params)

    _share(work, threads)


def _share(work: Callable[[], None], threads: int) -> None:
    """Run ``work`` in the calling thread and in ``threads - 1`` pool threads; return when all
    have returned (``work`` takes items from a shared counter until none is left)."""
    pool = _get_pool()
    futures = []
    try:
        for _ in range(threads - 1):
            futures.append(pool.submit(work))
    except RuntimeError:
        pass  # set_num_threads() retired this pool meanwhile: the caller's thread does the rest
    try:
        work()
    finally:
        for future in futures:
            future.result()


#: Elements per block of :func:`min_max` (1 MiB of float32: the second pass reads it from cache).
MIN_MAX_BLOCK = 1 << 18


def min_max(array: np.ndarray) -> tuple[np.floating, np.floating]:
    """``(np.min(array), np.max(array))`` of a non-empty array (NaN if any element is NaN), in
    cache-sized blocks shared over the threads: NumPy's reductions release the GIL, so the input
    check before a kernel runs in parallel too instead of being its serial part."""
    flat = array.reshape(-1)
    n_blocks = -(-flat.size // MIN_MAX_BLOCK)
    if n_blocks <= 1:
        return np.min(flat), np.max(flat)
    los = np.empty(n_blocks, dtype=flat.dtype)
    his = np.empty(n_blocks, dtype=flat.dtype)
    taken = itertools.count()

    def work() -> None:
        for i in iter(taken.__next__, None):
            if i >= n_blocks:
                return
            block = flat[i * MIN_MAX_BLOCK : (i + 1) * MIN_MAX_BLOCK]
            los[i] = np.min(block)
            his[i] = np.max(block)

    _share(work, max(1, min(_num_threads, n_blocks // 4)))
    return np.min(los), np.max(his)  # NaN propagates, whatever block held it
