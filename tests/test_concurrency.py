"""Concurrency: codecs and their shared lookup tables from many threads and from worker processes.

Threads: every kernel releases the GIL (``nogil=True``), results from 8 threads started at once on
cold caches equal the serial results, each lookup table is built once however many threads ask for
it first, and changing the kernel pool size mid-flight is harmless. Processes: a codec pickles to
its config, and spawned workers decode exactly what this process decodes. The speed-up from
threads is measured in ``benchmarks/bench_threads.py`` (never timed here).
"""

from __future__ import annotations

import importlib
import multiprocessing
import pickle
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numba
import numba.core.caching
import numpy as np
import pytest

import rgbtask
from rgbtask import curves
from rgbtask.core import _jit
from rgbtask.samples import make_scene
from rgbtask.testing import registered_examples

KERNEL_MODULES = ("normals", "depth", "masks", "keypoints")
THREADS = 8


EXAMPLES = [
    (codec, values[0])
    for codec, values in registered_examples(make_scene(height=24, width=32, seed=5))
]
IDS = [repr(codec)[:60] for codec, _ in EXAMPLES]


def decode_all(codec, rgbs):
    return [tuple(codec.decode_with_confidence(rgb)) for rgb in rgbs]


def inputs_of(codec, value, seed):
    """The codec's own codes, arbitrary colours (cache misses) and the codes as float."""
    rgb = codec.encode(value)
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, np.iinfo(rgb.dtype).max, rgb.shape, dtype=rgb.dtype, endpoint=True)
    return [rgb, noise, rgb / float(np.iinfo(rgb.dtype).max)]


def same(a, b):
    return all(np.array_equal(x, y, equal_nan=x.dtype.kind == "f") for x, y in zip(a, b))


@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="no dispatchers without the JIT")
def test_every_kernel_releases_the_gil_and_is_cached():
    kernels = []
    for family in KERNEL_MODULES:
        module = importlib.import_module(f"rgbtask.core.{family}")
        kernels += [
            (f"{family}.{name}", obj)
            for name, obj in vars(module).items()
            if isinstance(obj, numba.core.registry.CPUDispatcher)
        ]
    assert len(kernels) >= 20, [name for name, _ in kernels]
    for name, kernel in kernels:
        assert kernel.targetoptions.get("nogil") is True, f"{name} holds the GIL"
        assert isinstance(kernel._cache, numba.core.caching.FunctionCache), f"{name} not cached"
        assert not kernel.targetoptions.get("fastmath"), f"{name} assumes away NaN/inf"


@pytest.mark.parametrize(("codec", "value"), EXAMPLES, ids=IDS)
def test_threads_on_cold_tables_give_the_serial_result(codec, value, cold_tables):
    rgbs = inputs_of(codec, value, seed=1)
    barrier = threading.Barrier(THREADS)

    def work(_):
        barrier.wait()  # every thread meets the cold caches at the same moment
        return decode_all(codec, rgbs), codec.encode(value)

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(work, range(THREADS)))
    expected = decode_all(codec, rgbs)  # serial, after the fact (tables now warm)
    encoded = codec.encode(value)
    for decoded, rgb in results:
        assert np.array_equal(rgb, encoded)
        for got, want in zip(decoded, expected):
            assert same(got, want)


def test_each_table_is_built_once_under_concurrent_first_use(cold_tables, monkeypatch):
    from rgbtask.codecs import depth, masks

    built = {"lut": 0, "depth": 0, "encode": 0, "mask": 0}

    def counting(module, name, key):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            built[key] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counting(curves, "fine_parameters", "lut")  # called once per new decode LUT
    counting(depth, "_build_depth_table", "depth")
    counting(depth, "_build_encode_table", "encode")
    # every 2^24 palette table (the labels-only one that ``decode`` reads, the confidence one)
    counting(masks, "new_lut", "mask")

    cubewalk = rgbtask.get_codec("depth/cubewalk")
    palette = rgbtask.get_codec("mask/palette", palette="voc")
    big_depth = np.linspace(0.5, 30.0, 1 << 17).reshape(256, 512)  # takes the bucket table
    rgb_depth = cubewalk.encode(big_depth[:8, :8])
    rgb_mask = palette.encode(np.arange(20).reshape(4, 5))
    barrier = threading.Barrier(THREADS)

    def work(_):
        barrier.wait()
        cubewalk.decode(rgb_depth)
        palette.decode(rgb_mask)
        cubewalk.encode(big_depth)

    monkeypatch.setattr(_jit, "_num_threads", 1)  # only the test's threads race
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, range(THREADS)))
    assert built == {"lut": 1, "depth": 1, "encode": 1, "mask": 1}


def test_changing_the_pool_size_while_threads_decode(monkeypatch):
    codec = rgbtask.get_codec("normals/xyz")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 256, 256, 3), dtype=np.uint8)  # 2^17 px: split over threads
    monkeypatch.setattr(_jit, "MIN_ROWS_PER_THREAD", 1 << 12)
    expected = codec.decode_with_confidence(rgb)
    threads_before = _jit.num_threads()
    stop = threading.Event()

    def churn():
        n = 0
        while not stop.is_set():
            _jit.set_num_threads(1 + n % 3)
            n += 1

    churner = threading.Thread(target=churn)
    churner.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda _: codec.decode_with_confidence(rgb), range(40)))
    finally:
        stop.set()
        churner.join()
        _jit.set_num_threads(threads_before)
    for got in results:
        assert same(got, expected)


def _decode_in_worker(blob: bytes, rgbs: list[np.ndarray]):
    codec = pickle.loads(blob)
    return decode_all(codec, rgbs)


def test_spawned_workers_decode_exactly_what_this_process_does():
    """As a DataLoader or ``rgbtask convert`` would: the codec travels as its pickled config
    (warm tables stay behind) and workers rebuild their own tables."""
    chosen = {}
    for codec, value in EXAMPLES:
        chosen.setdefault(codec.name, (codec, value))
    jobs = []
    for codec, value in chosen.values():
        rgbs = inputs_of(codec, value, seed=2)
        expected = decode_all(codec, rgbs)  # warms this process's tables
        blob = pickle.dumps(codec)
        assert len(blob) < 1024, f"{codec!r} pickles to {len(blob)} bytes"
        jobs.append((blob, rgbs, expected))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        futures = [pool.submit(_decode_in_worker, blob, rgbs) for blob, rgbs, _ in jobs]
        for future, (_, _, expected) in zip(futures, jobs):
            for got, want in zip(future.result(timeout=300), expected):
                assert same(got, want)
